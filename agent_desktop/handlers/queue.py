"""Queue membership of the logged-in agent: join, pause with a reason, resume, leave.

The action goes to Asterisk through the injected ``QueueControl``; the state shown changes
only when Asterisk reports it back (``agent_state`` messages on the WebSocket).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from agent_desktop.auth import desktop_required, session_of, wants_json
from agent_desktop.csrf import check_form
from agent_desktop.handlers.common import BadRequest, json_response, read_form, text_field
from agent_desktop.keys import QUEUE_CONTROL, SETTINGS
from agent_desktop.ports import AlreadyMember, NotMember
from agent_desktop.sessions import SessionInfo
from case_core.domain.errors import DomainError
from case_core.services.agents import PAUSE_REASONS

log = logging.getLogger(__name__)

ACTIONS = {
    "join": "Solicitud enviada: conectarse a la cola.",
    "pause": "Solicitud enviada: pausa.",
    "resume": "Solicitud enviada: reanudar.",
    "leave": "Solicitud enviada: desconectarse de la cola.",
}


class QueueCommandError(Exception):
    """The telephony side refused or did not answer; ``str(err)`` is Spanish."""


async def run_queue_action(
    config: Mapping[Any, Any], session: SessionInfo, action: str, reason: str
) -> str:
    """Send one queue action for the session's agent; returns the Spanish confirmation."""
    if action not in ACTIONS:
        raise DomainError("Acción de cola desconocida.")
    interface = session.phone_interface
    if not interface:
        raise DomainError("Su usuario no tiene un teléfono asignado; consulte a su supervisor.")
    if action == "pause" and reason not in PAUSE_REASONS:
        raise DomainError("Elija el motivo de la pausa.")
    queue = config[SETTINGS].queue_name
    control = config[QUEUE_CONTROL]
    try:
        if action == "join":
            try:
                await control.queue_add(queue, interface, session.full_name)
            except AlreadyMember:
                return "Ya está conectado a la cola."
        elif action == "pause":
            await control.queue_pause(queue, interface, True, reason)
        elif action == "resume":
            await control.queue_pause(queue, interface, False, "")
        else:
            try:
                await control.queue_remove(queue, interface)
            except NotMember:
                return "Ya estaba desconectado de la cola."
    except Exception as err:  # the telephony boundary: any failure becomes one message
        log.warning("queue action %s failed: %s", action, type(err).__name__)
        raise QueueCommandError(
            "La central telefónica no aceptó la acción. Intente de nuevo en un momento."
        ) from err
    return ACTIONS[action]


@desktop_required
async def queue_action(request: web.Request) -> web.StreamResponse:
    """POST /agente/cola (fields ``accion``, ``motivo``)."""
    form = await read_form(request)
    session = session_of(request)
    check_form(request, form, session.csrf_token)
    action = text_field(form, "accion", max_length=20)
    if action not in ACTIONS:
        raise BadRequest("Acción de cola desconocida.")
    try:
        message = await run_queue_action(
            request.config_dict, session, action, text_field(form, "motivo", max_length=40)
        )
    except QueueCommandError as err:
        if wants_json(request):
            return json_response({"ok": False, "error": str(err)}, status=502)
        raise web.HTTPBadGateway(text=str(err)) from None
    if wants_json(request):
        return json_response({"ok": True, "message": message})
    raise web.HTTPSeeOther("/escritorio")
