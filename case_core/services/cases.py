"""Case services: register, act on and look up cases. Each takes a unit-of-work factory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from case_core.db.models import CaseHistoryRow, CaseRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import sla
from case_core.domain.callback_numbers import DEFAULT_CALLBACK_PREFIXES, check_callback_number
from case_core.domain.case import (
    ENTITY_ACTIONS,
    STATUS_LABELS,
    CaseAction,
    CaseStatus,
    CaseType,
    Channel,
    apply_action,
    check_confidentiality,
    format_case_number,
    is_case_number,
    next_status,
)
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.domain.geography import canonical_location
from case_core.domain.phone import normalise_phone
from case_core.domain.roles import Actor, Role, is_liaison
from case_core.services.submissions import claim_submission, record_submission


@dataclass(frozen=True, kw_only=True)
class RegisterCase:
    type: CaseType
    channel: Channel
    entity_id: int
    service_id: int | None
    description: str
    citizen_id: int | None = None
    province: str | None = None
    district: str | None = None
    corregimiento: str | None = None
    address: str | None = None
    confidential: bool = False
    anonymous: bool = False
    contact_phone: str | None = None
    call_id: int | None = None
    pop_to_save_seconds: float | None = None
    resolved_at_first_contact: bool = False
    # The case form's one-time key: a repeat with the same key returns the first case.
    submission_key: str | None = None


@dataclass(frozen=True)
class RegisteredCase:
    id: int
    number: str
    status: CaseStatus
    due_at: datetime
    repeat: bool = False  # the same form sent again: this is the case it registered first


async def register_case(
    uow_factory: UnitOfWorkFactory,
    command: RegisterCase,
    *,
    actor: Actor,
    now: datetime,
    tz: ZoneInfo,
    callback_prefixes: Sequence[str] = DEFAULT_CALLBACK_PREFIXES,
) -> RegisteredCase:
    """Register a case, route it to its entity and append its first history entries.

    The contact phone must be one the Centro de Contactos may call back
    (``case_core.domain.callback_numbers``; ``callback_prefixes`` from the settings)."""
    case_type = CaseType(command.type)
    description = (command.description or "").strip()
    if len(description) < 5:
        raise DomainError("Describa el caso (al menos 5 caracteres).")
    confidential = command.confidential or command.anonymous
    check_confidentiality(case_type, anonymous=command.anonymous, confidential=confidential)
    if command.anonymous and command.citizen_id is not None:
        raise DomainError("Una denuncia anónima no se vincula a un ciudadano.")
    contact_phone = normalise_phone(command.contact_phone) if command.contact_phone else None
    if contact_phone is not None:
        check_callback_number(contact_phone, callback_prefixes)
    province, district, corregimiento = canonical_location(
        command.province, command.district, command.corregimiento
    )
    if command.resolved_at_first_contact and case_type is not CaseType.CONSULTA:
        raise DomainError("Solo una consulta se cierra en el primer contacto.")

    async with uow_factory() as uow:
        if command.submission_key is not None and actor.user_id is not None:
            earlier = await claim_submission(
                uow.session, user_id=actor.user_id, key=command.submission_key, now=now
            )
            if earlier is not None:
                first = await uow.cases.get(earlier)
                if first is None:
                    raise NotFound("El caso no existe.")
                return RegisteredCase(
                    first.id, first.number, CaseStatus(first.status), first.due_at, repeat=True
                )
        entity = await uow.directory.entity(command.entity_id)
        if entity is None or not entity.active:
            raise NotFound("La entidad elegida no existe.")
        sla_days = sla.LEGAL_MAX_DAYS
        if command.service_id is not None:
            service = await uow.directory.service(command.service_id)
            if service is None or service.entity_id != entity.id:
                raise NotFound("El servicio elegido no pertenece a la entidad.")
            sla_days = service.sla_days
        if command.citizen_id is not None and await uow.citizens.get(command.citizen_id) is None:
            raise NotFound("El ciudadano no existe.")
        year = now.astimezone(tz).year
        number = format_case_number(year, await uow.cases.next_sequence(year))
        row = CaseRow(
            number=number,
            type=case_type.value,
            channel=Channel(command.channel).value,
            status=CaseStatus.REGISTRADO.value,
            citizen_id=command.citizen_id,
            entity_id=entity.id,
            service_id=command.service_id,
            description=description,
            province=province,
            district=district,
            corregimiento=corregimiento,
            address=command.address or None,
            confidential=confidential,
            anonymous=command.anonymous,
            contact_phone=contact_phone,
            sla_days=sla_days,
            opened_at=now,
            due_at=sla.due_at(now, sla_days, tz),
            registered_by_user_id=actor.user_id,
            call_id=command.call_id,
            pop_to_save_seconds=command.pop_to_save_seconds,
        )
        await uow.cases.add(row)
        await uow.cases.append_history(
            _history(row, actor, now, kind="status", to_status=CaseStatus.REGISTRADO)
        )
        if command.resolved_at_first_contact:
            _apply(row, CaseAction.CLOSE, now)
            row.resolved_at_first_contact = True
            await uow.cases.append_history(
                _history(
                    row,
                    actor,
                    now,
                    kind="status",
                    action=CaseAction.CLOSE,
                    from_status=CaseStatus.REGISTRADO,
                    to_status=CaseStatus.CERRADO,
                    note="Consulta resuelta en el primer contacto.",
                    public=True,
                )
            )
        else:
            _apply(row, CaseAction.ASSIGN, now)
            await uow.cases.append_history(
                _history(
                    row,
                    actor,
                    now,
                    kind="status",
                    action=CaseAction.ASSIGN,
                    from_status=CaseStatus.REGISTRADO,
                    to_status=CaseStatus.ASIGNADO,
                    entity_id=entity.id,
                    note=f"Asignado a {entity.name}.",
                    public=True,
                )
            )
        if command.submission_key is not None and actor.user_id is not None:
            await record_submission(
                uow.session, user_id=actor.user_id, key=command.submission_key, case_id=row.id
            )
        await uow.commit()
        return RegisteredCase(row.id, row.number, CaseStatus(row.status), row.due_at)


async def act_on_case(
    uow_factory: UnitOfWorkFactory,
    *,
    case_id: int,
    action: CaseAction,
    actor: Actor,
    now: datetime,
    note: str | None = None,
    public: bool = True,
    new_entity_id: int | None = None,
    new_service_id: int | None = None,
    tz: tzinfo | None = None,
) -> CaseStatus:
    """Move a case through the lifecycle; every change is appended to its history.

    A reassignment names the new entity and one of its services (``tz`` required): the new
    entity receives the case now (``assigned_at``), so its 24-hour first action and its due
    date (the new service's SLA, in calendar days) run from now. A reopening counts in
    ``reopened_count`` and clears the review flag a negative survey set.
    """
    action = CaseAction(action)
    note = (note or "").strip() or None
    if action is CaseAction.RETURN_TO_311 and not note:
        raise DomainError("Indique por qué la entidad no es competente.")
    if action is CaseAction.REASSIGN and (new_entity_id is None or new_service_id is None):
        raise DomainError("Elija la entidad y el servicio a los que se reasigna el caso.")
    if action is CaseAction.REASSIGN and tz is None:
        raise ValueError("a reassignment needs the time zone of the due date")
    if action is CaseAction.MERGE:
        raise DomainError("Use la fusión de casos para cerrar un duplicado.")
    async with uow_factory() as uow:
        row = await uow.cases.get(case_id, for_update=True)
        if row is None:
            raise NotFound("El caso no existe.")
        _check_may_act(actor, row, action)
        from_status = CaseStatus(row.status)
        next_status(from_status, action)  # an illegal move is refused before anything else
        if action is CaseAction.CLOSE and not is_liaison(actor.role) and not note:
            raise DomainError("Escriba la respuesta que se dio al ciudadano.")
        if action is CaseAction.REOPEN and not note:
            raise DomainError("Indique por qué se reabre el caso.")
        if action is CaseAction.REASSIGN:
            entity = await uow.directory.entity(new_entity_id)  # type: ignore[arg-type]
            if entity is None or not entity.active:
                raise NotFound("La entidad elegida no existe.")
            service = await uow.directory.service(new_service_id)  # type: ignore[arg-type]
            if service is None or service.entity_id != entity.id or not service.active:
                raise NotFound("El servicio elegido no pertenece a la entidad.")
            row.entity_id = entity.id
            row.service_id = service.id
            row.office_id = None
            # The new entity receives the case now (``_apply`` stores ``assigned_at``): its
            # 24-hour first action and its due date (the new service's SLA) run from now.
            row.first_action_at = None
            row.sla_days = service.sla_days
            row.due_at = sla.due_at(now, service.sla_days, tz)  # type: ignore[arg-type]
            due_local = row.due_at.astimezone(tz).strftime("%d/%m/%Y")
            reassigned = f"Reasignado a {entity.name} ({service.name}); vence el {due_local}."
            note = f"{reassigned} {note}" if note else reassigned
        change = _apply(row, action, now)
        if action is CaseAction.REOPEN:
            row.reopened_count += 1
            row.needs_review = False
        if is_liaison(actor.role) and action in ENTITY_ACTIONS and row.first_action_at is None:
            row.first_action_at = now
        await uow.cases.append_history(
            _history(
                row,
                actor,
                now,
                kind="status",
                action=action,
                from_status=from_status,
                to_status=change,
                entity_id=row.entity_id,
                note=note,
                public=public,
            )
        )
        await uow.commit()
        return change


async def add_note(
    uow_factory: UnitOfWorkFactory,
    *,
    case_id: int,
    actor: Actor,
    note: str,
    public: bool,
    now: datetime,
) -> None:
    """Append a note; a liaison's note is the entity's first action when none was taken."""
    text = (note or "").strip()
    if not text:
        raise DomainError("La nota está vacía.")
    async with uow_factory() as uow:
        row = await uow.cases.get(case_id, for_update=True)
        if row is None:
            raise NotFound("El caso no existe.")
        _check_may_act(actor, row, None)
        if is_liaison(actor.role) and row.first_action_at is None:
            row.first_action_at = now
        await uow.cases.append_history(
            _history(row, actor, now, kind="note", note=text, public=public)
        )
        await uow.commit()


@dataclass(frozen=True)
class PhoneStatus:
    """What the IVR reads to a caller about a case."""

    number: str
    status: CaseStatus
    status_label: str
    entity_name: str
    entity_code: str
    days_left: int | None  # None once closed; negative when overdue


async def status_for_caller(
    uow_factory: UnitOfWorkFactory, *, number: str, now: datetime, tz: ZoneInfo
) -> PhoneStatus | None:
    """The status of a case by its number, or None when no such case exists."""
    number = (number or "").strip()
    if not is_case_number(number):
        return None
    async with uow_factory() as uow:
        row = await uow.cases.by_number(number)
        if row is None:
            return None
        entity = await uow.directory.entity(row.entity_id)
        assert entity is not None
        status = CaseStatus(row.status)
        left = None if status is CaseStatus.CERRADO else sla.days_left(row.due_at, now, tz)
        return PhoneStatus(
            row.number, status, STATUS_LABELS[status], entity.name, entity.code, left
        )


def _apply(row: CaseRow, action: CaseAction, now: datetime) -> CaseStatus:
    change = apply_action(CaseStatus(row.status), action, now)
    row.status = change.to_status.value
    row.updated_at = now
    if change.action in (CaseAction.ASSIGN, CaseAction.REASSIGN):
        # The entity receives the case now: its 24 h first action runs from here.
        row.assigned_at = now
    if change.to_status is CaseStatus.CERRADO:
        row.closed_at = now
    elif change.from_status is CaseStatus.CERRADO:
        row.closed_at = None
    return change.to_status


def check_may_act(actor: Actor, row: CaseRow, action: CaseAction | None) -> None:
    """Raise AccessDenied unless ``actor`` may do ``action`` (None: a note) on ``row``."""
    if is_liaison(actor.role):
        if actor.entity_id != row.entity_id:
            raise AccessDenied("Este caso no es de su entidad.")
        if (
            actor.role is Role.LIAISON_CONTACT
            and actor.office_id is not None
            and row.office_id != actor.office_id
        ):
            raise AccessDenied("Este caso no está asignado a su oficina.")
        if action in (
            CaseAction.REASSIGN,
            CaseAction.REOPEN,
            CaseAction.ASSIGN,
            CaseAction.MERGE,
        ):
            raise AccessDenied("Solo el 3-1-1 puede reasignar, reabrir o fusionar un caso.")
    elif actor.role in (Role.AUDITOR, Role.CONTACT_CENTER) and action is not None:
        raise AccessDenied("Su rol no permite cambiar el estado de los casos.")
    elif actor.role is Role.AUDITOR:
        raise AccessDenied("Su rol no permite modificar casos.")


_check_may_act = check_may_act


def history_entry(
    row: CaseRow,
    actor: Actor,
    now: datetime,
    *,
    kind: str,
    action: CaseAction | None = None,
    from_status: CaseStatus | None = None,
    to_status: CaseStatus | None = None,
    entity_id: int | None = None,
    note: str | None = None,
    public: bool = True,
) -> CaseHistoryRow:
    return CaseHistoryRow(
        case_id=row.id,
        at=now,
        kind=kind,
        action=action.value if action else None,
        from_status=from_status.value if from_status else None,
        to_status=to_status.value if to_status else None,
        entity_id=entity_id,
        note=note,
        public=public,
        actor_user_id=actor.user_id,
        actor_label=actor.username,
    )


_history = history_entry
