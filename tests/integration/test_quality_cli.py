"""``cac311 quality sample`` and ``quality assign`` as an operator runs them (subprocess)."""

from __future__ import annotations

from sqlalchemy import func, select

from case_core.db.models import UserRow
from case_core.db.models.quality import QualityAssignmentRow, QualitySampleRow
from tests.integration.test_cli import _run
from tests.integration.test_quality_sample import WEEK, _world


async def test_given_closed_cases_when_the_command_samples_the_week_then_rows_once(
    uow_factory, migrated_database
):
    ids = await _world(uow_factory, {"MIN1": 5, "MIN2": 1})
    async with uow_factory() as uow:
        uow.session.add(
            UserRow(username="asesor", full_name="Rosa", role="auditor", password_hash="x")
        )
        await uow.commit()
    env = {"CAC311_DATABASE_URL": migrated_database}
    assign = _run(
        "quality",
        "assign",
        "--advisor",
        "asesor",
        "--entity",
        "MIN1",
        "--from",
        "2026-01-01",
        env=env,
    )
    assert assign.returncode == 0, assign.stderr
    first = _run("quality", "sample", "--week", WEEK, env=env)
    assert first.returncode == 0, first.stderr
    assert "4 casos nuevos de 2 entidades" in first.stdout
    again = _run("quality", "sample", "--week", WEEK, env=env)
    assert "0 casos nuevos" in again.stdout
    async with uow_factory() as uow:
        rows = (await uow.session.scalars(select(QualitySampleRow))).all()
        assignments = await uow.session.scalar(select(func.count(QualityAssignmentRow.id)))
    assert len(rows) == 4 and assignments == 1
    assert {r.advisor_user_id is not None for r in rows if r.entity_id == ids["MIN1"]} == {True}
    assert {r.advisor_user_id for r in rows if r.entity_id == ids["MIN2"]} == {None}
    bad = _run("quality", "sample", "--week", "2026-48", env=env)
    assert bad.returncode == 2 and "AAAA-Wnn" in bad.stderr
