"""The composition root: builds engines, services and servers from Settings.

Nothing connects at import time. ``run_parts`` starts the parts a process should run
(``cac311 serve`` runs them all; ``--only`` picks some) and stops them cleanly on SIGINT/SIGTERM.
Processes share state only through PostgreSQL, so any number of them can run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cac311.config import Settings
from cac311.health import Health
from case_core.db.engine import make_engine, make_sessionmaker
from case_core.db.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

PARTS = ("ivr", "ami", "web", "dialer")


def utc_now() -> datetime:
    return datetime.now(UTC)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[UnitOfWorkFactory]:
    """A unit-of-work factory on the configured database, disposed on exit."""
    engine = make_engine(settings.database_url)
    try:
        yield UnitOfWorkFactory(make_sessionmaker(engine))
    finally:
        await engine.dispose()


def database_check(engine: AsyncEngine) -> Callable[[], object]:
    async def check() -> bool:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    return check


async def start_ivr(
    stack: AsyncExitStack, settings: Settings, uow_factory: UnitOfWorkFactory, health: Health
) -> None:
    from ivr.agi.server import FastAgiServer
    from ivr.backend import DatabaseBackend
    from ivr.routes import build_routes

    backend = DatabaseBackend(uow_factory, tz=settings.tz, clock=utc_now)
    server = FastAgiServer(
        build_routes(backend), settings.fastagi_bind.host, settings.fastagi_bind.port
    )
    await stack.enter_async_context(server)

    async def listening() -> bool:
        return True

    health.add("ivr", listening)
    log.info("FastAGI listening on %s:%s", settings.fastagi_bind.host, server.port)


STARTERS = {"ivr": start_ivr}


async def run_parts(
    settings: Settings, parts: set[str], *, stop: asyncio.Event | None = None
) -> int:
    """Run the given parts until ``stop`` is set or the process gets SIGINT/SIGTERM."""
    unknown = parts - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts: {sorted(unknown)}")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    health = Health()
    engine = make_engine(settings.database_url)
    uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
    health.add("database", database_check(engine))  # type: ignore[arg-type]
    async with AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        for part in PARTS:
            if part in parts:
                starter = STARTERS.get(part)
                if starter is None:
                    raise ValueError(f"part {part!r} is not available in this build")
                await starter(stack, settings, uow_factory, health)
        await stop.wait()
        log.info("stopping %s", ", ".join(sorted(parts)))
    return 0


async def serve_health(stack: AsyncExitStack, health: Health, host: str, port: int) -> int:
    """A tiny HTTP server with GET /health, for processes that run no web part."""
    app = web.Application()
    app.router.add_get("/health", health.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, host, port)
    await site.start()
    return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
