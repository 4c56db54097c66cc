"""CallTracker on the 2026-12-01 captures (another run of Asterisk 22.10.1, PJSIP agents).

Each capture is replayed alone: their uniqueids and queue counters do not continue those of
the top-level captures.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from ami import events as ev
from ami.tracker import READBACK_AGENT_VAR, CallTracker
from tests.protocol.test_ami_tracker import run, timeline

READBACK = "2026-12-01/ami-redirect-both-legs-readback"
LIFECYCLE = "2026-12-01/ami-queue-member-lifecycle"


def readback_with_our_variable() -> list[tuple[float, ev.AmiEvent]]:
    """The capture, with the Setvar sent before the dual Redirect named as cac311 names it.

    The capture set ``CAP_DIGITS`` on the caller right before ``Redirect`` with
    ``ExtraChannel``; cac311's desktop sets ``CAC311_AGENT_CHANNEL`` (the agent's leg) at the
    same point. Only the variable's name and value change; everything else is as recorded.
    """
    out = []
    for t, event in timeline(READBACK):
        if isinstance(event, ev.VarSet) and event.variable == "CAP_DIGITS":
            event = replace(event, variable=READBACK_AGENT_VAR, value="PJSIP/1001-00000049")
        out.append((t, event))
    return out


def test_given_the_dual_redirect_read_back_then_the_call_ends_at_the_hangup_without_agentcomplete():
    events = readback_with_our_variable()
    first_call = [(t, e) for t, e in events if t < 20]
    assert not [e for _, e in first_call if isinstance(e, ev.AgentComplete)]  # never sent
    tracker = CallTracker()

    updates = run(tracker, first_call)

    assert tracker.calls() == []  # nothing left waiting for an AgentComplete
    record = updates[-1].record
    assert updates[-1].change == "ended" and record.finished
    assert record.uniqueid == "1796136899.608"
    assert record.agent_interface == "PJSIP/1001"
    assert record.agent_channel == "PJSIP/1001-00000049"
    assert record.ivr[READBACK_AGENT_VAR] == "PJSIP/1001-00000049"
    connect = next(t for t, e in first_call if isinstance(e, ev.AgentConnect))
    hangup = next(
        t for t, e in first_call if isinstance(e, ev.Hangup) and e.uniqueid == record.uniqueid
    )
    assert abs(record.talk_seconds - (hangup - connect)) <= 1  # the agent stayed throughout
    assert record.end_reason == "readback"
    assert not record.abandoned and not record.unknown_end


def test_given_a_redirect_of_the_caller_alone_then_the_agentcomplete_still_closes_the_call():
    tracker = CallTracker()
    second_call = [(t, e) for t, e in readback_with_our_variable() if t > 20]

    updates = run(tracker, second_call)

    assert tracker.calls() == []
    record = next(u.record for u in updates if u.record.talk_seconds is not None)
    assert record.uniqueid == "1796136925.613"
    assert record.talk_seconds == 7  # app_queue's TalkTime, not a measured one
    assert record.end_reason == "caller"


def test_given_an_agentcomplete_without_the_callers_keys_then_it_is_matched_by_the_agent_leg():
    events = [(t, e) for t, e in timeline(LIFECYCLE) if t < 30]
    lonely = [e for _, e in events if isinstance(e, ev.AgentComplete) and e.uniqueid is None]
    assert len(lonely) == 1 and lonely[0].dest_uniqueid == "1796137127.5"
    tracker = CallTracker()

    updates = run(tracker, events)

    assert tracker.calls() == []
    closed = {u.record.uniqueid: u.record for u in updates if u.record.finished}
    assert closed["1796137117.4"].talk_seconds == 3
    assert closed["1796137117.4"].agent_uniqueid == "1796137127.5"
    assert closed["1796137111.1"].talk_seconds == 5


def test_given_two_open_calls_of_one_agent_then_the_dest_uniqueid_picks_the_right_one():
    """The interface alone would pick the newest answered call; the agent leg is exact."""
    events = [(t, e) for t, e in timeline(LIFECYCLE) if t < 30]
    join, connect = (
        next(e for _, e in events if isinstance(e, kind) and e.uniqueid == "1796137117.4")
        for kind in (ev.QueueCallerJoin, ev.AgentConnect)
    )
    tracker = CallTracker()
    run(tracker, [(t, e) for t, e in events if t < 24])  # call 2 answered, not ended
    # A later call of the same agent that is still open (a stale record, e.g. after a drop).
    later = replace(join, uniqueid="1796137200.9", linkedid="1796137200.8")
    tracker.handle(later)
    tracker.handle(replace(connect, uniqueid="1796137200.9", dest_uniqueid="1796137200.10",
                           received_at=connect.received_at + timedelta(seconds=1)))  # fmt: skip
    updates = run(tracker, [(t, e) for t, e in events if t >= 24])
    done = [u.record for u in updates if u.record.talk_seconds is not None]
    assert [r.uniqueid for r in done] == ["1796137117.4"]
    assert tracker.get("pbx1", "1796137200.9").talk_seconds is None
