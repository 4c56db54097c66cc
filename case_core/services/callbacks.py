"""Callback services: schedule, claim, record outcomes and survey answers, opt out, list.

The ``callbacks`` table is a PostgreSQL work queue (state column, attempt counter,
``FOR UPDATE SKIP LOCKED``), chosen over pgqueuer because the table is already the record
the desktop, the audits and the figures read, and a second queue would have to be kept in
step with it. Crash safety:

- :func:`claim_due_callbacks` commits ``en_curso``, the attempt number and its ActionID
  BEFORE anything is dialled; two claimers never get the same row (SKIP LOCKED).
- An attempt that never got an outcome (a crash between claim and outcome) is resolved by
  :func:`schedule_callbacks` once it is older than ``policy.stale_after``: completed when the
  citizen reached the IVR (a survey answer or an IVR session for it), else counted as a
  failed attempt and retried by the normal rules — never re-dialled on the spot.
- :func:`record_outcome` ignores an outcome whose ActionID is not the current attempt's.

All decisions come from :mod:`case_core.domain.callbacks`; this module only reads and writes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, text, update

from case_core.db.models import (
    CallbackOptOutRow,
    CallbackRow,
    CaseRow,
    CitizenPhoneRow,
    CitizenRow,
    IvrSessionRow,
    SurveyAnswerRow,
)
from case_core.db.uow import UnitOfWork, UnitOfWorkFactory
from case_core.domain.callbacks import (
    CallbackKind,
    CallbackPolicy,
    CallbackStatus,
    CitizenContact,
    Outcome,
    Plan,
    after_attempt,
    callback_phone,
    check_survey_answer,
    flags_review,
    make_policy,
    plan_followup,
    plan_satisfaction,
    still_wanted,
    sweep,
)
from case_core.domain.case import CaseStatus
from case_core.domain.errors import NotFound

SCHEDULER_LOCK = 311_006  # pg_advisory_xact_lock key: one scheduler at a time
CREATE_BATCH = 1000

P, C, T = CallbackStatus.PENDIENTE, CallbackStatus.EN_CURSO, CallbackStatus.TAREA_HUMANA
WAITING = (P.value, T.value)


class CallbackSettings(Protocol):
    """The part of ``cac311.config.Settings`` the callback rules read."""

    timezone: str
    calling_hours: tuple[int, int]
    calling_weekdays: tuple[int, ...]
    holidays: tuple[str, ...]


def policy_for(settings: CallbackSettings, **overrides: Any) -> CallbackPolicy:
    """The callback policy of the configured time zone, calling hours and holidays."""
    return make_policy(
        ZoneInfo(settings.timezone),
        calling_hours=settings.calling_hours,
        weekdays=settings.calling_weekdays,
        holidays=settings.holidays,
        **overrides,
    )


def _default_policy() -> CallbackPolicy:
    return make_policy(ZoneInfo("America/Panama"))


@dataclass
class ScheduleReport:
    """What one scheduler run changed."""

    created_followups: int = 0
    created_satisfaction: int = 0
    recovered: int = 0
    replaced: int = 0
    cancelled: int = 0
    handed_over: int = 0
    not_reached: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimedCallback:
    """One attempt, written as ``en_curso`` before it is dialled."""

    id: int
    case_id: int
    kind: CallbackKind
    phone: str
    attempt: int
    action_id: str
    window_end_at: datetime
    #: Random secret of this attempt, sent as ``CAC311_CALLBACK_TOKEN`` (callback_legs).
    token: str = ""


@dataclass(frozen=True)
class CallbackView:
    """A callback as the Centro de Contactos lists it."""

    id: int
    case_id: int
    case_number: str
    kind: CallbackKind
    status: CallbackStatus
    phone: str
    window_end_at: datetime
    next_attempt_at: datetime | None
    attempts: int
    max_attempts: int
    outcome: str | None


# --------------------------------------------------------------------------- scheduling
async def schedule_callbacks(
    uow_factory: UnitOfWorkFactory,
    now: datetime,
    settings: CallbackSettings | None = None,
    *,
    policy: CallbackPolicy | None = None,
) -> ScheduleReport:
    """Resolve stale attempts, replace/cancel/hand over/expire, create missing callbacks.

    Idempotent; concurrent runs queue on an advisory lock.
    """
    if policy is None:
        policy = policy_for(settings) if settings is not None else _default_policy()
    report = ScheduleReport()
    async with uow_factory() as uow:
        await uow.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCHEDULER_LOCK})
        await _recover_stale(uow, now, policy, report)
        await _sweep_waiting(uow, now, policy, report)
        await _create_followups(uow, now, policy, report)
        await _create_satisfaction(uow, now, policy, report)
        await uow.commit()
    return report


def _case_opted_out() -> Any:
    return exists().where(CallbackOptOutRow.case_id == CaseRow.id)


def _with_case() -> Select[Any]:
    """Callbacks with what decides whether they still make sense: case state and consent."""
    return (
        select(
            CallbackRow,
            CaseRow.status,
            CaseRow.closed_at,
            CitizenRow.id,
            CitizenRow.callback_consent,
            CitizenRow.opted_out_at,
            _case_opted_out().label("case_opted_out"),
        )
        .join(CaseRow, CaseRow.id == CallbackRow.case_id)
        .outerjoin(CitizenRow, CitizenRow.id == CaseRow.citizen_id)
    )


async def _recover_stale(
    uow: UnitOfWork, now: datetime, policy: CallbackPolicy, report: ScheduleReport
) -> None:
    answered = or_(
        exists().where(
            SurveyAnswerRow.callback_id == CallbackRow.id,
            SurveyAnswerRow.answered_at >= CallbackRow.last_attempt_at,
        ),
        exists().where(
            IvrSessionRow.callback_id == CallbackRow.id,
            IvrSessionRow.started_at >= CallbackRow.last_attempt_at,
        ),
    )
    stmt = (
        select(CallbackRow, answered.label("answered"))
        .where(
            CallbackRow.status == C.value,
            CallbackRow.last_attempt_at <= now - policy.stale_after,
            # A manual call (agent desktop) may last long; its agent records the outcome.
            CallbackRow.action_id.is_(None) | CallbackRow.action_id.not_like("manual-%"),
        )
        .with_for_update(of=CallbackRow, skip_locked=True)
    )
    for row, was_answered in (await uow.session.execute(stmt)).all():
        outcome = Outcome.ANSWERED if was_answered else Outcome.FAILED
        decision = after_attempt(
            kind=CallbackKind(row.kind),
            outcome=outcome,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            window_end_at=row.window_end_at,
            now=now,
            policy=policy,
        )
        row.status = decision.status.value
        row.next_attempt_at = decision.next_attempt_at
        row.outcome = Outcome.ANSWERED.value if was_answered else "sin_resultado"
        row.updated_at = now
        report.recovered += 1


async def _sweep_waiting(
    uow: UnitOfWork, now: datetime, policy: CallbackPolicy, report: ScheduleReport
) -> None:
    # SQL narrows the rows to those that may change; the domain functions decide.
    pending = CallbackRow.status == P.value
    followup = CallbackRow.kind == CallbackKind.SEGUIMIENTO.value
    satisfaction = CallbackRow.kind == CallbackKind.SATISFACCION.value
    stmt = (
        _with_case()
        .where(CallbackRow.status.in_(WAITING))
        .where(
            or_(
                CallbackRow.window_end_at <= now,
                and_(
                    pending,
                    followup,
                    CallbackRow.window_end_at < now + policy.followup_human_margin,
                ),
                and_(
                    pending,
                    satisfaction,
                    CallbackRow.window_end_at < now + policy.satisfaction_human_margin,
                ),
                and_(followup, CaseRow.status == CaseStatus.CERRADO.value),
                and_(
                    satisfaction,
                    or_(
                        CaseRow.closed_at.is_(None),
                        CaseRow.closed_at != CallbackRow.window_start_at,
                    ),
                ),
                CitizenRow.callback_consent.is_(False),
                CitizenRow.opted_out_at.is_not(None),
                _case_opted_out(),
            )
        )
        .with_for_update(of=CallbackRow, skip_locked=True)
    )
    for row, case_status, closed_at, citizen_id, consent, opted_out_at, case_opted_out in (
        await uow.session.execute(stmt)
    ).all():
        citizen = None if citizen_id is None else CitizenContact(consent, opted_out_at)
        new = _unwanted(row, case_status, closed_at, citizen, case_opted_out) or sweep(
            kind=CallbackKind(row.kind),
            status=CallbackStatus(row.status),
            window_end_at=row.window_end_at,
            now=now,
            policy=policy,
        )
        if new is None:
            continue
        row.status = new.value
        row.next_attempt_at = None
        row.updated_at = now
        if new is CallbackStatus.REEMPLAZADA:
            report.replaced += 1
        elif new is CallbackStatus.CANCELADA:
            report.cancelled += 1
        elif new is CallbackStatus.TAREA_HUMANA:
            report.handed_over += 1
        elif new is CallbackStatus.NO_CONTACTADO:
            report.not_reached += 1


def _unwanted(
    row: CallbackRow,
    case_status: str,
    closed_at: datetime | None,
    citizen: CitizenContact | None,
    case_opted_out: bool,
) -> CallbackStatus | None:
    closed = case_status == CaseStatus.CERRADO.value
    if CallbackKind(row.kind) is CallbackKind.SATISFACCION:
        closed = closed and closed_at == row.window_start_at
    allowed = not case_opted_out and (citizen is None or citizen.may_call)
    return still_wanted(kind=CallbackKind(row.kind), case_closed=closed, may_call=allowed)


def _eligible_contact() -> Any:
    """SQL side of :func:`case_core.domain.callbacks.callback_phone` (narrowing only)."""
    citizen_has_phone = exists().where(CitizenPhoneRow.citizen_id == CaseRow.citizen_id)
    return and_(
        ~_case_opted_out(),
        or_(
            CaseRow.citizen_id.is_(None),
            and_(CitizenRow.callback_consent.is_(True), CitizenRow.opted_out_at.is_(None)),
        ),
        or_(CaseRow.contact_phone.is_not(None), citizen_has_phone),
    )


async def _create_followups(
    uow: UnitOfWork, now: datetime, policy: CallbackPolicy, report: ScheduleReport
) -> None:
    has_followup = exists().where(
        CallbackRow.case_id == CaseRow.id, CallbackRow.kind == CallbackKind.SEGUIMIENTO.value
    )
    base = (
        select(CaseRow, CitizenRow)
        .outerjoin(CitizenRow, CitizenRow.id == CaseRow.citizen_id)
        .where(CaseRow.status != CaseStatus.CERRADO.value, ~has_followup, _eligible_contact())
        .order_by(CaseRow.id)
    )
    report.created_followups += await _create_in_batches(
        uow,
        base,
        lambda case: plan_followup(
            opened_at=case.opened_at, due_at=case.due_at, now=now, policy=policy
        ),
        now,
        policy,
        report,
    )


async def _create_satisfaction(
    uow: UnitOfWork, now: datetime, policy: CallbackPolicy, report: ScheduleReport
) -> None:
    sat = CallbackRow.kind == CallbackKind.SATISFACCION.value
    for_this_closing = exists().where(
        CallbackRow.case_id == CaseRow.id, sat, CallbackRow.window_start_at == CaseRow.closed_at
    )
    live = exists().where(
        CallbackRow.case_id == CaseRow.id, sat, CallbackRow.status.in_((P.value, C.value))
    )
    base = (
        select(CaseRow, CitizenRow)
        .outerjoin(CitizenRow, CitizenRow.id == CaseRow.citizen_id)
        .where(
            CaseRow.status == CaseStatus.CERRADO.value,
            ~for_this_closing,
            ~live,
            _eligible_contact(),
        )
        .order_by(CaseRow.id)
    )

    def plan(case: CaseRow) -> Plan:
        assert case.closed_at is not None  # closed cases only (and a check constraint)
        return plan_satisfaction(closed_at=case.closed_at, now=now, policy=policy)

    report.created_satisfaction += await _create_in_batches(
        uow,
        base,
        plan,
        now,
        policy,
        report,
    )


async def _create_in_batches(
    uow: UnitOfWork,
    base: Select[CaseRow, CitizenRow],
    plan_for: Callable[[CaseRow], Plan],
    now: datetime,
    policy: CallbackPolicy,
    report: ScheduleReport,
) -> int:
    """Walk the (case, citizen) rows of ``base`` in id order, CREATE_BATCH at a time, and add
    the callback ``plan_for`` plans for each; returns how many were added."""
    created = 0
    last_id = 0
    while True:
        batch = (
            await uow.session.execute(base.where(CaseRow.id > last_id).limit(CREATE_BATCH))
        ).all()
        if not batch:
            return created
        last_id = batch[-1][0].id
        phones = await _phones(uow, [c.id for _, c in batch if c is not None])
        for case, citizen in batch:
            if _add(uow, case, citizen, phones, plan_for(case), now, policy, report):
                created += 1
        await uow.session.flush()


async def _phones(uow: UnitOfWork, citizen_ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if citizen_ids:
        stmt = (
            select(CitizenPhoneRow.citizen_id, CitizenPhoneRow.e164)
            .where(CitizenPhoneRow.citizen_id.in_(set(citizen_ids)))
            .order_by(CitizenPhoneRow.id)
        )
        for citizen_id, e164 in (await uow.session.execute(stmt)).all():
            found.setdefault(citizen_id, []).append(e164)
    return found


def _add(
    uow: UnitOfWork,
    case: CaseRow,
    citizen: CitizenRow | None,
    phones: dict[int, list[str]],
    plan: Plan,
    now: datetime,
    policy: CallbackPolicy,
    report: ScheduleReport,
) -> bool:
    contact = None
    if citizen is not None:
        contact = CitizenContact(
            citizen.callback_consent, citizen.opted_out_at, tuple(phones.get(citizen.id, ()))
        )
    phone = callback_phone(contact_phone=case.contact_phone, citizen=contact)
    if phone is None:
        return False
    uow.session.add(
        CallbackRow(
            case_id=case.id,
            kind=plan.kind.value,
            phone=phone,
            window_start_at=plan.window_start_at,
            window_end_at=plan.window_end_at,
            next_attempt_at=plan.next_attempt_at,
            attempts=0,
            max_attempts=policy.max_attempts,
            status=plan.status.value,
            outcome="ventana_vencida" if plan.status is CallbackStatus.NO_CONTACTADO else None,
            updated_at=now,
        )
    )
    report.by_status[plan.status.value] = report.by_status.get(plan.status.value, 0) + 1
    return True


# --------------------------------------------------------------------------- dialling
async def claim_due_callbacks(
    uow_factory: UnitOfWorkFactory,
    now: datetime,
    limit: int,
    *,
    policy: CallbackPolicy | None = None,
) -> list[ClaimedCallback]:
    """Take up to ``limit`` due callbacks (SKIP LOCKED), committed as ``en_curso``.

    Nothing is claimed outside calling hours. A due callback that no longer makes sense
    (case closed, consent withdrawn) or that is past its automatic deadline is settled
    instead of returned.
    """
    policy = policy or _default_policy()
    if limit <= 0 or not policy.hours.is_open(now):
        return []
    stmt = (
        _with_case()
        .where(CallbackRow.status == P.value, CallbackRow.next_attempt_at <= now)
        .order_by(CallbackRow.next_attempt_at, CallbackRow.id)
        .limit(limit)
        .with_for_update(of=CallbackRow, skip_locked=True)
    )
    claimed: list[ClaimedCallback] = []
    async with uow_factory() as uow:
        for row, case_status, closed_at, citizen_id, consent, opted_out_at, case_opted_out in (
            await uow.session.execute(stmt)
        ).all():
            citizen = None if citizen_id is None else CitizenContact(consent, opted_out_at)
            kind = CallbackKind(row.kind)
            settled = _unwanted(row, case_status, closed_at, citizen, case_opted_out) or sweep(
                kind=kind,
                status=CallbackStatus.PENDIENTE,
                window_end_at=row.window_end_at,
                now=now,
                policy=policy,
            )
            row.updated_at = now
            if settled is not None:
                row.status = settled.value
                row.next_attempt_at = None
                continue
            row.status = C.value
            row.attempts += 1
            row.last_attempt_at = now
            row.next_attempt_at = None
            row.action_id = f"cb-{row.id}-{row.attempts}"
            row.leg_token = secrets.token_urlsafe(24)
            row.leg_uniqueid = row.leg_answered_at = row.leg_used_at = None
            claimed.append(
                ClaimedCallback(
                    row.id,
                    row.case_id,
                    kind,
                    row.phone,
                    row.attempts,
                    row.action_id,
                    row.window_end_at,
                    row.leg_token,
                )
            )
        await uow.commit()
    return claimed


async def record_outcome(
    uow_factory: UnitOfWorkFactory,
    callback_id: int,
    outcome: Outcome | str,
    now: datetime,
    *,
    action_id: str | None = None,
    policy: CallbackPolicy | None = None,
    uniqueid: str | None = None,
) -> CallbackStatus:
    """Apply an attempt's outcome: completed, next attempt, human task or not reached.

    An outcome for a callback that is no longer ``en_curso``, or whose ``action_id`` is not
    the current attempt's, is ignored (the current status is returned). ``uniqueid`` is the
    answered channel's (from the OriginateResponse): its FastAGI session must match it.
    """
    outcome = Outcome(outcome)
    policy = policy or _default_policy()
    async with uow_factory() as uow:
        found = await _locked_with_case(uow, callback_id)
        row, case_status, closed_at, citizen, case_opted_out = found
        if row.status != C.value or (action_id is not None and action_id != row.action_id):
            return CallbackStatus(row.status)
        decision_status: CallbackStatus | None = None
        next_at: datetime | None = None
        if outcome is not Outcome.ANSWERED:
            decision_status = _unwanted(row, case_status, closed_at, citizen, case_opted_out)
        if decision_status is None:
            decision = after_attempt(
                kind=CallbackKind(row.kind),
                outcome=outcome,
                attempts=row.attempts,
                max_attempts=row.max_attempts,
                window_end_at=row.window_end_at,
                now=now,
                policy=policy,
            )
            decision_status, next_at = decision.status, decision.next_attempt_at
        row.status = decision_status.value
        row.next_attempt_at = next_at
        row.outcome = outcome.value
        row.updated_at = now
        if outcome is Outcome.ANSWERED and uniqueid:
            row.leg_uniqueid = uniqueid
            row.leg_answered_at = now
        await uow.commit()
        return decision_status


async def _locked_with_case(
    uow: UnitOfWork, callback_id: int
) -> tuple[CallbackRow, str, datetime | None, CitizenContact | None, bool]:
    stmt = _with_case().where(CallbackRow.id == callback_id).with_for_update(of=CallbackRow)
    found = (await uow.session.execute(stmt)).one_or_none()
    if found is None:
        raise NotFound("La devolución de llamada no existe.")
    row, case_status, closed_at, citizen_id, consent, opted_out_at, case_opted_out = found
    citizen = None if citizen_id is None else CitizenContact(consent, opted_out_at)
    return row, case_status, closed_at, citizen, bool(case_opted_out)


async def complete_callback(
    uow_factory: UnitOfWorkFactory,
    callback_id: int,
    now: datetime,
    *,
    outcome: str = "answered",
) -> CallbackStatus:
    """Mark a callback completed (end of a survey, or a manual call by an agent)."""
    async with uow_factory() as uow:
        row = await _locked(uow, callback_id)
        if row.status in (P.value, C.value, T.value):
            row.status = CallbackStatus.COMPLETADA.value
            row.outcome = outcome
            row.next_attempt_at = None
            row.updated_at = now
            await uow.commit()
        return CallbackStatus(row.status)


async def _locked(uow: UnitOfWork, callback_id: int) -> CallbackRow:
    stmt = select(CallbackRow).where(CallbackRow.id == callback_id).with_for_update()
    row = (await uow.session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("La devolución de llamada no existe.")
    return row


# --------------------------------------------------------------------------- survey, opt-out
async def record_survey_answer(
    uow_factory: UnitOfWorkFactory,
    callback_id: int,
    question: str,
    answer: str,
    now: datetime,
) -> None:
    """Store one keypad answer at once; "not solved" (resuelto=2) flags the case for review.

    An answer proves contact: a callback still ``en_curso`` becomes ``completada``.
    """
    q, value = check_survey_answer(question, answer)
    async with uow_factory() as uow:
        row = await _locked(uow, callback_id)
        uow.session.add(
            SurveyAnswerRow(
                callback_id=row.id,
                case_id=row.case_id,
                question=q.value,
                answer=value,
                answered_at=now,
            )
        )
        if flags_review(q, value):
            await uow.session.execute(
                update(CaseRow)
                .where(CaseRow.id == row.case_id)
                .values(needs_review=True, updated_at=now)
            )
        if row.status == C.value:
            row.status = CallbackStatus.COMPLETADA.value
            row.outcome = Outcome.ANSWERED.value
            row.updated_at = now
        await uow.commit()


async def opt_out(
    uow_factory: UnitOfWorkFactory,
    *,
    now: datetime,
    callback_id: int | None = None,
    case_id: int | None = None,
    citizen_id: int | None = None,
    source: str = "ivr",
) -> int:
    """Record that the citizen (or, without one, the case's contact) wants no more calls.

    Cancels the waiting callbacks concerned (an attempt in progress is settled by its
    outcome); returns how many were cancelled.
    """
    async with uow_factory() as uow:
        if callback_id is not None:
            case_id = (await _locked(uow, callback_id)).case_id
        if case_id is not None and citizen_id is None:
            case = await uow.cases.get(case_id)
            if case is None:
                raise NotFound("El caso no existe.")
            citizen_id = case.citizen_id
        if case_id is None and citizen_id is None:
            raise ValueError("opt_out needs a callback, a case or a citizen")
        uow.session.add(
            CallbackOptOutRow(
                case_id=case_id,
                citizen_id=citizen_id,
                callback_id=callback_id,
                source=source,
                at=now,
            )
        )
        if citizen_id is not None:
            await uow.session.execute(
                update(CitizenRow)
                .where(CitizenRow.id == citizen_id, CitizenRow.opted_out_at.is_(None))
                .values(opted_out_at=now)
            )
            scope: ColumnElement[bool] = CallbackRow.case_id.in_(
                select(CaseRow.id).where(CaseRow.citizen_id == citizen_id)
            )
        else:
            scope = CallbackRow.case_id == case_id
        result = await uow.session.execute(
            update(CallbackRow)
            .where(scope, CallbackRow.status.in_(WAITING))
            .values(status=CallbackStatus.CANCELADA.value, next_attempt_at=None, updated_at=now)
        )
        await uow.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- listings
async def list_callbacks(
    uow_factory: UnitOfWorkFactory,
    *,
    statuses: Sequence[CallbackStatus | str],
    limit: int = 200,
) -> list[CallbackView]:
    """Callbacks in the given statuses, soonest first."""
    stmt = (
        select(CallbackRow, CaseRow.number)
        .join(CaseRow, CaseRow.id == CallbackRow.case_id)
        .where(CallbackRow.status.in_([CallbackStatus(s).value for s in statuses]))
        .order_by(
            func.coalesce(CallbackRow.next_attempt_at, CallbackRow.window_end_at),
            CallbackRow.id,
        )
        .limit(limit)
    )
    async with uow_factory() as uow:
        return [
            CallbackView(
                row.id,
                row.case_id,
                number,
                CallbackKind(row.kind),
                CallbackStatus(row.status),
                row.phone,
                row.window_end_at,
                row.next_attempt_at,
                row.attempts,
                row.max_attempts,
                row.outcome,
            )
            for row, number in (await uow.session.execute(stmt)).all()
        ]


async def human_tasks(uow_factory: UnitOfWorkFactory, *, limit: int = 200) -> list[CallbackView]:
    """The human Centro de Contactos queue: callbacks handed over, nearest window end first."""
    return await list_callbacks(uow_factory, statuses=[T], limit=limit)
