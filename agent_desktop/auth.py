"""Who is asking: the session cookie, ``current_actor`` and the access decorators.

Other sub-apps (recordings, wallboard) mounted under the desktop app reuse
:func:`current_actor` and decide access with ``case_core.domain.roles`` themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from agent_desktop.keys import CLOCK, IDLE_TIMEOUT, SETTINGS, UOW
from agent_desktop.sessions import SessionInfo, load_session
from case_core.domain.roles import Actor, can_use_desktop

COOKIE = "cac311_sesion"
_SESSION = web.RequestKey("cac311_desktop_session_cache", object)
SESSION = web.RequestKey("cac311_desktop_session", SessionInfo)
_MISSING = object()
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def current_session(request: web.Request) -> SessionInfo | None:
    """The live session of this request's cookie (looked up once per request)."""
    cached = request.get(_SESSION, _MISSING)
    if cached is not _MISSING:
        return cached  # type: ignore[return-value]
    token = request.cookies.get(COOKIE, "")
    info = None
    # Our tokens are url-safe base64 (secrets.token_urlsafe): anything else (a non-UTF-8 byte,
    # a megabyte of junk) is no session, never a 500 (issue 15, finding 9).
    if token and not (len(token) <= 128 and _TOKEN_CHARS.issuperset(token)):
        token = ""
    if token:
        config = request.config_dict
        if UOW not in config:
            raise RuntimeError("current_actor needs the agent desktop app as parent app")
        info = await load_session(
            config[UOW], token, now=config[CLOCK](), idle_timeout=config[IDLE_TIMEOUT]
        )
    request[_SESSION] = info
    return info


async def current_actor(request: web.Request) -> Actor | None:
    """The logged-in user of this request, or None."""
    info = await current_session(request)
    return None if info is None else info.actor


def cookie_secure(request: web.Request) -> bool:
    return request.config_dict[SETTINGS].public_origin.startswith("https://")


def wants_json(request: web.Request) -> bool:
    """API clients (fetch, tests) get JSON errors; browsers navigating get pages."""
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def _unauthenticated(request: web.Request) -> web.HTTPException:
    if wants_json(request) or request.method != "GET":
        return web.HTTPUnauthorized(text="Su sesión terminó. Inicie sesión de nuevo.")
    return web.HTTPFound(f"/login?siguiente={request.rel_url.path}")


def login_required(handler: Handler) -> Handler:
    """Any logged-in user; the session is in ``request[SESSION]``."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        info = await current_session(request)
        if info is None:
            raise _unauthenticated(request)
        request[SESSION] = info
        return await handler(request)

    return wrapper


def desktop_required(handler: Handler) -> Handler:
    """Agents, supervisors and admins only (``roles.can_use_desktop``); others get 403."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        info = await current_session(request)
        if info is None:
            raise _unauthenticated(request)
        if not can_use_desktop(info.actor):
            raise web.HTTPForbidden(
                text="Su rol no tiene acceso al escritorio de agentes del 3-1-1."
            )
        request[SESSION] = info
        return await handler(request)

    return wrapper


def session_of(request: web.Request) -> SessionInfo:
    """The session a decorator checked for this request."""
    return request[SESSION]
