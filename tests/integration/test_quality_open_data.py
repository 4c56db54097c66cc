"""The entity-level audit score in the monthly open data (a column added at the end)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

from sqlalchemy import select

from case_core.db.models.quality import QualitySampleRow
from case_core.domain.roles import Actor, Role
from case_core.metrics.report import ENTITY_COLUMNS, write_monthly_report
from case_core.services import quality as svc
from tests.integration.test_quality_sample import NOW, WEEK, _world


async def test_given_audits_of_a_month_then_open_data_publishes_the_entity_score(
    uow_factory, tmp_path
):
    ids = await _world(uow_factory, {"MIN1": 2, "MIN2": 1})
    await svc.draw_weekly_sample(uow_factory, week=WEEK, now=NOW)
    admin = Actor(None, "sistema", Role.ADMIN)
    async with uow_factory() as uow:
        sampled = (
            await uow.session.scalars(
                select(QualitySampleRow.case_id).where(QualitySampleRow.entity_id == ids["MIN1"])
            )
        ).all()
    for n, case_id in enumerate(sorted(sampled)):
        subject = await svc.audit_subject(uow_factory, actor=admin, case_id=case_id)
        answers = {c.code: "cumple" for c in subject.criteria}
        answers["plazo"] = "no_aplica"
        if n == 0:
            answers["informado"] = "no_cumple"
        await svc.save_audit(
            uow_factory,
            actor=admin,
            case_id=case_id,
            answers=answers,
            result="con_observaciones",
            comment="Sin aviso.",
            now=NOW,
        )
    report = await write_monthly_report(
        uow_factory, "2026-11", tmp_path, now=datetime(2026, 12, 1, 12, tzinfo=UTC)
    )
    assert ENTITY_COLUMNS[-1] == "auditoria_criterios_pct"
    with report.csv_path.open(encoding="utf-8") as f:
        rows = {r["entidad_codigo"]: r for r in csv.DictReader(f)}
    # phone cases: 9 criteria, one "no aplica" -> 8 scored each; 15 of 16 met
    assert rows["MIN1"]["auditoria_criterios_pct"] == "93.8"
    assert rows["MIN2"]["auditoria_criterios_pct"] == ""  # not audited: no data
    assert rows["MIN1"]["casos_recibidos"] != ""  # the other columns are still there
    doc = json.loads(report.json_path.read_text(encoding="utf-8"))
    by_code = {e["entidad_codigo"]: e for e in doc["entidades"]}
    assert by_code["MIN1"]["auditoria_criterios_pct"] == 93.8
    assert by_code["MIN2"]["auditoria_criterios_pct"] is None
    (page,) = [p for p in report.html_paths if p.name.startswith("MIN1-")]
    assert "criterios cumplidos</td>\n      <td class=\"num\">93,8 %" in page.read_text("utf-8")
