"""Callback rules with a fake clock (every ``now`` is passed in)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from case_core.domain.callbacks import (
    CallbackKind,
    CallbackStatus,
    CitizenContact,
    Outcome,
    SurveyQuestion,
    after_attempt,
    callback_phone,
    check_survey_answer,
    flags_review,
    make_policy,
    plan_followup,
    plan_satisfaction,
    still_wanted,
    sweep,
)
from case_core.domain.errors import DomainError

PA = ZoneInfo("America/Panama")
POLICY = make_policy(PA, holidays=["2026-12-08"])
FU, SAT = CallbackKind.SEGUIMIENTO, CallbackKind.SATISFACCION


def pa(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A Panama local time in 2026 (Nov 23 is a Monday), as UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=PA).astimezone(UTC)


# ----------------------------------------------------------------------------- calling hours
@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (pa(23, 7, 59), False),
        (pa(23, 8, 0), True),
        (pa(23, 19, 59), True),
        (pa(23, 20, 0), False),
        (pa(28, 10), True),  # Saturday
        (pa(29, 10), False),  # Sunday
        (pa(8, 10, month=12), False),  # configured holiday
    ],
)
def test_given_calling_hours_when_asked_then_only_mon_sat_8_to_20_outside_holidays(moment, is_open):
    assert POLICY.hours.is_open(moment) is is_open


def test_given_a_closed_moment_when_next_open_then_the_next_opening_in_panama():
    assert POLICY.hours.next_open(pa(23, 9)) == pa(23, 9)
    assert POLICY.hours.next_open(pa(23, 6, 30)) == pa(23, 8)
    assert POLICY.hours.next_open(pa(28, 20, 30)) == pa(30, 8)  # Saturday night -> Monday
    assert POLICY.hours.next_open(pa(29, 12)) == pa(30, 8)  # Sunday -> Monday
    assert POLICY.hours.next_open(pa(7, 20, 0, month=12)) == pa(9, 8, month=12)  # holiday
    assert pa(23, 8) == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # UTC-5, no DST


# ----------------------------------------------------------------------------- planning
def test_given_an_open_case_when_planned_then_first_attempt_halfway_to_due_date():
    opened = pa(23, 10)  # Monday
    plan = plan_followup(
        opened_at=opened, due_at=opened + timedelta(days=8), now=opened, policy=POLICY
    )
    assert plan.status is CallbackStatus.PENDIENTE
    assert (plan.window_start_at, plan.window_end_at) == (opened, opened + timedelta(days=30))
    assert plan.next_attempt_at == pa(27, 10)  # Friday, 4 days later


def test_given_halfway_on_a_sunday_when_planned_then_shifted_to_monday_8():
    opened = pa(23, 10)
    plan = plan_followup(
        opened_at=opened, due_at=opened + timedelta(days=12), now=opened, policy=POLICY
    )
    assert plan.next_attempt_at == pa(30, 8)  # halfway = Sunday 29 at 10:00


def test_given_a_configured_fraction_when_planned_then_it_is_used():
    opened = pa(23, 10)
    policy = make_policy(PA, followup_fraction=0.25)
    plan = plan_followup(
        opened_at=opened, due_at=opened + timedelta(days=8), now=opened, policy=policy
    )
    assert plan.next_attempt_at == pa(25, 10)


def test_given_a_due_date_past_30_days_when_planned_then_the_window_caps_the_target():
    opened = pa(23, 10)
    plan = plan_followup(
        opened_at=opened,
        due_at=opened + timedelta(days=40),
        now=opened,
        policy=make_policy(PA, followup_fraction=1.0),
    )
    # target = window end, past the 24 h human margin: straight to the human queue.
    assert plan.status is CallbackStatus.TAREA_HUMANA
    assert plan.next_attempt_at is None


def test_given_the_window_edges_when_planned_late_then_human_task_or_not_reached():
    opened = pa(23, 10)
    due = opened + timedelta(days=10)
    end = opened + timedelta(days=30)
    assert (
        plan_followup(
            opened_at=opened, due_at=due, now=end - timedelta(hours=25), policy=POLICY
        ).status
        is CallbackStatus.PENDIENTE
    )
    assert (
        plan_followup(
            opened_at=opened, due_at=due, now=end - timedelta(hours=23), policy=POLICY
        ).status
        is CallbackStatus.TAREA_HUMANA
    )
    assert (
        plan_followup(opened_at=opened, due_at=due, now=end, policy=POLICY).status
        is CallbackStatus.NO_CONTACTADO
    )


def test_given_a_closed_case_when_planned_then_satisfaction_two_hours_later():
    plan = plan_satisfaction(closed_at=pa(24, 10), now=pa(24, 10), policy=POLICY)
    assert plan.kind is SAT
    assert plan.window_end_at == pa(27, 10)
    assert plan.next_attempt_at == pa(24, 12)


def test_given_a_saturday_evening_closing_when_planned_then_monday_8():
    plan = plan_satisfaction(closed_at=pa(28, 19), now=pa(28, 19), policy=POLICY)
    assert plan.next_attempt_at == pa(30, 8)


def test_given_no_calling_day_before_the_human_margin_when_planned_then_human_task():
    policy = make_policy(PA, holidays=["2026-12-07"])
    plan = plan_satisfaction(closed_at=pa(5, 19, month=12), now=pa(5, 19, month=12), policy=policy)
    # Sunday, then the Monday holiday; Tuesday 08:00 is past closed + 72 h - 12 h.
    assert plan.status is CallbackStatus.TAREA_HUMANA


# ----------------------------------------------------------------------------- retries
def _after(outcome, attempts, now, end, kind=SAT, max_attempts=4, policy=POLICY):
    return after_attempt(
        kind=kind,
        outcome=outcome,
        attempts=attempts,
        max_attempts=max_attempts,
        window_end_at=end,
        now=now,
        policy=policy,
    )


def test_given_failed_attempts_when_retried_then_intervals_grow_inside_calling_hours():
    end = pa(1, 10, month=12)
    d1 = _after(Outcome.BUSY, 1, pa(24, 10), end, kind=FU)
    d2 = _after(Outcome.NO_ANSWER, 2, pa(24, 10, 30), end, kind=FU)
    d3 = _after(Outcome.CONGESTION, 3, pa(24, 15), end, kind=FU)
    assert (d1.status, d1.next_attempt_at) == (CallbackStatus.PENDIENTE, pa(24, 10, 30))
    assert d2.next_attempt_at == pa(24, 12, 30)
    assert d3.next_attempt_at == pa(25, 8)  # 21:00 is after hours


def test_given_the_last_attempt_failed_when_decided_then_human_task():
    d = _after(Outcome.FAILED, 4, pa(24, 10), pa(1, 10, month=12), kind=FU)
    assert d == type(d)(CallbackStatus.TAREA_HUMANA, None)


def test_given_a_retry_past_the_human_margin_when_decided_then_human_task():
    end = pa(27, 10)  # satisfaction: automatic attempts until Thursday 22:00
    assert _after(Outcome.BUSY, 3, pa(26, 17), end).status is CallbackStatus.TAREA_HUMANA
    assert _after(Outcome.BUSY, 1, pa(26, 17), end).next_attempt_at == pa(26, 17, 30)


def test_given_the_window_closed_when_an_outcome_arrives_then_not_reached():
    assert _after(Outcome.BUSY, 1, pa(27, 10), pa(27, 10)).status is (CallbackStatus.NO_CONTACTADO)


def test_given_an_answer_when_decided_then_completed():
    assert _after(Outcome.ANSWERED, 4, pa(24, 10), pa(27, 10)).status is (CallbackStatus.COMPLETADA)


def test_given_time_passing_when_swept_then_handed_over_then_not_reached():
    end = pa(27, 10)
    kw = dict(kind=SAT, window_end_at=end, policy=POLICY)
    assert sweep(status=CallbackStatus.PENDIENTE, now=end - timedelta(hours=12), **kw) is None
    assert sweep(status=CallbackStatus.PENDIENTE, now=end - timedelta(hours=11), **kw) is (
        CallbackStatus.TAREA_HUMANA
    )
    assert sweep(status=CallbackStatus.TAREA_HUMANA, now=end - timedelta(hours=1), **kw) is None
    assert sweep(status=CallbackStatus.TAREA_HUMANA, now=end, **kw) is (
        CallbackStatus.NO_CONTACTADO
    )
    assert sweep(status=CallbackStatus.COMPLETADA, now=end, **kw) is None


# ----------------------------------------------------------------------------- consent, case
def test_given_a_closed_case_when_its_followup_is_checked_then_replaced():
    assert still_wanted(kind=FU, case_closed=True, may_call=True) is CallbackStatus.REEMPLAZADA
    assert still_wanted(kind=FU, case_closed=False, may_call=True) is None
    assert still_wanted(kind=SAT, case_closed=True, may_call=True) is None
    assert still_wanted(kind=SAT, case_closed=False, may_call=True) is CallbackStatus.CANCELADA
    assert still_wanted(kind=SAT, case_closed=True, may_call=False) is CallbackStatus.CANCELADA


def test_given_consent_and_phones_when_choosing_the_number_then_rules_apply():
    fixed, mobile = "+5072345678", "+50761234567"
    ok = CitizenContact(True, None, (fixed, mobile))
    assert callback_phone(contact_phone=None, citizen=ok) == mobile
    assert callback_phone(contact_phone="+50769999999", citizen=ok) == "+50769999999"
    assert callback_phone(contact_phone=None, citizen=CitizenContact(True, None, (fixed,))) == fixed
    assert callback_phone(contact_phone=None, citizen=CitizenContact(True, None, ())) is None
    assert callback_phone(contact_phone=mobile, citizen=CitizenContact(False, None, ())) is None
    opted = CitizenContact(True, pa(23, 9), (mobile,))
    assert callback_phone(contact_phone=mobile, citizen=opted) is None


def test_given_an_anonymous_case_when_choosing_the_number_then_only_its_contact_phone():
    assert callback_phone(contact_phone=None, citizen=None) is None
    assert callback_phone(contact_phone="+50761234567", citizen=None) == "+50761234567"
    assert callback_phone(contact_phone="+50761234567", citizen=None, case_opted_out=True) is None


def test_given_survey_keys_when_checked_then_only_valid_answers_pass():
    assert check_survey_answer("resuelto", "2") == (SurveyQuestion.RESUELTO, "2")
    assert check_survey_answer("satisfaccion", "5")[1] == "5"
    for question, answer in (("resuelto", "3"), ("satisfaccion", "0"), ("otra", "1")):
        with pytest.raises(DomainError):
            check_survey_answer(question, answer)
    assert flags_review(SurveyQuestion.RESUELTO, "2")
    assert not flags_review(SurveyQuestion.RESUELTO, "1")
    assert not flags_review(SurveyQuestion.SATISFACCION, "2")


# ----------------------------------------------------------------------------- a month
def test_given_a_simulated_month_then_every_attempt_is_in_hours_and_window_and_handed_over():
    """2,000 callbacks with 45 % answers: no attempt outside hours or window or after the
    human margin; every unreached callback reaches the human queue before its window ends."""
    rng = random.Random(311)
    start = pa(2, 0, month=11)
    outcomes = (
        [Outcome.ANSWERED] * 45
        + [Outcome.BUSY] * 20
        + [Outcome.NO_ANSWER] * 30
        + [Outcome.FAILED] * 3
        + [Outcome.CONGESTION] * 2
    )
    finals: dict[CallbackStatus, int] = {}
    for _ in range(2000):
        t0 = start + timedelta(minutes=rng.randrange(0, 30 * 24 * 60))
        if rng.random() < 0.5:
            plan = plan_followup(
                opened_at=t0, due_at=t0 + timedelta(days=rng.randint(1, 30)), now=t0, policy=POLICY
            )
        else:
            plan = plan_satisfaction(closed_at=t0, now=t0, policy=POLICY)
        deadline = POLICY.automatic_deadline(plan.kind, plan.window_end_at)
        status, at, attempts = plan.status, plan.next_attempt_at, 0
        handed_over_at = t0 if status is CallbackStatus.TAREA_HUMANA else None
        while status is CallbackStatus.PENDIENTE:
            assert at is not None
            assert POLICY.hours.is_open(at)
            assert plan.window_start_at <= at <= deadline
            attempts += 1
            ended = at + timedelta(seconds=rng.randint(5, 40))
            d = after_attempt(
                kind=plan.kind,
                outcome=rng.choice(outcomes),
                attempts=attempts,
                max_attempts=POLICY.max_attempts,
                window_end_at=plan.window_end_at,
                now=ended,
                policy=POLICY,
            )
            status, at = d.status, d.next_attempt_at
            if status is CallbackStatus.TAREA_HUMANA:
                handed_over_at = ended
        assert attempts <= POLICY.max_attempts
        if status is CallbackStatus.TAREA_HUMANA:
            assert handed_over_at is not None
            assert plan.window_end_at - handed_over_at > POLICY.human_margin(plan.kind) - (
                timedelta(minutes=1)
            )
        finals[status] = finals.get(status, 0) + 1
    assert set(finals) <= {CallbackStatus.COMPLETADA, CallbackStatus.TAREA_HUMANA}
    assert finals[CallbackStatus.COMPLETADA] > 1500
    assert finals[CallbackStatus.TAREA_HUMANA] > 50


def test_given_the_demo_then_its_simulated_citizens_are_called_on_sundays_too():
    """The demo (and its test) runs whenever someone starts it: a Sunday evening in Panama
    once left it with no callbacks, hence no survey answers."""
    from pathlib import Path

    from cac311.config import HostPort, Settings
    from cac311.demo import DemoOptions, demo_settings
    from case_core.services.callbacks import policy_for

    options = DemoOptions(http=HostPort("127.0.0.1", 0), data_dir=Path("var/demo"))
    settings = demo_settings(
        Settings(), options, database_url="postgresql+asyncpg://x/y", ami_port=1, secret="s"
    )
    sunday_night = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)  # Sunday 21:30 in Panama
    assert policy_for(settings).hours.is_open(sunday_night)
    assert not policy_for(Settings()).hours.is_open(sunday_night)  # production: Mon-Sat 8-20
