"""Helpers shared by the benchmarks: bench databases, percentiles, printing.

Not a test helper: nothing here runs under pytest. Each benchmark creates its own database
on the server of ``--server-url`` (default: local PostgreSQL as ``postgres``), migrates it
with the production migrations, and drops it at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.engine import make_url

DEFAULT_SERVER_URL = os.environ.get(
    "CAC311_BENCH_SERVER_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


def add_db_args(parser: argparse.ArgumentParser, default_db: str) -> None:
    """--server-url, --db-name and --keep."""
    parser.add_argument(
        "--server-url",
        default=DEFAULT_SERVER_URL,
        help="SQLAlchemy URL of any database on the PostgreSQL server (default: %(default)s)",
    )
    parser.add_argument("--db-name", default=default_db, help="bench database (%(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the bench database at the end")


def db_url(server_url: str, name: str) -> str:
    """The SQLAlchemy (asyncpg) URL of database ``name`` on the same server."""
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def dsn(url: str) -> str:
    """A plain asyncpg DSN from a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def recreate_database(server_url: str, name: str) -> str:
    """Drop and create ``name``; returns its SQLAlchemy URL."""
    admin = await asyncpg.connect(dsn(server_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return db_url(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(dsn(server_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    """Seconds as milliseconds with 2 decimals."""
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.2f} ms"


def summary(values: Sequence[float]) -> str:
    """'p50 … p99 … max … (n=…)' in milliseconds."""
    return (
        f"p50 {ms(percentile(values, 50))}  p99 {ms(percentile(values, 99))}  "
        f"max {ms(max(values) if values else math.nan)}  (n={len(values)})"
    )


def machine() -> str:
    """One line describing where the figures were measured."""
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
