"""The 3-1-1 case page: a case with its SLA clock, its timeline and the actions allowed.

Status moves go through ``services.cases.act_on_case`` (the one transition table); finding a
case is ``services.case_search``, the work queues ``services.work_queues``, the actions that
are not plain status moves ``services.case_actions``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import select

from case_core.db.models import (
    CallbackRow,
    CaseRow,
    EntityRow,
    OfficeRow,
    ServiceRow,
)
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import sla
from case_core.domain.case import (
    OPEN_STATUSES,
    STATUS_LABELS,
    TRANSITIONS,
    TYPE_LABELS,
    CaseAction,
    CaseStatus,
    CaseType,
    parse_case_number,
)
from case_core.domain.case_access import (
    CaseFacts,
    may_manage_case,
    may_open_case,
)
from case_core.domain.errors import AccessDenied, NotFound
from case_core.domain.roles import Actor
from case_core.services.case_timeline import TimelineContext, TimelineEntry, build_timeline
from case_core.services.cases import check_may_act

NOT_FOUND = "El caso no existe."
CHANNEL_LABELS = {
    "telefono": "Teléfono 3-1-1",
    "web": "Web",
    "app": "Aplicación",
    "redes": "Redes sociales",
    "correo": "Correo electrónico",
}


def facts(row: CaseRow) -> CaseFacts:
    return CaseFacts(
        entity_id=row.entity_id,
        office_id=row.office_id,
        confidential=row.confidential,
        sensitive=row.sensitive,
        registered_by_user_id=row.registered_by_user_id,
    )


@dataclass(frozen=True)
class SlaClock:
    """The case's clocks, in local time, as the page shows them."""

    opened: str
    assigned: str
    first_action: str
    first_action_due: str
    due: str
    closed: str
    sla_days: int
    days_left: int | None  # None once closed
    overdue: bool
    at_risk: bool
    first_action_late: bool


@dataclass(frozen=True)
class CaseSheet:
    """Everything the case page shows."""

    id: int
    number: str
    type: CaseType
    type_label: str
    channel_label: str
    status: CaseStatus
    status_label: str
    entity_id: int
    entity_name: str
    service_name: str
    office_name: str | None
    description: str
    location: str
    confidential: bool
    sensitive: bool
    anonymous: bool
    needs_review: bool
    reopened_count: int
    citizen_id: int | None
    citizen_name: str | None  # None: anonymous, or not linked
    citizen_cedula: str | None
    citizen_phones: list[str]
    contact_phone: str | None
    clock: SlaClock
    merged_into: str | None
    duplicates: list[str]
    timeline: list[TimelineEntry]
    allowed: frozenset[CaseAction] = field(default_factory=frozenset)


def local_time(at: datetime | None, tz: tzinfo, fmt: str = "%d/%m/%Y %H:%M") -> str:
    return at.astimezone(tz).strftime(fmt) if at else ""


def sla_clock(row: CaseRow, now: datetime, tz: tzinfo, risk: sla.RiskPolicy) -> SlaClock:
    """The clocks of a case (pure given the row)."""
    status = CaseStatus(row.status)
    is_open = status in OPEN_STATUSES
    received = row.assigned_at or row.opened_at
    first_due = sla.first_action_due_at(received)
    return SlaClock(
        opened=local_time(row.opened_at, tz),
        assigned=local_time(row.assigned_at, tz),
        first_action=local_time(row.first_action_at, tz),
        first_action_due=local_time(first_due, tz) if row.assigned_at else "",
        due=local_time(row.due_at, tz, "%d/%m/%Y"),
        closed=local_time(row.closed_at, tz),
        sla_days=row.sla_days,
        days_left=sla.days_left(row.due_at, now, tz) if is_open else None,
        overdue=is_open and now > row.due_at,
        at_risk=is_open and sla.at_risk(row.due_at, now, row.sla_days, policy=risk),
        first_action_late=(
            status in (CaseStatus.ASIGNADO, CaseStatus.EN_PROCESO)
            and row.first_action_at is None
            and now >= first_due
        ),
    )


async def open_case(
    uow_factory: UnitOfWorkFactory,
    *,
    number: str,
    actor: Actor,
    now: datetime,
    tz: tzinfo,
    risk: sla.RiskPolicy = sla.DEFAULT_RISK,
) -> CaseSheet:
    """The case page of ``number``; NotFound when it does not exist or ``actor`` may not
    see it (a liaison of another entity learns nothing)."""
    canonical = parse_case_number(number)
    if canonical is None:
        raise NotFound(NOT_FOUND)
    async with uow_factory() as uow:
        row = await uow.cases.by_number(canonical)
        if row is None or not may_open_case(actor, facts(row)):
            raise NotFound(NOT_FOUND)
        s = uow.session
        entity = await s.get(EntityRow, row.entity_id)
        service = await s.get(ServiceRow, row.service_id) if row.service_id else None
        office = await s.get(OfficeRow, row.office_id) if row.office_id else None
        citizen = None
        if row.citizen_id is not None and not row.anonymous:
            citizen = await uow.citizens.get(row.citizen_id)
        merged_into = None
        if row.merged_into_case_id is not None:
            merged_into = await s.scalar(
                select(CaseRow.number).where(CaseRow.id == row.merged_into_case_id)
            )
        duplicates = dict(
            (
                await s.execute(
                    select(CaseRow.id, CaseRow.number)
                    .where(CaseRow.merged_into_case_id == row.id)
                    .order_by(CaseRow.id)
                )
            ).all()
        )
        numbers = {row.id: row.number, **duplicates}
        callback_ids = tuple(
            (
                await s.scalars(
                    select(CallbackRow.id).where(CallbackRow.case_id.in_(list(numbers)))
                )
            ).all()
        )
        ctx = TimelineContext(
            case_id=row.id,
            numbers=numbers,
            confidential=row.confidential or row.sensitive,
            actor=actor,
            tz=tz,
            callback_ids=callback_ids,
        )
        timeline = await build_timeline(s, ctx)
    status = CaseStatus(row.status)
    allowed = frozenset(a for a in CaseAction if _legal(status, a) and _may(actor, row, a))
    location = ", ".join(
        part for part in (row.address, row.corregimiento, row.district, row.province) if part
    )
    return CaseSheet(
        id=row.id,
        number=row.number,
        type=CaseType(row.type),
        type_label=TYPE_LABELS[CaseType(row.type)],
        channel_label=CHANNEL_LABELS.get(row.channel, row.channel),
        status=status,
        status_label=STATUS_LABELS[status],
        entity_id=row.entity_id,
        entity_name=entity.name if entity else "—",
        service_name=service.name if service else "—",
        office_name=office.name if office else None,
        description=row.description,
        location=location or "Sin ubicación",
        confidential=row.confidential,
        sensitive=row.sensitive,
        anonymous=row.anonymous,
        needs_review=row.needs_review,
        reopened_count=row.reopened_count,
        citizen_id=citizen.id if citizen else None,
        citizen_name=citizen.full_name if citizen else None,
        citizen_cedula=citizen.cedula if citizen else None,
        citizen_phones=[p.e164 for p in citizen.phones] if citizen else [],
        contact_phone=None if row.anonymous else row.contact_phone,
        clock=sla_clock(row, now, tz, risk),
        merged_into=merged_into,
        duplicates=list(duplicates.values()),
        timeline=timeline,
        allowed=allowed,
    )


def _legal(status: CaseStatus, action: CaseAction) -> bool:
    return (status, action) in TRANSITIONS


def _may(actor: Actor, row: CaseRow, action: CaseAction) -> bool:
    if not may_manage_case(actor):
        return False
    try:
        check_may_act(actor, row, action)
    except AccessDenied:
        return False
    return action not in (CaseAction.ASSIGN, CaseAction.START)


@dataclass(frozen=True)
class ServiceChoice:
    id: int
    name: str
    sla_days: int


async def reassignment_choices(
    uow_factory: UnitOfWorkFactory,
) -> list[tuple[str, list[ServiceChoice]]]:
    """Active entities with their active services, by name (the reassignment form)."""
    async with uow_factory() as uow:
        rows = await uow.session.execute(
            select(EntityRow.name, ServiceRow.id, ServiceRow.name, ServiceRow.sla_days)
            .join(ServiceRow, ServiceRow.entity_id == EntityRow.id)
            .where(EntityRow.active, ServiceRow.active)
            .order_by(EntityRow.name, ServiceRow.name)
        )
    grouped: dict[str, list[ServiceChoice]] = {}
    for entity_name, service_id, name, days in rows.all():
        grouped.setdefault(entity_name, []).append(ServiceChoice(service_id, name, days))
    return list(grouped.items())
