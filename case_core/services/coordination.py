"""Work shared by several ``cac311 serve`` processes (on one or several machines) through
PostgreSQL: periodic jobs that run once per period, and leases on resources such as the
AMI link of a PBX.

**Once per period.** :func:`run_once_per_period` takes a transaction-level advisory lock
keyed by the job, so at most one process runs a job at a time, then looks in
``periodic_job_runs`` for the period; only if the period is not done yet does it run the job
and record the period as done, in the same transaction that held the lock. A process that
dies while running releases the lock with its connection and leaves the period undone, so
another process runs it again: jobs must be idempotent (they are: escalation, callback
scheduling, the session purge and the roll-up all check what already exists).

**Leases.** :class:`Lease` holds one row of ``leases`` and renews it; another process takes
it over once it has expired. Expiry uses the database clock (``now()``), so skewed machine
clocks do not matter. A holder that cannot renew in time considers the lease lost *before*
it can expire (it measures from when it sent the renewal), so two holders never overlap.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from case_core.db.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

# First key of the two-int advisory lock: keeps our locks apart from anyone else's.
LOCK_NAMESPACE = 311_018


def process_identity() -> str:
    """A name for this process, unique across machines: host, pid and a random tag."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


class RunResult(enum.Enum):
    RAN = "ran"
    DONE_ELSEWHERE = "done"  # the period was already done (by any process)
    BUSY = "busy"  # another process is running this job right now


def period_key(at: datetime, every: timedelta) -> str:
    """The UTC period of length ``every`` that contains ``at`` (aligned on the epoch)."""
    seconds = int(every.total_seconds())
    if seconds <= 0:
        raise ValueError("a period must be at least one second")
    start = int(at.timestamp()) // seconds * seconds
    return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def week_key(at: datetime, tz: ZoneInfo) -> str:
    """The local ISO week containing ``at``, e.g. ``2026-W49`` (for weekly jobs)."""
    year, week, _ = at.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


async def run_once_per_period(
    uow_factory: UnitOfWorkFactory,
    *,
    job: str,
    period_key: str,
    fn: Callable[[], Awaitable[object]],
    owner: str | None = None,
) -> RunResult:
    """Run ``fn`` unless this job's period is done or the job is running elsewhere.

    ``fn`` opens its own units of work; the lock is held on a separate connection for as
    long as it runs. If ``fn`` raises, the period stays undone (the next attempt retries).
    """
    async with uow_factory() as uow:
        session = uow.session
        got = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:ns, hashtext(:job))"),
            {"ns": LOCK_NAMESPACE, "job": job},
        )
        if not got:
            return RunResult.BUSY
        done = await session.scalar(
            text("SELECT 1 FROM periodic_job_runs WHERE job = :job AND period_key = :key"),
            {"job": job, "key": period_key},
        )
        if done:
            return RunResult.DONE_ELSEWHERE
        started_at = datetime.now(UTC)
        # Logged before the work, so a second runner of the same period would show.
        log.info("periodic job %s starting period %s", job, period_key)
        await fn()
        await session.execute(
            text(
                "INSERT INTO periodic_job_runs (job, period_key, owner, started_at) "
                "VALUES (:job, :key, :owner, :started)"
            ),
            {
                "job": job,
                "key": period_key,
                "owner": owner or process_identity(),
                "started": started_at,
            },
        )
        await uow.commit()
    return RunResult.RAN


@dataclass(frozen=True)
class PeriodicJob:
    """A job run once per period across all processes.

    ``run`` receives the current time; ``key`` maps a time to its period (default: UTC
    periods of ``every``; :func:`week_key` for a weekly job in local time).
    """

    name: str
    every: timedelta
    run: Callable[[datetime], Awaitable[object]]
    key: Callable[[datetime], str] | None = None

    def period_of(self, at: datetime) -> str:
        return self.key(at) if self.key is not None else period_key(at, self.every)


async def run_periodic_jobs(
    uow_factory: UnitOfWorkFactory,
    jobs: Sequence[PeriodicJob],
    *,
    clock: Callable[[], datetime],
    stop: asyncio.Event,
    owner: str | None = None,
    tick: float | None = None,
) -> None:
    """Until ``stop``: try each job whose current period this process has not seen done.

    Every process runs this loop; the database decides who does each period. ``tick``
    (default: a tenth of the shortest period, between 0.2 and 15 s) bounds how late in its
    period a job starts.
    """
    owner = owner or process_identity()
    if tick is None:
        shortest = min((j.every.total_seconds() for j in jobs), default=60.0)
        tick = min(15.0, max(0.2, shortest / 10))
    seen: dict[str, str] = {}
    while not stop.is_set():
        now = clock()
        for job in jobs:
            key = job.period_of(now)
            if seen.get(job.name) == key:
                continue
            try:
                result = await run_once_per_period(
                    uow_factory,
                    job=job.name,
                    period_key=key,
                    fn=lambda j=job, at=now: j.run(at),
                    owner=owner,
                )
            except Exception:
                log.exception("periodic job %s failed for period %s; will retry", job.name, key)
                continue
            if result is not RunResult.BUSY:
                seen[job.name] = key
        try:
            await asyncio.wait_for(stop.wait(), tick)
        except TimeoutError:
            pass


class Lease:
    """One process's hold on ``resource`` (see the module docstring).

    ``await lease.try_acquire()`` takes or renews it; ``held`` says whether this process may
    act on the resource now (False once a renewal is overdue, even before another process
    could have taken it).
    """

    def __init__(
        self, uow_factory: UnitOfWorkFactory, resource: str, *, owner: str, ttl: float
    ) -> None:
        self.uow_factory = uow_factory
        self.resource = resource
        self.owner = owner
        self.ttl = ttl
        self._valid_until = 0.0  # time.monotonic() before which we surely hold it
        self.previous_owner: str | None = None

    @property
    def held(self) -> bool:
        return time.monotonic() < self._valid_until

    async def try_acquire(self) -> bool:
        """Take the lease if free or expired, renew it if ours; True if we hold it now."""
        sent = time.monotonic()
        async with self.uow_factory() as uow:
            row = (
                await uow.session.execute(
                    text(
                        "WITH before AS (SELECT owner FROM leases WHERE resource = :r) "
                        "INSERT INTO leases (resource, owner, acquired_at, expires_at) "
                        "VALUES (:r, :o, now(), now() + make_interval(secs => :ttl)) "
                        "ON CONFLICT (resource) DO UPDATE SET "
                        "  owner = excluded.owner, expires_at = excluded.expires_at, "
                        "  acquired_at = CASE WHEN leases.owner = excluded.owner "
                        "                THEN leases.acquired_at ELSE now() END "
                        "WHERE leases.owner = excluded.owner OR leases.expires_at < now() "
                        "RETURNING (SELECT owner FROM before)"
                    ),
                    {"r": self.resource, "o": self.owner, "ttl": self.ttl},
                )
            ).first()
            await uow.commit()
        if row is None:
            self._valid_until = 0.0
            return False
        if not self.held:
            self.previous_owner = row[0]
        # Measured from before the request: expires_at (database clock) is later than this.
        self._valid_until = sent + self.ttl
        return True

    async def release(self) -> None:
        """Give the lease up now (a clean shutdown), so another process takes it at once."""
        self._valid_until = 0.0
        async with self.uow_factory() as uow:
            await uow.session.execute(
                text("DELETE FROM leases WHERE resource = :r AND owner = :o"),
                {"r": self.resource, "o": self.owner},
            )
            await uow.commit()
