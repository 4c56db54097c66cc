"""A simulated call of the real event mix has the captured call's events, fields and order,
with only its identifiers new; the tracker stores it as it stores the captured call."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from ami.bridge import snapshot_of
from ami.events import to_event
from ami.protocol import Event
from ami.tracker import CallTracker
from asterisk_sim.transcript_calls import TEMPLATE, TranscriptCall, load_events

AT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
ORIGINAL = {
    "Local/311@cac311-inbound-00000004": None,
    "PJSIP/1001-00000002": None,
    "PJSIP/1001": None,
    "1796137249.10": None,
    "1796137249.11": None,
    "1796137289.12": None,
    "ee9110f6-3ec0-4ebe-9d70-306efb439f24": None,
    "60006601": None,
    "Ana Batista": None,
}


def _captured():
    return [
        (t, e)
        for t, e in load_events(TEMPLATE)
        if e.name not in ("FullyBooted", "OriginateResponse")
    ]


def _record(events):  # type: ignore[no-untyped-def]
    tracker = CallTracker()
    last = None
    for t, fields in events:
        typed = to_event(Event(tuple(fields)), "pbx1", AT + timedelta(seconds=t))
        if typed is not None:
            for update in tracker.handle(typed):
                if update.record.queue:
                    last = snapshot_of(update.record)
    return last


def test_a_simulated_call_has_the_captured_events_fields_and_order():
    template = TranscriptCall()
    captured = _captured()
    call = template.instantiate(
        7, caller="61234567", agent="PJSIP/bench0042", agent_name="Agente 42"
    )
    assert len(call) == len(captured) == 224
    assert [[k for k, _ in fields] for _, fields in call] == [list(e.keys()) for _, e in captured]
    assert [t for t, _ in call] == [round(t - captured[0][0], 3) for t, _ in captured]
    ids = template.identifiers(
        7, caller="61234567", agent="PJSIP/bench0042", agent_name="Agente 42"
    )
    back = {
        ids["local"]: "Local/311@cac311-inbound-00000004",
        ids["agent_channel"]: "PJSIP/1001-00000002",
        ids["agent"]: "PJSIP/1001",
        ids["uid1"]: "1796137249.10",
        ids["uid2"]: "1796137249.11",
        ids["uid_agent"]: "1796137289.12",
        ids["bridge"]: "ee9110f6-3ec0-4ebe-9d70-306efb439f24",
        "61234567": "60006601",
        "Agente 42": "Ana Batista",
    }
    changed = 0
    for (_, fields), (_, original) in zip(call, captured, strict=True):
        for (key, value), (_, was) in zip(fields, original.fields, strict=True):
            restored = value
            for new, old in back.items():
                restored = restored.replace(new, old)
            if value == "bench0042":  # the agent phone's own number (whole values)
                restored = "1001"
            assert restored == was, (key, value, was)
            changed += value != was
    assert changed > 400  # identifiers are everywhere
    names = Counter(fields[0][1] for _, fields in call)
    assert (names["VarSet"], names["Newexten"], names["DTMFBegin"], names["Hangup"]) == (
        113,
        37,
        12,
        3,
    )


def test_the_tracker_stores_a_simulated_call_like_the_captured_one():
    template = TranscriptCall()
    captured = _record([(t, list(e.fields)) for t, e in _captured()])
    first = _captured()[0][0]
    captured_again = _record([(t - first, list(e.fields)) for t, e in _captured()])
    simulated = _record(template.instantiate(3, caller="61234567", agent="PJSIP/bench0003"))
    ids = template.identifiers(3, caller="61234567", agent="PJSIP/bench0003")
    assert captured is not None and simulated is not None
    assert captured.hold_seconds is not None and captured.talk_seconds is not None
    assert (simulated.uniqueid, simulated.linkedid) == (ids["uid2"], ids["uid1"])
    assert simulated.agent_interface == "PJSIP/bench0003"
    assert simulated.caller_number == "+50761234567"
    assert simulated.recording_path == captured.recording_path.replace("1796137249.11", ids["uid2"])
    same = ("queue", "hold_seconds", "talk_seconds", "ring_seconds", "abandoned", "end_unknown",
            "hangup_cause", "direction")  # fmt: skip
    assert {f: getattr(simulated, f) for f in same} == {f: getattr(captured, f) for f in same}
    expected_ivr = {
        k: v.replace("1796137249.11", ids["uid2"]) for k, v in captured.ivr_variables.items()
    }
    assert simulated.ivr_variables == expected_ivr and "CAC311_RECORDING" in expected_ivr
    for f in ("entered_at", "answered_at", "ended_at"):
        assert getattr(simulated, f) == getattr(captured_again, f)


def test_calls_of_the_template_do_not_share_identifiers():
    template = TranscriptCall()
    a = template.identifiers(1, caller="6", agent="PJSIP/a")
    b = template.identifiers(2, caller="6", agent="PJSIP/a")
    assert {
        a[k] for k in ("uid1", "uid2", "uid_agent", "local", "bridge", "agent_channel")
    }.isdisjoint({b[k] for k in ("uid1", "uid2", "uid_agent", "local", "bridge", "agent_channel")})
