"""Callbacks only to numbers of the allowed plans (issue 15, finding 5)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from case_core.db.models import CaseRow, CitizenRow
from case_core.domain.callback_numbers import callback_refusal, check_callback_number
from case_core.domain.errors import InvalidPhone
from case_core.domain.phone import normalise_phone
from tests.integration.test_desktop_cases import _service
from tests.integration.test_desktop_support import (  # noqa: F401
    make_desktop_fixture,
    other_process_fixture,
)

desktop = make_desktop_fixture()

# The numbers of the finding, and other ranges a public dialer must never call.
REFUSED = {
    "+882 1234 5678": "satellite",
    "+1 900 555 1234": "premium, abroad",
    "00 44 909 876 5432": "premium, abroad",
    "+44 20 7946 0000": "abroad",
    "800-1234": "toll free in Panama",
    "+507 800 1234": "toll free in Panama",
}
ACCEPTED = ["6123-4567", "+507 6999 0000", "223-4567", "50761234567", "00507 3001234"]


@pytest.mark.parametrize("text", list(REFUSED))
def test_numbers_outside_the_national_fixed_and_mobile_ranges_are_refused(text):
    with pytest.raises(InvalidPhone, match="Teléfono de contacto no admitido"):
        check_callback_number(normalise_phone(text))


@pytest.mark.parametrize("text", ACCEPTED)
def test_panamanian_fixed_and_mobile_numbers_are_accepted(text):
    assert callback_refusal(normalise_phone(text)) is None


def test_the_allow_list_is_configurable():
    costa_rica = normalise_phone("+506 8312 3456")
    assert callback_refusal(costa_rica) is not None
    assert callback_refusal(costa_rica, ("+507", "+506")) is None
    # Even an allowed country: only its fixed and mobile ranges.
    assert callback_refusal(normalise_phone("+506 800 123 4567"), ("+507", "+506")) is not None


async def test_the_desk_refuses_a_foreign_premium_contact_phone_and_saves_nothing(desktop):
    service = await _service(desktop.uow_factory)
    agent = await desktop.login("agente1", form=False)
    response = await agent.post(
        "/casos",
        {
            "tipo": "queja",
            "servicio_id": str(service.id),
            "descripcion": "Sin agua desde el lunes.",
            "telefono": "+1 900 555 1234",
            "cedula": "8-765-4321",
            "nombre": "Rosa",
            "apellido": "Pérez",
        },
    )
    assert response.status == 400
    body = await response.text()
    assert "Solo se devuelven llamadas a teléfonos de Panamá" in body
    async with desktop.uow_factory() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(CaseRow)) == 0
        cedulas = (await uow.session.scalars(select(CitizenRow.cedula))).all()
    assert "8-765-4321" not in cedulas


async def test_the_dialer_never_dials_a_stored_number_outside_the_plan(uow_factory):
    from case_core.db.models import EntityRow
    from tests.protocol.test_dialer import FakeOriginator, OriginateResult, _dialer, _due, _rows

    async with uow_factory() as uow:
        uow.session.add(EntityRow(code="IDAAN", name="IDAAN", short_name="IDAAN", kind="inst"))
        await uow.commit()
    (bad,) = await _due(uow_factory, ["+882123456789"])
    fake = FakeOriginator({"+882123456789": OriginateResult("Success", 4)})
    dialer = _dialer(uow_factory, fake)
    assert (await dialer.step()).id == bad
    await dialer.drain()
    assert fake.calls == []
    row = (await _rows(uow_factory))[bad]
    assert (row.attempts, row.outcome) == (1, "failed")
