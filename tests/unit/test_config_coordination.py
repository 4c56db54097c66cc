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


def test_every_periodic_job_is_listed_with_its_period_and_the_quality_sample_is_weekly():
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    from cac311 import periodic
    from cac311.config import Settings

    rt = SimpleNamespace(
        settings=replace(Settings(), job_periods=(("escalation", 30),)), uow_factory=None
    )
    jobs = {job.name: job for job in periodic.periodic_jobs(rt)}  # type: ignore[arg-type]
    assert set(jobs) == {
        "escalation",
        "session_purge",
        "callback_schedule",
        "call_rollup",
        "quality_sample",
        "note_prompts",
    }
    assert jobs["escalation"].every == timedelta(seconds=30)
    assert jobs["call_rollup"].every == timedelta(minutes=1)
    # Weekly in Panama's calendar: Monday 00:30 in Panama is still last week in UTC terms.
    sample = jobs["quality_sample"]
    assert sample.period_of(datetime(2026, 12, 1, 12, tzinfo=UTC)) == "2026-W49"
    assert sample.period_of(datetime(2026, 11, 30, 4, 59, tzinfo=UTC)) == "2026-W48"
