"""The 3-1-1 case workspace: open a case, find one, work the queues, and the actions that
are not plain status moves (merge a duplicate, mark confidential or sensitive, pass a case to
an office of the entity). Status moves go through ``services.cases.act_on_case`` and so
through the one transition table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import and_, func, or_, select

from case_core.db.models import (
    CallbackRow,
    CaseRow,
    CitizenRow,
    EntityRow,
    OfficeRow,
    ServiceRow,
    UserRow,
)
from case_core.db.models.escalations import CaseEscalationRow
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
    apply_action,
    parse_case_number,
)
from case_core.domain.case_access import (
    CaseFacts,
    may_manage_case,
    may_open_case,
    may_pass_to_office,
)
from case_core.domain.cedula import parse_cedula
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.domain.phone import normalise_phone
from case_core.domain.roles import Actor
from case_core.services.case_timeline import TimelineContext, TimelineEntry, build_timeline
from case_core.services.cases import check_may_act, history_entry
from case_core.services.citizens import search_citizens

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


def _local(at: datetime | None, tz: tzinfo, fmt: str = "%d/%m/%Y %H:%M") -> str:
    return at.astimezone(tz).strftime(fmt) if at else ""


def sla_clock(row: CaseRow, now: datetime, tz: tzinfo, risk: sla.RiskPolicy) -> SlaClock:
    """The clocks of a case (pure given the row)."""
    status = CaseStatus(row.status)
    is_open = status in OPEN_STATUSES
    received = row.assigned_at or row.opened_at
    first_due = sla.first_action_due_at(received)
    return SlaClock(
        opened=_local(row.opened_at, tz),
        assigned=_local(row.assigned_at, tz),
        first_action=_local(row.first_action_at, tz),
        first_action_due=_local(first_due, tz) if row.assigned_at else "",
        due=_local(row.due_at, tz, "%d/%m/%Y"),
        closed=_local(row.closed_at, tz),
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


# ------------------------------------------------------------------------------- search


@dataclass(frozen=True)
class CaseHit:
    number: str
    type_label: str
    status_label: str
    entity_name: str
    opened: str
    citizen_name: str | None


@dataclass(frozen=True)
class CitizenHit:
    id: int
    full_name: str
    cedula: str | None


@dataclass(frozen=True)
class SearchResult:
    """What the global search found: one exact case, or lists of cases and citizens."""

    exact: str | None = None
    cases: list[CaseHit] = field(default_factory=list)
    citizens: list[CitizenHit] = field(default_factory=list)


async def find(
    uow_factory: UnitOfWorkFactory, query: str, *, actor: Actor, tz: tzinfo, limit: int = 50
) -> SearchResult:
    """The global search: a case number (with or without spaces), a cédula, a phone or a
    name (accent- and case-insensitive, through ``citizens.search_citizens``)."""
    query = (query or "").strip()[:80]
    if not query:
        return SearchResult()
    number = parse_case_number(query)
    if number is not None:
        async with uow_factory() as uow:
            row = await uow.cases.by_number(number)
        if row is not None and may_open_case(actor, facts(row)):
            return SearchResult(exact=row.number)
        return SearchResult()
    citizen_ids: list[int] = []
    phone: str | None = None
    citizens: list[CitizenHit] = []
    try:
        cedula = str(parse_cedula(query))
    except DomainError:
        cedula = None
    if cedula is None and sum(c.isdigit() for c in query) >= 7:
        try:
            phone = normalise_phone(query)
        except DomainError:
            phone = None
    async with uow_factory() as uow:
        if cedula is not None:
            row = await uow.citizens.by_cedula(cedula)
            if row is not None:
                citizens = [CitizenHit(row.id, row.full_name, row.cedula)]
        elif phone is not None:
            citizens = [
                CitizenHit(r.id, r.full_name, r.cedula) for r in await uow.citizens.by_phone(phone)
            ]
    if cedula is None and phone is None:
        citizens = [
            CitizenHit(v.id, v.full_name, v.cedula)
            for v in await search_citizens(uow_factory, query)
        ]
    citizen_ids = [c.id for c in citizens]
    conditions = []
    if citizen_ids:
        conditions.append(and_(CaseRow.citizen_id.in_(citizen_ids), ~CaseRow.anonymous))
    if phone is not None:
        conditions.append(and_(CaseRow.contact_phone == phone, ~CaseRow.anonymous))
    hits: list[CaseHit] = []
    if conditions:
        async with uow_factory() as uow:
            rows = await uow.session.execute(
                select(CaseRow, EntityRow.name, CitizenRow)
                .join(EntityRow, EntityRow.id == CaseRow.entity_id)
                .outerjoin(CitizenRow, CitizenRow.id == CaseRow.citizen_id)
                .where(or_(*conditions))
                .order_by(CaseRow.opened_at.desc())
                .limit(limit)
            )
            for case, entity_name, citizen in rows.all():
                if not may_open_case(actor, facts(case)):
                    continue
                status = CaseStatus(case.status)
                hits.append(
                    CaseHit(
                        case.number,
                        TYPE_LABELS[CaseType(case.type)],
                        STATUS_LABELS[status],
                        entity_name,
                        _local(case.opened_at, tz),
                        citizen.full_name if citizen else None,
                    )
                )
    return SearchResult(cases=hits, citizens=citizens)


# ------------------------------------------------------------------------------ queues


@dataclass(frozen=True)
class QueueRow:
    number: str
    entity_name: str
    type_label: str
    status_label: str
    since: str  # the moment that put the case in the queue, local
    due: str
    days_left: int
    reason: str
    confidential: bool


@dataclass(frozen=True)
class WorkQueue:
    key: str
    title: str
    rows: list[QueueRow]

    @property
    def count(self) -> int:
        return len(self.rows)


QUEUE_TITLES = {
    "devueltos": "Devueltos por la entidad, por reasignar",
    "revision": "Marcados por una encuesta negativa",
    "escalados": "Escalados",
    "sin_primera_accion": "Sin primera acción después de 24 horas",
    "vencidos": "Vencidos",
}


async def work_queues(
    uow_factory: UnitOfWorkFactory, *, now: datetime, tz: tzinfo, limit: int = 200
) -> list[WorkQueue]:
    """The 3-1-1 work queues, oldest first, one query each."""
    open_values = [s.value for s in OPEN_STATUSES]
    held = [CaseStatus.ASIGNADO.value, CaseStatus.EN_PROCESO.value]
    cutoff = now - timedelta(hours=sla.FIRST_ACTION_HOURS)
    base = select(CaseRow, EntityRow.name).join(EntityRow, EntityRow.id == CaseRow.entity_id)
    queues: list[WorkQueue] = []
    async with uow_factory() as uow:
        s = uow.session

        async def rows(stmt, since, reason):  # type: ignore[no-untyped-def]
            found = []
            for case, entity_name, *extra in (await s.execute(stmt.limit(limit))).all():
                found.append(
                    QueueRow(
                        number=case.number,
                        entity_name=entity_name,
                        type_label=TYPE_LABELS[CaseType(case.type)],
                        status_label=STATUS_LABELS[CaseStatus(case.status)],
                        since=_local(since(case, *extra), tz),
                        due=_local(case.due_at, tz, "%d/%m/%Y"),
                        days_left=sla.days_left(case.due_at, now, tz),
                        reason=reason(case, *extra),
                        confidential=case.confidential or case.sensitive,
                    )
                )
            return found

        # Returned: with the entity's reason (the note of the latest return), oldest first.
        from case_core.db.models import CaseHistoryRow

        latest_return = (
            select(
                CaseHistoryRow.case_id,
                func.max(CaseHistoryRow.id).label("history_id"),
            )
            .where(CaseHistoryRow.action == CaseAction.RETURN_TO_311.value)
            .group_by(CaseHistoryRow.case_id)
            .subquery()
        )
        returned = (
            base.add_columns(CaseHistoryRow.note, CaseHistoryRow.at)
            .join(latest_return, latest_return.c.case_id == CaseRow.id)
            .join(CaseHistoryRow, CaseHistoryRow.id == latest_return.c.history_id)
            .where(CaseRow.status == CaseStatus.DEVUELTO_311.value)
            .order_by(CaseHistoryRow.at, CaseRow.id)
        )
        queues.append(
            WorkQueue(
                "devueltos",
                QUEUE_TITLES["devueltos"],
                await rows(returned, lambda c, note, at: at, lambda c, note, at: note or ""),
            )
        )
        review = base.where(CaseRow.needs_review).order_by(CaseRow.updated_at, CaseRow.id)
        queues.append(
            WorkQueue(
                "revision",
                QUEUE_TITLES["revision"],
                await rows(
                    review,
                    lambda c: c.updated_at or c.closed_at,
                    lambda c: "El ciudadano respondió que su caso no se resolvió.",
                ),
            )
        )
        escalated_at = (
            select(CaseEscalationRow.case_id, func.max(CaseEscalationRow.at).label("at"))
            .group_by(CaseEscalationRow.case_id)
            .subquery()
        )
        escalated = (
            base.add_columns(escalated_at.c.at)
            .join(escalated_at, escalated_at.c.case_id == CaseRow.id)
            .where(CaseRow.status.in_(open_values))
            .order_by(escalated_at.c.at, CaseRow.id)
        )
        queues.append(
            WorkQueue(
                "escalados",
                QUEUE_TITLES["escalados"],
                await rows(escalated, lambda c, at: at, lambda c, at: "Escalado por el plazo."),
            )
        )
        received = func.coalesce(CaseRow.assigned_at, CaseRow.opened_at)
        no_action = base.where(
            CaseRow.status.in_(held),
            CaseRow.first_action_at.is_(None),
            received <= cutoff,
        ).order_by(received, CaseRow.id)
        queues.append(
            WorkQueue(
                "sin_primera_accion",
                QUEUE_TITLES["sin_primera_accion"],
                await rows(
                    no_action,
                    lambda c: c.assigned_at or c.opened_at,
                    lambda c: "La entidad no ha registrado su primera acción.",
                ),
            )
        )
        overdue = base.where(CaseRow.status.in_(open_values), CaseRow.due_at < now).order_by(
            CaseRow.due_at, CaseRow.id
        )
        queues.append(
            WorkQueue(
                "vencidos",
                QUEUE_TITLES["vencidos"],
                await rows(overdue, lambda c: c.due_at, lambda c: "Plazo vencido."),
            )
        )
    return queues


# ----------------------------------------------------------------------------- actions


async def _managed(uow, number_or_id: int, actor: Actor) -> CaseRow:  # type: ignore[no-untyped-def]
    row = await uow.cases.get(number_or_id, for_update=True)
    if row is None or not may_open_case(actor, facts(row)):
        raise NotFound(NOT_FOUND)
    return row


async def merge_case(
    uow_factory: UnitOfWorkFactory,
    *,
    duplicate_id: int,
    survivor_number: str,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
) -> str:
    """Close ``duplicate_id`` into the case ``survivor_number`` of the same citizen: the
    duplicate points at the survivor, whose timeline shows the duplicate's calls and notes.
    Returns the survivor's number."""
    if not may_manage_case(actor):
        raise AccessDenied("Solo un supervisor del 3-1-1 fusiona casos.")
    target = parse_case_number(survivor_number)
    if target is None:
        raise DomainError("Escriba el número del caso que se conserva.")
    async with uow_factory() as uow:
        duplicate = await _managed(uow, duplicate_id, actor)
        survivor = await uow.cases.by_number(target, for_update=True)
        if survivor is None:
            raise NotFound("El caso que se conserva no existe.")
        if survivor.id == duplicate.id:
            raise DomainError("Un caso no se fusiona consigo mismo.")
        if duplicate.citizen_id is None or duplicate.citizen_id != survivor.citizen_id:
            raise DomainError("Solo se fusionan casos del mismo ciudadano.")
        if CaseStatus(survivor.status) is CaseStatus.CERRADO:
            raise DomainError("El caso que se conserva está cerrado: reábralo primero.")
        if survivor.merged_into_case_id is not None:
            raise DomainError("El caso que se conserva ya fue fusionado en otro.")
        change = apply_action(CaseStatus(duplicate.status), CaseAction.MERGE, now)
        duplicate.status = change.to_status.value
        duplicate.closed_at = now
        duplicate.updated_at = now
        duplicate.merged_into_case_id = survivor.id
        duplicate.needs_review = False
        text = f"Duplicado: fusionado en el caso {survivor.number}."
        if reason:
            text += f" {reason.strip()}"
        await uow.cases.append_history(
            history_entry(
                duplicate,
                actor,
                now,
                kind="status",
                action=CaseAction.MERGE,
                from_status=change.from_status,
                to_status=change.to_status,
                entity_id=duplicate.entity_id,
                note=text,
                public=True,
            )
        )
        await uow.cases.append_history(
            history_entry(
                survivor,
                actor,
                now,
                kind="note",
                note=f"Se fusionó en este caso el duplicado {duplicate.number}.",
                public=False,
            )
        )
        await uow.commit()
        return survivor.number


MARKS = {"confidencial": "confidential", "sensible": "sensitive"}


async def mark_case(
    uow_factory: UnitOfWorkFactory,
    *,
    case_id: int,
    mark: str,
    on: bool,
    reason: str,
    actor: Actor,
    now: datetime,
) -> None:
    """Mark a case confidential or sensitive (Res. 12/2017), or lift the mark, with a reason.
    An anonymous denuncia stays confidential."""
    if not may_manage_case(actor):
        raise AccessDenied("Solo un supervisor del 3-1-1 cambia la confidencialidad.")
    attr = MARKS.get(mark)
    if attr is None:
        raise DomainError("Marca desconocida.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Indique el motivo del cambio.")
    async with uow_factory() as uow:
        row = await _managed(uow, case_id, actor)
        if attr == "confidential" and not on and row.anonymous:
            raise DomainError("Una denuncia anónima es siempre confidencial.")
        if getattr(row, attr) == on:
            return
        setattr(row, attr, on)
        row.updated_at = now
        label = "confidencial" if attr == "confidential" else "de carácter sensible"
        text = f"{'Marcado' if on else 'Ya no está marcado'} como {label}: {reason}"
        await uow.cases.append_history(
            history_entry(row, actor, now, kind="mark", note=text, public=False)
        )
        await uow.commit()


async def entity_offices(uow_factory: UnitOfWorkFactory, entity_id: int) -> list[OfficeRow]:
    async with uow_factory() as uow:
        return list(
            (
                await uow.session.scalars(
                    select(OfficeRow)
                    .where(OfficeRow.entity_id == entity_id, OfficeRow.active)
                    .order_by(OfficeRow.name)
                )
            ).all()
        )


async def pass_to_office(
    uow_factory: UnitOfWorkFactory,
    *,
    case_id: int,
    office_id: int | None,
    actor: Actor,
    now: datetime,
    note: str | None = None,
) -> None:
    """An Enlace Operativo (or the Ejecutivo) passes a case to a department or regional
    office of the entity (``None``: back to the central team); internal history entry."""
    if not may_pass_to_office(actor):
        raise AccessDenied("Solo un Enlace Operativo o Ejecutivo pasa casos a una oficina.")
    async with uow_factory() as uow:
        row = await _managed(uow, case_id, actor)
        check_may_act(actor, row, None)
        if CaseStatus(row.status) not in (CaseStatus.ASIGNADO, CaseStatus.EN_PROCESO):
            raise DomainError("Solo se pasa a una oficina un caso que la entidad trabaja.")
        office = None
        if office_id is not None:
            office = await uow.session.get(OfficeRow, office_id)
            if office is None or office.entity_id != row.entity_id or not office.active:
                raise NotFound("La oficina elegida no es de su entidad.")
        row.office_id = office.id if office else None
        row.updated_at = now
        if row.first_action_at is None:
            row.first_action_at = now
        text = f"Pasado a {office.name}." if office else "Devuelto al equipo central."
        if note:
            text += f" {note.strip()}"
        await uow.cases.append_history(
            history_entry(row, actor, now, kind="office", note=text, public=False)
        )
        await uow.commit()


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


async def user_names(uow_factory: UnitOfWorkFactory, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    async with uow_factory() as uow:
        rows = await uow.session.execute(
            select(UserRow.id, UserRow.full_name).where(UserRow.id.in_(ids))
        )
    return dict(rows.all())
