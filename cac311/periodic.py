"""The periodic jobs of ``cac311 serve``: each runs once per period across every process
and machine (``case_core.services.coordination``), so any number of processes may run the
``dialer`` part.

To add a job, add a factory to ``JOB_FACTORIES`` (see ``_quality_sample`` for a weekly one
in local time); its ``run(now)`` must be idempotent.
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
    """Escalate cases at SLA risk or without a first action; one e-mail per level."""
    from case_core.services.escalation_mail import escalate_and_notify

    async def run(now: datetime) -> None:
        report = await escalate_and_notify(
            rt.uow_factory,
            now,
            rt.settings.tz,
            public_origin=rt.settings.public_origin,
            at_risk_percent=rt.settings.at_risk_percent,
            at_risk_min_days=rt.settings.at_risk_min_days,
        )
        if report.total:
            log.info("escalated %d cases", report.total)

    return PeriodicJob("escalation", timedelta(minutes=10), run)


def _session_purge(rt: Runtime) -> PeriodicJob:
    """Desktop sessions past their absolute expiry (a browser that never came back), IVR
    sessions whose FastAGI process died, and login attempts older than 90 days."""
    from agent_desktop.sessions import purge_expired
    from case_core.services.ivr_sessions import close_stale as close_stale_ivr_sessions
    from case_core.services.login_guard import purge_old_attempts

    async def run(now: datetime) -> None:
        await purge_expired(rt.uow_factory, now=now)
        await close_stale_ivr_sessions(rt.uow_factory, now=now)
        await purge_old_attempts(rt.uow_factory, now=now)

    return PeriodicJob("session_purge", timedelta(minutes=10), run)


def _quality_sample(rt: Runtime) -> PeriodicJob:
    """The weekly quality sample (closed cases per entity, calls per agent) of last week."""
    from case_core.services.coordination import week_key
    from case_core.services.quality import run_weekly_quality_job

    async def run(now: datetime) -> None:
        await run_weekly_quality_job(
            rt.uow_factory,
            now=now,
            tz=rt.settings.tz,
            per_entity=rt.settings.quality_sample_per_entity,
            per_agent=rt.settings.quality_calls_per_agent,
        )

    return PeriodicJob(
        "quality_sample", timedelta(days=7), run, key=lambda at: week_key(at, rt.settings.tz)
    )


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


def _note_prompts(rt: Runtime) -> PeriodicJob:
    """Render the latest public note of each case to a WAV that IVR option 5 plays."""
    from ivr.prompts.notes import NotePromptRenderer

    renderer = NotePromptRenderer(rt.uow_factory, rt.settings.prompts_dir, tz=rt.settings.tz)

    async def run(now: datetime) -> None:
        await renderer.run(now)

    return PeriodicJob("note_prompts", timedelta(minutes=1), run)


JOB_FACTORIES: list[Callable[[Runtime], PeriodicJob]] = [
    _escalation,
    _session_purge,
    _callback_schedule,
    _call_rollup,
    _quality_sample,
    _note_prompts,
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
