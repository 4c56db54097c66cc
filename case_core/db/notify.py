"""NOTIFY inside the caller's transaction: PostgreSQL delivers the notifications when (and
only if) it commits, in the order they were sent."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

_NOTIFY_ALL = text(
    "SELECT pg_notify(:channel, p) FROM unnest(:payloads) WITH ORDINALITY AS n(p, i) ORDER BY i"
).bindparams(bindparam("payloads", type_=ARRAY(Text)))


async def notify_all(session: AsyncSession, channel: str, payloads: Sequence[str]) -> None:
    """One ``pg_notify(channel, payload)`` per payload, in order, in one statement."""
    if payloads:
        await session.execute(_NOTIFY_ALL, {"channel": channel, "payloads": list(payloads)})
