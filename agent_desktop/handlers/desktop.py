"""The desktop page: agent state, the live pop and the case form."""

from __future__ import annotations

import secrets

from aiohttp import web

from agent_desktop.auth import current_session, desktop_required, session_of
from agent_desktop.handlers.auth import home_path
from agent_desktop.handlers.common import render
from agent_desktop.keys import SETTINGS, UOW
from case_core.domain.case import CHANNEL_LABELS, TYPE_LABELS
from case_core.domain.cedula import PROVINCES
from case_core.domain.wrapup import WRAPUP_LABELS
from case_core.services.agents import PAUSE_REASONS, latest_agent_state


async def index(request: web.Request) -> web.StreamResponse:
    """GET /: to the desktop, or to the login page."""
    session = await current_session(request)
    raise web.HTTPFound(home_path(session.actor.role) if session else "/login")


@desktop_required
async def desktop(request: web.Request) -> web.StreamResponse:
    """GET /escritorio."""
    session = session_of(request)
    state = None
    if session.phone_interface:
        state = await latest_agent_state(request.config_dict[UOW], session.phone_interface)
    return render(
        request,
        "desktop.html",
        {
            "queue_name": request.config_dict[SETTINGS].queue_name,
            "state": state,
            "pause_reasons": PAUSE_REASONS,
            "case_types": {t.value: label for t, label in TYPE_LABELS.items()},
            "channels": {c.value: label for c, label in CHANNEL_LABELS.items()},
            "provinces": sorted(PROVINCES.values()),
            "submission_key": secrets.token_urlsafe(18),
            "wrapup_codes": {c.value: label for c, label in WRAPUP_LABELS.items()},
            "wrapup_seconds": request.config_dict[SETTINGS].desk_wrapup_seconds,
        },
    )
