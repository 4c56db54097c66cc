"""Rows that let several ``cac311 serve`` processes share work through PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base


class PeriodicJobRunRow(Base):
    """One completed run of a periodic job for one period (``period_key``): the proof that
    the period's work was done, so no other process does it again."""

    __tablename__ = "periodic_job_runs"

    job: Mapped[str] = mapped_column(String(60), primary_key=True)
    period_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime] = mapped_column(server_default=func.now())


class LeaseRow(Base):
    """A resource (e.g. the AMI link of one PBX) held by one process until ``expires_at``;
    the holder renews it, another process takes it once it has expired. Times come from the
    database clock, so machines with skewed clocks agree."""

    __tablename__ = "leases"

    resource: Mapped[str] = mapped_column(String(80), primary_key=True)
    owner: Mapped[str] = mapped_column(String(120))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]
