"""Engine and session factory. Nothing connects at import time."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def make_engine(
    database_url: str, *, pool_size: int = 10, connect_timeout: float = 5.0
) -> AsyncEngine:
    """An asyncpg engine that fails fast when PostgreSQL is unreachable."""
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=connect_timeout,
        connect_args={"timeout": connect_timeout},
        # Error messages must not carry statement parameters (cédulas, phones) into logs.
        hide_parameters=True,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)
