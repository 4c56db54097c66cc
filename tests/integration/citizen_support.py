"""The desktop app with a temporary recordings directory, for the citizen-side tests."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestServer

from agent_desktop.app import LISTENER, init_app
from cac311.config import Settings
from tests.integration.test_desktop_support import START, Desktop, FakeClock, FakeQueueControl


def make_web_fixture(**settings):  # type: ignore[no-untyped-def]
    @pytest.fixture
    async def web(seeded, engine, tmp_path):
        clock = FakeClock(START)
        app = init_app(
            Settings(recordings_dir=tmp_path, **settings),
            uow_factory=seeded,
            engine=engine,
            queue_control=FakeQueueControl(),
            clock=clock,
        )
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        await asyncio.wait_for(app[LISTENER].connected.wait(), 5)
        desk = Desktop(app, server, clock, FakeQueueControl(), seeded)
        yield desk
        for client in desk.clients:
            await client.close()
        await server.close()

    return web
