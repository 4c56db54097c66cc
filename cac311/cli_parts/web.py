"""``cac311 web``: run only the agent desktop on ``Settings.http_bind``.

Queue actions and the case-number read-back need the AMI link, which ``cac311 serve`` wires
in; this command runs the desktop with a stand-in that answers every telephony action with
a clear Spanish error (pops from a separate AMI process still arrive through PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from cac311.config import Settings

log = logging.getLogger(__name__)


class NoTelephony:
    """QueueControl for a desktop started without an AMI link."""

    async def _refuse(self) -> None:
        raise RuntimeError("this process has no AMI link")

    async def queue_add(self, queue: str, interface: str, member_name: str) -> None:
        await self._refuse()

    async def queue_pause(self, queue: str, interface: str, paused: bool, reason: str) -> None:
        await self._refuse()

    async def queue_remove(self, queue: str, interface: str) -> None:
        await self._refuse()

    async def redirect_to_readback(self, channel: str, case_number: str) -> None:
        await self._refuse()


async def serve_desktop(settings: Settings, queue_control: object | None = None) -> None:
    """Run the desktop until cancelled."""
    from aiohttp import web

    from agent_desktop.app import init_app
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.uow import UnitOfWorkFactory

    engine = make_engine(settings.database_url)
    app = init_app(
        settings,
        uow_factory=UnitOfWorkFactory(make_sessionmaker(engine)),
        engine=engine,
        queue_control=queue_control or NoTelephony(),  # type: ignore[arg-type]
    )
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.http_bind.host, settings.http_bind.port)
        await site.start()
        print(f"Escritorio de agentes en http://{settings.http_bind}/ (Ctrl+C para detener)")
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await engine.dispose()


def _web(settings: Settings, args: argparse.Namespace) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_desktop(settings))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``cac311 web``."""
    parser = sub.add_parser("web", help="run the agent desktop (HTTP) only")
    parser.set_defaults(handler=_web)
