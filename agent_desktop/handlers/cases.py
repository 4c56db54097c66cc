"""Case registration from the desktop form, and the read-back of the number to the caller."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import select

from agent_desktop.auth import desktop_required, session_of, wants_json
from agent_desktop.csrf import check_form
from agent_desktop.handlers.common import (
    MAX_BIGINT_ID,
    BadRequest,
    bool_field,
    int_field,
    json_response,
    local,
    read_form,
    render,
    text_field,
)
from agent_desktop.keys import CLOCK, QUEUE_CONTROL, SETTINGS, UOW
from agent_desktop.pop_bus import StoredPop, get_pop
from agent_desktop.sessions import SessionInfo
from case_core.db.models import CallRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.callback_numbers import check_callback_number
from case_core.domain.case import STATUS_LABELS, CaseType, Channel, is_case_number
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.domain.phone import normalise_phone
from case_core.domain.tracking import spaced_code
from case_core.services.cases import RegisterCase, register_case
from case_core.services.citizens import CitizenData, save_citizen

log = logging.getLogger(__name__)


def spaced_number(number: str) -> str:
    """2026000123 -> "2026 000 123", easier to read aloud."""
    return f"{number[:4]} {number[4:7]} {number[7:]}" if len(number) == 10 else number


async def own_pop(uow_factory: UnitOfWorkFactory, pop_id: int, session: SessionInfo) -> StoredPop:
    """The pop ``pop_id`` if it was shown to this agent."""
    pop = await get_pop(uow_factory, pop_id)
    if pop is None:
        raise NotFound("La llamada indicada no existe.")
    mine = (session.phone_interface and pop.agent_interface == session.phone_interface) or (
        pop.user_id is not None and pop.user_id == session.actor.user_id
    )
    if not mine:
        raise AccessDenied("Esa llamada no fue atendida por usted.")
    return pop


async def call_id_for(uow_factory: UnitOfWorkFactory, pop: StoredPop) -> int | None:
    """The ``calls`` row of the pop's call: by uniqueid, else by linkedid."""
    call = pop.payload.get("call", {})
    server = call.get("server")
    async with uow_factory() as uow:
        for column, value in (
            (CallRow.uniqueid, pop.call_uniqueid),
            (CallRow.linkedid, pop.linkedid),
        ):
            if not value:
                continue
            stmt = select(CallRow.id).where(column == value)
            if server:
                stmt = stmt.where(CallRow.server == server)
            found = await uow.session.scalar(stmt.order_by(CallRow.id.desc()).limit(1))
            if found is not None:
                return found
    return None


def _case_type(form: object) -> CaseType:
    raw = text_field(form, "tipo", max_length=20)
    try:
        return CaseType(raw)
    except ValueError:
        raise BadRequest(
            "Elija el tipo de caso (queja, denuncia, sugerencia, solicitud o consulta)."
        ) from None


def _channel(form: object) -> Channel:
    raw = text_field(form, "canal", max_length=20) or Channel.TELEFONO.value
    try:
        return Channel(raw)
    except ValueError:
        raise BadRequest("Elija el canal por el que llegó el caso.") from None


@desktop_required
async def register(request: web.Request) -> web.StreamResponse:
    """POST /casos: save the citizen (unless anonymous) and register the case."""
    form = await read_form(request)
    session = session_of(request)
    check_form(request, form, session.csrf_token)
    config = request.config_dict
    uow_factory = config[UOW]
    now = config[CLOCK]()
    case_type = _case_type(form)
    service_id = int_field(form, "servicio_id")
    entity_id = int_field(form, "entidad_id")
    if service_id is not None:
        async with uow_factory() as uow:
            service = await uow.directory.service(service_id)
        if service is None:
            raise NotFound("El servicio elegido no existe.")
        entity_id = service.entity_id
    if entity_id is None:
        raise BadRequest("Elija el servicio (escriba unas letras y elija de la lista).")
    anonymous = case_type is CaseType.DENUNCIA and bool_field(form, "anonimo")
    confidential = anonymous or (
        case_type is CaseType.DENUNCIA and bool_field(form, "confidencial")
    )
    phone = text_field(form, "telefono", max_length=40) or None
    prefixes = config[SETTINGS].callback_allowed_prefixes
    if phone and not anonymous:  # refused before anything is saved (issue 15, finding 5)
        check_callback_number(normalise_phone(phone), prefixes)
    citizen_id = None
    if not anonymous:
        cedula = text_field(form, "cedula", max_length=20) or None
        first_name = text_field(form, "nombre", max_length=80)
        last_name = text_field(form, "apellido", max_length=80)
        if cedula or first_name:
            citizen_id = await save_citizen(
                uow_factory,
                CitizenData(
                    cedula=cedula,
                    first_name=first_name,
                    last_name=last_name,
                    phone=phone,
                    province=text_field(form, "provincia", max_length=60) or None,
                    district=text_field(form, "distrito", max_length=80) or None,
                    corregimiento=text_field(form, "corregimiento", max_length=80) or None,
                ),
            )
        else:
            citizen_id = int_field(form, "ciudadano_id")
    channel = _channel(form)
    call_id = pop_seconds = None
    # Only a phone case is linked to the call on screen; a walk-in or a social-network
    # contact registered during a call is not that call's case.
    pop_id = (
        int_field(form, "pop_id", maximum=MAX_BIGINT_ID) if channel is Channel.TELEFONO else None
    )
    if pop_id is not None:
        pop = await own_pop(uow_factory, pop_id, session)
        call_id = await call_id_for(uow_factory, pop)
        pop_seconds = max(0.0, (now - pop.created_at).total_seconds())
    registered = await register_case(
        uow_factory,
        RegisterCase(
            type=case_type,
            channel=channel,
            entity_id=entity_id,
            service_id=service_id,
            description=text_field(form, "descripcion", max_length=4000),
            citizen_id=citizen_id,
            province=text_field(form, "provincia", max_length=60) or None,
            district=text_field(form, "distrito", max_length=80) or None,
            corregimiento=text_field(form, "corregimiento", max_length=80) or None,
            address=text_field(form, "direccion", max_length=400) or None,
            confidential=confidential,
            anonymous=anonymous,
            contact_phone=None if anonymous else phone,
            contact_email=None
            if anonymous
            else (text_field(form, "correo", max_length=200) or None),
            call_id=call_id,
            pop_to_save_seconds=pop_seconds,
            resolved_at_first_contact=bool_field(form, "resuelta_primer_contacto"),
            submission_key=text_field(form, "clave_envio", max_length=64) or None,
        ),
        actor=session.actor,
        now=now,
        tz=config[SETTINGS].tz,
        callback_prefixes=prefixes,
    )
    result = {
        "ok": True,
        "case_id": registered.id,
        "number": registered.number,
        "number_spaced": spaced_number(registered.number),
        "tracking_code": registered.tracking_code,
        "tracking_code_spaced": spaced_code(registered.tracking_code),
        "channel": channel.value,
        "status": registered.status.value,
        "status_label": STATUS_LABELS[registered.status],
        "due": local(registered.due_at, request, "%d/%m/%Y"),
        "citizen_id": citizen_id,
        "pop_id": pop_id,
        "call_id": call_id,
        "repeat": registered.repeat,
    }
    if wants_json(request):
        return json_response(result)
    return render(request, "case_saved.html", result)


@desktop_required
async def read_back(request: web.Request) -> web.StreamResponse:
    """POST /casos/leer: send the caller to the IVR step that reads the number digit by digit."""
    form = await read_form(request)
    session = session_of(request)
    check_form(request, form, session.csrf_token)
    config = request.config_dict
    number = text_field(form, "numero", max_length=20)
    if not is_case_number(number):
        raise BadRequest("El número de caso no es válido.")
    pop_id = int_field(form, "pop_id", required=True, maximum=MAX_BIGINT_ID) or 0
    pop = await own_pop(config[UOW], pop_id, session)
    call = pop.payload.get("call", {})
    channel = call.get("channel")
    if pop.closed_at is not None:
        raise DomainError("La llamada ya terminó: lea el número usted mismo.")
    if not channel:
        raise DomainError("No se conoce el canal de la llamada; lea el número usted mismo.")
    async with config[UOW]() as uow:
        if await uow.cases.by_number(number) is None:
            raise NotFound("El caso no existe.")
    try:
        await config[QUEUE_CONTROL].redirect_to_readback(
            channel, number, call.get("server"), agent_channel=call.get("agent_channel")
        )
    except Exception as err:  # the telephony boundary
        log.warning("read-back redirect failed: %s", type(err).__name__)
        message = "La central no pudo transferir la llamada; lea el número usted mismo."
        if wants_json(request):
            return json_response({"ok": False, "error": message}, status=502)
        raise web.HTTPBadGateway(text=message) from None
    message = "El ciudadano está escuchando el número de su caso."
    if wants_json(request):
        return json_response({"ok": True, "message": message})
    raise web.HTTPSeeOther("/escritorio")
