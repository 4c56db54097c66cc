"""Callback services against a real PostgreSQL: scheduling, SKIP LOCKED claims, outcomes,
survey answers, opt-out and crash recovery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from case_core.db.models import (
    CallbackOptOutRow,
    CallbackRow,
    CaseRow,
    CitizenRow,
    EntityRow,
    ServiceRow,
    SurveyAnswerRow,
)
from case_core.domain.callbacks import CallbackStatus, Outcome, make_policy
from case_core.domain.case import CaseAction, CaseType, Channel
from case_core.domain.errors import DomainError
from case_core.domain.roles import Actor, Role
from case_core.services.callbacks import (
    claim_due_callbacks,
    complete_callback,
    human_tasks,
    opt_out,
    record_outcome,
    record_survey_answer,
    schedule_callbacks,
)
from case_core.services.cases import RegisterCase, act_on_case, register_case
from case_core.services.citizens import CitizenData, save_citizen

PA = ZoneInfo("America/Panama")
POLICY = make_policy(PA)


def pa(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """Panama local time in 2026 (Nov 23 is a Monday), as UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=PA).astimezone(UTC)


OPENED = pa(23, 10)  # Monday; falta-agua has a 3-day SLA -> due end of Thursday 26


@pytest.fixture
async def db(uow_factory):
    """An empty database with one entity and one 3-day service (faster than the full seed)."""
    async with uow_factory() as uow:
        entity = EntityRow(
            code="IDAAN",
            name="Instituto de Acueductos y Alcantarillados",
            short_name="IDAAN",
            kind="institucion",
        )
        await uow.directory.add(entity)
        await uow.directory.add(
            ServiceRow(
                entity_id=entity.id, code="falta-agua", name="Falta de agua potable", sla_days=3
            )
        )
        await uow.commit()
    return uow_factory


async def _actor(uow_factory) -> Actor:
    return Actor(None, "agente1", Role.AGENT)


async def _case(uow_factory, *, at=OPENED, citizen_id=None, contact_phone=None, anonymous=False):
    async with uow_factory() as uow:
        entity = await uow.directory.entity_by_code("IDAAN")
        service = await uow.directory.service_by_code(entity.id, "falta-agua")
    command = RegisterCase(
        type=CaseType.DENUNCIA if anonymous else CaseType.QUEJA,
        channel=Channel.TELEFONO,
        entity_id=entity.id,
        service_id=service.id,
        description="Sin agua desde hace tres días en la calle 50.",
        citizen_id=citizen_id,
        anonymous=anonymous,
        contact_phone=contact_phone,
    )
    actor = await _actor(uow_factory)
    return (await register_case(uow_factory, command, actor=actor, now=at, tz=PA)).id


async def _citizen(uow_factory, name, phone=None) -> int:
    return await save_citizen(
        uow_factory, CitizenData(cedula=None, first_name=name, last_name="Prueba", phone=phone)
    )


async def _close(uow_factory, case_id, at):
    await act_on_case(
        uow_factory,
        case_id=case_id,
        action=CaseAction.CLOSE,
        actor=await _actor(uow_factory),
        now=at,
        note="Resuelto.",
    )


async def _callbacks(uow_factory, case_id=None):
    async with uow_factory() as uow:
        stmt = select(CallbackRow).order_by(CallbackRow.id)
        if case_id is not None:
            stmt = stmt.where(CallbackRow.case_id == case_id)
        return list((await uow.session.scalars(stmt)).all())


async def _one_due(uow_factory, at=OPENED):
    """A case of a citizen with a mobile and its scheduled follow-up."""
    citizen = await _citizen(uow_factory, "Ana", "6123-4567")
    case_id = await _case(uow_factory, citizen_id=citizen, at=at)
    await schedule_callbacks(uow_factory, at, policy=POLICY)
    (cb,) = await _callbacks(uow_factory, case_id)
    return citizen, case_id, cb


# ----------------------------------------------------------------------------- scheduling
async def test_given_cases_when_scheduled_twice_then_only_reachable_ones_once(db):
    with_phone = await _case(db, citizen_id=await _citizen(db, "Ana", "6123-4567"))
    anonymous = await _case(db, anonymous=True, contact_phone="6555-0000")
    await _case(db, anonymous=True)  # no number: cannot be called
    await _case(db, citizen_id=await _citizen(db, "Sin Teléfono"))
    refused = await _citizen(db, "Rehúsa", "6777-1111")
    async with db() as uow:
        await uow.session.execute(
            update(CitizenRow).where(CitizenRow.id == refused).values(callback_consent=False)
        )
        await uow.commit()
    await _case(db, citizen_id=refused)

    first = await schedule_callbacks(db, OPENED, policy=POLICY)
    second = await schedule_callbacks(db, OPENED + timedelta(minutes=1), policy=POLICY)

    assert (first.created_followups, second.created_followups) == (2, 0)
    rows = {r.case_id: r for r in await _callbacks(db)}
    assert set(rows) == {with_phone, anonymous}
    followup = rows[with_phone]
    assert (followup.kind, followup.status, followup.phone) == (
        "seguimiento",
        "pendiente",
        "+50761234567",
    )
    # halfway from Monday 10:00 to Thursday 23:59:59 -> Wednesday 04:59:59 -> 08:00
    assert followup.next_attempt_at == pa(25, 8)
    assert followup.window_end_at == OPENED + timedelta(days=30)
    assert rows[anonymous].phone == "+50765550000"


async def test_given_a_case_closed_before_its_followup_then_replaced_by_satisfaction(db):
    _, case_id, followup = await _one_due(db)
    closed_at = pa(24, 9)
    await _close(db, case_id, closed_at)

    report = await schedule_callbacks(db, closed_at + timedelta(minutes=5), policy=POLICY)
    again = await schedule_callbacks(db, closed_at + timedelta(minutes=6), policy=POLICY)

    old, sat = await _callbacks(db, case_id)
    assert (report.replaced, report.created_satisfaction, again.created_satisfaction) == (1, 1, 0)
    assert (old.id, old.status) == (followup.id, "reemplazada")
    assert (sat.kind, sat.status) == ("satisfaccion", "pendiente")
    assert (sat.window_start_at, sat.window_end_at) == (closed_at, closed_at + timedelta(days=3))
    assert sat.next_attempt_at == pa(24, 11)


async def test_given_a_long_closed_case_when_first_scheduled_then_recorded_not_reached(db):
    case_id = await _case(db, contact_phone="6555-0000", anonymous=True)
    await _close(db, case_id, pa(24, 9))
    await schedule_callbacks(db, pa(24, 9) + timedelta(days=4), policy=POLICY)
    (sat,) = await _callbacks(db, case_id)
    assert (sat.kind, sat.status, sat.outcome) == (
        "satisfaccion",
        "no_contactado",
        "ventana_vencida",
    )


# ----------------------------------------------------------------------------- claiming
async def test_given_due_callbacks_when_two_claimers_race_then_never_the_same_one(db):
    for i in range(12):
        await _case(db, anonymous=True, contact_phone=f"6555-{i:04d}")
    await schedule_callbacks(db, OPENED, policy=POLICY)
    now = pa(25, 9)

    async def claimer() -> list[int]:
        got: list[int] = []
        while batch := await claim_due_callbacks(db, now, 2, policy=POLICY):
            got += [c.id for c in batch]
        return got

    a, b = await asyncio.gather(claimer(), claimer())
    assert not set(a) & set(b)
    assert sorted(a + b) == [r.id for r in await _callbacks(db)]
    assert all(r.status == "en_curso" and r.attempts == 1 for r in await _callbacks(db))


async def test_given_rows_locked_by_another_claimer_when_claiming_then_they_are_skipped(db):
    for i in range(4):
        await _case(db, anonymous=True, contact_phone=f"6555-{i:04d}")
    await schedule_callbacks(db, OPENED, policy=POLICY)
    ids = [r.id for r in await _callbacks(db)]
    async with db() as holder:  # another dialer, mid-transaction on the first two rows
        await holder.session.execute(
            select(CallbackRow.id).where(CallbackRow.id.in_(ids[:2])).with_for_update()
        )
        claimed = await asyncio.wait_for(claim_due_callbacks(db, pa(25, 9), 10, policy=POLICY), 5)
    assert [c.id for c in claimed] == ids[2:]
    assert claimed[0].action_id == f"cb-{ids[2]}-1"


async def test_given_sunday_when_claiming_then_nothing_is_taken(db):
    await _one_due(db)
    assert await claim_due_callbacks(db, pa(29, 10), 10, policy=POLICY) == []
    (row,) = await _callbacks(db)
    assert (row.status, row.attempts) == ("pendiente", 0)


async def test_given_a_case_closed_after_scheduling_when_claimed_then_replaced_not_dialled(
    db,
):
    _, case_id, _ = await _one_due(db)
    await _close(db, case_id, pa(24, 9))
    assert await claim_due_callbacks(db, pa(25, 9), 10, policy=POLICY) == []
    (row,) = await _callbacks(db, case_id)
    assert (row.status, row.attempts) == ("reemplazada", 0)


# ----------------------------------------------------------------------------- outcomes
async def test_given_busy_then_answered_when_recorded_then_retry_then_completed(db):
    _, _, cb = await _one_due(db)
    (c1,) = await claim_due_callbacks(db, pa(25, 8), 1, policy=POLICY)
    status = await record_outcome(
        db, c1.id, Outcome.BUSY, pa(25, 8, 1), action_id=c1.action_id, policy=POLICY
    )
    (row,) = await _callbacks(db)
    assert status is CallbackStatus.PENDIENTE
    assert (row.status, row.attempts, row.outcome) == ("pendiente", 1, "busy")
    assert row.next_attempt_at == pa(25, 8, 31)

    # A late duplicate of attempt 1's outcome changes nothing.
    late = await record_outcome(
        db, c1.id, Outcome.ANSWERED, pa(25, 8, 2), action_id=c1.action_id, policy=POLICY
    )
    assert late is CallbackStatus.PENDIENTE

    (c2,) = await claim_due_callbacks(db, pa(25, 8, 31), 1, policy=POLICY)
    assert (c2.attempt, c2.action_id) == (2, f"cb-{cb.id}-2")
    stale = await record_outcome(
        db, c2.id, Outcome.BUSY, pa(25, 8, 32), action_id=c1.action_id, policy=POLICY
    )
    assert stale is CallbackStatus.EN_CURSO
    done = await record_outcome(
        db, c2.id, Outcome.ANSWERED, pa(25, 8, 32), action_id=c2.action_id, policy=POLICY
    )
    assert done is CallbackStatus.COMPLETADA


async def test_given_every_attempt_fails_then_human_task_then_not_reached(db):
    _, _, cb = await _one_due(db)
    now = pa(25, 8)
    for attempt in range(1, 5):
        (c,) = await claim_due_callbacks(db, now, 1, policy=POLICY)
        assert c.attempt == attempt
        status = await record_outcome(
            db,
            c.id,
            Outcome.NO_ANSWER,
            now + timedelta(seconds=30),
            action_id=c.action_id,
            policy=POLICY,
        )
        (row,) = await _callbacks(db)
        now = row.next_attempt_at or now
    assert status is CallbackStatus.TAREA_HUMANA
    assert [t.id for t in await human_tasks(db)] == [cb.id]
    report = await schedule_callbacks(db, cb.window_end_at, policy=POLICY)
    assert report.not_reached == 1
    assert (await _callbacks(db))[0].status == "no_contactado"
    assert await human_tasks(db) == []


async def test_given_a_pending_callback_near_its_window_end_when_scheduled_then_handed_over(
    db,
):
    _, _, cb = await _one_due(db)
    report = await schedule_callbacks(db, cb.window_end_at - timedelta(hours=23), policy=POLICY)
    assert report.handed_over == 1
    (row,) = await _callbacks(db)
    assert (row.status, row.next_attempt_at) == ("tarea_humana", None)
    assert (
        await complete_callback(
            db, cb.id, cb.window_end_at - timedelta(hours=2), outcome="llamada_manual"
        )
        is CallbackStatus.COMPLETADA
    )


async def test_given_a_crash_after_claiming_when_scheduled_then_attempt_resolved_not_redialled(
    db,
):
    _, _, cb = await _one_due(db)
    (c,) = await claim_due_callbacks(db, pa(25, 8), 1, policy=POLICY)
    early = await schedule_callbacks(db, pa(25, 8, 5), policy=POLICY)
    assert early.recovered == 0  # still within the attempt's time
    report = await schedule_callbacks(db, pa(25, 8, 15), policy=POLICY)
    (row,) = await _callbacks(db)
    assert report.recovered == 1
    assert (row.status, row.attempts, row.outcome) == ("pendiente", 1, "sin_resultado")
    assert row.next_attempt_at == pa(25, 8, 45)
    # The outcome of the lost attempt, if it ever arrives, is ignored.
    assert (
        await record_outcome(db, c.id, Outcome.ANSWERED, pa(25, 8, 16), action_id=c.action_id)
        is CallbackStatus.PENDIENTE
    )


async def test_given_a_crash_after_the_citizen_answered_the_survey_then_completed(db):
    _, _, cb = await _one_due(db)
    (c,) = await claim_due_callbacks(db, pa(25, 8), 1, policy=POLICY)
    async with db() as uow:  # the survey answer is written, the dialer dies before
        uow.session.add(
            SurveyAnswerRow(
                callback_id=c.id,
                case_id=c.case_id,
                question="resuelto",
                answer="1",
                answered_at=pa(25, 8, 1),
            )
        )
        await uow.commit()
    await schedule_callbacks(db, pa(25, 8, 30), policy=POLICY)
    (row,) = await _callbacks(db)
    assert (row.status, row.outcome) == ("completada", "answered")


# ----------------------------------------------------------------------------- survey
async def test_given_survey_answers_when_recorded_then_stored_and_not_solved_flags_review(
    db,
):
    _, case_id, _ = await _one_due(db)
    (c,) = await claim_due_callbacks(db, pa(25, 8), 1, policy=POLICY)
    await record_outcome(db, c.id, Outcome.ANSWERED, pa(25, 8, 0), action_id=c.action_id)
    await record_survey_answer(db, c.id, "resuelto", "2", pa(25, 8, 1))
    await record_survey_answer(db, c.id, "satisfaccion", "4", pa(25, 8, 2))
    with pytest.raises(DomainError):
        await record_survey_answer(db, c.id, "satisfaccion", "9", pa(25, 8, 3))
    async with db() as uow:
        answers = (
            await uow.session.execute(
                select(SurveyAnswerRow.question, SurveyAnswerRow.answer).order_by(
                    SurveyAnswerRow.id
                )
            )
        ).all()
        case = await uow.cases.get(case_id)
    assert [tuple(a) for a in answers] == [("resuelto", "2"), ("satisfaccion", "4")]
    assert case.needs_review is True


async def test_given_a_hangup_mid_survey_then_the_first_answer_is_kept(db):
    _, case_id, _ = await _one_due(db)
    (c,) = await claim_due_callbacks(db, pa(25, 8), 1, policy=POLICY)
    # The survey's first key arrives before the dialer recorded the OriginateResponse.
    await record_survey_answer(db, c.id, "resuelto", "1", pa(25, 8, 1))
    # ... then the citizen hangs up: no second answer, no explicit completion.
    await record_outcome(db, c.id, Outcome.ANSWERED, pa(25, 8, 2), action_id=c.action_id)
    async with db() as uow:
        answers = (await uow.session.scalars(select(SurveyAnswerRow))).all()
        case = await uow.cases.get(case_id)
    assert [(a.question, a.answer) for a in answers] == [("resuelto", "1")]
    assert case.needs_review is False
    (row,) = await _callbacks(db)
    assert (row.status, row.outcome) == ("completada", "answered")


# ----------------------------------------------------------------------------- opt-out
async def test_given_a_citizen_opts_out_then_pending_callbacks_cancelled_and_none_created(
    db,
):
    citizen, case_id, cb = await _one_due(db)
    other = await _case(db, citizen_id=citizen)
    await schedule_callbacks(db, OPENED, policy=POLICY)
    cancelled = await opt_out(db, now=pa(24, 9), callback_id=cb.id, source="ivr")
    third = await _case(db, citizen_id=citizen, at=pa(24, 10))
    report = await schedule_callbacks(db, pa(24, 10), policy=POLICY)
    assert cancelled == 2
    assert report.created_followups == 0
    assert {r.case_id: r.status for r in await _callbacks(db)} == {
        case_id: "cancelada",
        other: "cancelada",
    }
    assert third not in {r.case_id for r in await _callbacks(db)}
    async with db() as uow:
        assert (await uow.session.get(CitizenRow, citizen)).opted_out_at == pa(24, 9)


async def test_given_an_anonymous_contact_opts_out_then_no_satisfaction_call(db):
    case_id = await _case(db, anonymous=True, contact_phone="6555-0000")
    await schedule_callbacks(db, OPENED, policy=POLICY)
    (cb,) = await _callbacks(db)
    assert await opt_out(db, now=pa(24, 9), callback_id=cb.id) == 1
    await _close(db, case_id, pa(24, 10))
    report = await schedule_callbacks(db, pa(24, 10), policy=POLICY)
    assert report.created_satisfaction == 0
    async with db() as uow:
        opt = (await uow.session.scalars(select(CallbackOptOutRow))).one()
        case = await uow.session.get(CaseRow, case_id)
    assert (opt.case_id, opt.citizen_id, opt.callback_id) == (case_id, None, cb.id)
    assert case.contact_phone == "+50765550000"  # the case keeps its data
