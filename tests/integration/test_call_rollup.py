"""The 15-minute roll-up answers exactly what the reference call_metrics computes from the
calls, interval by interval, whatever the interval, period edges, "as of" and queue; calls
written after a roll-up are read from the calls until the roll-up job refreshes them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from case_core.db.models import CallRow
from case_core.metrics.calls import call_metrics
from case_core.metrics.rollup import (
    rebuild_rollup,
    refresh_dirty,
    rolled_up_call_metrics,
)
from case_core.metrics.service_level import Thresholds
from case_core.services.calls import CallSnapshot, save_call

START = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)  # midnight in Panama
TH = Thresholds(15, 5)


def _random_calls(rng: random.Random, n: int) -> list[CallRow]:
    rows = []
    for i in range(n):
        entered = START + timedelta(seconds=rng.uniform(0, 2 * 86400))
        kind = rng.random()
        hold = int(rng.lognormvariate(2, 1.2))
        values: dict[str, object] = dict(
            server="pbx1",
            uniqueid=f"1795{i}.1",
            direction="outbound" if rng.random() < 0.03 else "inbound",
            queue=rng.choice(["cac311", "cac311", "vip", None]),
            entered_at=entered,
            hold_seconds=None if rng.random() < 0.05 else hold,
        )
        if kind < 0.75:  # answered
            answered = entered + timedelta(seconds=hold + rng.random())
            talk = int(rng.uniform(20, 600))
            values |= dict(
                answered_at=answered,
                ended_at=answered + timedelta(seconds=talk),
                talk_seconds=None if rng.random() < 0.05 else talk,
            )
        elif kind < 0.9:  # abandoned
            values |= dict(
                abandoned=True,
                ended_at=None if rng.random() < 0.05 else entered + timedelta(seconds=hold),
            )
        elif kind < 0.95:  # ended without answer (unknown end)
            values |= dict(ended_at=entered + timedelta(seconds=hold), end_unknown=True)
        # else: still waiting, no outcome yet
        rows.append(CallRow(**values))
    return rows


def _same(reference, rolled) -> None:
    assert len(reference.intervals) == len(rolled.intervals)
    for a, b in zip(reference.intervals, rolled.intervals, strict=True):
        assert (a.start, a.end, a.incomplete) == (b.start, b.end, b.incomplete)
        ca, cb = a.counts, b.counts
        for name in (
            "offered",
            "answered",
            "abandoned",
            "short_abandons",
            "answered_in_threshold",
            "abandoned_in_threshold",
            "waiting",
            "other",
            "talk_count",
        ):
            assert getattr(ca, name) == getattr(cb, name), (a.start, name)
        for name in ("wait_answered_sum", "talk_sum", "longest_wait"):
            x, y = getattr(ca, name), getattr(cb, name)
            assert (x is None) == (y is None) and (x is None or abs(x - y) < 1e-6), (a.start, name)


@pytest.fixture
async def calls(uow_factory):
    rng = random.Random(311)
    async with uow_factory() as uow:
        uow.session.add_all(_random_calls(rng, 1500))
        await uow.commit()
    return uow_factory


CASES = [
    # (start, end, interval, as_of, queue)
    (START, START + timedelta(days=2), "15min", None, None),
    (START, START + timedelta(days=2), "hour", None, "cac311"),
    (START, START + timedelta(days=2), "day", None, None),
    (START, START + timedelta(days=2), "month", START + timedelta(days=3), None),
    (START, START + timedelta(days=2), "week", None, "vip"),
    # unaligned edges, and "as of" in the middle of the period (calls still waiting then)
    (
        START + timedelta(minutes=7, seconds=3),
        START + timedelta(hours=30, minutes=2),
        "hour",
        START + timedelta(hours=20, minutes=1),
        None,
    ),
    (START + timedelta(hours=1), START + timedelta(days=1), "30min", None, None),
]


async def test_the_roll_up_equals_the_reference_interval_by_interval(calls, panama):
    now = START + timedelta(days=2, hours=1)
    quarters = await rebuild_rollup(calls, START, START + timedelta(days=2), now=now, thresholds=TH)
    assert quarters == 2 * 96
    for start, end, interval, as_of, queue in CASES:
        reference = await call_metrics(
            calls, start, end, interval, panama, queue=queue, as_of=as_of, thresholds=TH
        )
        rolled = await rolled_up_call_metrics(
            calls, start, end, interval, panama, queue=queue, as_of=as_of, thresholds=TH
        )
        _same(reference, rolled)
        assert reference.total.counts.offered > 0


async def test_the_roll_up_is_actually_read_for_final_quarter_hours(calls, panama):
    """Poison the roll-up: the answer changes, so it really comes from the roll-up (and a
    query with other thresholds ignores it)."""
    now = START + timedelta(days=3)
    await rebuild_rollup(calls, START, START + timedelta(days=2), now=now, thresholds=TH)
    async with calls() as uow:
        await uow.session.execute(text("UPDATE call_rollup_15m SET offered = offered + 1000"))
        await uow.commit()
    day = (START, START + timedelta(days=1))
    rolled = await rolled_up_call_metrics(calls, *day, "day", panama, thresholds=TH)
    reference = await call_metrics(calls, *day, "day", panama, thresholds=TH)
    assert rolled.total.counts.offered > reference.total.counts.offered + 1000
    other = Thresholds(20, 5)
    _same(
        await call_metrics(calls, *day, "day", panama, thresholds=other),
        await rolled_up_call_metrics(calls, *day, "day", panama, thresholds=other),
    )


async def test_calls_written_after_the_roll_up_are_counted_until_the_job_refreshes_it(
    calls, panama
):
    now = START + timedelta(days=3)
    period = (START, START + timedelta(days=2))
    await rebuild_rollup(calls, *period, now=now, thresholds=TH)
    # The bridge stores a new call and ends another one in already rolled-up quarter hours.
    entered = START + timedelta(hours=10, minutes=3)
    await save_call(
        calls,
        CallSnapshot(
            server="pbx1",
            uniqueid="new.1",
            linkedid="new.0",
            queue="cac311",
            entered_at=entered,
            answered_at=entered + timedelta(seconds=4),
            ended_at=entered + timedelta(seconds=100),
            hold_seconds=4,
            talk_seconds=96,
        ),
    )
    async with calls() as uow:
        waiting = await uow.session.scalar(
            text(
                "SELECT uniqueid FROM calls WHERE ended_at IS NULL AND NOT abandoned "
                "AND direction = 'inbound' AND entered_at < :t ORDER BY entered_at LIMIT 1"
            ),
            {"t": START + timedelta(days=1)},
        )
        row = await uow.session.scalar(
            text("SELECT entered_at FROM calls WHERE uniqueid = :u"), {"u": waiting}
        )
    await save_call(
        calls,
        CallSnapshot(
            server="pbx1",
            uniqueid=waiting,
            linkedid=None,
            entered_at=row,
            ended_at=row + timedelta(seconds=30),
            abandoned=True,
            hold_seconds=30,
        ),
    )
    for as_of in (None, now):
        _same(
            await call_metrics(calls, *period, "15min", panama, as_of=as_of, thresholds=TH),
            await rolled_up_call_metrics(
                calls, *period, "15min", panama, as_of=as_of, thresholds=TH
            ),
        )
    async with calls() as uow:
        flagged = await uow.session.scalar(text("SELECT count(*) FROM call_rollup_dirty"))
    assert flagged == 2
    assert await refresh_dirty(calls, now=now, thresholds=TH, recent=timedelta(0)) == 2
    async with calls() as uow:
        assert await uow.session.scalar(text("SELECT count(*) FROM call_rollup_dirty")) == 0
        # Read from the roll-up again: the refreshed quarter hours are final.
        assert (
            await uow.session.scalar(
                text(
                    "SELECT offered FROM call_rollup_15m "
                    "WHERE bucket_start = :b AND queue = 'cac311'"
                ),
                {"b": START + timedelta(hours=10)},
            )
        ) >= 1
    _same(
        await call_metrics(calls, *period, "15min", panama, thresholds=TH),
        await rolled_up_call_metrics(calls, *period, "15min", panama, thresholds=TH),
    )


async def test_the_rebuild_command_rolls_up_whole_local_days(calls, migrated_database, monkeypatch):
    import asyncio

    from cac311.cli import main

    monkeypatch.setenv("CAC311_DATABASE_URL", migrated_database)
    assert (
        await asyncio.to_thread(
            main, ["metrics", "rollup", "--from", "2026-11-02", "--to", "2026-11-03"]
        )
        == 0
    )
    async with calls() as uow:
        first, last, n = (
            await uow.session.execute(
                text(
                    "SELECT min(bucket_start), max(bucket_start), count(*) FROM call_rollup_buckets"
                )
            )
        ).one()
    assert (first, last, n) == (START, START + timedelta(days=2) - timedelta(minutes=15), 192)
    assert (
        await asyncio.to_thread(
            main, ["metrics", "rollup", "--from", "2026-11-03", "--to", "2026-11-02"]
        )
        == 2
    )
