"""What every web process must learn at once, over PostgreSQL LISTEN/NOTIFY:

- ``cac311_user_disabled`` (user id): close that user's live sockets (the desktop's /ws and
  the announcements socket) and take their phone out of the queue over AMI (AMI QueueRemove;
  with several web processes each one sends it, and Asterisk answers the later ones with an
  error that is ignored).
- ``cac311_announcement`` (announcement id): push the announcement to every connected desktop
  (``/ws/anuncios``), so agents see it without reloading.

The announcements socket is separate from the desktop's /ws so its JavaScript stays apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from agent_desktop.keys import CLOCK, ENGINE, QUEUE_CONTROL, SETTINGS, UOW
from agent_desktop.pg_listen import PgListener
from agent_desktop.ws import EXPIRED, HUB, origin_allowed
from case_core.services.announcements import ANNOUNCEMENT_CHANNEL, announcement_message
from case_core.services.user_admin import USER_DISABLED_CHANNEL

log = logging.getLogger(__name__)

QUEUE_SIZE = 16


class AnnouncementClient:
    def __init__(self, ws: web.WebSocketResponse, user_id: int | None) -> None:
        self.ws = ws
        self.user_id = user_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self.task: asyncio.Task[None] | None = None

    def offer(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:  # a browser that stopped reading: it reconnects later
            asyncio.get_running_loop().create_task(
                self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"slow consumer")
            )

    async def writer(self) -> None:
        while True:
            message = await self.queue.get()
            try:
                await self.ws.send_str(json.dumps(message, ensure_ascii=False))
            except (ConnectionError, RuntimeError):
                return


class AnnouncementHub:
    def __init__(self) -> None:
        self.clients: set[AnnouncementClient] = set()

    def add(self, ws: web.WebSocketResponse, user_id: int | None) -> AnnouncementClient:
        client = AnnouncementClient(ws, user_id)
        client.task = asyncio.get_running_loop().create_task(client.writer())
        self.clients.add(client)
        return client

    async def remove(self, client: AnnouncementClient) -> None:
        self.clients.discard(client)
        if client.task is not None:
            client.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client.task

    def broadcast(self, message: dict[str, Any]) -> int:
        for client in list(self.clients):
            client.offer(message)
        return len(self.clients)

    async def close_all(self) -> None:
        for client in list(self.clients):
            with contextlib.suppress(Exception):
                await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
            await self.remove(client)


ANNOUNCEMENT_HUB = web.AppKey("admin_announcement_hub", AnnouncementHub)
LIVE_LISTENER = web.AppKey("admin_live_listener", PgListener)


async def end_user_presence(app: web.Application, user_id: int) -> int:
    """Close every live socket of ``user_id`` here and remove their phone from the queue."""
    closed = 0
    for client in [c for c in app[HUB].clients if c.user_id == user_id]:
        # Stop its writer, then say why and close: the notice goes out before the close.
        if client.task is not None:
            client.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await client.task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.ws.send_str(json.dumps(EXPIRED, ensure_ascii=False)), 2)
        with contextlib.suppress(Exception):
            await client.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"user disabled")
        closed += 1
    for aclient in [c for c in app[ANNOUNCEMENT_HUB].clients if c.user_id == user_id]:
        with contextlib.suppress(Exception):
            await aclient.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"user disabled")
        closed += 1
    async with app[UOW]() as uow:
        user = await uow.users.get(user_id)
        interface = user.phone_interface if user is not None else None
    if interface:
        try:
            await app[QUEUE_CONTROL].queue_remove(app[SETTINGS].queue_name, interface)
        except Exception as err:  # not a member, or another process removed it first
            log.info("QueueRemove of a disabled user's phone: %s", type(err).__name__)
    return closed


async def live_ctx(app: web.Application) -> AsyncIterator[None]:
    app[ANNOUNCEMENT_HUB] = AnnouncementHub()
    tasks: set[asyncio.Task[Any]] = set()
    loop = asyncio.get_running_loop()

    def spawn(coro) -> None:  # type: ignore[no-untyped-def]
        task = loop.create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def push_announcement(ident: int) -> None:
        message = await announcement_message(app[UOW], ident)
        if message is not None:
            app[ANNOUNCEMENT_HUB].broadcast(message)

    def on_notify(channel: str, payload: str) -> None:
        try:
            ident = int(payload)
        except ValueError:
            return
        if channel == USER_DISABLED_CHANNEL:
            spawn(end_user_presence(app, ident))
        elif channel == ANNOUNCEMENT_CHANNEL:
            spawn(push_announcement(ident))

    dsn = app[ENGINE].url.set(drivername="postgresql").render_as_string(hide_password=False)
    listener = PgListener(
        dsn,
        (USER_DISABLED_CHANNEL, ANNOUNCEMENT_CHANNEL),
        on_notify,
        lambda _n: None,
        name="admin",
    )
    app[LIVE_LISTENER] = listener
    await listener.start()
    try:
        yield
    finally:
        await app[ANNOUNCEMENT_HUB].close_all()
        await listener.stop()
        for task in list(tasks):
            task.cancel()


async def announcements_socket(request: web.Request) -> web.StreamResponse:
    """GET /ws/anuncios: the active announcements now, then each new one as it is made."""
    from agent_desktop.auth import current_session
    from case_core.domain.roles import can_use_desktop
    from case_core.services.announcements import active_messages

    if not origin_allowed(request):
        raise web.HTTPForbidden(text="Origen no permitido para la conexión en vivo.")
    info = await current_session(request)
    if info is None:
        raise web.HTTPUnauthorized(text="Su sesión terminó. Inicie sesión de nuevo.")
    if not can_use_desktop(info.actor):
        raise web.HTTPForbidden(text="Su rol no tiene acceso al escritorio de agentes del 3-1-1.")
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4096)
    await ws.prepare(request)
    hub = request.config_dict[ANNOUNCEMENT_HUB]
    client = hub.add(ws, info.actor.user_id)
    watcher = asyncio.create_task(_watch_session(request, info.id, ws))
    try:
        for message in await active_messages(
            request.config_dict[UOW], request.config_dict[CLOCK]()
        ):
            client.offer(message)
        async for msg in ws:  # the browser sends nothing useful; keep reading for close
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        watcher.cancel()
        await hub.remove(client)
        if not ws.closed:
            await ws.close()
    return ws


async def _watch_session(request: web.Request, session_id: int, ws: web.WebSocketResponse) -> None:
    """Close the socket once its session ends (logout, expiry), as the desktop's /ws does."""
    from agent_desktop.session_watch import SESSION_WATCH

    await request.config_dict[SESSION_WATCH].until_ended(session_id)
    if not ws.closed:
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"session ended")
