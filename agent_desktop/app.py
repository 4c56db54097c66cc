"""The agent desktop web application (aiohttp + jinja2, in Spanish).

``init_app`` builds the app from what the composition root hands in; nothing connects
before the app starts. On startup a :class:`~agent_desktop.pop_bus.PopListener` opens its
own PostgreSQL connection for LISTEN; on shutdown every browser socket is closed first
(otherwise aiohttp waits for them).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_desktop.admin import setup_admin_routes
from agent_desktop.auth import wants_json
from agent_desktop.call_control import setup_call_control_routes
from agent_desktop.cases_ws import setup_case_workspace_routes
from agent_desktop.citizen import setup_citizen_routes
from agent_desktop.contact_center import setup_contact_center_routes
from agent_desktop.handlers import auth as auth_handlers
from agent_desktop.handlers import cases, citizens, desktop, directory, queue
from agent_desktop.handlers.common import BadRequest, json_response, render
from agent_desktop.keys import (
    CLOCK,
    ENGINE,
    IDLE_TIMEOUT,
    QUEUE_CONTROL,
    SETTINGS,
    TEMPLATES,
    UOW,
    Clock,
)
from agent_desktop.liaison import setup_liaison_routes
from agent_desktop.pop_bus import POP_CHANNEL, PopListener, get_pop
from agent_desktop.ports import CallControl, QueueControl
from agent_desktop.presence import PRESENCE, Presence
from agent_desktop.quality import setup_quality_routes
from agent_desktop.session_watch import SESSION_WATCH, SessionWatch
from agent_desktop.text import install as install_text_filters
from agent_desktop.wrapup import setup_wrapup_routes
from agent_desktop.ws import (
    HUB,
    Hub,
    initial_messages,
    session_check_period,
    websocket_handler,
)
from cac311.config import Settings
from case_core.db.outage import is_database_outage
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.services.agents import agent_state_by_id, latest_agent_state
from open311.web import setup_open311_routes

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
LISTENER = web.AppKey("desktop_pop_listener", PopListener)
DEFAULT_IDLE_TIMEOUT = 3600.0
CSP = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class AccessLogger(AbstractAccessLogger):
    """Access log without query strings: searches carry cédulas, names and phones."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.3fs", request.method, request.path, response.status, time)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _error_response(request: web.Request, status: int, message: str) -> web.Response:
    if wants_json(request) or request.path == "/ws":
        return json_response({"ok": False, "error": message}, status=status)
    return render(request, "error.html", {"status": status, "message": message}, status=status)


DATABASE_DOWN = (
    "El sistema no puede consultar la base de datos en este momento. "
    "Intente de nuevo en unos minutos; si atiende una llamada, anote los datos del ciudadano."
)

HTTP_MESSAGES = {
    400: "La solicitud no es válida.",
    401: "Inicie sesión.",
    403: "No tiene permiso para esto.",
    404: "La página no existe.",
    405: "Método no permitido.",
}


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Map domain errors and malformed requests to 400/403/404 pages (or JSON) in Spanish."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        text = exc.text or ""
        message = text if text and not text.startswith(f"{exc.status}:") else ""
        return _error_response(
            request, exc.status, message or HTTP_MESSAGES.get(exc.status, "Error.")
        )
    except BadRequest as err:
        return _error_response(request, 400, str(err))
    except NotFound as err:
        return _error_response(request, 404, str(err))
    except AccessDenied as err:
        return _error_response(request, 403, str(err))
    except DomainError as err:
        return _error_response(request, 400, str(err))
    except Exception as err:
        if not is_database_outage(err):
            raise
        # A database outage is a 503 page in Spanish, never a traceback (issue 15, finding 9).
        log.warning(
            "database unavailable for %s %s: %s", request.method, request.path, type(err).__name__
        )
        response = _error_response(request, 503, DATABASE_DOWN)
        response.headers["Retry-After"] = "30"
        return response


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", CSP)
    if response.content_type == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")


def _pg_dsn(engine: AsyncEngine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _listener_ctx(app: web.Application) -> AsyncIterator[None]:
    uow_factory, hub = app[UOW], app[HUB]

    # The newest agent state pushed per interface: a notice older than it is not pushed
    # (what the browser shows is the latest state, as ``latest_agent_state`` reads it).
    pushed_states: dict[str, tuple[datetime, int]] = {}

    async def on_notify(channel: str, notice: Any) -> None:
        if channel == POP_CHANNEL:
            if notice.message is not None:  # the notification carries the message
                hub.send_to_interface(notice.interface, notice.message)
                return
            pop = await get_pop(uow_factory, notice.pop_id)
            if pop is not None:
                hub.send_to_interface(pop.agent_interface, pop.message())
            return
        if notice.state is not None:
            interface, key = notice.state["interface"], (notice.at, notice.event_id)
            if interface in pushed_states and key < pushed_states[interface]:
                return
            pushed_states[interface] = key
            hub.send_to_interface(interface, {"type": "agent_state", **notice.state})
            return
        event = await agent_state_by_id(uow_factory, notice.event_id)
        if event is None:
            return
        latest = await latest_agent_state(uow_factory, event.interface)
        if latest is not None:
            pushed_states[latest.interface] = (latest.at, 0)
            hub.send_to_interface(event.interface, {"type": "agent_state", **latest.to_json()})

    async def on_reconnect() -> None:
        for interface in hub.interfaces():
            for message in await initial_messages(uow_factory, interface):
                hub.send_to_interface(interface, message)

    listener = PopListener(_pg_dsn(app[ENGINE]), on_notify, on_reconnect)
    app[LISTENER] = listener
    await listener.start()
    yield
    await listener.stop()


async def _close_sockets(app: web.Application) -> None:
    await app[HUB].close_all()


def init_app(
    settings: Settings,
    *,
    uow_factory: UnitOfWorkFactory,
    engine: AsyncEngine,
    queue_control: QueueControl,
    clock: Clock = _utcnow,
    idle_timeout_seconds: float | None = None,
    call_control: CallControl | None = None,
) -> web.Application:
    """The desktop application; ``clock`` returns aware UTC datetimes (tests pass a fake)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app[UOW] = uow_factory
    app[ENGINE] = engine
    app[QUEUE_CONTROL] = queue_control
    app[CLOCK] = clock
    app[IDLE_TIMEOUT] = float(
        idle_timeout_seconds
        if idle_timeout_seconds is not None
        else min(DEFAULT_IDLE_TIMEOUT, settings.session_max_age_seconds)
    )
    app[TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    install_text_filters(app[TEMPLATES])
    app[HUB] = Hub()
    app[SESSION_WATCH] = SessionWatch(uow_factory, clock, session_check_period)
    app[PRESENCE] = Presence()
    app.cleanup_ctx.append(_listener_ctx)
    app.on_shutdown.append(_close_sockets)
    app.on_shutdown.append(app[PRESENCE].close)
    app.on_shutdown.append(lambda app: app[SESSION_WATCH].close())
    app.on_response_prepare.append(_security_headers)

    r = app.router
    r.add_get("/", desktop.index)
    r.add_get("/login", auth_handlers.login_form)
    r.add_post("/login", auth_handlers.login)
    r.add_post("/logout", auth_handlers.logout)
    r.add_get("/escritorio", desktop.desktop)
    r.add_post("/agente/cola", queue.queue_action)
    r.add_post("/casos", cases.register)
    r.add_post("/casos/leer", cases.read_back)
    r.add_get("/ciudadanos", citizens.search_page)
    r.add_get("/ciudadanos/{citizen_id}", citizens.citizen_page)
    r.add_get("/api/servicios", directory.search_services)
    r.add_get("/api/servicios/{service_id}/articulos", directory.service_articles)
    r.add_get("/api/ciudadanos", citizens.api_search)
    r.add_get("/api/ciudadanos/{citizen_id}", citizens.api_citizen)
    r.add_get("/ws", websocket_handler)
    setup_liaison_routes(app)
    setup_contact_center_routes(app)
    setup_call_control_routes(app, call_control)
    setup_wrapup_routes(app)
    setup_quality_routes(app)
    setup_case_workspace_routes(app)
    setup_citizen_routes(app)
    setup_open311_routes(
        app,
        uow_factory=uow_factory,
        clock=clock,
        tz=settings.tz,
        jurisdiction_id=settings.open311_jurisdiction,
        public_origin=settings.public_origin,
    )
    setup_admin_routes(app)
    r.add_static("/static", HERE / "static", append_version=True)
    return app
