"""``cac311 report monthly``: open-data CSV/JSON and a printable page per entity."""

from __future__ import annotations

import asyncio
import csv
import json

import pytest

from cac311.cli import main
from case_core.metrics.report import ENTITY_COLUMNS, month_bounds
from tests.integration.test_scorecards_db import PANAMA, seed_october


async def test_given_a_seeded_october_when_the_cli_reports_it_then_files_hold_the_figures(
    seeded, database_url, tmp_path, monkeypatch, capsys
):
    await seed_october(seeded)
    monkeypatch.setenv("CAC311_DATABASE_URL", database_url)
    argv = ["report", "monthly", "--month", "2026-10", "--out", str(tmp_path),
            "--as-of", "2026-11-15T12:00"]  # fmt: skip
    assert await asyncio.to_thread(main, argv) == 0
    assert "2026-10" in capsys.readouterr().out

    with (tmp_path / "cac311-entidades-2026-10.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == ENTITY_COLUMNS
        rows = {r["entidad_codigo"]: r for r in reader}
    idaan = rows["IDAAN"]
    assert idaan["fecha_corte"] == "2026-11-15T12:00:00-05:00"
    assert (idaan["casos_recibidos"], idaan["cerrados_30d"], idaan["cerrados_30d_base"]) == (
        "6",
        "2",
        "5",
    )
    assert (idaan["cerrados_30d_pct"], idaan["primera_accion_24h_pct"]) == ("40.0", "33.3")
    assert (idaan["abiertos_vencidos"], idaan["satisfaccion_promedio"]) == ("4", "4.50")
    assert (idaan["seguimientos_completados"], idaan["bajo_meta"]) == ("1", "si")
    assert (rows["MUPA"]["cerrados_30d_pct"], rows["MUPA"]["bajo_meta"]) == ("100.0", "no")
    assert (rows["MINSA"]["cerrados_30d_pct"], rows["MINSA"]["bajo_meta"]) == ("", "no")

    doc = json.loads((tmp_path / "cac311-entidades-2026-10.json").read_text(encoding="utf-8"))
    assert doc["columnas"] == list(ENTITY_COLUMNS)
    assert (doc["mes"], doc["zona_horaria"], doc["meta_cerrados_30d_pct"]) == (
        "2026-10",
        "America/Panama",
        70.0,
    )
    jidaan = next(e for e in doc["entidades"] if e["entidad_codigo"] == "IDAAN")
    assert (jidaan["cerrados_30d_pct"], jidaan["bajo_meta"], jidaan["casos_recibidos"]) == (
        40.0,
        True,
        6,
    )
    assert (
        next(e for e in doc["entidades"] if e["entidad_codigo"] == "MINSA")["satisfaccion_promedio"]
        is None
    )
    assert len(doc["entidades"]) == len(rows)

    pages = sorted((tmp_path / "entidades").glob("*-2026-10.html"))
    assert len(pages) == len(rows)
    page = (tmp_path / "entidades" / "IDAAN-2026-10.html").read_text(encoding="utf-8")
    assert "Bajo la meta" in page and "40,0 %" in page
    assert "octubre de 2026" in page and "15/11/2026 12:00" in page
    # The district breakdown: each district of IDAAN has fewer than 5 cases in October (one
    # in San Miguelito): none is published, only how many were held back (issue 15).
    assert "San Miguelito" not in page
    assert "con menos de 5 casos o sin distrito oficial no se" in page
    assert "cerrados a más tardar al final del día calendario 30" in page  # the formula
    mupa = (tmp_path / "entidades" / "MUPA-2026-10.html").read_text(encoding="utf-8")
    assert "Cumple la meta" in mupa


def test_given_a_bad_month_then_the_cli_refuses_it(capsys):
    assert main(["report", "monthly", "--month", "2026-13"]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    start, end = month_bounds("2026-12", PANAMA)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-12-01T05:00:00+00:00",
        "2027-01-01T05:00:00+00:00",
    )
    with pytest.raises(ValueError):
        month_bounds("octubre", PANAMA)
