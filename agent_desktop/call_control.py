"""Call control from the desktop (hang up, hold, resume, transfer) and, for supervisors,
listen / whisper / barge on an agent's call from the wallboard.

Only the agent the call was connected to controls it (its pop); transfers go only to targets
the desk offers (agents and supervisors with a phone, entity office phones of the
directory), never to a number typed in. Spying is for supervisors and admins: agents and
auditors get 403. What the PBX refuses comes back as a Spanish message (502).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web
from sqlalchemy import select

from agent_desktop.auth import desktop_required, session_of
from agent_desktop.csrf import check_form
from agent_desktop.handlers.cases import own_pop
from agent_desktop.handlers.common import (
    BadRequest,
    int_field,
    json_response,
    read_form,
    text_field,
)
from agent_desktop.keys import UOW
from agent_desktop.ports import CallControl, CallControlError, SpyMode
from agent_desktop.supervisor import supervisor_required
from case_core.db.models import UserRow
from case_core.db.models.directory import EntityRow, OfficeRow
from case_core.domain.errors import DomainError
from case_core.domain.phone import InvalidPhone, normalise_phone

log = logging.getLogger(__name__)

CALL_CONTROL = web.AppKey("desk_call_control", object)
_EXTEN_OF = re.compile(r"^PJSIP/(\d{4})$")

ACTIONS = {
    "colgar": "Llamada terminada.",
    "espera": "El ciudadano está en espera con música.",
    "reanudar": "Llamada reanudada.",
    "transferir": "Llamada transferida.",
    "consultar": "Llamando al destino: hable con él y cuelgue para pasarle la llamada.",
}


def _control(request: web.Request) -> CallControl:
    control = request.config_dict.get(CALL_CONTROL)
    if control is None:
        raise web.HTTPServiceUnavailable(text="El control de llamadas no está disponible.")
    return control  # type: ignore[return-value]


async def transfer_targets(request: web.Request, *, exclude_user: int | None) -> list[dict]:
    """Agents and supervisors with a 4-digit PJSIP phone, then entity offices with a phone."""
    async with request.config_dict[UOW]() as uow:
        users = (
            await uow.session.execute(
                select(UserRow.id, UserRow.full_name, UserRow.role, UserRow.phone_interface)
                .where(
                    UserRow.active.is_(True),
                    UserRow.role.in_(("agent", "supervisor")),
                    UserRow.phone_interface.is_not(None),
                )
                .order_by(UserRow.role.desc(), UserRow.full_name)
            )
        ).all()
        offices = (
            await uow.session.execute(
                select(OfficeRow.id, OfficeRow.name, OfficeRow.phones, EntityRow.short_name)
                .join(EntityRow, EntityRow.id == OfficeRow.entity_id)
                .where(OfficeRow.active.is_(True), OfficeRow.phones.is_not(None))
                .order_by(EntityRow.short_name, OfficeRow.name)
            )
        ).all()
    targets: list[dict[str, Any]] = []
    for uid, name, role, interface in users:
        match = _EXTEN_OF.match(interface or "")
        if uid == exclude_user or match is None:
            continue
        kind = "Supervisor" if role == "supervisor" else "Agente"
        targets.append({"id": f"agente:{uid}", "label": f"{kind}: {name}", "exten": match[1]})
    for oid, name, phones, entity in offices:
        number = _first_phone(phones)
        if number:
            targets.append({"id": f"oficina:{oid}", "label": f"{entity} — {name}", "exten": number})
    return targets


def _first_phone(phones: str | None) -> str | None:
    for part in re.split(r"[,;/]", phones or ""):
        try:
            return normalise_phone(part)
        except InvalidPhone:
            continue
    return None


@desktop_required
async def targets_api(request: web.Request) -> web.StreamResponse:
    """GET /api/transferencias: where the agent may transfer a caller."""
    session = session_of(request)
    found = await transfer_targets(request, exclude_user=session.actor.user_id)
    return json_response({"targets": [{"id": t["id"], "label": t["label"]} for t in found]})


@desktop_required
async def call_action(request: web.Request) -> web.StreamResponse:
    """POST /agente/llamada (``accion``, ``pop_id``, ``destino`` for transfers)."""
    form = await read_form(request)
    session = session_of(request)
    check_form(request, form, session.csrf_token)
    action = text_field(form, "accion", max_length=20)
    if action not in ACTIONS:
        raise BadRequest("Acción de llamada desconocida.")
    pop = await own_pop(
        request.config_dict[UOW], int_field(form, "pop_id", required=True) or 0, session
    )
    if pop.closed_at is not None:
        raise DomainError("La llamada ya terminó.")
    call = pop.payload.get("call", {})
    channel, server = call.get("channel"), call.get("server")
    if not channel:
        raise DomainError("No se conoce el canal de la llamada.")
    control = _control(request)
    interface = pop.agent_interface
    try:
        if action == "colgar":
            await control.hangup(server, channel)
        elif action == "espera":
            await control.hold(server, channel, interface)
        elif action == "reanudar":
            await control.resume(server, channel, interface)
        else:
            wanted = text_field(form, "destino", max_length=40)
            targets = await transfer_targets(request, exclude_user=session.actor.user_id)
            target = next((t for t in targets if t["id"] == wanted), None)
            if target is None:
                raise BadRequest("Elija a quién transferir la llamada.")
            await control.transfer(
                server, channel, interface, target["exten"], attended=action == "consultar"
            )
    except CallControlError as err:
        return json_response({"ok": False, "error": str(err)}, status=502)
    except (DomainError, BadRequest, web.HTTPException):
        raise
    except Exception as err:  # the telephony boundary
        log.warning("call action %s failed: %s", action, type(err).__name__)
        return json_response(
            {"ok": False, "error": "La central telefónica no respondió; intente de nuevo."},
            status=502,
        )
    return json_response({"ok": True, "message": ACTIONS[action], "action": action})


@supervisor_required
async def spy_action(request: web.Request) -> web.StreamResponse:
    """POST /supervisor/espiar (``agente``: the agent's interface, ``modo``)."""
    form = await read_form(request)
    session = session_of(request)
    check_form(request, form, session.csrf_token)
    try:
        mode = SpyMode(text_field(form, "modo", max_length=20))
    except ValueError:
        raise BadRequest("Elija escuchar, susurrar o intervenir.") from None
    agent = text_field(form, "agente", max_length=80)
    async with request.config_dict[UOW]() as uow:
        known = await uow.session.scalar(
            select(UserRow.id).where(UserRow.phone_interface == agent, UserRow.role == "agent")
        )
    if known is None:
        raise BadRequest("El agente no existe.")
    if not session.phone_interface:
        raise DomainError("Su usuario no tiene un teléfono asignado para escuchar llamadas.")
    try:
        await _control(request).spy(
            session.phone_interface, agent, mode, f'"{session.full_name[:40]}" <3-1-1>'
        )
    except CallControlError as err:
        return json_response({"ok": False, "error": str(err)}, status=502)
    except Exception as err:  # the telephony boundary
        log.warning("spy failed: %s", type(err).__name__)
        return json_response(
            {"ok": False, "error": "La central telefónica no respondió; intente de nuevo."},
            status=502,
        )
    labels = {
        SpyMode.LISTEN: "Su teléfono timbrará: escuchará la llamada sin ser oído.",
        SpyMode.WHISPER: "Su teléfono timbrará: solo el agente le oirá.",
        SpyMode.BARGE: "Su teléfono timbrará: el agente y el ciudadano le oirán.",
    }
    log.info("supervisor %s spies (%s)", session.actor.user_id, mode.value)
    return json_response({"ok": True, "message": labels[mode]})


def setup_call_control_routes(app: web.Application, control: CallControl | None) -> None:
    """Add the call-control routes; without ``control`` they answer 503."""
    if control is not None:
        app[CALL_CONTROL] = control
    app.router.add_post("/agente/llamada", call_action)
    app.router.add_get("/api/transferencias", targets_api)
    app.router.add_post("/supervisor/espiar", spy_action)
