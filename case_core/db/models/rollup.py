"""The 15-minute roll-up of inbound calls (``case_core.metrics.rollup``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base


class CallRollupBucketRow(Base):
    """One UTC quarter hour as last rolled up: usable for a query as of ``as_of`` when no
    call of it was still open (``open_calls = 0``) and every outcome in it happened by
    ``as_of`` (``settled_at <= as_of``), with the same thresholds."""

    __tablename__ = "call_rollup_buckets"

    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    service_level_seconds: Mapped[int] = mapped_column(Integer)
    short_abandon_seconds: Mapped[int] = mapped_column(Integer)
    open_calls: Mapped[int] = mapped_column(Integer)
    settled_at: Mapped[datetime | None]
    computed_at: Mapped[datetime] = mapped_column(server_default=func.now())


class CallRollupRow(Base):
    """The counts of one quarter hour and queue (``''`` for calls without one): the fields
    of ``service_level.CallCounts``."""

    __tablename__ = "call_rollup_15m"

    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(40), primary_key=True)
    offered: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer)
    short_abandons: Mapped[int] = mapped_column(Integer)
    answered_in_threshold: Mapped[int] = mapped_column(Integer)
    abandoned_in_threshold: Mapped[int] = mapped_column(Integer)
    waiting: Mapped[int] = mapped_column(Integer)
    other: Mapped[int] = mapped_column(Integer)
    wait_answered_sum: Mapped[float] = mapped_column(Float(53))
    talk_sum: Mapped[float] = mapped_column(Float(53))
    talk_count: Mapped[int] = mapped_column(BigInteger)
    longest_wait: Mapped[float | None] = mapped_column(Float(53))


class CallRollupDirtyRow(Base):
    """A quarter hour whose calls changed since it was rolled up (written with the call)."""

    __tablename__ = "call_rollup_dirty"

    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(server_default=func.now())
