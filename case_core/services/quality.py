"""Quality services: advisors' entities, the weekly samples, audits and replies, publication
to the entities, action plans, call evaluations, the expired-cases report and the figures.

Access is decided here, not in the web layer: a quality advisor (role ``auditor``) works
only the entities assigned to them during the period in question; supervisors and admins
every entity. Confidential cases follow ``roles.can_see_case`` (an auditor does not open
them; a supervisor does).

The weekly draws are idempotent: ``INSERT ... ON CONFLICT (case_id) DO NOTHING`` on a table
where a case appears at most once, and a deterministic draw from the same candidates, so two
processes running the weekly job at once produce the same rows once.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models import CallRow, CaseRow, EntityRow, OfficeRow, UserRow
from case_core.db.models.quality import (
    ActionPlanRow,
    ActionPlanUpdateRow,
    CallEvaluationRow,
    CallEvaluationSampleRow,
    CaseAuditReplyRow,
    CaseAuditRow,
    QualityAssignmentRow,
    QualityPublicationRow,
    QualitySampleRow,
)
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import quality as q
from case_core.domain.case import TYPE_LABELS, CaseStatus, CaseType
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.domain.roles import Actor, Role, can_play_recording, can_see_case
from case_core.services.mail import enqueue_mail, looks_like_address

log = logging.getLogger(__name__)

PANAMA = ZoneInfo("America/Panama")
NOT_YOURS = "Esta entidad no está asignada a usted."
CASE_NOT_FOUND = "El caso no existe."


# --- advisors and their entities -------------------------------------------------------------


async def assign_entity(
    uow_factory: UnitOfWorkFactory,
    *,
    advisor_user_id: int,
    entity_id: int,
    starts_on: date,
    ends_on: date | None = None,
    limit: int = q.MAX_ENTITIES_PER_ADVISOR,
) -> int:
    """Put an entity in a quality advisor's charge from ``starts_on`` (to ``ends_on``)."""
    async with uow_factory() as uow:
        advisor = await uow.users.get(advisor_user_id)
        if advisor is None or advisor.role != Role.AUDITOR or not advisor.active:
            raise DomainError("Solo un asesor de calidad activo puede tener entidades.")
        if await uow.directory.entity(entity_id) is None:
            raise NotFound("La entidad no existe.")
        # Serialise assignments so two at once cannot pass the limit or share an entity.
        await uow.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('cac311-quality-assign'), 0)")
        )
        overlapping = select(QualityAssignmentRow.id).where(
            QualityAssignmentRow.entity_id == entity_id,
            QualityAssignmentRow.advisor_user_id != advisor_user_id,
            (QualityAssignmentRow.ends_on.is_(None)) | (QualityAssignmentRow.ends_on >= starts_on),
        )
        if ends_on is not None:
            overlapping = overlapping.where(QualityAssignmentRow.starts_on <= ends_on)
        if (await uow.session.scalars(overlapping.limit(1))).first() is not None:
            raise q.AssignmentError(
                "La entidad ya tiene otro asesor en esas fechas: termine primero esa asignación."
            )
        active = await _assigned_entity_ids(uow.session, advisor_user_id, starts_on, ends_on)
        q.check_assignment(
            active_entity_ids=active,
            entity_id=entity_id,
            starts_on=starts_on,
            ends_on=ends_on,
            limit=limit,
        )
        row = QualityAssignmentRow(
            advisor_user_id=advisor_user_id,
            entity_id=entity_id,
            starts_on=starts_on,
            ends_on=ends_on,
        )
        uow.session.add(row)
        await uow.session.flush()
        await uow.commit()
        return row.id


async def end_assignment(
    uow_factory: UnitOfWorkFactory, *, assignment_id: int, ends_on: date
) -> None:
    """End an assignment (yearly rotation); the row stays as history."""
    async with uow_factory() as uow:
        row = await uow.session.get(QualityAssignmentRow, assignment_id, with_for_update=True)
        if row is None:
            raise NotFound("La asignación no existe.")
        if ends_on < row.starts_on:
            raise q.AssignmentError("La fecha de fin no puede ser anterior a la de inicio.")
        row.ends_on = ends_on
        await uow.commit()


async def _assigned_entity_ids(
    session: AsyncSession, advisor_user_id: int, first: date, last: date | None = None
) -> set[int]:
    """Entities assigned to the advisor at any day of [first, last] (last None = open)."""
    stmt = select(QualityAssignmentRow.entity_id).where(
        QualityAssignmentRow.advisor_user_id == advisor_user_id,
        (QualityAssignmentRow.ends_on.is_(None)) | (QualityAssignmentRow.ends_on >= first),
    )
    if last is not None:
        stmt = stmt.where(QualityAssignmentRow.starts_on <= last)
    return set((await session.scalars(stmt)).all())


async def visible_entity_ids(
    session: AsyncSession, actor: Actor, first: date, last: date | None = None
) -> set[int] | None:
    """The entities the actor may work in quality between two days; None = every entity."""
    if not q.can_do_quality(actor):
        raise AccessDenied("Su rol no tiene acceso a las auditorías de calidad.")
    if q.sees_all_entities(actor):
        return None
    assert actor.user_id is not None
    return await _assigned_entity_ids(session, actor.user_id, first, last or first)


async def _advisors_on(session: AsyncSession, entity_ids: set[int], day: date) -> dict[int, int]:
    """The advisor of each entity on ``day`` (the latest assignment when several)."""
    rows = (
        await session.execute(
            select(QualityAssignmentRow.entity_id, QualityAssignmentRow.advisor_user_id)
            .where(
                QualityAssignmentRow.entity_id.in_(entity_ids),
                QualityAssignmentRow.starts_on <= day,
                (QualityAssignmentRow.ends_on.is_(None)) | (QualityAssignmentRow.ends_on >= day),
            )
            .order_by(QualityAssignmentRow.entity_id, QualityAssignmentRow.starts_on)
        )
    ).all()
    return dict(rows)  # later starts overwrite earlier ones


@dataclass(frozen=True)
class AssignedEntity:
    assignment_id: int
    entity_id: int
    entity_name: str
    starts_on: date
    ends_on: date | None


async def advisor_entities(
    uow_factory: UnitOfWorkFactory, *, advisor_user_id: int, day: date
) -> list[AssignedEntity]:
    """The advisor's entities on ``day``, by name."""
    async with uow_factory() as uow:
        stmt = (
            select(QualityAssignmentRow, EntityRow.name)
            .join(EntityRow, EntityRow.id == QualityAssignmentRow.entity_id)
            .where(
                QualityAssignmentRow.advisor_user_id == advisor_user_id,
                QualityAssignmentRow.starts_on <= day,
                (QualityAssignmentRow.ends_on.is_(None)) | (QualityAssignmentRow.ends_on >= day),
            )
            .order_by(EntityRow.name)
        )
        rows = (await uow.session.execute(stmt)).all()
    return [AssignedEntity(a.id, a.entity_id, name, a.starts_on, a.ends_on) for a, name in rows]


@dataclass(frozen=True)
class AssignmentLine:
    assignment_id: int
    advisor_user_id: int
    advisor_name: str
    entity_id: int
    entity_name: str
    starts_on: date
    ends_on: date | None
    active: bool


async def assignments(uow_factory: UnitOfWorkFactory, *, today: date) -> list[AssignmentLine]:
    """Every assignment, current ones first, by advisor and entity (the rotation history)."""
    async with uow_factory() as uow:
        rows = (
            await uow.session.execute(
                select(QualityAssignmentRow, UserRow.full_name, EntityRow.name)
                .join(UserRow, UserRow.id == QualityAssignmentRow.advisor_user_id)
                .join(EntityRow, EntityRow.id == QualityAssignmentRow.entity_id)
                .order_by(UserRow.full_name, EntityRow.name, QualityAssignmentRow.starts_on)
            )
        ).all()
    lines = [
        AssignmentLine(
            a.id,
            a.advisor_user_id,
            advisor,
            a.entity_id,
            entity,
            a.starts_on,
            a.ends_on,
            q.assignment_active(a.starts_on, a.ends_on, today),
        )
        for a, advisor, entity in rows
    ]
    return sorted(lines, key=lambda line: not line.active)


# --- the weekly sample -----------------------------------------------------------------------


@dataclass(frozen=True)
class SampleReport:
    week: str
    drawn: dict[int, list[int]] = field(default_factory=dict)  # entity -> new case ids
    entities: int = 0

    @property
    def cases(self) -> int:
        return sum(len(v) for v in self.drawn.values())


async def draw_weekly_sample(
    uow_factory: UnitOfWorkFactory,
    *,
    week: str,
    now: datetime,
    per_entity: int = q.DEFAULT_SAMPLE_PER_ENTITY,
    tz: tzinfo = PANAMA,
) -> SampleReport:
    """Draw, per entity, ``per_entity`` of the cases closed in ``week`` (all when fewer).

    Stratified by case type, seeded by week and entity, skipping cases already sampled or
    audited. Running it again for the same week adds nothing (and shows the same sample).
    """
    if per_entity < 1:
        raise DomainError("La muestra debe tener al menos un caso por entidad.")
    start, end = q.week_bounds(week, tz)
    monday = q.parse_week(week)
    drawn: dict[int, list[int]] = {}
    async with uow_factory() as uow:
        s = uow.session
        # One drawer per week at a time: a second process then sees the first one's rows.
        await s.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('cac311-quality-sample'), hashtext(:w))"),
            {"w": week},
        )
        already = (
            await s.execute(
                select(QualitySampleRow.entity_id, func.count())
                .where(QualitySampleRow.week == week)
                .group_by(QualitySampleRow.entity_id)
            )
        ).all()
        have = {entity_id: int(n) for entity_id, n in already}
        candidates = (
            await s.execute(
                select(CaseRow.id, CaseRow.entity_id, CaseRow.type).where(
                    CaseRow.status == CaseStatus.CERRADO.value,
                    CaseRow.closed_at >= start,
                    CaseRow.closed_at < end,
                    # entities whose sample is complete need no candidates
                    CaseRow.entity_id.not_in([e for e, n in have.items() if n >= per_entity]),
                    ~select(QualitySampleRow.id)
                    .where(QualitySampleRow.case_id == CaseRow.id)
                    .exists(),
                    ~select(CaseAuditRow.id).where(CaseAuditRow.case_id == CaseRow.id).exists(),
                )
            )
        ).all()
        by_entity: dict[int, list[q.Candidate]] = {}
        for case_id, entity_id, case_type in candidates:
            by_entity.setdefault(entity_id, []).append(q.Candidate(case_id, case_type))
        entities = set(by_entity) | set(have)
        picks: list[tuple[int, q.Candidate]] = []
        for entity_id in sorted(by_entity):
            missing = per_entity - have.get(entity_id, 0)
            if missing > 0:
                seed = q.sample_seed(week, f"entidad:{entity_id}")
                picked = q.draw_sample(by_entity[entity_id], size=missing, seed=seed)
                picks += [(entity_id, c) for c in picked]
        if picks:
            advisors = await _advisors_on(s, {e for e, _ in picks}, monday)
            result = await s.execute(
                insert(QualitySampleRow)
                .values(
                    [
                        {
                            "week": week,
                            "entity_id": entity_id,
                            "case_id": c.id,
                            "advisor_user_id": advisors.get(entity_id),
                            "stratum": c.stratum,
                            "drawn_at": now,
                        }
                        for entity_id, c in picks
                    ]
                )
                .on_conflict_do_nothing(index_elements=["case_id"])
                .returning(QualitySampleRow.entity_id, QualitySampleRow.case_id)
            )
            for entity_id, case_id in result.all():
                drawn.setdefault(entity_id, []).append(case_id)
        await uow.commit()
    return SampleReport(week, drawn, len(entities))


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


async def run_weekly_quality_job(
    uow_factory: UnitOfWorkFactory,
    *,
    now: datetime,
    tz: tzinfo = PANAMA,
    per_entity: int = q.DEFAULT_SAMPLE_PER_ENTITY,
    per_agent: int = q.DEFAULT_CALLS_PER_AGENT,
) -> SampleReport:
    """The periodic job: sample last week's closed cases and agents' calls.

    Idempotent, so it is safe to run it more often than weekly or from several processes
    (the once-per-period helper only saves the work)."""
    week = q.previous_week(now, tz)
    report = await draw_weekly_sample(uow_factory, week=week, now=now, per_entity=per_entity, tz=tz)
    await draw_weekly_call_sample(uow_factory, week=week, now=now, per_agent=per_agent, tz=tz)
    if report.cases:
        log.info(
            "quality sample of %s: %d cases for %d entities", week, report.cases, len(report.drawn)
        )
    return report


# --- the advisor's work list -----------------------------------------------------------------


@dataclass(frozen=True)
class WorkItem:
    case_id: int
    number: str
    type_label: str
    closed_at: datetime
    confidential: bool
    audit_id: int | None
    result: str | None
    can_open: bool


@dataclass(frozen=True)
class EntityWork:
    entity_id: int
    entity_name: str
    items: list[WorkItem]
    published_at: datetime | None

    @property
    def done(self) -> int:
        return sum(1 for i in self.items if i.audit_id is not None)


async def work_list(uow_factory: UnitOfWorkFactory, *, actor: Actor, week: str) -> list[EntityWork]:
    """The week's sampled cases of the actor's entities, grouped by entity."""
    monday = q.parse_week(week)
    async with uow_factory() as uow:
        s = uow.session
        allowed = await visible_entity_ids(s, actor, monday, monday + timedelta(days=6))
        stmt = (
            select(QualitySampleRow, CaseRow, EntityRow.name, CaseAuditRow.id, CaseAuditRow.result)
            .join(CaseRow, CaseRow.id == QualitySampleRow.case_id)
            .join(EntityRow, EntityRow.id == QualitySampleRow.entity_id)
            .outerjoin(CaseAuditRow, CaseAuditRow.case_id == CaseRow.id)
            .where(QualitySampleRow.week == week)
            .order_by(EntityRow.name, CaseRow.closed_at)
        )
        if allowed is not None:
            stmt = stmt.where(QualitySampleRow.entity_id.in_(allowed or {-1}))
        rows = (await s.execute(stmt)).all()
        published = dict(
            (
                await s.execute(
                    select(
                        QualityPublicationRow.entity_id, QualityPublicationRow.published_at
                    ).where(QualityPublicationRow.week == week)
                )
            ).all()
        )
    groups: dict[int, EntityWork] = {}
    for sample, case, entity_name, audit_id, result in rows:
        group = groups.setdefault(
            sample.entity_id,
            EntityWork(sample.entity_id, entity_name, [], published.get(sample.entity_id)),
        )
        group.items.append(
            WorkItem(
                case.id,
                case.number,
                TYPE_LABELS[CaseType(case.type)],
                case.closed_at,  # type: ignore[arg-type]
                case.confidential,
                audit_id,
                result,
                can_see_case(actor, entity_id=case.entity_id, confidential=case.confidential),
            )
        )
    return list(groups.values())


# --- the audit form --------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditSubject:
    """What the audit form shows: the case, its checklist and the call to listen to."""

    case: CaseRow
    entity_name: str
    service_name: str
    week: str
    sample_id: int | None
    criteria: tuple[q.Criterion, ...]
    call_id: int | None
    recording_playable: bool
    history: list[Any]
    audit: CaseAuditRow | None
    replies: list[CaseAuditReplyRow] = field(default_factory=list)


async def _case_for_quality(session: AsyncSession, actor: Actor, case_id: int) -> CaseRow:
    case = await session.get(CaseRow, case_id)
    if case is None:
        raise NotFound(CASE_NOT_FOUND)
    if not can_see_case(actor, entity_id=case.entity_id, confidential=case.confidential):
        raise NotFound(CASE_NOT_FOUND)
    sample = (
        await session.scalars(select(QualitySampleRow).where(QualitySampleRow.case_id == case_id))
    ).first()
    day = (case.closed_at or case.opened_at).astimezone(PANAMA).date()
    if sample is not None:
        day = q.parse_week(sample.week)
    allowed = await visible_entity_ids(session, actor, day, day + timedelta(days=6))
    if allowed is not None and case.entity_id not in allowed:
        raise AccessDenied(NOT_YOURS)
    return case


async def audit_subject(
    uow_factory: UnitOfWorkFactory, *, actor: Actor, case_id: int
) -> AuditSubject:
    """The case to audit with its checklist; 404 for what the actor may not see."""
    async with uow_factory() as uow:
        s = uow.session
        case = await _case_for_quality(s, actor, case_id)
        entity = await uow.directory.entity(case.entity_id)
        service = await uow.directory.service(case.service_id) if case.service_id else None
        sample = (
            await s.scalars(select(QualitySampleRow).where(QualitySampleRow.case_id == case_id))
        ).first()
        call = await s.get(CallRow, case.call_id) if case.call_id else None
        history = list(await uow.cases.history(case_id))
        audit = (
            await s.scalars(select(CaseAuditRow).where(CaseAuditRow.case_id == case_id))
        ).first()
        replies = []
        if audit is not None:
            replies = list(
                (
                    await s.scalars(
                        select(CaseAuditReplyRow)
                        .where(CaseAuditReplyRow.audit_id == audit.id)
                        .order_by(CaseAuditReplyRow.at)
                    )
                ).all()
            )
    phone = case.channel == "telefono" or call is not None
    playable = bool(
        call is not None
        and call.recording_path
        and can_play_recording(
            actor, handled_by_user_id=call.agent_user_id, case_confidential=case.confidential
        )
    )
    week = sample.week if sample else q.week_of(case.closed_at or case.opened_at, PANAMA)
    return AuditSubject(
        case,
        entity.name if entity else "—",
        service.name if service else "—",
        week,
        sample.id if sample else None,
        q.criteria_for(phone=phone),
        call.id if call else None,
        playable,
        history,
        audit,
        replies,
    )


async def _label(session: AsyncSession, actor: Actor) -> str:
    if actor.user_id is None:
        return actor.username
    user = await session.get(UserRow, actor.user_id)
    return user.full_name if user else actor.username


async def save_audit(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    case_id: int,
    answers: Mapping[str, str],
    result: str,
    comment: str,
    now: datetime,
) -> int:
    """Record the audit of a closed case (once per case; the record is append-only)."""
    subject = await audit_subject(uow_factory, actor=actor, case_id=case_id)
    if subject.case.status != CaseStatus.CERRADO.value:
        raise DomainError("Solo se auditan casos cerrados.")
    if subject.audit is not None:
        raise DomainError("Este caso ya fue auditado.")
    scored = q.score_checklist(subject.criteria, answers)
    try:
        overall = q.AuditResult(result)
    except ValueError:
        raise DomainError("Elija el resultado general de la auditoría.") from None
    if overall is not q.AuditResult.SATISFACTORIO and not comment.strip():
        raise DomainError("Escriba un comentario con los hallazgos.")
    async with uow_factory() as uow:
        row = CaseAuditRow(
            case_id=case_id,
            sample_id=subject.sample_id,
            entity_id=subject.case.entity_id,
            week=subject.week,
            at=now,
            auditor_user_id=actor.user_id,
            auditor_label=await _label(uow.session, actor),
            scores=scored.scores,
            criteria_met=scored.met,
            criteria_scored=scored.scored,
            result=overall.value,
            comment=comment.strip(),
        )
        uow.session.add(row)
        try:
            await uow.session.flush()
        except IntegrityError:
            raise DomainError("Este caso ya fue auditado.") from None
        await uow.commit()
        return row.id


async def audit_timeline_entries(session: AsyncSession, case_id: int) -> list[dict[str, Any]]:
    """The case's audits and the entity's replies as timeline rows (internal, 3-1-1 only)."""
    audits = (
        await session.scalars(
            select(CaseAuditRow).where(CaseAuditRow.case_id == case_id).order_by(CaseAuditRow.at)
        )
    ).all()
    entries: list[dict[str, Any]] = []
    for a in audits:
        pct = 100.0 * a.criteria_met / a.criteria_scored if a.criteria_scored else None
        figure = f" ({pct:.0f} % de criterios cumplidos)" if pct is not None else ""
        text_ = f"Auditoría de calidad: {q.RESULT_LABELS[q.AuditResult(a.result)]}{figure}."
        if a.comment:
            text_ += f" {a.comment}"
        entries.append(
            {"at": a.at, "who": a.auditor_label, "kind": "audit", "text": text_, "public": False}
        )
        replies = (
            await session.scalars(
                select(CaseAuditReplyRow)
                .where(CaseAuditReplyRow.audit_id == a.id)
                .order_by(CaseAuditReplyRow.at)
            )
        ).all()
        for r in replies:
            entries.append(
                {
                    "at": r.at,
                    "who": r.actor_label,
                    "kind": "audit_reply",
                    "text": f"Respuesta de la entidad a la auditoría: {r.text}",
                    "public": False,
                }
            )
    return entries


# --- results to the entity -------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    audit_id: int
    case_id: int
    case_number: str
    week: str
    at: datetime
    auditor: str
    result: str
    criteria_met: int
    criteria_scored: int
    unmet: list[str]
    comment: str
    replies: list[CaseAuditReplyRow]


def _unmet(scores: Mapping[str, str]) -> list[str]:
    labels = {c.code: c.label for c in q.CASE_CRITERIA}
    return [labels.get(k, k) for k, v in scores.items() if v == q.Score.NO_CUMPLE]


async def _findings(
    session: AsyncSession, entity_id: int, *, weeks: Sequence[str] | None
) -> list[Finding]:
    stmt = (
        select(CaseAuditRow, CaseRow.number)
        .join(CaseRow, CaseRow.id == CaseAuditRow.case_id)
        .where(CaseAuditRow.entity_id == entity_id)
        .order_by(CaseAuditRow.week.desc(), CaseRow.number)
    )
    if weeks is not None:
        stmt = stmt.where(CaseAuditRow.week.in_(list(weeks) or [""]))
    rows = (await session.execute(stmt)).all()
    ids = [a.id for a, _ in rows]
    replies: dict[int, list[CaseAuditReplyRow]] = {}
    if ids:
        for r in (
            await session.scalars(
                select(CaseAuditReplyRow)
                .where(CaseAuditReplyRow.audit_id.in_(ids))
                .order_by(CaseAuditReplyRow.at)
            )
        ).all():
            replies.setdefault(r.audit_id, []).append(r)
    return [
        Finding(
            a.id,
            a.case_id,
            number,
            a.week,
            a.at,
            a.auditor_label,
            a.result,
            a.criteria_met,
            a.criteria_scored,
            _unmet(a.scores),
            a.comment,
            replies.get(a.id, []),
        )
        for a, number in rows
    ]


async def entity_mail_recipients(session: AsyncSession, entity_id: int) -> list[str]:
    """The entity's e-mail addresses: its active offices' (head office first)."""
    rows = (
        await session.execute(
            select(OfficeRow.email)
            .where(
                OfficeRow.entity_id == entity_id,
                OfficeRow.active,
                OfficeRow.email.is_not(None),
                OfficeRow.email != "",
            )
            .order_by((OfficeRow.kind != "sede"), OfficeRow.id)
        )
    ).scalars()
    seen: list[str] = []
    for email in rows:
        address = (email or "").strip()
        if address not in seen and looks_like_address(address):
            seen.append(address)
    return seen


def _mail_body(entity_name: str, week: str, findings: list[Finding], portal_url: str) -> str:
    lines = [
        f"Resultados de la auditoría de calidad del 3-1-1 para {entity_name},",
        f"{q.week_label(week)}.",
        "",
        f"Casos auditados: {len(findings)}.",
        "",
    ]
    for f in findings:
        pct = (
            f" ({100 * f.criteria_met / f.criteria_scored:.0f} % de criterios cumplidos)"
            if f.criteria_scored
            else ""
        )
        lines.append(f"Caso {f.case_number}: {q.RESULT_LABELS[q.AuditResult(f.result)]}{pct}.")
        for label in f.unmet:
            lines.append(f"  - No cumple: {label}.")
        if f.comment:
            lines.append(f"  Hallazgos: {f.comment}")
        lines.append("")
    lines += [
        "Puede responder cada hallazgo en el portal de enlaces:",
        portal_url,
        "",
        "Centro de Atención Ciudadana 3-1-1",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Publication:
    entity_id: int
    week: str
    audits: int
    recipients: list[str]
    already: bool


async def publish_week(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    entity_id: int,
    week: str,
    now: datetime,
    portal_url: str = "/enlace/auditorias",
) -> Publication:
    """Publish an entity's audits of a week to its liaisons: portal and one e-mail."""
    monday = q.parse_week(week)
    async with uow_factory() as uow:
        s = uow.session
        allowed = await visible_entity_ids(s, actor, monday, monday + timedelta(days=6))
        if allowed is not None and entity_id not in allowed:
            raise AccessDenied(NOT_YOURS)
        entity = await uow.directory.entity(entity_id)
        if entity is None:
            raise NotFound("La entidad no existe.")
        findings = await _findings(s, entity_id, weeks=[week])
        if not findings:
            raise DomainError("No hay auditorías de esta semana para publicar.")
        result = await s.execute(
            insert(QualityPublicationRow)
            .values(
                entity_id=entity_id, week=week, published_at=now, published_by_user_id=actor.user_id
            )
            .on_conflict_do_nothing(index_elements=["entity_id", "week"])
            .returning(QualityPublicationRow.id)
        )
        if result.scalar_one_or_none() is None:
            return Publication(entity_id, week, len(findings), [], True)
        recipients = await entity_mail_recipients(s, entity_id)
        body = _mail_body(entity.name, week, findings, portal_url)
        for address in recipients:
            await enqueue_mail(
                s,
                to=address,
                subject=f"3-1-1: resultados de la auditoría de calidad, {q.week_label(week)}",
                body=body,
                kind="auditoria_calidad",
                now=now,
                dedupe_key=f"auditoria:{entity_id}:{week}:{address}",
            )
        await uow.commit()
    return Publication(entity_id, week, len(findings), recipients, False)


async def published_findings(uow_factory: UnitOfWorkFactory, *, actor: Actor) -> list[Finding]:
    """The published audits of the liaison's entity, newest week first."""
    if actor.entity_id is None or not q.can_read_entity_audits(actor, actor.entity_id):
        raise AccessDenied("Esta página es para el Enlace Ejecutivo y los Enlaces Operativos.")
    async with uow_factory() as uow:
        weeks = (
            await uow.session.scalars(
                select(QualityPublicationRow.week).where(
                    QualityPublicationRow.entity_id == actor.entity_id
                )
            )
        ).all()
        return await _findings(uow.session, actor.entity_id, weeks=list(weeks))


async def reply_to_audit(
    uow_factory: UnitOfWorkFactory, *, actor: Actor, audit_id: int, reply: str, now: datetime
) -> int:
    """The entity's answer to a published finding."""
    if not reply.strip():
        raise DomainError("Escriba la respuesta de la entidad.")
    async with uow_factory() as uow:
        s = uow.session
        audit = await s.get(CaseAuditRow, audit_id)
        if audit is None or not q.can_read_entity_audits(actor, audit.entity_id):
            raise NotFound("La auditoría no existe.")
        published = await s.scalar(
            select(QualityPublicationRow.id).where(
                QualityPublicationRow.entity_id == audit.entity_id,
                QualityPublicationRow.week == audit.week,
            )
        )
        if published is None:
            raise NotFound("La auditoría no existe.")
        row = CaseAuditReplyRow(
            audit_id=audit_id,
            at=now,
            user_id=actor.user_id,
            actor_label=await _label(s, actor),
            text=reply.strip(),
        )
        s.add(row)
        await s.flush()
        await uow.commit()
        return row.id


# --- action plans ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanView:
    plan: ActionPlanRow
    overdue: bool
    updates: list[ActionPlanUpdateRow]

    @property
    def status_label(self) -> str:
        return q.PLAN_STATUS_LABELS[q.PlanStatus(self.plan.status)]


async def _check_entity_access(
    session: AsyncSession, actor: Actor, entity_id: int, day: date
) -> None:
    allowed = await visible_entity_ids(session, actor, day)
    if allowed is not None and entity_id not in allowed:
        raise AccessDenied(NOT_YOURS)


async def create_action_plan(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    entity_id: int,
    month: str,
    problem: str,
    measures: str,
    owner: str,
    due_on: date,
    now: datetime,
    tz: tzinfo = PANAMA,
) -> int:
    """A plan for an entity below goal in ``month``'s scorecard, by its advisor."""
    from case_core.metrics.report import month_bounds
    from case_core.metrics.scorecards import scorecards

    if not (problem.strip() and measures.strip() and owner.strip()):
        raise q.PlanError("Escriba el problema, las medidas y el responsable del plan.")
    if due_on < now.astimezone(tz).date():
        raise q.PlanError("La fecha de cumplimiento no puede estar en el pasado.")
    try:
        start, end = month_bounds(month, tz)  # type: ignore[arg-type]
    except ValueError:
        raise q.PlanError("El mes debe tener la forma AAAA-MM.") from None
    async with uow_factory() as uow:
        await _check_entity_access(uow.session, actor, entity_id, now.astimezone(tz).date())
    cards = await scorecards(uow_factory, start, end, tz, entity_id=entity_id, now=now)
    card = cards[0] if cards else None
    if card is None or not card.below_goal:
        raise q.PlanError(
            "La entidad no está bajo la meta en ese mes: el plan de acción es para entidades "
            "con menos de 70 % de casos cerrados en 30 días."
        )
    async with uow_factory() as uow:
        label = await _label(uow.session, actor)
        plan = ActionPlanRow(
            entity_id=entity_id,
            month=month,
            closed_30d_pct=card.closed_within_30d_percent,
            problem=problem.strip(),
            measures=measures.strip(),
            owner=owner.strip(),
            due_on=due_on,
            status=q.PlanStatus.ABIERTO.value,
            created_by_user_id=actor.user_id,
            updated_at=now,
        )
        uow.session.add(plan)
        await uow.session.flush()
        uow.session.add(
            ActionPlanUpdateRow(
                plan_id=plan.id,
                at=now,
                user_id=actor.user_id,
                actor_label=label,
                status=plan.status,
                note="Plan creado.",
            )
        )
        await uow.commit()
        return plan.id


async def update_action_plan(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    plan_id: int,
    status: str,
    note: str,
    now: datetime,
    tz: tzinfo = PANAMA,
) -> None:
    """Record progress on a plan: a note and possibly a new status."""
    try:
        target = q.PlanStatus(status)
    except ValueError:
        raise q.PlanError("Estado de plan desconocido.") from None
    async with uow_factory() as uow:
        s = uow.session
        plan = await s.get(ActionPlanRow, plan_id, with_for_update=True)
        if plan is None:
            raise NotFound("El plan no existe.")
        await _check_entity_access(s, actor, plan.entity_id, now.astimezone(tz).date())
        current = q.PlanStatus(plan.status)
        if target is not current:
            q.check_plan_transition(current, target)
        elif not note.strip():
            raise q.PlanError("Escriba el avance o elija un nuevo estado.")
        plan.status = target.value
        plan.updated_at = now
        s.add(
            ActionPlanUpdateRow(
                plan_id=plan.id,
                at=now,
                user_id=actor.user_id,
                actor_label=await _label(s, actor),
                status=target.value,
                note=note.strip(),
            )
        )
        await uow.commit()


async def entity_action_plans(
    session: AsyncSession, entity_id: int, *, today: date
) -> list[PlanView]:
    """An entity's plans, newest first, with overdue flags and their progress."""
    plans = (
        await session.scalars(
            select(ActionPlanRow)
            .where(ActionPlanRow.entity_id == entity_id)
            .order_by(ActionPlanRow.id.desc())
        )
    ).all()
    updates: dict[int, list[ActionPlanUpdateRow]] = {}
    if plans:
        for u in (
            await session.scalars(
                select(ActionPlanUpdateRow)
                .where(ActionPlanUpdateRow.plan_id.in_([p.id for p in plans]))
                .order_by(ActionPlanUpdateRow.at, ActionPlanUpdateRow.id)
            )
        ).all():
            updates.setdefault(u.plan_id, []).append(u)
    return [
        PlanView(p, q.plan_overdue(q.PlanStatus(p.status), p.due_on, today), updates.get(p.id, []))
        for p in plans
    ]


async def open_action_plans(
    session: AsyncSession, *, today: date
) -> list[tuple[ActionPlanRow, str, bool]]:
    """Every open or in-progress plan with its entity's name and overdue flag."""
    rows = (
        await session.execute(
            select(ActionPlanRow, EntityRow.name)
            .join(EntityRow, EntityRow.id == ActionPlanRow.entity_id)
            .where(
                ActionPlanRow.status.in_([q.PlanStatus.ABIERTO.value, q.PlanStatus.EN_CURSO.value])
            )
            .order_by(ActionPlanRow.due_on)
        )
    ).all()
    return [(p, name, q.plan_overdue(q.PlanStatus(p.status), p.due_on, today)) for p, name in rows]


# --- the weekly expired-cases report ---------------------------------------------------------

EXPIRED_COLUMNS = (
    "caso",
    "tipo",
    "servicio",
    "estado",
    "registrado",
    "vencio",
    "dias_vencido",
    "antiguedad",
)


@dataclass(frozen=True)
class ExpiredCase:
    case_id: int
    number: str
    type_label: str
    service: str
    status: str
    opened_at: datetime
    due_at: datetime
    days_overdue: int
    band: str


async def expired_cases(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    entity_id: int,
    now: datetime,
    tz: tzinfo = PANAMA,
) -> list[ExpiredCase]:
    """The entity's open cases past due at ``now``, oldest due first."""
    from case_core.db.models import ServiceRow

    async with uow_factory() as uow:
        s = uow.session
        await _check_entity_access(s, actor, entity_id, now.astimezone(tz).date())
        rows = (
            await s.execute(
                select(CaseRow, ServiceRow.name)
                .outerjoin(ServiceRow, ServiceRow.id == CaseRow.service_id)
                .where(
                    CaseRow.entity_id == entity_id,
                    CaseRow.status != CaseStatus.CERRADO.value,
                    CaseRow.due_at < now,
                )
                .order_by(CaseRow.due_at)
                .limit(5000)
            )
        ).all()
    today = now.astimezone(tz).date()
    result = []
    for case, service in rows:
        days = max(1, (today - case.due_at.astimezone(tz).date()).days)
        confidential = not can_see_case(actor, entity_id=entity_id, confidential=case.confidential)
        result.append(
            ExpiredCase(
                case.id,
                case.number,
                TYPE_LABELS[CaseType(case.type)],
                "(confidencial)" if confidential else (service or "—"),
                case.status,
                case.opened_at,
                case.due_at,
                days,
                q.age_band(days),
            )
        )
    return result


def safe_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    cell = "" if value is None else str(value)
    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def expired_csv(rows: list[ExpiredCase], tz: tzinfo = PANAMA) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPIRED_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                safe_cell(v)
                for v in (
                    r.number,
                    r.type_label,
                    r.service,
                    r.status,
                    r.opened_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                    r.due_at.astimezone(tz).strftime("%Y-%m-%d"),
                    r.days_overdue,
                    r.band,
                )
            ]
        )
    return out.getvalue()


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
            evaluator_label=await _label(s, actor),
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


# --- quality figures -------------------------------------------------------------------------


@dataclass(frozen=True)
class AdvisorWeek:
    advisor: str
    week: str
    due: int
    done: int


@dataclass(frozen=True)
class EntityCriteria:
    entity_id: int
    entity_name: str
    week: str
    met: int
    scored: int

    @property
    def percent(self) -> float | None:
        return None if not self.scored else 100.0 * self.met / self.scored


@dataclass(frozen=True)
class AgentAverage:
    agent_user_id: int
    agent_name: str
    evaluations: int
    percent: float | None


@dataclass(frozen=True)
class QualityFigures:
    weeks: list[str]
    advisors: list[AdvisorWeek]
    entities: list[EntityCriteria]
    trend: list[tuple[str, float | None]]  # % of criteria met, all entities, per week
    agents: list[AgentAverage]


async def quality_figures(
    uow_factory: UnitOfWorkFactory, *, weeks: Sequence[str]
) -> QualityFigures:
    """Audits done vs due per advisor and week, % criteria met per entity, the trend."""
    weeks = list(weeks)
    async with uow_factory() as uow:
        s = uow.session
        advisor_rows = (
            await s.execute(
                select(
                    func.coalesce(UserRow.full_name, "Sin asesor asignado"),
                    QualitySampleRow.week,
                    func.count(QualitySampleRow.id),
                    func.count(CaseAuditRow.id),
                )
                .outerjoin(UserRow, UserRow.id == QualitySampleRow.advisor_user_id)
                .outerjoin(CaseAuditRow, CaseAuditRow.case_id == QualitySampleRow.case_id)
                .where(QualitySampleRow.week.in_(weeks))
                .group_by(UserRow.full_name, QualitySampleRow.week)
                .order_by(QualitySampleRow.week, UserRow.full_name)
            )
        ).all()
        entity_rows = (
            await s.execute(
                select(
                    CaseAuditRow.entity_id,
                    EntityRow.name,
                    CaseAuditRow.week,
                    func.sum(CaseAuditRow.criteria_met),
                    func.sum(CaseAuditRow.criteria_scored),
                )
                .join(EntityRow, EntityRow.id == CaseAuditRow.entity_id)
                .where(CaseAuditRow.week.in_(weeks))
                .group_by(CaseAuditRow.entity_id, EntityRow.name, CaseAuditRow.week)
                .order_by(EntityRow.name, CaseAuditRow.week)
            )
        ).all()
        agent_rows = (
            await s.execute(
                select(
                    CallEvaluationRow.agent_user_id,
                    UserRow.full_name,
                    func.count(),
                    func.sum(CallEvaluationRow.criteria_met),
                    func.sum(CallEvaluationRow.criteria_scored),
                )
                .join(UserRow, UserRow.id == CallEvaluationRow.agent_user_id)
                .where(CallEvaluationRow.week.in_(weeks))
                .group_by(CallEvaluationRow.agent_user_id, UserRow.full_name)
                .order_by(UserRow.full_name)
            )
        ).all()
    entities = [
        EntityCriteria(eid, name, week, int(met or 0), int(scored or 0))
        for eid, name, week, met, scored in entity_rows
    ]
    trend: list[tuple[str, float | None]] = []
    for week in weeks:
        met = sum(e.met for e in entities if e.week == week)
        scored = sum(e.scored for e in entities if e.week == week)
        trend.append((week, 100.0 * met / scored if scored else None))
    return QualityFigures(
        weeks,
        [AdvisorWeek(name, week, int(due), int(done)) for name, week, due, done in advisor_rows],
        entities,
        trend,
        [
            AgentAverage(aid, name, int(n), 100.0 * int(met or 0) / int(sc) if sc else None)
            for aid, name, n, met, sc in agent_rows
        ],
    )
