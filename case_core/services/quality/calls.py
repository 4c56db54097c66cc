"""Call evaluations of 3-1-1's agents: the weekly sample of each agent's calls, the
call-handling form, each agent's own evaluations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from case_core.db.models import CallRow, CaseRow, UserRow
from case_core.db.models.quality import (
    CallEvaluationRow,
    CallEvaluationSampleRow,
)
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import quality as q
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.domain.roles import Actor, can_play_recording
from case_core.services.quality.access import (
    PANAMA,
    actor_label,
)


async def draw_weekly_call_sample(
    uow_factory: UnitOfWorkFactory,
    *,
    week: str,
    now: datetime,
    per_agent: int = q.DEFAULT_CALLS_PER_AGENT,
    tz: tzinfo = PANAMA,
) -> dict[int, list[int]]:
    """Draw ``per_agent`` answered, recorded calls of each agent in ``week`` to evaluate."""
    start, end = q.week_bounds(week, tz)
    drawn: dict[int, list[int]] = {}
    async with uow_factory() as uow:
        s = uow.session
        await s.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('cac311-quality-calls'), hashtext(:w))"),
            {"w": week},
        )
        have = dict(
            (
                await s.execute(
                    select(CallEvaluationSampleRow.agent_user_id, func.count())
                    .where(CallEvaluationSampleRow.week == week)
                    .group_by(CallEvaluationSampleRow.agent_user_id)
                )
            ).all()
        )
        rows = (
            await s.execute(
                select(CallRow.id, CallRow.agent_user_id, CallRow.direction).where(
                    CallRow.agent_user_id.is_not(None),
                    CallRow.answered_at >= start,
                    CallRow.answered_at < end,
                    CallRow.recording_path.is_not(None),
                    ~select(CallEvaluationSampleRow.id)
                    .where(CallEvaluationSampleRow.call_id == CallRow.id)
                    .exists(),
                    ~select(CallEvaluationRow.id)
                    .where(CallEvaluationRow.call_id == CallRow.id)
                    .exists(),
                )
            )
        ).all()
        by_agent: dict[int, list[q.Candidate]] = {}
        for call_id, agent_id, direction in rows:
            by_agent.setdefault(agent_id, []).append(q.Candidate(call_id, direction))
        for agent_id in sorted(by_agent):
            missing = per_agent - int(have.get(agent_id, 0))
            if missing <= 0:
                continue
            picked = q.draw_sample(
                by_agent[agent_id], size=missing, seed=q.sample_seed(week, f"agente:{agent_id}")
            )
            result = await s.execute(
                insert(CallEvaluationSampleRow)
                .values(
                    [
                        {"week": week, "agent_user_id": agent_id, "call_id": c.id, "drawn_at": now}
                        for c in picked
                    ]
                )
                .on_conflict_do_nothing(index_elements=["call_id"])
                .returning(CallEvaluationSampleRow.call_id)
            )
            new = list(result.scalars().all())
            if new:
                drawn[agent_id] = new
        await uow.commit()
    return drawn


# --- call evaluations ------------------------------------------------------------------------


@dataclass(frozen=True)
class CallToEvaluate:
    call_id: int
    agent_user_id: int
    agent_name: str
    answered_at: datetime | None
    evaluation_id: int | None
    percent: float | None


async def call_work_list(
    uow_factory: UnitOfWorkFactory, *, actor: Actor, week: str
) -> list[CallToEvaluate]:
    if not q.can_do_quality(actor):
        raise AccessDenied("Su rol no tiene acceso a las evaluaciones de llamadas.")
    async with uow_factory() as uow:
        rows = (
            await uow.session.execute(
                select(
                    CallEvaluationSampleRow,
                    CallRow.answered_at,
                    UserRow.full_name,
                    CallEvaluationRow,
                )
                .join(CallRow, CallRow.id == CallEvaluationSampleRow.call_id)
                .join(UserRow, UserRow.id == CallEvaluationSampleRow.agent_user_id)
                .outerjoin(
                    CallEvaluationRow, CallEvaluationRow.call_id == CallEvaluationSampleRow.call_id
                )
                .where(CallEvaluationSampleRow.week == week)
                .order_by(UserRow.full_name, CallRow.answered_at)
            )
        ).all()
    return [
        CallToEvaluate(
            s.call_id,
            s.agent_user_id,
            name,
            answered,
            e.id if e else None,
            (100.0 * e.criteria_met / e.criteria_scored) if e and e.criteria_scored else None,
        )
        for s, answered, name, e in rows
    ]


@dataclass(frozen=True)
class CallSubject:
    call: CallRow
    agent_name: str
    playable: bool
    evaluation: CallEvaluationRow | None


async def call_subject(
    uow_factory: UnitOfWorkFactory, *, actor: Actor, call_id: int
) -> CallSubject:
    if not q.can_do_quality(actor):
        raise AccessDenied("Su rol no tiene acceso a las evaluaciones de llamadas.")
    async with uow_factory() as uow:
        s = uow.session
        call = await s.get(CallRow, call_id)
        if call is None or call.agent_user_id is None:
            raise NotFound("La llamada no existe.")
        confidential = bool(
            await s.scalar(
                select(func.bool_or(CaseRow.confidential)).where(CaseRow.call_id == call_id)
            )
        )
        agent = await s.get(UserRow, call.agent_user_id)
        evaluation = (
            await s.scalars(select(CallEvaluationRow).where(CallEvaluationRow.call_id == call_id))
        ).first()
    playable = bool(call.recording_path) and can_play_recording(
        actor, handled_by_user_id=call.agent_user_id, case_confidential=confidential
    )
    return CallSubject(call, agent.full_name if agent else "—", playable, evaluation)


async def save_call_evaluation(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    call_id: int,
    answers: Mapping[str, str],
    comment: str,
    now: datetime,
    tz: tzinfo = PANAMA,
) -> int:
    """Score an agent's call on the call-handling form (once per call)."""
    subject = await call_subject(uow_factory, actor=actor, call_id=call_id)
    if subject.evaluation is not None:
        raise DomainError("Esta llamada ya fue evaluada.")
    scored = q.score_checklist(q.CALL_CRITERIA, answers)
    async with uow_factory() as uow:
        s = uow.session
        sample_week = await s.scalar(
            select(CallEvaluationSampleRow.week).where(CallEvaluationSampleRow.call_id == call_id)
        )
        moment = subject.call.answered_at or subject.call.started_at or now
        row = CallEvaluationRow(
            call_id=call_id,
            agent_user_id=subject.call.agent_user_id,
            week=sample_week or q.week_of(moment, tz),
            at=now,
            evaluator_user_id=actor.user_id,
            evaluator_label=await actor_label(s, actor),
            scores=scored.scores,
            criteria_met=scored.met,
            criteria_scored=scored.scored,
            comment=comment.strip(),
        )
        s.add(row)
        try:
            await s.flush()
        except IntegrityError:
            raise DomainError("Esta llamada ya fue evaluada.") from None
        await uow.commit()
        return row.id


async def agent_evaluations(
    uow_factory: UnitOfWorkFactory, *, agent_user_id: int
) -> list[CallEvaluationRow]:
    """An agent's own evaluations, newest first."""
    async with uow_factory() as uow:
        return list(
            (
                await uow.session.scalars(
                    select(CallEvaluationRow)
                    .where(CallEvaluationRow.agent_user_id == agent_user_id)
                    .order_by(CallEvaluationRow.at.desc())
                    .limit(200)
                )
            ).all()
        )
