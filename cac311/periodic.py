"""The periodic jobs of ``cac311 serve``: each runs once per period across every process
and machine (``case_core.services.coordination``), so any number of processes may run the
``dialer`` part.

To add a job (e.g. the weekly quality sample), append a factory to ``JOB_FACTORIES``:
``JOB_FACTORIES.append(lambda rt: PeriodicJob("quality_sample", timedelta(days=7), fn,
key=lambda at: week_key(at, rt.settings.tz)))``; ``fn(now)`` must be idempotent.
``CAC311_JOB_PERIODS`` overrides the period of any job by name (seconds).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from case_core.services.coordination import PeriodicJob

if TYPE_CHECKING:
    from cac311.bootstrap import Runtime

log = logging.getLogger(__name__)


def _escalation(rt: Runtime) -> PeriodicJob:
    from case_core.services.escalation import escalate

    async def run(now: datetime) -> None:
        report = await escalate(rt.uow_factory, now, rt.settings.tz)
        if report.total:
            log.info("escalated %d cases", report.total)

    return PeriodicJob("escalation", timedelta(minutes=10), run)


def _session_purge(rt: Runtime) -> PeriodicJob:
    from agent_desktop.sessions import purge_expired

    async def run(now: datetime) -> None:
        await purge_expired(rt.uow_factory, now=now)

    return PeriodicJob("session_purge", timedelta(minutes=10), run)


def _callback_schedule(rt: Runtime) -> PeriodicJob:
    from case_core.services.callbacks import policy_for, schedule_callbacks

    policy = policy_for(rt.settings)

    async def run(now: datetime) -> None:
        await schedule_callbacks(rt.uow_factory, now, policy=policy)

    return PeriodicJob("callback_schedule", timedelta(minutes=1), run)


def _call_rollup(rt: Runtime) -> PeriodicJob:
    from case_core.metrics.rollup import refresh_dirty
    from case_core.metrics.service_level import Thresholds

    thresholds = Thresholds.from_settings(rt.settings)

    async def run(now: datetime) -> None:
        await refresh_dirty(rt.uow_factory, now=now, thresholds=thresholds)

    return PeriodicJob("call_rollup", timedelta(minutes=1), run)


JOB_FACTORIES: list[Callable[[Runtime], PeriodicJob]] = [
    _escalation,
    _session_purge,
    _callback_schedule,
    _call_rollup,
]


def periodic_jobs(rt: Runtime) -> list[PeriodicJob]:
    """Every job of this deployment, with the periods of ``CAC311_JOB_PERIODS`` applied."""
    overrides = dict(rt.settings.job_periods)
    jobs = []
    for factory in JOB_FACTORIES:
        job = factory(rt)
        if job.name in overrides:
            job = replace(job, every=timedelta(seconds=overrides[job.name]))
        jobs.append(job)
    return jobs
