"""Rate limits kept in PostgreSQL, so every process of cac311 counts the same events.

A limit is a bucket, a window and a maximum. ``source`` is whatever identifies the
requester (a caller ID, an IP address, an API key id); only its SHA-256 is stored, so the
table holds no phone number or address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models import RateEventRow


@dataclass(frozen=True)
class Limit:
    bucket: str
    maximum: int
    window: timedelta


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


async def count_events(
    session: AsyncSession,
    limit: Limit,
    *,
    now: datetime,
    source: str | None = None,
    case_id: int | None = None,
) -> int:
    stmt = select(func.count()).where(
        RateEventRow.bucket == limit.bucket, RateEventRow.at > now - limit.window
    )
    if source is not None:
        stmt = stmt.where(RateEventRow.source == source_hash(source))
    if case_id is not None:
        stmt = stmt.where(RateEventRow.case_id == case_id)
    return (await session.execute(stmt)).scalar_one()


async def exceeded(
    session: AsyncSession,
    limit: Limit,
    *,
    now: datetime,
    source: str | None = None,
    case_id: int | None = None,
) -> bool:
    """True when the events counted in the window already reach the maximum."""
    return await count_events(session, limit, now=now, source=source, case_id=case_id) >= (
        limit.maximum
    )


async def record_event(
    session: AsyncSession, limit: Limit, *, now: datetime, source: str, case_id: int | None = None
) -> None:
    session.add(
        RateEventRow(bucket=limit.bucket, source=source_hash(source), case_id=case_id, at=now)
    )
    await session.flush()


async def purge_events(session: AsyncSession, *, before: datetime) -> int:
    """Drop events older than any window (called by whoever records, now and then)."""
    result = await session.execute(delete(RateEventRow).where(RateEventRow.at < before))
    return result.rowcount or 0  # type: ignore[attr-defined]
