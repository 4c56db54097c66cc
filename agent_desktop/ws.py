"""The desktop's WebSocket: pops and agent states pushed, queue commands received.

One writer task per socket drains a bounded queue, so a slow browser only ever delays
itself; a socket whose queue fills up is closed (the browser reconnects and gets the
current pop back). Messages are JSON objects with a ``type``:

- server to browser: ``hello``, ``pop``, ``pop_closed``, ``agent_state``, ``result``,
  ``expired``;
- browser to server: ``{"type": "queue", "action": "join|pause|resume|leave",
  "reason": "...", "csrf": "<token>"}`` and ``{"type": "ping"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from agent_desktop.auth import COOKIE, current_session
from agent_desktop.csrf import tokens_match
from agent_desktop.keys import CLOCK, IDLE_TIMEOUT, SETTINGS, UOW
from agent_desktop.pop_bus import current_pop
from agent_desktop.presence import PRESENCE, leave_queue
from agent_desktop.session_watch import SESSION_WATCH
from agent_desktop.sessions import SessionInfo, load_session
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.errors import DomainError
from case_core.domain.roles import can_use_desktop
from case_core.services.agents import latest_agent_state

log = logging.getLogger(__name__)

QUEUE_SIZE = 32
HEARTBEAT = 20.0


class Client:
    """One browser socket and its writer task."""

    def __init__(self, ws: web.WebSocketResponse, interface: str | None, maxsize: int) -> None:
        self.ws = ws
        self.interface = interface
        self.user_id: int | None = None  # set by the handler: a disabled user's socket closes
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.task: asyncio.Task[None] | None = None
        self.dropped = False

    def offer(self, message: dict[str, Any]) -> bool:
        """Queue a message without waiting; a full queue closes this (slow) socket."""
        if self.dropped:
            return False
        try:
            self.queue.put_nowait(message)
            return True
        except asyncio.QueueFull:
            self.dropped = True
            log.warning("closing a desktop socket that stopped reading")
            asyncio.get_running_loop().create_task(
                self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"slow consumer")
            )
            return False

    async def writer(self) -> None:
        while True:
            message = await self.queue.get()
            try:
                await self.ws.send_str(json.dumps(message, ensure_ascii=False))
            except (ConnectionError, RuntimeError):
                return


class Hub:
    """Open sockets by agent interface."""

    def __init__(self, maxsize: int = QUEUE_SIZE) -> None:
        self.maxsize = maxsize
        self.clients: set[Client] = set()

    def add(self, ws: web.WebSocketResponse, interface: str | None) -> Client:
        client = Client(ws, interface, self.maxsize)
        client.task = asyncio.get_running_loop().create_task(client.writer())
        self.clients.add(client)
        return client

    async def remove(self, client: Client) -> None:
        self.clients.discard(client)
        if client.task is not None:
            client.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client.task

    def send_to_interface(self, interface: str, message: dict[str, Any]) -> int:
        """Offer ``message`` to every socket of ``interface``; returns how many took it."""
        return sum(c.offer(message) for c in list(self.clients) if c.interface == interface)

    def interfaces(self) -> set[str]:
        return {c.interface for c in self.clients if c.interface}

    async def close_all(self) -> None:
        for client in list(self.clients):
            with contextlib.suppress(Exception):
                await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
            await self.remove(client)


HUB = web.AppKey("desktop_hub", Hub)


def origin_allowed(request: web.Request) -> bool:
    """The Origin must be the configured public origin, or this request's own host."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    public = request.config_dict[SETTINGS].public_origin
    if public:
        return origin.rstrip("/") == public
    return origin in (f"http://{request.host}", f"https://{request.host}")


async def initial_messages(
    uow_factory: UnitOfWorkFactory, interface: str | None
) -> list[dict[str, Any]]:
    """What a (re)connecting browser gets: its agent state and its open pop."""
    if not interface:
        return []
    messages: list[dict[str, Any]] = []
    state = await latest_agent_state(uow_factory, interface)
    if state is not None:
        messages.append({"type": "agent_state", **state.to_json()})
    pop = await current_pop(uow_factory, interface)
    if pop is not None:
        messages.append(pop.message())
    return messages


SESSION_CHECK_SECONDS = 30.0
EXPIRED = {"type": "expired", "message": "Su sesión terminó. Inicie sesión de nuevo."}


def session_check_period() -> float:
    """Seconds between two checks of the live sockets' sessions (tests shorten it)."""
    return SESSION_CHECK_SECONDS


async def watch_session(
    request: web.Request, info: SessionInfo, ws: web.WebSocketResponse, client: Client
) -> None:
    """Close a live socket once its session ends (logout, expiry, user deactivated): the
    session is otherwise checked only when the socket opens. One batched check per web
    process serves every socket (``agent_desktop.session_watch``)."""
    await request.config_dict[SESSION_WATCH].until_ended(info.id)
    if ws.closed:
        return
    # The session ended (expiry, logout elsewhere, user deactivated): leave the queue.
    request.config_dict[PRESENCE].forget(info.phone_interface)
    await leave_queue(request.config_dict, info.phone_interface, "session ended")
    client.offer(EXPIRED)
    await asyncio.sleep(0.1)  # let the writer send the notice
    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"session ended")


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    """GET /ws: check Origin and session, then push and receive."""
    if not origin_allowed(request):
        raise web.HTTPForbidden(text="Origen no permitido para la conexión en vivo.")
    info = await current_session(request)
    if info is None:
        raise web.HTTPUnauthorized(text="Su sesión terminó. Inicie sesión de nuevo.")
    if not can_use_desktop(info.actor):
        raise web.HTTPForbidden(text="Su rol no tiene acceso al escritorio de agentes del 3-1-1.")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=64 * 1024)
    await ws.prepare(request)
    hub = request.config_dict[HUB]
    client = hub.add(ws, info.phone_interface)
    presence = request.config_dict[PRESENCE]
    presence.opened(info.phone_interface)
    client.user_id = info.actor.user_id
    watcher = asyncio.create_task(watch_session(request, info, ws, client))
    try:
        client.offer({"type": "hello", "interface": info.phone_interface})
        for message in await initial_messages(request.config_dict[UOW], info.phone_interface):
            client.offer(message)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            reply = await _command(request, info, msg.data)
            if reply is not None:
                client.offer(reply)
                if reply.get("type") == "expired":
                    break
    finally:
        watcher.cancel()
        await hub.remove(client)
        presence.closed(request.config_dict, info.phone_interface)
        if not ws.closed:
            await ws.close()
    return ws


async def _command(request: web.Request, info: SessionInfo, data: str) -> dict[str, Any] | None:
    from agent_desktop.handlers.queue import QueueCommandError, run_queue_action

    try:
        command = json.loads(data)
    except (ValueError, RecursionError):  # deeply nested arrays raise RecursionError
        return {"type": "result", "ok": False, "message": "Mensaje no válido."}
    if not isinstance(command, dict):
        return {"type": "result", "ok": False, "message": "Mensaje no válido."}
    kind = command.get("type")
    if kind == "ping":
        return {"type": "pong"}
    if kind != "queue":
        return {"type": "result", "ok": False, "message": "Orden desconocida."}
    if not tokens_match(info.csrf_token, command.get("csrf")):
        return {"type": "result", "ok": False, "message": "Código de seguridad no válido."}
    config = request.config_dict
    live = await load_session(
        config[UOW],
        request.cookies.get(COOKIE, ""),
        now=config[CLOCK](),
        idle_timeout=config[IDLE_TIMEOUT],
    )
    if live is None:
        return EXPIRED
    try:
        message = await run_queue_action(
            config, live, str(command.get("action", "")), str(command.get("reason") or "")
        )
    except (DomainError, QueueCommandError) as err:
        return {"type": "result", "ok": False, "message": str(err)}
    return {"type": "result", "ok": True, "message": message}
