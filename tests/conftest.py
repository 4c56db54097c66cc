"""Shared fixtures: a fresh PostgreSQL database per test run, emptied before each test.

The server comes from ``CAC311_TEST_DATABASE_URL`` (default: the local PostgreSQL on
127.0.0.1:5432 as user postgres). Each pytest process creates its own database, migrates it
with Alembic, and drops it at the end, so parallel runs never meet.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from case_core.db.engine import make_engine, make_sessionmaker
from case_core.db.migrate import upgrade_async
from case_core.db.uow import UnitOfWorkFactory

PANAMA = ZoneInfo("America/Panama")
BASE_URL = os.environ.get(
    "CAC311_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/cac311_test"
)


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="session")
def database_url() -> str:
    url = make_url(BASE_URL)
    return url.set(database=f"{url.database}_{os.getpid()}").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
async def migrated_database(database_url: str) -> AsyncIterator[str]:
    name = make_url(database_url).database
    admin_dsn = _dsn(make_url(database_url).set(database="postgres").render_as_string(False))
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await upgrade_async(database_url)
    yield database_url
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def engine(migrated_database: str):  # type: ignore[no-untyped-def]
    engine = make_engine(migrated_database)
    yield engine
    await engine.dispose()


async def truncate_all(engine) -> None:  # type: ignore[no-untyped-def]
    """Empty every table. ``replica`` mode skips triggers: the append-only guard of
    case_history and the foreign-key checks, so the order of the DELETEs does not matter.
    (DELETE is much faster than TRUNCATE on tables this small.)"""
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        names = (
            await conn.execute(
                text(
                    "SELECT quote_ident(tablename) FROM pg_tables "
                    "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                )
            )
        ).scalars()
        for name in names:
            await conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
async def uow_factory(engine) -> UnitOfWorkFactory:  # type: ignore[no-untyped-def]
    """A unit-of-work factory on an empty, migrated database."""
    await truncate_all(engine)
    return UnitOfWorkFactory(make_sessionmaker(engine))


@pytest.fixture
async def seeded(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    """The same factory after ``cac311 seed``."""
    from case_core.seed.loader import seed

    await seed(uow_factory, now=datetime(2026, 11, 2, 13, 0, tzinfo=UTC))
    return uow_factory


@pytest.fixture
def panama() -> ZoneInfo:
    return PANAMA


class LoopbackSmtp:
    """A real SMTP server (aiosmtpd) on a free loopback port, keeping what it receives."""

    def __init__(self) -> None:
        import asyncio
        from email.message import EmailMessage

        from mailer.smtp import SmtpSettings

        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._arrived = asyncio.Condition()
        self._server: asyncio.base_events.Server | None = None
        self.settings = SmtpSettings("127.0.0.1", 0, sender="3-1-1 <no-responder@311.test>")

    async def start(self) -> None:
        import asyncio
        import dataclasses
        import email
        import email.policy

        from aiosmtpd.smtp import SMTP

        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                async with outer._arrived:
                    outer.messages.append(message)
                    outer.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                    outer._arrived.notify_all()
                return "250 OK"

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(Handler(), hostname="smtp.test"), "127.0.0.1", self.settings.port or 0
        )
        port = self._server.sockets[0].getsockname()[1]
        self.settings = dataclasses.replace(self.settings, port=port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def wait_for(self, count: int, timeout: float = 10.0) -> list:  # noqa: ASYNC109
        """Wait until at least ``count`` messages arrived; return them all."""
        import asyncio

        async def arrived() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.messages) >= count)

        await asyncio.wait_for(arrived(), timeout)
        return list(self.messages)


@pytest.fixture
async def smtp_server() -> AsyncIterator[LoopbackSmtp]:
    """A real SMTP server on loopback: ``.settings``, ``.messages``, ``await .wait_for(n)``."""
    server = LoopbackSmtp()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
