"""The composition root: builds engines, services and servers from Settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cac311.config import Settings
from case_core.db.engine import make_engine, make_sessionmaker
from case_core.db.uow import UnitOfWorkFactory


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[UnitOfWorkFactory]:
    """A unit-of-work factory on the configured database, disposed on exit."""
    engine = make_engine(settings.database_url)
    try:
        yield UnitOfWorkFactory(make_sessionmaker(engine))
    finally:
        await engine.dispose()
