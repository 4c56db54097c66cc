"""Settings for several serve processes: job periods and the PBX lease."""

from __future__ import annotations

import pytest

from cac311.config import ConfigError, load_settings


def test_job_periods_and_the_pbx_lease_are_read_from_the_environment():
    settings = load_settings(
        {"CAC311_JOB_PERIODS": "escalation=300, call_rollup=30", "CAC311_PBX_LEASE_SECONDS": "10"}
    )
    assert settings.job_periods == (("escalation", 300), ("call_rollup", 30))
    assert settings.pbx_lease_seconds == 10
    assert load_settings({}).job_periods == ()


@pytest.mark.parametrize(
    "env",
    [
        {"CAC311_JOB_PERIODS": "escalation"},
        {"CAC311_JOB_PERIODS": "escalation=0"},
        {"CAC311_JOB_PERIODS": "=5"},
        {"CAC311_PBX_LEASE_SECONDS": "1"},
    ],
)
def test_malformed_values_name_their_variable(env):
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    assert next(iter(env)) in str(err.value)


def test_every_periodic_job_is_listed_with_its_period_and_others_can_add_theirs():
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    from cac311 import periodic
    from cac311.config import Settings
    from case_core.services.coordination import PeriodicJob, week_key

    rt = SimpleNamespace(
        settings=replace(Settings(), job_periods=(("escalation", 30),)), uow_factory=None
    )
    jobs = {job.name: job for job in periodic.periodic_jobs(rt)}  # type: ignore[arg-type]
    assert set(jobs) == {"escalation", "session_purge", "callback_schedule", "call_rollup"}
    assert jobs["escalation"].every == timedelta(seconds=30)
    assert jobs["call_rollup"].every == timedelta(minutes=1)

    async def sample(now: datetime) -> None: ...

    def quality(rt):  # type: ignore[no-untyped-def]
        return PeriodicJob(
            "quality_sample", timedelta(days=7), sample, key=lambda at: week_key(at, rt.settings.tz)
        )

    periodic.JOB_FACTORIES.append(quality)
    try:
        job = {j.name: j for j in periodic.periodic_jobs(rt)}["quality_sample"]  # type: ignore[arg-type]
        assert job.period_of(datetime(2026, 12, 1, 12, tzinfo=UTC)) == "2026-W49"
    finally:
        periodic.JOB_FACTORIES.remove(quality)
