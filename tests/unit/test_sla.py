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
    assert not sla.at_risk(due, opened)
    assert sla.at_risk(due, due - timedelta(days=1))
