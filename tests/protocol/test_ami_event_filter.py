"""The AMI event filter: our model of Asterisk 22's advanced ``eventfilter`` matches what a
real Asterisk sent, and the filter in asterisk_conf/manager.conf keeps every event the
backend uses (the same typed events, the same tracked calls) while cutting the volume."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ami.bridge import snapshot_of
from ami.event_filter import BACKEND_FILTER, EventFilter, FilterSyntaxError, parse_rule
from ami.events import MixMonitorStart, MixMonitorStop, VarSet, to_event
from ami.protocol import AmiParser, Event
from ami.tracker import IVR_PREFIX, RECORDING_VAR, CallTracker
from tests.transcripts import load_jsonl
from tests.unit.test_asterisk_conf import load

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

# The lines the README row of 2026-12-01/ami-eventfilter lists (what the capture used).
CAPTURE_NAMES = (
    "QueueCallerJoin QueueCallerLeave QueueCallerAbandon AgentCalled AgentConnect "
    "AgentComplete AgentRingNoAnswer Hangup Newchannel QueueMemberStatus QueueMemberAdded "
    "QueueMemberRemoved QueueMemberPause QueueMemberPenalty QueueMemberRinginuse FullyBooted "
    "OriginateResponse DialBegin DialEnd BridgeEnter BridgeLeave"
).split()
CAPTURE_FILTER = EventFilter.from_lines(
    [(f"eventfilter(action(include),name({n}))", "") for n in CAPTURE_NAMES]
    + [
        (
            "eventfilter(action(include),name(VarSet),header(Variable),method(starts_with))",
            "CAC311_",
        ),
        (
            "eventfilter(action(include),name(VarSet),header(Variable),method(exact))",
            "MIXMONITOR_FILENAME",
        ),
    ]
)

TRANSCRIPTS = [
    "2026-12-01/ami-eventfilter-unfiltered",
    "ami-queue-call-answered",
    "ami-queue-call-abandoned",
    "ami-queue-call-answered-late-and-redirect",
    "ami-resync-ringnoanswer-timeout",
    "ami-originate-callbacks",
    "2026-12-01/ami-queue-member-lifecycle",
    "2026-12-01/ami-pjsip-agent-phone-events",
    "2026-12-01/ami-callback-leg-to-queue-channelvars",
]


def pbx_events(name: str) -> list[Event]:
    """Events Asterisk pushed (not the list items that answer an action)."""
    parser = AmiParser()
    out = []
    for row in load_jsonl(name):
        if row["dir"] != "asterisk":
            continue
        data = row["data"]
        if data.startswith("<") and data.endswith(">"):
            parser = AmiParser()
            continue
        for message in parser.feed(data.encode()):
            if isinstance(message, Event) and (
                message.action_id is None or message.name == "OriginateResponse"
            ):
                out.append(message)
    return out


def product_filter() -> EventFilter:
    user = load("manager.conf").section("cac311")
    return EventFilter.from_lines((v.name, v.value) for v in user.variables)


def test_the_model_reproduces_what_the_real_asterisk_sent_with_the_capture_filter():
    unfiltered = pbx_events("2026-12-01/ami-eventfilter-unfiltered")
    filtered = pbx_events("2026-12-01/ami-eventfilter")
    assert (len(unfiltered), len(filtered)) == (226, 35)  # the README row's counts
    kept = [e for e in unfiltered if CAPTURE_FILTER.allows(e.fields)]

    # The same call, captured twice: the same events (two captures differ in the order of
    # near-simultaneous events, e.g. BridgeLeave and AgentComplete).
    def key(e: Event) -> tuple[str, str]:
        return (e.name, e.get("Variable") or "")

    assert sorted(map(key, kept)) == sorted(map(key, filtered))


def test_rule_syntax_is_checked():
    rule = parse_rule("eventfilter(action(exclude),header(Channel),method(starts_with))", "Local/")
    assert (rule.include, rule.name, rule.header, rule.method) == (
        False,
        None,
        "Channel",
        "starts_with",
    )
    with pytest.raises(FilterSyntaxError):
        parse_rule("eventfilter(action(maybe),name(Hangup))", "")
    with pytest.raises(FilterSyntaxError):
        parse_rule("eventfilter(nombre(Hangup))", "")
    f = EventFilter.from_lines(
        [
            ("eventfilter(action(include),name(Hangup))", ""),
            ("eventfilter(action(exclude),header(Channel),method(starts_with))", "Local/"),
        ]
    )
    assert f.allows([("Event", "Hangup"), ("Channel", "PJSIP/1001-0001")])
    assert not f.allows([("Event", "Hangup"), ("Channel", "Local/311@x-0001;1")])
    assert not f.allows([("Event", "Newexten"), ("Channel", "PJSIP/1001-0001")])


def _used(event) -> bool:  # type: ignore[no-untyped-def]
    """Typed events the backend reads (the tracker ignores other VarSets and MixMonitor*)."""
    if isinstance(event, VarSet):
        return event.variable.startswith(IVR_PREFIX) or event.variable == RECORDING_VAR
    return not isinstance(event, MixMonitorStart | MixMonitorStop)


def _typed(events: list[Event]) -> list:
    typed = (to_event(e, "pbx1", AT) for e in events)
    return [t for t in typed if t is not None and _used(t)]


def _records(typed: list) -> list:
    tracker = CallTracker()
    snapshots = []
    for event in typed:
        snapshots += [snapshot_of(u.record) for u in tracker.handle(event)]
    return snapshots


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_the_product_filter_keeps_every_event_the_backend_uses(name):
    events = pbx_events(name)
    kept = [e for e in events if product_filter().allows(e.fields)]
    assert _typed(kept) == _typed(events)
    assert _records(_typed(kept)) == _records(_typed(events))


def test_events_per_answered_call_before_and_after_the_product_filter():
    events = pbx_events("2026-12-01/ami-eventfilter-unfiltered")
    kept = [e for e in events if product_filter().allows(e.fields)]
    assert (len(events), len(kept)) == (226, 24)


async def test_the_client_drops_events_outside_its_filter_before_typing_them():
    import asyncio

    from ami.client import AmiClient, AmiConfig
    from asterisk_sim.ami import AmiSimulator

    sim = AmiSimulator(username="u", secret="s")
    await sim.start()
    client = AmiClient(
        AmiConfig("127.0.0.1", sim.port, "u", "s", event_filter=BACKEND_FILTER, ping_interval=60)
    )
    seen: list = []
    client.subscribe(seen.append)
    try:
        await client.start()
        await client.wait_up(5)
        base = [("Channel", "PJSIP/trunk-1"), ("Uniqueid", "1.1"), ("Linkedid", "1.1")]
        sim.emit([("Event", "Newexten"), *base, ("Application", "AGI")])
        sim.emit([("Event", "VarSet"), *base, ("Variable", "AGISTATUS"), ("Value", "SUCCESS")])
        sim.emit([("Event", "VarSet"), *base, ("Variable", "CAC311_INTENT"), ("Value", "queja")])
        for _ in range(200):
            if any(isinstance(e, VarSet) for e in seen):
                break
            await asyncio.sleep(0.01)
        varsets = [e for e in seen if isinstance(e, VarSet)]
        assert [(e.variable, e.value) for e in varsets] == [("CAC311_INTENT", "queja")]
    finally:
        await client.stop()
        await sim.stop()


def test_the_client_side_filter_is_the_manager_conf_filter():
    assert BACKEND_FILTER == product_filter()
    assert BACKEND_FILTER != CAPTURE_FILTER


def _raw_blocks(name: str) -> list[bytes]:
    """Every event block Asterisk sent in a transcript, as raw bytes (without its empty
    line); chunks split blocks anywhere, so each connection's stream is joined first."""
    streams, current = [], b""
    for row in load_jsonl(name):
        if row["dir"] != "asterisk":
            continue
        if row["data"].startswith("<") and row["data"].endswith(">"):  # a new connection
            streams.append(current)
            current = b""
            continue
        current += row["data"].encode()
    streams.append(current)
    return [
        block
        for stream in streams
        for block in stream.split(b"\r\n\r\n")
        if block.startswith(b"Event: ")
    ]


@pytest.mark.parametrize("name", TRANSCRIPTS)
@pytest.mark.parametrize("which", ["product", "capture"])
def test_the_raw_pre_filter_never_skips_an_event_the_filter_keeps(name, which):
    """``may_allow_raw`` lets the client skip events unparsed: it may keep too many (they are
    then filtered parsed), never too few. Every event of every answered, abandoned,
    late-answered, callback and member-lifecycle capture is checked."""
    event_filter = product_filter() if which == "product" else CAPTURE_FILTER
    skipped = 0
    for block in _raw_blocks(name):
        event = AmiParser(expect_banner=False).feed(block + b"\r\n\r\n")[0]
        if not event_filter.may_allow_raw(event.name, b"\r\n" + block.lower()):
            skipped += 1
            assert not event_filter.allows(event.fields), block
    assert skipped > 0  # the pre-filter does skip something in each capture


def test_the_raw_pre_filter_skips_most_of_an_unfiltered_call():
    blocks = _raw_blocks("2026-12-01/ami-eventfilter-unfiltered")
    parser = AmiParser(
        expect_banner=False,
        skip_events=lambda name, block: not product_filter().may_allow_raw(name, block),
    )
    messages = parser.feed(b"".join(b + b"\r\n\r\n" for b in blocks))
    kept = [m for m in messages if product_filter().allows(m.fields)]
    # Skipped unparsed: everything but the 24 events the filter keeps and the few VarSets
    # whose Variable header must be read to be decided.
    assert len(kept) == 24
    assert parser.skipped + len(messages) == len(blocks)
    assert parser.skipped >= len(blocks) - 30


def test_the_parser_never_skips_events_that_answer_an_action():
    """List events (QueueMember, CoreShowChannel…) carry the ActionID of the action they
    answer: they are parsed whatever the filter says, in any case of the key."""
    parser = AmiParser(expect_banner=False, skip_events=lambda name, block: True)
    data = (
        b"Event: QueueMember\r\nQueue: cac311\r\nActionID: 7\r\n\r\n"
        b"Event: QueueMember\r\nactionid: 8\r\nQueue: cac311\r\n\r\n"
        b"Event: Newexten\r\nChannel: PJSIP/trunk-1\r\n\r\n"
        b"Response: Success\r\nActionID: 9\r\n\r\n"
    )
    messages = parser.feed(data)
    assert [m.action_id for m in messages] == ["7", "8", "9"]
    assert parser.skipped == 1


async def test_the_client_never_skips_shutdown_even_if_its_filter_would():
    """Shutdown drops the link at once (ami/client.py): a filter without it must not make
    the client skip it unparsed."""
    from ami.client import AmiClient, AmiConfig

    only_hangup = EventFilter.from_lines([("eventfilter(action(include),name(Hangup))", "")])
    client = AmiClient(AmiConfig("127.0.0.1", 1, "u", "s", event_filter=only_hangup))
    block = b"\r\nevent: shutdown\r\nshutdown: cleanly\r\n"
    assert client._skip_events("Shutdown", block) is False
    assert client._skip_events("Newexten", b"\r\nevent: newexten\r\n") is True


def test_the_raw_pre_filter_compares_non_ascii_values_as_the_block_has_them():
    f = EventFilter.from_lines(
        [("eventfilter(action(include),name(VarSet),header(Value),method(exact))", "ÉXITO")]
    )
    block = b"Event: VarSet\r\nVariable: X\r\nValue: \xc3\x89XITO\r\n"
    assert f.allows(AmiParser(expect_banner=False).feed(block + b"\r\n")[0].fields)
    assert f.may_allow_raw("VarSet", b"\r\n" + block.lower())
