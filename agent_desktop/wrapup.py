"""After-call work on the desktop: once a call ends the agent is in "Trabajo posterior" for
``desk_wrapup_seconds`` and documents the call with a wrap-up code, case or no case.

With ``desk_wrapup_pause`` the desktop pauses the member (reason ``trabajo_posterior``) when
the work starts and resumes it when the code is saved; otherwise the queue's own
``wrapuptime`` (queues.conf) keeps calls away, and Asterisk emits no event for it.
"""

from __future__ import annotations

import logging

from aiohttp import web

from agent_desktop.auth import desktop_required, session_of
from agent_desktop.csrf import check_form
from agent_desktop.handlers.cases import call_id_for, own_pop
from agent_desktop.handlers.common import (
    BadRequest,
    int_field,
    json_response,
    read_form,
    text_field,
)
from agent_desktop.keys import CLOCK, QUEUE_CONTROL, SETTINGS, UOW
from case_core.domain.wrapup import WRAPUP_LABELS, WrapupCode
from case_core.services.wrapups import SaveWrapup, save_wrapup

log = logging.getLogger(__name__)

WRAPUP_PAUSE_REASON = "trabajo_posterior"


async def _pause(request: web.Request, interface: str | None, paused: bool) -> None:
    settings = request.config_dict[SETTINGS]
    if not settings.desk_wrapup_pause or not interface:
        return
    try:
        await request.config_dict[QUEUE_CONTROL].queue_pause(
            settings.queue_name, interface, paused, WRAPUP_PAUSE_REASON if paused else ""
        )
    except Exception as err:  # the telephony boundary: the wrap-up itself is stored anyway
        log.warning("wrap-up pause=%s failed: %s", paused, type(err).__name__)


@desktop_required
async def start(request: web.Request) -> web.StreamResponse:
    """POST /agente/cierre/inicio (``pop_id``): the call ended; after-call work begins."""
    form = await read_form(request)
    session = session_of(request)
    check_form(request, form, session.csrf_token)
    pop = await own_pop(
        request.config_dict[UOW], int_field(form, "pop_id", required=True) or 0, session
    )
    if pop.closed_at is None:
        raise BadRequest("La llamada sigue en curso.")
    await _pause(request, pop.agent_interface, True)
    settings = request.config_dict[SETTINGS]
    return json_response(
        {"ok": True, "seconds": settings.desk_wrapup_seconds, "pause": settings.desk_wrapup_pause}
    )


@desktop_required
async def save(request: web.Request) -> web.StreamResponse:
    """POST /agente/cierre (``pop_id``, ``codigo``, ``nota``): document the call."""
    form = await read_form(request)
    session = session_of(request)
    check_form(request, form, session.csrf_token)
    config = request.config_dict
    try:
        code = WrapupCode(text_field(form, "codigo", max_length=24))
    except ValueError:
        raise BadRequest("Elija cómo terminó la llamada.") from None
    pop = await own_pop(config[UOW], int_field(form, "pop_id", required=True) or 0, session)
    await save_wrapup(
        config[UOW],
        SaveWrapup(
            user_id=session.actor.user_id or 0,
            agent_interface=pop.agent_interface,
            pop_id=pop.id,
            call_id=await call_id_for(config[UOW], pop),
            code=code,
            note=text_field(form, "nota", max_length=1000) or None,
            case_hint=int_field(form, "caso_id"),
            pop_shown_at=pop.created_at,
        ),
        now=config[CLOCK](),
    )
    await _pause(request, pop.agent_interface, False)
    return json_response({"ok": True, "message": f"Llamada documentada: {WRAPUP_LABELS[code]}."})


def setup_wrapup_routes(app: web.Application) -> None:
    app.router.add_post("/agente/cierre/inicio", start)
    app.router.add_post("/agente/cierre", save)
