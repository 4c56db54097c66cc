from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from case_core.domain import sla
from case_core.domain.errors import InvalidSla

PANAMA = ZoneInfo("America/Panama")


def test_due_is_the_end_of_the_local_day_n_days_later():
    # 2026-11-25 03:00 UTC is still 2026-11-24 in Panama (UTC-5).
    opened = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    due = sla.due_at(opened, 10, PANAMA)
    assert due == datetime(2026, 12, 4, 23, 59, 59, tzinfo=PANAMA).astimezone(UTC)
    assert due.tzinfo is not None


@pytest.mark.parametrize("days", [0, -1, 31, 45])
def test_sla_outside_1_to_30_days_is_refused(days):
    with pytest.raises(InvalidSla):
        sla.check_sla_days(days)


def test_thirty_days_is_the_legal_maximum():
    opened = datetime(2026, 1, 10, 15, 0, tzinfo=UTC)
    assert sla.due_at(opened, 30, PANAMA).astimezone(PANAMA).date().isoformat() == "2026-02-09"


def test_days_left_counts_local_days_and_goes_negative_when_overdue():
    due = sla.due_at(datetime(2026, 11, 1, 15, 0, tzinfo=UTC), 5, PANAMA)
    assert sla.days_left(due, datetime(2026, 11, 1, 15, 0, tzinfo=UTC), PANAMA) == 5
    assert sla.days_left(due, datetime(2026, 11, 6, 15, 0, tzinfo=UTC), PANAMA) == 0
    assert sla.days_left(due, datetime(2026, 11, 9, 15, 0, tzinfo=UTC), PANAMA) == -3


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        sla.due_at(datetime(2026, 1, 1), 5, PANAMA)


def test_first_action_and_risk():
    opened = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)
    assert sla.first_action_due_at(opened) == opened + timedelta(hours=24)
    due = sla.due_at(opened, 10, PANAMA)
    assert not sla.at_risk(due, opened, 10)
    assert sla.at_risk(due, due - timedelta(days=1), 10)


def test_given_a_3_day_service_when_its_first_evening_then_not_at_risk():
    # Opened Monday 10:00 Panama; due Thursday 23:59:59. The old fixed 3-day margin made it
    # "at risk" from Monday 23:59:59.
    opened = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    due = sla.due_at(opened, 3, PANAMA)
    evening = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # Monday 21:00 in Panama
    assert not sla.at_risk(due, evening, 3)
    # 20 % of 3 days is less than a day: at risk in the last day only.
    assert not sla.at_risk(due, due - timedelta(days=1, seconds=1), 3)
    assert sla.at_risk(due, due - timedelta(days=1), 3)


def test_given_a_30_day_service_then_at_risk_in_its_last_six_days_and_configurable():
    opened = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    due = sla.due_at(opened, 30, PANAMA)
    assert not sla.at_risk(due, due - timedelta(days=6, seconds=1), 30)
    assert sla.at_risk(due, due - timedelta(days=6), 30)
    half = sla.RiskPolicy.from_percent(50, 1)
    assert sla.at_risk(due, due - timedelta(days=15), 30, policy=half)
    assert sla.RiskPolicy(fraction=0.1, min_days=2).margin(10) == timedelta(days=2)
    with pytest.raises(ValueError):
        sla.RiskPolicy(fraction=0)
