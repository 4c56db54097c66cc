"""Case services: register, act on and look up cases. Each takes a unit-of-work factory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from case_core.db.models import CaseHistoryRow, CaseRow
from case_core.db.uow import UnitOfWork, UnitOfWorkFactory
from case_core.domain import sla
from case_core.domain.callback_numbers import DEFAULT_CALLBACK_PREFIXES, check_callback_number
from case_core.domain.case import (
    ENTITY_ACTIONS,
    CaseAction,
    CaseStatus,
    CaseType,
    Channel,
    apply_action,
    check_confidentiality,
    format_case_number,
    next_status,
)
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.domain.geography import canonical_location
from case_core.domain.phone import normalise_phone
from case_core.domain.roles import Actor, Role, is_liaison
from case_core.domain.tracking import hash_tracking_code, new_tracking_code
from case_core.services.citizen_mail import queue_confirmation, queue_update_notice
from case_core.services.submissions import claim_submission, record_submission


def check_email(address: str) -> str:
    """A plausible e-mail address (one @, a dot in the domain, no spaces), lower-cased domain."""
    text = (address or "").strip()
    local_part, sep, domain = text.rpartition("@")
    if (
        not sep
        or not local_part
        or "." not in domain
        or len(text) > 200
        or any(ch.isspace() or ch in '<>,;"' for ch in text)
    ):
        raise DomainError("El correo electrónico no es válido.")
    return f"{local_part}@{domain.lower()}"


def check_coordinates(latitude: float | None, longitude: float | None) -> None:
    """Both or neither, and on Earth."""
    if (latitude is None) != (longitude is None):
        raise DomainError("Indique la latitud y la longitud, o ninguna.")
    if latitude is not None and not -90 <= latitude <= 90:
        raise DomainError("La latitud debe estar entre -90 y 90.")
    if longitude is not None and not -180 <= longitude <= 180:
        raise DomainError("La longitud debe estar entre -180 y 180.")


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
    contact_email: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    declared_name: str | None = None
    declared_cedula: str | None = None
    # False leaves the case "registrado" for an agent to classify (e-mail intake).
    assign: bool = True


@dataclass(frozen=True)
class RegisteredCase:
    id: int
    number: str
    status: CaseStatus
    due_at: datetime
    # The private tracking code in clear: shown once for the read-back, never stored.
    tracking_code: str = ""
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
    contact_email = check_email(command.contact_email) if command.contact_email else None
    check_coordinates(command.latitude, command.longitude)
    tracking_code = new_tracking_code()
    # Hashed before the transaction: scrypt costs milliseconds, no lock is held meanwhile.
    tracking_code_hash = hash_tracking_code(tracking_code)

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
            tracking_code_hash=tracking_code_hash,
            contact_email=None if command.anonymous else contact_email,
            latitude=command.latitude,
            longitude=command.longitude,
            declared_name=None if command.anonymous else command.declared_name,
            declared_cedula=None if command.anonymous else command.declared_cedula,
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
        elif command.assign:
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
        await queue_confirmation(uow.session, row, tracking_code=tracking_code, now=now)
        await uow.commit()
        return RegisteredCase(row.id, row.number, CaseStatus(row.status), row.due_at, tracking_code)


async def reset_tracking_code(
    uow_factory: UnitOfWorkFactory, *, number: str, actor: Actor, now: datetime
) -> tuple[int, str]:
    """A new tracking code for a citizen who lost theirs (the old one stops working);
    returns (case id, code). Only 3-1-1 staff, after identifying the citizen."""
    if actor.role not in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN):
        raise AccessDenied("Solo el 3-1-1 puede generar un nuevo código de seguimiento.")
    code = new_tracking_code()
    code_hash = hash_tracking_code(code)
    async with uow_factory() as uow:
        row = await uow.cases.by_number((number or "").strip(), for_update=True)
        if row is None:
            raise NotFound("El caso no existe.")
        row.tracking_code_hash = code_hash
        await uow.cases.append_history(
            _history(
                row,
                actor,
                now,
                kind="note",
                note="Se generó un nuevo código de seguimiento; el anterior ya no vale.",
                public=False,
            )
        )
        await queue_confirmation(uow.session, row, tracking_code=code, now=now, renewed=True)
        await uow.commit()
        return row.id, code


async def classify_case(
    uow_factory: UnitOfWorkFactory,
    *,
    case_id: int,
    service_id: int,
    case_type: CaseType,
    actor: Actor,
    now: datetime,
    tz: ZoneInfo,
) -> CaseStatus:
    """Give a case that arrived unclassified (e-mail) its type and service, and route it."""
    case_type = CaseType(case_type)
    async with uow_factory() as uow:
        row = await uow.cases.get(case_id, for_update=True)
        if row is None:
            raise NotFound("El caso no existe.")
        if actor.role not in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN):
            raise AccessDenied("Solo el 3-1-1 clasifica los casos recibidos.")
        if CaseStatus(row.status) is not CaseStatus.REGISTRADO:
            raise DomainError("Este caso ya fue clasificado.")
        service = await uow.directory.service(service_id)
        entity = await uow.directory.entity(service.entity_id) if service else None
        if service is None or entity is None or not service.active or not entity.active:
            raise NotFound("El servicio elegido no existe.")
        row.type = case_type.value
        row.confidential = row.confidential or case_type is CaseType.DENUNCIA
        row.entity_id, row.service_id, row.sla_days = entity.id, service.id, service.sla_days
        row.due_at = sla.due_at(row.opened_at, service.sla_days, tz)
        change = _apply(row, CaseAction.ASSIGN, now)
        await uow.cases.append_history(
            _history(
                row,
                actor,
                now,
                kind="status",
                action=CaseAction.ASSIGN,
                from_status=CaseStatus.REGISTRADO,
                to_status=change,
                entity_id=entity.id,
                note=f"Asignado a {entity.name}.",
                public=True,
            )
        )
        await _notify_citizen(
            uow,
            row,
            now,
            new_status=change,
            routing=CaseAction.ASSIGN,
            note=None if row.confidential else f"Asignado a {entity.name}.",
        )
        await uow.commit()
        return change


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
        if public:
            await _notify_citizen(uow, row, now, new_status=change, note=note, routing=action)
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
        if public:
            await _notify_citizen(uow, row, now, note=text)
        await uow.commit()


async def _notify_citizen(
    uow: UnitOfWork,
    row: CaseRow,
    now: datetime,
    *,
    new_status: CaseStatus | None = None,
    note: str | None = None,
    routing: CaseAction | None = None,
) -> None:
    """Queue the citizen's notice of the history entry just appended (public only)."""
    if row.confidential and routing in (CaseAction.ASSIGN, CaseAction.REASSIGN):
        note = None  # "Reasignado a <entity>" would name the entity of a confidential case
    last = await uow.session.scalar(
        select(func.max(CaseHistoryRow.id)).where(CaseHistoryRow.case_id == row.id)
    )
    await queue_update_notice(
        uow.session, row, history_id=last or 0, now=now, new_status=new_status, note=note
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
