"""Service-level formulas on hand-computed call sets (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cac311.config import Settings
from case_core.metrics.service_level import (
    FORMULAS,
    HEADLINE,
    CallCounts,
    QueuedCall,
    Thresholds,
    all_service_levels,
    asterisk_format,
    classify,
    count_calls,
    describe,
    service_level,
)

T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # 10:00 in Panama
AS_OF = T0 + timedelta(minutes=15)
TH = Thresholds(15, 5)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def answered(at: float, hold: int, talk: int | None = 60) -> QueuedCall:
    entered = T0 + s(at)
    return QueuedCall(
        entered,
        answered_at=entered + s(hold),
        ended_at=None if talk is None else entered + s(hold + talk),
        hold_seconds=hold,
        talk_seconds=talk,
    )


def abandoned(at: float, hold: int) -> QueuedCall:
    entered = T0 + s(at)
    return QueuedCall(entered, ended_at=entered + s(hold), hold_seconds=hold, abandoned=True)


# The hand-computed set used here and (in the database) by tests/integration/test_metrics_db.py
HAND_SET = [
    answered(0, 0, talk=60),  # within threshold
    answered(60, 15, talk=120),  # exactly 15 s: within (<=, like app_queue)
    answered(120, 16, talk=90),  # 16 s: late
    answered(180, 30, talk=None),  # late, still talking: talk time unknown
    abandoned(240, 3),  # short abandon (< 5 s), abandoned within threshold
    abandoned(300, 5),  # 5 s is not short; abandoned within threshold
    abandoned(360, 20),  # counted abandon, after the threshold
    QueuedCall(T0 + s(870)),  # still waiting at the end of the period (30 s so far)
    QueuedCall(T0 + s(420), ended_at=T0 + s(480)),  # ended unknown: "other", 60 s
]


def test_given_the_hand_set_when_counted_then_every_count_matches_the_hand_computation():
    c = count_calls(HAND_SET, AS_OF, TH)
    assert (c.offered, c.answered, c.abandoned, c.short_abandons) == (9, 4, 3, 1)
    assert (c.answered_in_threshold, c.abandoned_in_threshold) == (2, 2)
    assert (c.waiting, c.other) == (1, 1)
    assert c.average_speed_of_answer == pytest.approx((0 + 15 + 16 + 30) / 4)
    assert c.longest_wait == 60.0
    assert c.average_handle_time == pytest.approx((60 + 120 + 90) / 3)


def test_given_the_hand_set_when_each_formula_is_applied_then_the_figures_are_hand_computed():
    c = count_calls(HAND_SET, AS_OF, TH)
    sls = all_service_levels(c)
    assert list(sls) == ["sl_311", "sl_answered", "sl_asterisk2", "sl_offered"]
    # headline: 2 within 15 s / (4 answered + 3 abandoned - 1 short abandon)
    assert (sls["sl_311"].numerator, sls["sl_311"].denominator) == (2, 6)
    assert sls["sl_311"].percent == pytest.approx(100 * 2 / 6)
    assert (sls["sl_answered"].numerator, sls["sl_answered"].denominator) == (2, 4)
    assert (sls["sl_asterisk2"].numerator, sls["sl_asterisk2"].denominator) == (4, 7)
    # offered counts the waiting and the "other" call in the denominator
    assert (sls["sl_offered"].numerator, sls["sl_offered"].denominator) == (2, 9)
    for fid, figure in sls.items():
        assert figure.formula == fid and figure.label == FORMULAS[fid].label


def test_given_a_call_answered_after_the_cutoff_then_it_is_waiting_at_the_cutoff():
    call = answered(0, 20)
    at_10s = classify(call, T0 + s(10), TH)
    assert (at_10s.waiting, at_10s.answered, at_10s.longest_wait) == (1, 0, 10.0)
    later = classify(call, T0 + s(25), TH)
    assert (later.answered, later.answered_in_threshold) == (1, 0)


def test_given_an_abandon_after_the_cutoff_then_the_call_is_still_waiting():
    call = abandoned(0, 8)
    assert classify(call, T0 + s(7), TH).waiting == 1
    assert classify(call, T0 + s(8), TH).abandoned == 1


@pytest.mark.parametrize(
    ("hold", "short", "in_sl"), [(0, 1, 1), (4, 1, 1), (5, 0, 1), (15, 0, 1), (16, 0, 0)]
)
def test_given_an_abandon_of_n_seconds_then_short_and_within_threshold_follow_the_rules(
    hold: int, short: int, in_sl: int
):
    c = classify(abandoned(0, hold), AS_OF, TH)
    assert (c.abandoned, c.short_abandons, c.abandoned_in_threshold) == (1, short, in_sl)


def test_given_short_abandon_threshold_zero_then_no_abandon_is_short():
    c = count_calls([abandoned(0, 0), abandoned(10, 1)], AS_OF, Thresholds(15, 0))
    assert (c.abandoned, c.short_abandons) == (2, 0)
    assert service_level("sl_311", c).denominator == 2


def test_given_no_calls_then_every_figure_is_none_and_asterisk_prints_zero():
    for figure in all_service_levels(CallCounts()).values():
        assert figure.percent is None
        assert figure.asterisk() == "0.0"


def test_given_only_short_abandons_then_the_headline_has_no_denominator():
    c = count_calls([abandoned(0, 2)], AS_OF, TH)
    assert service_level(HEADLINE, c).percent is None
    assert service_level("sl_asterisk2", c).percent == 100.0


@pytest.mark.parametrize(
    ("num", "den", "text"),
    [(1, 1, "100.0"), (1, 2, "50.0"), (1, 3, "33.3"), (2, 3, "66.7"), (1, 4, "25.0"),
     (0, 5, "0.0"), (0, 0, "0.0"), (1, 8, "12.5"), (1, 6, "16.7")],
)  # fmt: skip
def test_given_counts_when_formatted_like_asterisk_then_the_text_matches_printf(num, den, text):
    assert asterisk_format(num, den) == text


def test_given_settings_then_thresholds_and_descriptions_follow_them():
    th = Thresholds.from_settings(Settings(service_level_seconds=20, short_abandon_seconds=3))
    assert th == Thresholds(20, 3)
    assert "20 s" in describe("sl_311", th) and "3 s" in describe("sl_311", th)
    with pytest.raises(KeyError):
        service_level("nope", CallCounts())
