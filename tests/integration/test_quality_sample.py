"""The weekly quality sample on real PostgreSQL: size, reproducibility, no case twice,
stratification, advisors' assignments; the audit record is append-only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from case_core.db.models import CaseRow, EntityRow, UserRow
from case_core.db.models.quality import CaseAuditRow, QualitySampleRow
from case_core.domain import quality as q
from case_core.domain.errors import DomainError
from case_core.domain.roles import Actor, Role
from case_core.services import quality as svc

WEEK = "2026-W47"  # Monday 16 to Sunday 22 November 2026
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TYPES = ("queja", "solicitud", "consulta", "sugerencia")


async def _world(uow_factory, closed_per_entity: dict[str, int], *, week: str = WEEK):
    """Entities with that many cases closed in ``week`` (types cycling), plus noise."""
    start, _ = q.week_bounds(week, svc.PANAMA)
    ids: dict[str, int] = {}
    async with uow_factory() as uow:
        for code in closed_per_entity:
            e = EntityRow(code=code, name=f"Entidad {code}", short_name=code, kind="ministerio")
            uow.session.add(e)
            await uow.session.flush()
            ids[code] = e.id
        n = 0
        for code, count in closed_per_entity.items():
            for i in range(count):
                n += 1
                closed = start + timedelta(hours=5 + 7 * i)
                uow.session.add(_case(n, ids[code], TYPES[i % len(TYPES)], closed, week))
            # a case still open and one closed the week before: never sampled
            n += 1
            uow.session.add(_case(n, ids[code], "queja", None, week))
            n += 1
            uow.session.add(_case(n, ids[code], "queja", start - timedelta(hours=1), week))
        await uow.commit()
    return ids


def _case(n: int, entity_id: int, case_type: str, closed: datetime | None, week: str) -> CaseRow:
    opened = (closed or q.week_bounds(week, svc.PANAMA)[0]) - timedelta(days=3)
    return CaseRow(
        number=f"{week[:4]}{week[-2:]}{n:04d}",
        type=case_type,
        channel="telefono",
        status="cerrado" if closed else "asignado",
        entity_id=entity_id,
        description="caso",
        sla_days=10,
        opened_at=opened,
        due_at=opened + timedelta(days=10),
        first_action_at=opened + timedelta(hours=2),
        closed_at=closed,
    )


async def _sample(uow_factory, week: str) -> dict[int, list[int]]:
    async with uow_factory() as uow:
        rows = (
            await uow.session.execute(
                select(QualitySampleRow.entity_id, QualitySampleRow.case_id).where(
                    QualitySampleRow.week == week
                )
            )
        ).all()
    out: dict[int, list[int]] = {}
    for entity_id, case_id in rows:
        out.setdefault(entity_id, []).append(case_id)
    return {k: sorted(v) for k, v in out.items()}


async def test_given_a_week_of_closed_cases_when_sampled_twice_then_same_sample_of_three(
    uow_factory,
):
    ids = await _world(uow_factory, {"MIN1": 9, "MIN2": 5, "MIN3": 2})
    first = await svc.draw_weekly_sample(uow_factory, week=WEEK, now=NOW)
    sample = await _sample(uow_factory, WEEK)
    assert {k: len(v) for k, v in sample.items()} == {
        ids["MIN1"]: 3,
        ids["MIN2"]: 3,
        ids["MIN3"]: 2,
    }
    assert first.cases == 8
    async with uow_factory() as uow:
        closed = {
            c.id: c
            for c in (await uow.session.scalars(select(CaseRow))).all()
            if c.closed_at is not None
        }
    start, end = q.week_bounds(WEEK, svc.PANAMA)
    for case_ids in sample.values():
        for case_id in case_ids:
            assert start <= closed[case_id].closed_at < end
    # stratified: three different case types from MIN1, which has four
    assert len({closed[c].type for c in sample[ids["MIN1"]]}) == 3

    second = await svc.draw_weekly_sample(uow_factory, week=WEEK, now=NOW + timedelta(hours=1))
    assert second.cases == 0 and await _sample(uow_factory, WEEK) == sample

    # the draw itself is reproducible: the same candidates and seed give the same cases
    pool = [
        q.Candidate(c.id, c.type)
        for c in closed.values()
        if c.entity_id == ids["MIN1"] and start <= c.closed_at < end
    ]
    seed = q.sample_seed(WEEK, f"entidad:{ids['MIN1']}")
    again = sorted(c.id for c in q.draw_sample(pool, size=3, seed=seed))
    assert again == sample[ids["MIN1"]]
    other = {
        tuple(sorted(c.id for c in q.draw_sample(pool, size=3, seed=q.sample_seed(w, "x"))))
        for w in ("2026-W40", "2026-W41", "2026-W42", "2026-W43")
    }
    assert len(other) > 1  # the seed changes the draw


async def test_given_more_per_entity_configured_then_sample_grows_without_repeating(uow_factory):
    ids = await _world(uow_factory, {"MIN1": 9})
    await svc.draw_weekly_sample(uow_factory, week=WEEK, now=NOW)
    before = (await _sample(uow_factory, WEEK))[ids["MIN1"]]
    await svc.draw_weekly_sample(uow_factory, week=WEEK, now=NOW, per_entity=5)
    after = (await _sample(uow_factory, WEEK))[ids["MIN1"]]
    assert len(after) == 5 and set(before) <= set(after)


async def test_given_next_week_then_different_sample_and_no_case_audited_twice(uow_factory):
    ids = await _world(uow_factory, {"MIN1": 6})
    await svc.draw_weekly_sample(uow_factory, week=WEEK, now=NOW)
    week1 = (await _sample(uow_factory, WEEK))[ids["MIN1"]]
    async with uow_factory() as uow:
        auditor = UserRow(
            username="asesor", full_name="Rosa Delgado", role="auditor", password_hash="x"
        )
        uow.session.add(auditor)
        await uow.session.flush()
        await uow.commit()
    await svc.assign_entity(
        uow_factory, advisor_user_id=auditor.id, entity_id=ids["MIN1"], starts_on=date(2026, 1, 1)
    )
    actor = Actor(auditor.id, "asesor", Role.AUDITOR)

    async def audit(case_id: int) -> None:
        subject = await svc.audit_subject(uow_factory, actor=actor, case_id=case_id)
        await svc.save_audit(
            uow_factory,
            actor=actor,
            case_id=case_id,
            answers={c.code: "cumple" for c in subject.criteria},
            result="satisfactorio",
            comment="",
            now=NOW,
        )

    await audit(week1[0])
    with pytest.raises(DomainError, match="ya fue auditado"):
        await audit(week1[0])

    # the next week: four new closed cases; one is audited outside the sample first
    nxt = q.shift_week(WEEK, 1)
    start, _ = q.week_bounds(nxt, svc.PANAMA)
    async with uow_factory() as uow:
        for i in range(4):
            uow.session.add(_case(900 + i, ids["MIN1"], TYPES[i], start + timedelta(days=i), nxt))
        await uow.commit()
        fresh = sorted(
            (
                await uow.session.scalars(
                    select(CaseRow.id).where(
                        CaseRow.closed_at >= start, CaseRow.entity_id == ids["MIN1"]
                    )
                )
            ).all()
        )
    await audit(fresh[0])
    await svc.draw_weekly_sample(uow_factory, week=nxt, now=NOW + timedelta(days=7))
    week2 = (await _sample(uow_factory, nxt))[ids["MIN1"]]
    assert week2 == fresh[1:]  # all three left: fewer than asked would also be all
    assert not set(week1) & set(week2)


async def test_given_an_audit_when_updated_or_deleted_then_the_database_refuses(uow_factory):
    ids = await _world(uow_factory, {"MIN1": 1})
    await svc.draw_weekly_sample(uow_factory, week=WEEK, now=NOW)
    case_id = (await _sample(uow_factory, WEEK))[ids["MIN1"]][0]
    admin = Actor(None, "sistema", Role.ADMIN)
    subject = await svc.audit_subject(uow_factory, actor=admin, case_id=case_id)
    await svc.save_audit(
        uow_factory,
        actor=admin,
        case_id=case_id,
        answers={c.code: "no_cumple" for c in subject.criteria},
        result="no_satisfactorio",
        comment="No se informó al ciudadano.",
        now=NOW,
    )
    for statement in ("UPDATE case_audits SET comment = 'x'", "DELETE FROM case_audits"):
        async with uow_factory() as uow:
            with pytest.raises(DBAPIError, match="append-only"):
                await uow.session.execute(text(statement))
    async with uow_factory() as uow:
        entries = await svc.audit_timeline_entries(uow.session, case_id)
        stored = (await uow.session.scalars(select(CaseAuditRow))).one()
    assert stored.criteria_met == 0 and stored.criteria_scored == len(subject.criteria)
    assert [e["kind"] for e in entries] == ["audit"]
    assert entries[0]["public"] is False and "No satisfactorio" in entries[0]["text"]
    assert set(entries[0]) == {"at", "who", "kind", "text", "public"}


async def test_given_an_advisor_then_at_most_25_entities_and_only_theirs(uow_factory):
    codes = {f"E{i:02d}": 1 for i in range(27)}
    ids = await _world(uow_factory, codes)
    async with uow_factory() as uow:
        advisor = UserRow(username="asesor", full_name="Rosa", role="auditor", password_hash="x")
        uow.session.add(advisor)
        await uow.session.flush()
        await uow.commit()
    start = date(2026, 1, 1)
    for i in range(25):
        await svc.assign_entity(
            uow_factory, advisor_user_id=advisor.id, entity_id=ids[f"E{i:02d}"], starts_on=start
        )
    with pytest.raises(q.AssignmentError, match="25"):
        await svc.assign_entity(
            uow_factory, advisor_user_id=advisor.id, entity_id=ids["E25"], starts_on=start
        )
    await svc.draw_weekly_sample(uow_factory, week=WEEK, now=NOW)
    actor = Actor(advisor.id, "asesor", Role.AUDITOR)
    work = await svc.work_list(uow_factory, actor=actor, week=WEEK)
    assert len(work) == 25 and ids["E26"] not in {w.entity_id for w in work}
    outsider = (await _sample(uow_factory, WEEK))[ids["E26"]][0]
    with pytest.raises(DomainError):
        await svc.audit_subject(uow_factory, actor=actor, case_id=outsider)


async def test_given_two_processes_drawing_at_once_then_the_sample_is_drawn_once(
    uow_factory, migrated_database
):
    import asyncio

    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.uow import UnitOfWorkFactory

    ids = await _world(uow_factory, {"MIN1": 8, "MIN2": 4})
    other_engine = make_engine(migrated_database, pool_size=2)
    other = UnitOfWorkFactory(make_sessionmaker(other_engine))
    try:
        reports = await asyncio.gather(
            svc.draw_weekly_sample(uow_factory, week=WEEK, now=NOW),
            svc.draw_weekly_sample(other, week=WEEK, now=NOW),
        )
    finally:
        await other_engine.dispose()
    assert sorted(r.cases for r in reports) == [0, 6]
    assert {k: len(v) for k, v in (await _sample(uow_factory, WEEK)).items()} == {
        ids["MIN1"]: 3,
        ids["MIN2"]: 3,
    }


async def test_given_the_periodic_job_then_it_samples_last_week_once(uow_factory):
    ids = await _world(uow_factory, {"MIN1": 4})
    report = await svc.run_weekly_quality_job(uow_factory, now=NOW, per_entity=2)
    assert report.week == WEEK and report.cases == 2
    again = await svc.run_weekly_quality_job(uow_factory, now=NOW + timedelta(hours=6))
    assert again.cases == 1  # a larger configured size tops the sample up, nothing more
    assert len((await _sample(uow_factory, WEEK))[ids["MIN1"]]) == 3
