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


def events_per_connection(name: str) -> list[ev.AmiEvent]:
    """Typed events of every connection of a capture (a new parser after each ``<EOF>``)."""
    from datetime import UTC, datetime

    from ami.protocol import AmiParser, Event
    from tests.transcripts import load_jsonl

    out: list[ev.AmiEvent] = []
    parser = AmiParser()
    for row in load_jsonl(name):
        if row["dir"] != "asterisk":
            continue
        if row["data"].startswith("<"):
            parser = AmiParser()
            continue
        for m in parser.feed(row["data"].encode()):
            if isinstance(m, Event):
                typed = ev.to_event(m, "pbx1", datetime.fromtimestamp(row["t"], UTC))
                if typed is not None:
                    out.append(typed)
    return out


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


def test_given_a_restart_then_persistent_members_are_unavailable_until_their_phone_qualifies():
    """After ``core restart now`` QueueStatus lists the persisted members with ``Status: 5``;
    PJSIP/1001 becomes available with its first qualify (QueueMemberStatus ``Status: 1``)."""
    from case_core.services.agents import AgentState, state_from_member

    events = events_per_connection(LIFECYCLE)
    booted = [i for i, e in enumerate(events) if isinstance(e, ev.FullyBooted)]
    assert len(booted) == 2 and events[booted[1]].uptime == 0  # the second connection
    events = events[booted[1] :]
    first_status = next(i for i, e in enumerate(events) if isinstance(e, ev.QueueMemberStatus))
    members = [e for e in events[:first_status] if isinstance(e, ev.QueueMember)]
    assert {m.interface for m in members} == {"PJSIP/1001", "PJSIP/1002", "PJSIP/1003"}
    states = {
        m.interface: state_from_member(status=m.status, paused=m.paused, in_call=m.in_call)
        for m in members
    }
    assert all(m.status == 5 for m in members)
    assert states["PJSIP/1001"] == AgentState.UNAVAILABLE  # not offered calls yet
    assert states["PJSIP/1002"] == states["PJSIP/1003"] == AgentState.PAUSED  # pauses kept
    later = [
        e
        for e in events
        if isinstance(e, ev.QueueMemberStatus) and e.interface == "PJSIP/1001" and e.status == 1
    ]
    assert later
    first = later[0]
    assert state_from_member(status=first.status, paused=first.paused, in_call=first.in_call) == (
        AgentState.AVAILABLE
    )


def test_given_a_callback_leg_without_channelvars_then_the_varset_names_its_callback():
    """2026-12-01/ami-callback-leg-to-queue: AgentConnect carries no channel variables; the
    VarSet of CAC311_CALLBACK_ID on the leg (before it queues) is what identifies it."""
    from ami.bridge import snapshot_of

    events = timeline("2026-12-01/ami-callback-leg-to-queue")
    connect = next(e for _, e in events if isinstance(e, ev.AgentConnect))
    assert connect.channel.endswith(";1")  # the originated leg itself queues
    tracker = CallTracker()
    updates = run(tracker, events)
    record = next(u.record for u in updates if u.change == "answered")
    snapshot = snapshot_of(record)
    assert snapshot.direction == "outbound" and snapshot.callback_id == 2
    assert record.recording_path and record.recording_path.endswith(".wav")


def test_given_channelvars_then_every_repeated_chanvariable_header_is_kept():
    from ami.protocol import AmiParser, Event
    from tests.transcripts import load_jsonl

    parser = AmiParser()
    connects = []
    for row in load_jsonl("2026-12-01/ami-callback-leg-to-queue-channelvars"):
        if row["dir"] == "asterisk" and not row["data"].startswith("<"):
            connects += [
                m
                for m in parser.feed(row["data"].encode())
                if isinstance(m, Event) and m.name == "AgentConnect"
            ]
    assert len(connects) == 1
    assert connects[0].get_all("ChanVariable") == [
        "CAC311_CALLBACK_ID=2",
        "CAC311_CALLBACK_KIND=satisfaccion",
        "CAC311_CALL_KIND=callback",
    ]
    assert "DestChanVariable" in connects[0].keys()
