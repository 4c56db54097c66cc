"""CallTracker replaying the recorded calls; timings checked against queue_log.txt.

``received_at`` of each event is rebuilt as epoch ``base + t``, where ``base`` comes from
the first OriginateResponse's Uniqueid (the epoch second its channel was created), so the
tracker's timestamps can be compared with queue_log.txt within a second.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ami import events as ev
from ami.protocol import AmiParser
from ami.tracker import CallTracker, CallUpdate
from tests.transcripts import load_jsonl, transcript_dir

SERVER = "pbx1"


def timeline(name: str) -> list[tuple[float, ev.AmiEvent]]:
    """(t, typed event) for every Asterisk event; received_at = epoch base + t."""
    raw: list[tuple[float, object]] = []
    parser = AmiParser()
    for row in load_jsonl(name):
        if row["dir"] == "asterisk" and not row["data"].startswith("<"):
            raw.extend((row["t"], m) for m in parser.feed(row["data"].encode()))
    base: float | None = None
    out: list[tuple[float, ev.AmiEvent]] = []
    for t, message in raw:
        event = ev.to_event(message, SERVER, datetime.fromtimestamp(0, UTC))  # type: ignore[arg-type]
        if isinstance(event, ev.OriginateResponse) and base is None:
            base = float(event.uniqueid or 0) - t
        if event is not None:
            out.append((t, event))
    assert base is not None
    return [(t, replace(e, received_at=datetime.fromtimestamp(base + t, UTC))) for t, e in out]


def queue_log() -> dict[str, list[list[str]]]:
    """queue_log.txt rows grouped by call uniqueid."""
    calls: dict[str, list[list[str]]] = {}
    for line in (transcript_dir() / "queue_log.txt").read_text().splitlines():
        parts = line.split("|")
        if parts[1] not in ("NONE", "MANAGER"):
            calls.setdefault(parts[1], []).append(parts)
    return calls


def run(tracker: CallTracker, events, until: float | None = None) -> list[CallUpdate]:
    updates: list[CallUpdate] = []
    for t, event in events:
        if until is None or t < until:
            updates.extend(tracker.handle(event))
    return updates


def ts(row: list[str]) -> datetime:
    return datetime.fromtimestamp(int(row[0]), UTC)


def close(a: datetime | None, b: datetime, seconds: float = 1.5) -> bool:
    return a is not None and abs((a - b).total_seconds()) <= seconds


def test_answered_call_even_though_leave_comes_before_connect() -> None:
    tracker = CallTracker()
    updates = run(tracker, timeline("ami-queue-call-answered"))
    # QueueCallerLeave (an "updated") comes before AgentConnect
    assert [u.change for u in updates] == ["queued", "updated", "answered", "updated", "ended"]
    assert updates[1].record.left_queue_at and updates[1].record.answered_at is None
    record = updates[-1].record
    log = {row[4]: row for row in queue_log()["1795475111.1"]}
    assert record.key == (SERVER, "1795475111.1")
    assert record.linkedid == "1795475111.0"
    assert record.caller_number == log["ENTERQUEUE"][6] == "62345678"
    assert record.hold_seconds == int(log["CONNECT"][5]) == 0
    assert record.agent_uniqueid == log["CONNECT"][6] == "1795475132.2"
    assert record.ring_seconds == int(log["CONNECT"][7]) == 0
    assert record.talk_seconds == int(log["COMPLETEAGENT"][6]) == 5
    assert record.end_reason == "agent" and not record.abandoned
    assert (record.agent_interface, record.agent_member_name) == (
        "Local/100@agents/n",
        "Agente Ana",
    )
    assert close(record.entered_at, ts(log["ENTERQUEUE"]))
    assert close(record.answered_at, ts(log["CONNECT"]))
    assert close(record.ended_at, ts(log["COMPLETEAGENT"]))
    assert record.answered_at and record.ended_at
    assert abs((record.ended_at - record.answered_at).total_seconds() - 5) < 1
    assert record.recording_filename == "1795475111.1.wav"
    assert record.ivr == {"CAC311_INTENT": "queja", "CAC311_CEDULA": "8-123-4567"}
    assert record.hangup_cause == 16
    assert tracker.calls() == []


def test_abandoned_call() -> None:
    tracker = CallTracker()
    updates = run(tracker, timeline("ami-queue-call-abandoned"))
    assert [u.change for u in updates] == ["queued", "abandoned", "updated", "ended"]
    record = updates[-1].record
    abandon = {row[4]: row for row in queue_log()["1795475142.5"]}["ABANDON"]
    assert record.abandoned and record.end_reason == "abandon"
    assert record.hold_seconds == int(abandon[7]) == 20
    assert record.answered_at is None and record.talk_seconds is None
    assert record.entered_at and record.ended_at
    assert abs((record.ended_at - record.entered_at).total_seconds() - 20) <= 1
    assert close(record.ended_at, ts(abandon))
    assert tracker.calls() == []


def test_late_answer_then_redirect_gets_talk_time_after_hangup() -> None:
    tracker = CallTracker()
    updates = run(tracker, timeline("ami-queue-call-answered-late-and-redirect"))
    assert [u.change for u in updates] == ["queued", "updated", "answered", "ended", "ended"]
    at_hangup, final = updates[3].record, updates[4].record
    assert at_hangup.talk_seconds is None and at_hangup.ended_at is not None
    log = {row[4]: row for row in queue_log()["1795475264.25"]}
    assert final.hold_seconds == int(log["CONNECT"][5]) == 18
    assert final.talk_seconds == int(log["COMPLETECALLER"][6]) == 10
    assert final.end_reason == "caller"
    assert final.entered_at and final.answered_at
    assert abs((final.answered_at - final.entered_at).total_seconds() - 18) <= 1
    assert close(final.answered_at, ts(log["CONNECT"]))
    assert close(final.ended_at, ts(log["COMPLETECALLER"]))
    assert final.agent_uniqueid == log["CONNECT"][6]
    assert tracker.calls() == []


def _resync_from_transcript(events, server: str = SERVER, *, at_t: float) -> ev.Resync:
    entries = tuple(e for t, e in events if isinstance(e, ev.QueueEntry) and t < at_t)
    channels = tuple(e for t, e in events if isinstance(e, ev.CoreShowChannel) and t < at_t)
    requested = entries[0].received_at - timedelta(milliseconds=1)
    return ev.Resync(
        server=server,
        received_at=channels[-1].received_at,
        requested_at=requested,
        params=(),
        members=(),
        entries=entries,
        channels=channels,
        uptime=None,
        asterisk_restarted=False,
    )


def test_ringnoanswer_timeout_counts_as_abandoned_and_survives_resync() -> None:
    events = timeline("ami-resync-ringnoanswer-timeout")
    tracker = CallTracker()
    run(tracker, events, until=16.56)
    snapshot = _resync_from_transcript(events, at_t=17.1)
    assert tracker.handle(snapshot) == []  # still in QueueEntry: kept open
    updates = run(tracker, [(t, e) for t, e in events if t >= 16.56])
    record = updates[-1].record
    log = {row[4]: row for row in queue_log()["1795475415.29"]}
    assert record.abandoned and record.hold_seconds == int(log["EXITWITHTIMEOUT"][7]) == 30
    assert record.ring_no_answer_count == 2
    assert record.ring_seconds == (15000 + 14000) // 1000
    assert close(record.ended_at, ts(log["EXITWITHTIMEOUT"]))
    assert not record.unknown_end and tracker.calls() == []


def test_resync_closes_calls_gone_while_disconnected_only_on_that_server() -> None:
    events = timeline("ami-resync-ringnoanswer-timeout")
    tracker = CallTracker()
    run(tracker, events, until=16.56)
    other = ev.QueueCallerJoin(
        **{
            **vars(next(e for _, e in events if isinstance(e, ev.QueueCallerJoin))),
            "server": "pbx2",
        },
    )
    tracker.handle(other)
    later = events[-1][1].received_at
    empty = ev.Resync(
        server=SERVER,
        received_at=later,
        requested_at=later,
        params=(),
        members=(),
        entries=(),
        channels=(),
        uptime=500,
        asterisk_restarted=False,
    )
    (update,) = tracker.handle(empty)
    assert update.change == "ended" and update.record.unknown_end
    assert update.record.ended_at == later and update.record.uniqueid == "1795475415.29"
    assert [c.server for c in tracker.calls()] == ["pbx2"]


def test_resync_does_not_close_a_call_seen_after_the_snapshot_was_requested() -> None:
    events = timeline("ami-resync-ringnoanswer-timeout")
    tracker = CallTracker()
    run(tracker, events, until=16.56)
    first = events[0][1].received_at
    snapshot = ev.Resync(
        server=SERVER,
        received_at=first,
        requested_at=first,
        params=(),
        members=(),
        entries=(),
        channels=(),
        uptime=None,
        asterisk_restarted=False,
    )
    assert tracker.handle(snapshot) == []


def test_resync_recovers_a_queued_call_we_never_saw() -> None:
    events = timeline("ami-resync-ringnoanswer-timeout")
    snapshot = _resync_from_transcript(events, at_t=17.1)
    tracker = CallTracker()
    (update,) = tracker.handle(snapshot)
    record = update.record
    assert update.change == "recovered" and record.recovered
    assert (record.uniqueid, record.linkedid, record.caller_number, record.queue) == (
        "1795475415.29",
        "1795475415.28",
        "69990000",
        "cac311",
    )
    enter = {row[4]: row for row in queue_log()["1795475415.29"]}["ENTERQUEUE"]
    assert close(record.entered_at, ts(enter))
    updates = run(tracker, [(t, e) for t, e in events if t >= 17.1])
    assert updates[-1].record.abandoned and updates[-1].record.hold_seconds == 30


def _timed_out_then_back_in_queue(tracker: CallTracker) -> ev.QueueCallerJoin:
    """The ringnoanswer-timeout call up to its QueueCallerAbandon (Queue() timeout), then the
    QueueCallerJoin that extensions.conf's queue loop produces 10 s later (same channel)."""
    events = timeline("ami-resync-ringnoanswer-timeout")
    run(tracker, [(t, e) for t, e in events if not isinstance(e, ev.Hangup)])
    join = next(e for _, e in events if isinstance(e, ev.QueueCallerJoin))
    abandon = next(e for _, e in events if isinstance(e, ev.QueueCallerAbandon))
    again = replace(join, received_at=abandon.received_at + timedelta(seconds=10))
    assert [u.change for u in tracker.handle(again)] == ["updated"]
    return again


def test_a_caller_requeued_after_the_queue_timeout_keeps_the_whole_wait() -> None:
    tracker = CallTracker()
    again = _timed_out_then_back_in_queue(tracker)
    record = tracker.get(SERVER, again.uniqueid)
    assert record is not None and not record.abandoned  # still waiting, not an abandon
    connect = next(
        e for _, e in timeline("ami-queue-call-answered") if isinstance(e, ev.AgentConnect)
    )
    connect = replace(
        connect,
        channel=again.channel,
        uniqueid=again.uniqueid,
        linkedid=again.linkedid,
        hold_time=3,  # app_queue's HoldTime counts this pass only
        received_at=again.received_at + timedelta(seconds=3),
    )
    (update,) = tracker.handle(connect)
    # 30 s in the first pass + 10 s back to the queue + 3 s: far outside a 15 s threshold.
    assert update.change == "answered" and update.record.hold_seconds == 43
    assert not update.record.abandoned


def test_a_caller_requeued_then_hanging_up_is_not_a_short_abandon() -> None:
    tracker = CallTracker()
    again = _timed_out_then_back_in_queue(tracker)
    events = timeline("ami-resync-ringnoanswer-timeout")
    abandon = next(e for _, e in events if isinstance(e, ev.QueueCallerAbandon))
    late = replace(abandon, hold_time=2, received_at=again.received_at + timedelta(seconds=2))
    (update,) = tracker.handle(late)
    assert update.record.abandoned and update.record.hold_seconds == 42
