"""Call metrics in PostgreSQL: formulas, Panama-time buckets, outages, Asterisk reconciliation."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from case_core.db.models import CallRow, CaseRow
from case_core.db.models.desktop import AgentStateEventRow
from case_core.metrics.agents import agent_figures
from case_core.metrics.calls import CALL_METRICS_COLUMNS, call_metrics, call_metrics_csv
from case_core.metrics.outages import outages_between, record_link_down, record_link_up
from case_core.metrics.service_level import QueuedCall, Thresholds, count_calls
from tests.transcripts import transcript_dir
from tests.unit.test_service_level import AS_OF, HAND_SET, T0, TH, answered

_ids = itertools.count(1)


def call_row(c: QueuedCall, **extra: object) -> CallRow:
    values: dict[str, object] = dict(
        uniqueid=f"1795475000.{next(_ids)}",
        direction="inbound",
        queue="cac311",
        entered_at=c.entered_at,
        answered_at=c.answered_at,
        ended_at=c.ended_at,
        hold_seconds=c.hold_seconds,
        talk_seconds=c.talk_seconds,
        abandoned=c.abandoned,
    )
    return CallRow(**(values | extra))


async def insert(uow_factory, rows) -> None:
    async with uow_factory() as uow:
        uow.session.add_all(list(rows))
        await uow.commit()


def counts_tuple(c):
    return (
        c.offered,
        c.answered,
        c.abandoned,
        c.short_abandons,
        c.answered_in_threshold,
        c.abandoned_in_threshold,
        c.waiting,
        c.other,
    )


async def test_given_the_hand_set_when_computed_in_sql_then_it_equals_the_hand_figures(
    uow_factory, panama
):
    await insert(uow_factory, [call_row(c) for c in HAND_SET])
    # an outbound call and a call of the next interval are not counted
    await insert(
        uow_factory, [call_row(QueuedCall(T0 + timedelta(minutes=1)), direction="outbound")]
    )
    await insert(uow_factory, [call_row(QueuedCall(AS_OF, answered_at=AS_OF, hold_seconds=0))])

    report = await call_metrics(uow_factory, T0, AS_OF, "15min", panama, thresholds=TH)

    [only] = report.intervals
    assert (only.start, only.end, only.incomplete) == (T0, AS_OF, False)
    c = only.counts
    assert counts_tuple(c) == (9, 4, 3, 1, 2, 2, 1, 1)
    assert counts_tuple(c) == counts_tuple(count_calls(HAND_SET, AS_OF, TH))
    assert c.average_speed_of_answer == pytest.approx(15.25)
    assert c.longest_wait == pytest.approx(60.0)
    assert c.average_handle_time == pytest.approx(90.0)
    sls = only.service_levels
    assert [(f.numerator, f.denominator) for f in sls.values()] == [(2, 6), (2, 4), (4, 7), (2, 9)]
    assert only.headline.formula == "sl_311"


async def test_given_a_cutoff_inside_a_call_then_outcomes_are_evaluated_as_of_it(
    uow_factory, panama
):
    await insert(uow_factory, [call_row(c) for c in HAND_SET])
    as_of = T0 + timedelta(seconds=125)  # call 3 (entered 120 s, answered 136 s) still waits
    report = await call_metrics(uow_factory, T0, AS_OF, "15min", panama, thresholds=TH, as_of=as_of)
    c = report.total.counts
    assert (c.offered, c.answered, c.waiting) == (3, 2, 1)
    assert c.longest_wait == pytest.approx(15.0)  # the waiting call has waited 5 s
    assert counts_tuple(c) == counts_tuple(
        count_calls([x for x in HAND_SET if x.entered_at <= as_of], as_of, TH)
    )


async def test_given_thresholds_from_settings_then_the_sql_uses_them(uow_factory, panama):
    from cac311.config import Settings

    await insert(uow_factory, [call_row(c) for c in HAND_SET])
    settings = Settings(service_level_seconds=16, short_abandon_seconds=6)
    c = (await call_metrics(uow_factory, T0, AS_OF, "hour", panama, settings)).total.counts
    assert (c.answered_in_threshold, c.short_abandons) == (3, 2)


def local(*args: int) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo("America/Panama"))


async def test_given_calls_around_local_midnight_then_days_are_panama_days(uow_factory, panama):
    late = local(2026, 11, 2, 23, 50)  # 04:50 UTC on the 3rd
    early = local(2026, 11, 3, 0, 10)
    await insert(
        uow_factory,
        [call_row(QueuedCall(t, answered_at=t, hold_seconds=0)) for t in (late, early)],
    )
    report = await call_metrics(
        uow_factory, local(2026, 11, 2), local(2026, 11, 5), "day", "America/Panama"
    )
    assert [i.start for i in report.intervals] == [
        datetime(2026, 11, d, 5, 0, tzinfo=UTC) for d in (2, 3, 4)
    ]
    assert [i.counts.offered for i in report.intervals] == [1, 1, 0]


async def test_given_calls_at_interval_edges_then_15min_and_hour_buckets_split_them(
    uow_factory, panama
):
    times = [local(2026, 11, 2, 10, 14, 59), local(2026, 11, 2, 10, 15), local(2026, 11, 2, 11)]
    await insert(
        uow_factory, [call_row(QueuedCall(t, answered_at=t, hold_seconds=0)) for t in times]
    )
    start, end = local(2026, 11, 2, 10), local(2026, 11, 2, 12)
    q = await call_metrics(uow_factory, start, end, "15min", panama)
    assert len(q.intervals) == 8
    assert [i.counts.offered for i in q.intervals] == [1, 1, 0, 0, 1, 0, 0, 0]
    h = await call_metrics(uow_factory, start, end, "hour", panama)
    assert [i.counts.offered for i in h.intervals] == [2, 1]
    assert all(i.headline.percent in (None, 100.0) for i in h.intervals)


async def test_given_a_call_late_on_october_31_in_panama_then_it_belongs_to_october(
    uow_factory, panama
):
    t = local(2026, 10, 31, 23, 30)  # already November in UTC
    await insert(uow_factory, [call_row(QueuedCall(t, answered_at=t, hold_seconds=0))])
    report = await call_metrics(
        uow_factory, local(2026, 10, 1), local(2026, 12, 1), "month", panama
    )
    assert [(i.start, i.counts.offered) for i in report.intervals] == [
        (local(2026, 10, 1), 1),
        (local(2026, 11, 1), 0),
    ]


async def test_given_an_unaligned_period_then_edge_intervals_are_clipped(uow_factory, panama):
    report = await call_metrics(
        uow_factory, local(2026, 11, 2, 10, 5), local(2026, 11, 2, 10, 40), "15min", panama
    )
    assert [(i.start, i.end) for i in report.intervals] == [
        (local(2026, 11, 2, 10, 5), local(2026, 11, 2, 10, 15)),
        (local(2026, 11, 2, 10, 15), local(2026, 11, 2, 10, 30)),
        (local(2026, 11, 2, 10, 30), local(2026, 11, 2, 10, 40)),
    ]


async def test_given_an_ami_outage_then_overlapping_intervals_are_incomplete(uow_factory, panama):
    assert await record_link_down(uow_factory, "pbx1", local(2026, 11, 2, 10, 20))
    assert not await record_link_down(uow_factory, "pbx1", local(2026, 11, 2, 10, 21))
    assert await record_link_up(uow_factory, "pbx1", local(2026, 11, 2, 10, 25))
    assert not await record_link_up(uow_factory, "pbx1", local(2026, 11, 2, 10, 26))
    start, end = local(2026, 11, 2, 10), local(2026, 11, 2, 11)
    report = await call_metrics(uow_factory, start, end, "15min", panama)
    assert [i.incomplete for i in report.intervals] == [False, True, False, False]
    assert report.total.incomplete

    # a link still down flags every interval from its start
    assert await record_link_down(uow_factory, "pbx2", local(2026, 11, 2, 10, 50))
    report = await call_metrics(uow_factory, start, end, "15min", panama)
    assert [i.incomplete for i in report.intervals] == [False, True, False, True]
    outages = await outages_between(uow_factory, start, end)
    assert [(o.server, o.up_at is None) for o in outages] == [("pbx1", False), ("pbx2", True)]


async def test_given_metrics_when_exported_then_the_csv_has_the_documented_columns(
    uow_factory, panama
):
    await insert(uow_factory, [call_row(c) for c in HAND_SET])
    report = await call_metrics(uow_factory, T0, T0 + timedelta(minutes=30), "15min", panama)
    lines = call_metrics_csv(report).splitlines()
    assert lines[0].split(",") == list(CALL_METRICS_COLUMNS)
    assert len(lines) == 1 + 2 + 1  # header, two intervals, total
    first = dict(zip(CALL_METRICS_COLUMNS, lines[1].split(","), strict=True))
    assert first["inicio"] == "2026-11-02T10:00:00-05:00"
    assert (first["ofrecidas"], first["nivel_servicio_311_pct"]) == ("9", "33.3")
    assert first["nivel_servicio_asterisk2_pct"] == "57.1"


# --- Reconciliation with app_queue's own QueueStatus figures --------------------------------


@dataclass
class LoggedCall:
    uniqueid: str
    entered: int
    hold: int | None = None
    talk: int | None = None
    outcome_at: int | None = None
    answered: bool = False
    abandoned: bool = False


def queue_log_calls() -> list[LoggedCall]:
    """Calls of queue_log.txt: ENTERQUEUE, CONNECT, COMPLETE*, ABANDON, EXITWITHTIMEOUT."""
    calls: dict[str, LoggedCall] = {}
    for line in (transcript_dir() / "queue_log.txt").read_text().splitlines():
        at, uid, _queue, _agent, event, *data = line.split("|")
        if event == "ENTERQUEUE":
            calls[uid] = LoggedCall(uid, int(at))
        elif event == "CONNECT":
            calls[uid].hold, calls[uid].answered = int(data[0]), True
        elif event in ("COMPLETEAGENT", "COMPLETECALLER"):
            calls[uid].talk, calls[uid].outcome_at = int(data[1]), int(at)
        elif event in ("ABANDON", "EXITWITHTIMEOUT"):
            c = calls[uid]
            c.hold, c.abandoned, c.outcome_at = int(data[2]), True, int(at)
    return list(calls.values())


def queue_params_blocks(folder: str = "") -> list[dict[str, str]]:
    """Every ``Event: QueueParams`` block of the AMI transcripts of one capture folder.

    The top folder (2026-11-23) is one Asterisk session, matching queue_log.txt; the folder
    ``2026-12-01`` came from another run (its counters do not continue these), so the two
    are never read as one session.
    """
    blocks = []
    for path in sorted((transcript_dir() / folder).glob("ami-*.txt")):
        current: dict[str, str] | None = None
        for raw in path.read_text().splitlines():
            line = raw[3:] if raw.startswith(">> ") else None
            if line == "Event: QueueParams":
                current = {}
            elif current is not None:
                if not line:
                    blocks.append(current)
                    current = None
                else:
                    key, _, value = line.partition(": ")
                    current[key] = value
    return blocks


def epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def test_given_the_transcript_calls_then_our_variants_equal_asterisks_queuestatus(
    uow_factory, panama
):
    calls = queue_log_calls()
    assert [(c.answered, c.abandoned, c.hold) for c in calls] == [
        (True, False, 0),
        (False, True, 20),
        (True, False, 18),
        (False, True, 30),  # EXITWITHTIMEOUT: app_queue counts it as abandoned
    ]
    rows = []
    for c in calls:
        entered = epoch(c.entered)
        answered = entered + timedelta(seconds=c.hold) if c.answered else None
        rows.append(
            call_row(
                QueuedCall(
                    entered,
                    answered_at=answered,
                    ended_at=epoch(c.outcome_at) if c.outcome_at else None,
                    hold_seconds=c.hold,
                    talk_seconds=c.talk,
                    abandoned=c.abandoned,
                )
            )
        )
    await insert(uow_factory, rows)

    blocks = queue_params_blocks()
    seen = {(b["ServicelevelPerf"], b["ServicelevelPerf2"]) for b in blocks}
    assert {("100.0", "50.0"), ("50.0", "33.3"), ("50.0", "25.0")} <= seen
    first, last = epoch(calls[0].entered), epoch(calls[-1].outcome_at or 0)
    for block in blocks:
        completed, abandoned = int(block["Completed"]), int(block["Abandoned"])
        # Asterisk's counters at that moment: the first `completed` answered calls that
        # ended and the first `abandoned` abandons. Cut our figures just after them.
        answered_calls = [c for c in calls if c.answered][:completed]
        abandoned_calls = [c for c in calls if c.abandoned][:abandoned]
        outcomes = [c.outcome_at for c in answered_calls + abandoned_calls if c.outcome_at]
        as_of = (
            epoch(max(outcomes)) + timedelta(seconds=1)
            if outcomes
            else first - timedelta(seconds=1)
        )
        report = await call_metrics(
            uow_factory,
            first - timedelta(days=1),
            last + timedelta(days=1),
            "month",
            panama,
            thresholds=Thresholds(int(block["ServiceLevel"]), 5),
            as_of=as_of,
        )
        total = report.total
        assert (total.counts.answered, total.counts.abandoned) == (completed, abandoned)
        sls = total.service_levels
        assert sls["sl_answered"].asterisk() == block["ServicelevelPerf"], block
        assert sls["sl_asterisk2"].asterisk() == block["ServicelevelPerf2"], block


# --- Agent figures ---------------------------------------------------------------------------


async def test_given_calls_cases_and_pauses_then_agent_figures_add_up(seeded, panama):
    async with seeded() as uow:
        users = {
            u.username: u for u in (await uow.session.execute(text("SELECT * FROM users"))).all()
        }
        entity_id = (
            await uow.session.execute(text("SELECT id FROM entities WHERE code = 'IDAAN'"))
        ).scalar_one()
    ana = users["agente1"]
    start, end = local(2026, 11, 2), local(2026, 11, 3)
    t = local(2026, 11, 2, 9)
    rows: list[object] = [
        call_row(answered(0, 5, talk=100), agent_user_id=ana.id, agent_name="Agente Ana"),
        call_row(answered(100, 5, talk=200), agent_user_id=ana.id),
        # no user id on the call: matched through the user's phone interface
        call_row(answered(200, 5, talk=50), agent_interface="PJSIP/1002"),
        # an interface no user has
        call_row(answered(300, 5, talk=30), agent_interface="Local/100@agents/n",
                 agent_name="Agente Ana (pruebas)"),
        # outside the period
        call_row(answered(-86400, 5, talk=999), agent_user_id=ana.id),
    ]  # fmt: skip
    for i, secs in enumerate([120.0, 240.0, 300.0]):
        rows.append(
            CaseRow(
                number=f"2026-9{i:05d}",
                type="queja",
                channel="telefono",
                status="registrado",
                entity_id=entity_id,
                description="prueba",
                sla_days=5,
                opened_at=t + timedelta(minutes=i),
                due_at=t + timedelta(days=5),
                registered_by_user_id=ana.id,
                pop_to_save_seconds=secs,
            )
        )
    # Ana: paused since the previous day until 08:00, then 12:00-12:30
    for at, state in [
        (local(2026, 11, 1, 18), "paused"),
        (local(2026, 11, 2, 8), "available"),
        (local(2026, 11, 2, 12), "paused"),
        (local(2026, 11, 2, 12, 30), "available"),
    ]:
        rows.append(AgentStateEventRow(interface="PJSIP/1001", state=state, at=at, source="test"))
    await insert(seeded, rows)

    figures = {f.name: f for f in await agent_figures(seeded, start, end)}
    a = figures["Ana Batista"]
    assert (a.calls_handled, a.talk_seconds, a.average_talk) == (2, 300.0, 150.0)
    assert a.pause_seconds == pytest.approx(8 * 3600 + 30 * 60)
    assert (a.cases_registered, a.timed_cases, a.cases_within_goal) == (3, 3, 2)
    assert a.within_goal_percent == pytest.approx(200 / 3)
    assert a.average_pop_to_save == pytest.approx(220.0)
    assert (figures["Luis Herrera"].calls_handled, figures["Luis Herrera"].talk_seconds) == (1, 50)
    other = figures["Agente Ana (pruebas)"]
    assert (other.user_id, other.interface, other.calls_handled) == (
        None,
        "Local/100@agents/n",
        1,
    )
    # cut at 12:15: only a quarter hour of the second pause has happened
    cut = await agent_figures(seeded, start, end, as_of=local(2026, 11, 2, 12, 15))
    assert {f.name: f for f in cut}["Ana Batista"].pause_seconds == pytest.approx(8.25 * 3600)


def test_the_2026_12_01_captures_are_another_session_and_are_not_mixed_with_the_first():
    """Read together, the counters would go back to 0 after the first folder's 2 completed
    calls and 2 abandons: each folder is checked against its own Asterisk session only."""
    first = queue_params_blocks()
    second = queue_params_blocks("2026-12-01")
    assert first and second
    assert max(int(b["Completed"]) for b in first) == 2
    assert min(int(b["Completed"]) + int(b["Abandoned"]) for b in second) == 0
    # Within the second run every block is self-consistent: no abandon, so both service
    # levels are the share of completed calls answered in time.
    for block in second:
        assert block["Abandoned"] == "0"
        assert block["ServicelevelPerf"] in ("0.0", "100.0")
