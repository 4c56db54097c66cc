"""Typed AMI events converted from the recorded transcripts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ami import events as ev
from ami.protocol import AmiParser, Event, Response
from tests.transcripts import load_jsonl, transcript_dir

# The top folder (2026-11-23) and the 2026-12-01 captures (another run of Asterisk).
AMI_TRANSCRIPTS = sorted(
    str(p.relative_to(transcript_dir()).with_suffix(""))
    for pattern in ("ami-*.jsonl", "2026-12-01/ami-*.jsonl")
    for p in transcript_dir().glob(pattern)
)
T0 = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)


def typed(name: str, server: str = "pbx1") -> list[ev.AmiEvent]:
    """Every typed event of a transcript; received_at = T0 + the chunk's t."""
    out: list[ev.AmiEvent] = []
    parser = AmiParser()
    for row in load_jsonl(name):
        if row["dir"] != "asterisk":
            continue
        if row["data"].startswith("<"):
            parser = AmiParser()
            continue
        at = T0 + timedelta(seconds=row["t"])
        for message in parser.feed(row["data"].encode()):
            event = ev.to_event(message, server, at)
            if event is not None:
                out.append(event)
    return out


def of(events: list[ev.AmiEvent], cls: type) -> list:
    return [e for e in events if type(e) is cls]


@pytest.mark.parametrize("name", AMI_TRANSCRIPTS)
def test_given_transcript_then_one_typed_event_per_known_event_line(name: str) -> None:
    text = (transcript_dir() / f"{name}.txt").read_text(encoding="utf-8")
    events = typed(name)
    for event_name, _ in ev.CONVERTERS.items():
        expected = text.count(f">> Event: {event_name}\n")
        got = [e for e in events if type(e).__name__ == event_name]
        assert len(got) == expected, event_name


def test_answered_call_fields() -> None:
    events = typed("ami-queue-call-answered", server="pbx-a")
    assert {e.server for e in events} == {"pbx-a"}
    (connect,) = of(events, ev.AgentConnect)
    assert (connect.uniqueid, connect.linkedid) == ("1795475111.1", "1795475111.0")
    assert connect.channel == "Local/311@cac311-inbound-00000000;2"
    assert (connect.hold_time, connect.ring_time) == (0, 0)
    assert (connect.interface, connect.member_name) == ("Local/100@agents/n", "Agente Ana")
    assert (connect.dest_uniqueid, connect.dest_channel) == (
        "1795475132.2",
        "Local/100@agents-00000001;1",
    )
    assert connect.received_at == T0 + timedelta(seconds=29.406)
    (complete,) = of(events, ev.AgentComplete)
    assert (complete.uniqueid, complete.talk_time, complete.reason) == ("1795475111.1", 5, "agent")
    (join,) = of(events, ev.QueueCallerJoin)
    assert (join.queue, join.position, join.count, join.caller_id_num) == (
        "cac311",
        1,
        1,
        "62345678",
    )
    hangups = of(events, ev.Hangup)
    assert {(h.cause, h.cause_txt) for h in hangups} == {(16, "Normal Clearing")}
    recording = [v for v in of(events, ev.VarSet) if v.variable == "MIXMONITOR_FILENAME"]
    assert [v.value for v in recording] == ["/var/spool/asterisk/monitor/1795475111.1.wav"]
    assert recording[0].uniqueid == join.uniqueid
    ivr = {v.variable: v.value for v in of(events, ev.VarSet) if v.variable.startswith("CAC311_")}
    assert ivr == {"CAC311_INTENT": "queja", "CAC311_CEDULA": "8-123-4567"}
    (mixmon,) = of(events, ev.MixMonitorStart)
    assert mixmon.uniqueid == join.uniqueid


def test_agent_complete_without_channel_after_redirect() -> None:
    events = typed("ami-queue-call-answered-late-and-redirect")
    (complete,) = of(events, ev.AgentComplete)
    assert complete.uniqueid is None and complete.channel is None
    assert (complete.hold_time, complete.talk_time, complete.reason) == (18, 10, "caller")
    (connect,) = of(events, ev.AgentConnect)
    assert connect.hold_time == 18


def test_originate_outcomes() -> None:
    events = of(typed("ami-originate-callbacks"), ev.OriginateResponse)
    assert [(e.action_id, e.response, e.reason) for e in events] == [
        ("cb-answer", "Success", 4),
        ("cb-busy", "Failure", 5),
        ("cb-noanswer", "Failure", 3),
        ("cb-congest", "Failure", 8),
        ("cb-invalid", "Failure", 0),
        ("cb-nochanneltype", "Failure", 0),
    ]
    assert [e.success for e in events] == [True] + [False] * 5
    assert events[0].uniqueid == "1795475200.12"
    assert all(e.uniqueid is None for e in events[1:])
    assert events[5].caller_id_num is None
    assert events[1].channel == "Local/busy@phones"


def test_abandon_ringnoanswer_and_list_events() -> None:
    events = typed("ami-resync-ringnoanswer-timeout")
    assert [e.ring_time_ms for e in of(events, ev.AgentRingNoAnswer)] == [15000, 14000]
    (abandon,) = of(events, ev.QueueCallerAbandon)
    assert (abandon.hold_time, abandon.position, abandon.original_position) == (30, 1, 1)
    (entry,) = of(events, ev.QueueEntry)
    assert (entry.uniqueid, entry.wait, entry.position, entry.caller_id_num) == (
        "1795475415.29",
        15,
        1,
        "69990000",
    )
    channels = of(events, ev.CoreShowChannel)
    assert [(c.uniqueid, c.application, c.duration_seconds, c.bridge_id) for c in channels] == [
        ("1795475415.29", "Queue", 16, None),
        ("1795475415.28", "Wait", 16, None),
    ]
    params = of(events, ev.QueueParams)
    assert [(p.calls, p.abandoned, p.service_level_perf2) for p in params] == [
        (1, 1, 33.3),
        (0, 2, 25.0),
    ]
    members = of(events, ev.QueueMember)
    assert members[0].member_name == "Agente Carla"
    assert members[1].paused and members[1].paused_reason == "descanso"
    added = of(events, ev.QueueMemberAdded)
    assert added[0].membership == "dynamic" and not added[0].paused


def test_pause_events_and_fully_booted() -> None:
    events = typed("ami-login-and-actions")
    pauses = of(events, ev.QueueMemberPause)
    assert [(p.paused, p.paused_reason) for p in pauses] == [(True, "almuerzo"), (False, "")]
    assert of(typed("ami-asterisk-restart-reconnect"), ev.FullyBooted)[0].uptime == 2


def test_unknown_events_responses_and_malformed() -> None:
    at = T0
    assert ev.to_event(Event((("Event", "Newexten"),)), "s", at) is None
    assert ev.to_event(Response((("Response", "Success"),)), "s", at) is None
    with pytest.raises(ev.EventFormatError):
        ev.to_event(Event((("Event", "Hangup"), ("Channel", "x"))), "s", at)
    with pytest.raises(ev.EventFormatError):
        ev.to_event(
            Event((("Event", "FullyBooted"), ("Uptime", "soon"))),
            "s",
            at,
        )
