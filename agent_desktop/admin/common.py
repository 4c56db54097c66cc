"""Access decorators and small helpers of the administration pages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime

from aiohttp import web

from agent_desktop.auth import SESSION as SESSION_KEY
from agent_desktop.auth import Handler, current_session, wants_json
from agent_desktop.handlers.common import BadRequest, text_field
from case_core.domain.roles import Actor, Role


def roles_required(*roles: Role) -> Callable[[Handler], Handler]:
    """Logged-in users of ``roles`` only; others get 403 (anonymous: the login page)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            info = await current_session(request)
            if info is None:
                if wants_json(request) or request.method != "GET":
                    raise web.HTTPUnauthorized(text="Su sesión terminó. Inicie sesión de nuevo.")
                raise web.HTTPFound(f"/login?siguiente={request.rel_url.path}")
            if info.actor.role not in roles:
                raise web.HTTPForbidden(text="Su rol no tiene acceso a esta página.")
            request[SESSION_KEY] = info
            return await handler(request)

        return wrapper

    return decorate


def actor_of(request: web.Request) -> Actor:
    return request[SESSION_KEY].actor


def date_field(form: object, name: str) -> date | None:
    raw = text_field(form, name, max_length=10)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"El campo «{name}» debe ser una fecha AAAA-MM-DD.") from None


def datetime_field(form: object, name: str, tz) -> datetime | None:  # type: ignore[no-untyped-def]
    """A local ``datetime-local`` value (AAAA-MM-DDTHH:MM) as an aware UTC datetime."""
    raw = text_field(form, name, max_length=16)
    if not raw:
        return None
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"El campo «{name}» debe ser una fecha y hora.") from None
    if local.tzinfo is not None:
        raise BadRequest(f"El campo «{name}» debe ser una fecha y hora local.")
    from datetime import UTC

    return local.replace(tzinfo=tz).astimezone(UTC)
