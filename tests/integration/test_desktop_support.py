"""Shared fixtures and helpers of the agent desktop integration tests (no tests here).

The desktop runs in aiohttp's TestServer against the real PostgreSQL of ``seeded``;
a second engine plays the separate AMI-listener process that publishes pops. The only
fake is ``FakeQueueControl``: the AMI process boundary.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from agent_desktop.app import LISTENER, init_app
from agent_desktop.auth import COOKIE
from agent_desktop.sessions import create_session
from cac311.config import Settings
from case_core.db.engine import make_engine, make_sessionmaker
from case_core.db.uow import UnitOfWorkFactory

PASSWORD = "cac311-demo"
START = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
DATA_CSRF_RE = re.compile(r'data-csrf="([^"]*)"')


class FakeClock:
    """A settable clock (aware UTC)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class FakeQueueControl:
    """Records what the desktop asked the telephony side; can be told to fail."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    fail: bool = False
    readback_agent_channels: list[str | None] = field(default_factory=list)

    async def _record(self, *call: Any) -> None:
        if self.fail:
            raise ConnectionError("AMI link down")
        self.calls.append(call)

    async def queue_add(self, queue: str, interface: str, member_name: str) -> None:
        await self._record("queue_add", queue, interface, member_name)

    async def queue_pause(self, queue: str, interface: str, paused: bool, reason: str) -> None:
        await self._record("queue_pause", queue, interface, paused, reason)

    async def queue_remove(self, queue: str, interface: str) -> None:
        await self._record("queue_remove", queue, interface)

    async def redirect_to_readback(
        self,
        channel: str,
        case_number: str,
        server: str | None = None,
        *,
        agent_channel: str | None = None,
    ) -> None:
        self.readback_agent_channels.append(agent_channel)
        await self._record("redirect_to_readback", channel, case_number)

    async def originate_manual_callback(
        self, agent_interface: str, phone: str, callback_id: int
    ) -> None:
        await self._record("originate_manual_callback", agent_interface, phone, callback_id)


@dataclass
class Desktop:
    app: Any
    server: TestServer
    clock: FakeClock
    queue: FakeQueueControl
    uow_factory: UnitOfWorkFactory
    clients: list[TestClient] = field(default_factory=list)

    async def client(self) -> TestClient:
        client = TestClient(self.server)
        await client.start_server()
        self.clients.append(client)
        return client

    @property
    def origin(self) -> str:
        return f"http://{self.server.host}:{self.server.port}"

    async def login(self, username: str, password: str = PASSWORD, *, form: bool = True) -> Agent:
        """A logged-in client: through the login form, or (``form=False``, faster: no Argon2)
        with a session opened directly in the session store."""
        if not form:
            return await self._session_for(username)
        client = await self.client()
        page = await client.get("/login")
        token = CSRF_RE.search(await page.text()).group(1)  # type: ignore[union-attr]
        response = await client.post(
            "/login",
            data={"usuario": username, "contrasena": password, "csrf_token": token},
            allow_redirects=False,
        )
        assert response.status == 302, await response.text()
        desk = await client.get("/escritorio")
        match = DATA_CSRF_RE.search(await desk.text())
        return Agent(self, client, match.group(1) if match else "")

    async def _session_for(self, username: str) -> Agent:
        async with self.uow_factory() as uow:
            user = await uow.users.by_username(username)
        token = await create_session(
            self.uow_factory, user_id=user.id, now=self.clock(), max_age_seconds=8 * 3600
        )
        client = await self.client()
        client.session.cookie_jar.update_cookies({COOKIE: token}, URL(self.origin))
        desk = await client.get("/escritorio")
        match = DATA_CSRF_RE.search(await desk.text())
        return Agent(self, client, match.group(1) if match else "")


@dataclass
class Agent:
    desktop: Desktop
    client: TestClient
    csrf: str

    async def ws(self) -> ClientWebSocketResponse:
        return await self.client.ws_connect("/ws", origin=self.desktop.origin)

    async def post(self, path: str, data: dict[str, Any], **kw: Any):  # type: ignore[no-untyped-def]
        return await self.client.post(
            path,
            data={"csrf_token": self.csrf, **data},
            headers={"Accept": "application/json"},
            **kw,
        )


async def next_message(ws: ClientWebSocketResponse, kind: str, within: float = 5.0) -> dict:
    """The next message of type ``kind`` (others are skipped)."""
    async with asyncio.timeout(within):
        while True:
            message = await ws.receive_json()
            if message.get("type") == kind:
                return message


def make_desktop_fixture(settings: Settings | None = None, idle: float | None = None):  # type: ignore[no-untyped-def]
    @pytest.fixture
    async def desktop(seeded, engine):  # type: ignore[no-untyped-def]
        clock = FakeClock(START)
        queue = FakeQueueControl()
        app = init_app(
            settings or Settings(),
            uow_factory=seeded,
            engine=engine,
            queue_control=queue,
            clock=clock,
            idle_timeout_seconds=idle,
        )
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        await asyncio.wait_for(app[LISTENER].connected.wait(), 5)
        desk = Desktop(app, server, clock, queue, seeded)
        yield desk
        for client in desk.clients:
            await client.close()
        await server.close()

    return desktop


@pytest.fixture(name="other_process")
async def other_process_fixture(migrated_database):  # type: ignore[no-untyped-def]
    """A unit-of-work factory on its own engine, as the AMI listener process would have."""
    engine = make_engine(migrated_database, pool_size=2)
    yield UnitOfWorkFactory(make_sessionmaker(engine))
    await engine.dispose()
