"""AmiSimulator against the real Asterisk 22 transcripts.

Method: replay the client side ("us" chunks) of a transcript against the simulator over TCP;
after each action read as many messages as Asterisk sent before the next action; compare.

What is compared: for every message, the type (Response/Event name) and the exact list of
keys in order; and every value, except values that legitimately differ between two runs:
timestamps (``Timestamp``, ``EventTV``, ``SessionTV``), session identity (``SessionID``,
``LocalAddress``, ``RemoteAddress``), Asterisk's uptime (``Uptime``, ``LastReload``) and the
static member's ``LoginTime``; for an answered OriginateResponse also ``Channel`` and
``Uniqueid`` (Asterisk's channel sequence numbers). ``ami-login-failed`` is compared byte for
byte. In ``ami-originate-callbacks`` only Responses and OriginateResponse events are
compared: the simulator does not generate the dialplan's channel events.
"""

from __future__ import annotations

import asyncio

import pytest

from ami.protocol import AmiParser, Banner, Event, Response
from asterisk_sim.ami import AmiSimulator, OriginateOutcome
from tests.transcripts import load_jsonl

VOLATILE = {
    "Timestamp",
    "EventTV",
    "SessionTV",
    "SessionID",
    "LocalAddress",
    "RemoteAddress",
    "Uptime",
    "LastReload",
    "LoginTime",
}


def exchanges(name: str, keep=lambda m: True) -> tuple[bytes, list[tuple[bytes, list]]]:
    """(banner bytes, [(us chunk, Asterisk messages until the next us chunk)])."""
    parser = AmiParser()
    out: list[tuple[bytes, list]] = []
    banner = b""
    for row in load_jsonl(name):
        data = row["data"]
        if row["dir"] == "us":
            out.append((data.encode(), []))
            continue
        if data.startswith("<"):
            continue
        for message in parser.feed(data.encode()):
            if isinstance(message, Banner):
                banner = (message.text + "\r\n").encode()
            elif keep(message):
                out[-1][1].append(message)
    return banner, out


async def read_messages(reader: asyncio.StreamReader, parser: AmiParser, n: int, keep) -> list:
    got: list = []
    while len(got) < n:
        data = await asyncio.wait_for(reader.read(65536), 2.0)
        assert data, f"EOF after {got}"
        got.extend(m for m in parser.feed(data) if keep(m))
    return got


def assert_same(expected, actual, *, ignore=frozenset()) -> None:
    assert type(actual) is type(expected)
    assert actual.keys() == expected.keys(), (expected.fields, actual.fields)
    for (k, v_exp), (_, v_act) in zip(expected.fields, actual.fields, strict=True):
        if k not in VOLATILE and k not in ignore:
            assert v_act == v_exp, (k, expected.fields, actual.fields)


@pytest.fixture
async def sim():
    simulator = AmiSimulator(wall_clock=lambda: 1795475107.25)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def run_script(sim: AmiSimulator, name: str, keep=lambda m: True) -> list:
    banner, script = exchanges(name, keep)
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    parser = AmiParser()
    try:
        first = await asyncio.wait_for(reader.readline(), 2.0)
        assert first == banner == b"Asterisk Call Manager/11.0.0\r\n"
        parser.feed(first)
        pairs = []
        for action, expected in script:
            writer.write(action)
            actual = await read_messages(reader, parser, len(expected), keep)
            pairs.append((expected, actual))
        return pairs
    finally:
        writer.close()


async def test_login_and_actions_match_the_transcript(sim: AmiSimulator) -> None:
    pairs = await run_script(sim, "ami-login-and-actions")
    assert len(pairs) == 14
    for expected, actual in pairs:
        assert len(actual) == len(expected)
        for exp, act in zip(expected, actual, strict=True):
            assert_same(exp, act)
    assert pairs[-1][1][0].status == "Goodbye"


async def test_logoff_closes_and_nothing_extra_is_sent(sim: AmiSimulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(
        b"Action: Login\r\nUsername: cac311\r\nSecret: s3cret\r\nActionID: l\r\n\r\n"
        b"Action: Logoff\r\nActionID: bye\r\n\r\n"
    )
    data = await asyncio.wait_for(reader.read(), 2.0)  # until EOF
    messages = AmiParser().feed(data)
    assert [type(m).__name__ for m in messages] == ["Banner", "Response", "Event", "Event"] + [
        "Response"
    ]
    writer.close()


async def test_login_failed_is_byte_exact_and_closes(sim: AmiSimulator) -> None:
    rows = load_jsonl("ami-login-failed")
    expected = "".join(r["data"] for r in rows if r["dir"] == "asterisk" and r["data"][0] != "<")
    action = next(r["data"] for r in rows if r["dir"] == "us")
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(action.encode())
    data = await asyncio.wait_for(reader.read(), 2.0)  # read() returns at EOF only
    assert data == expected.encode()
    writer.close()


def _originate_keep(m) -> bool:
    return isinstance(m, Response) or (
        isinstance(m, Event) and m.name in ("OriginateResponse", "FullyBooted", "SuccessfulAuth")
    )


async def test_originate_outcomes_match_the_transcript(sim: AmiSimulator) -> None:
    pairs = await run_script(sim, "ami-originate-callbacks", _originate_keep)
    originate = 0
    for expected, actual in pairs:
        assert len(actual) == len(expected)
        for exp, act in zip(expected, actual, strict=True):
            answered = isinstance(exp, Event) and exp.get("Response") == "Success"
            assert_same(exp, act, ignore={"Channel", "Uniqueid"} if answered else frozenset())
            originate += isinstance(exp, Event) and exp.name == "OriginateResponse"
    assert originate == 6


async def test_originate_policy_is_pluggable_and_delays_the_answer() -> None:
    sim = AmiSimulator(originate_policy=lambda ch: OriginateOutcome(5, delay=0.05))
    await sim.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        parser = AmiParser()
        writer.write(b"Action: Login\r\nUsername: cac311\r\nSecret: s3cret\r\n\r\n")
        await read_messages(reader, parser, 4, lambda m: True)
        writer.write(
            b"Action: Originate\r\nActionID: o1\r\nChannel: Local/answer@phones\r\n"
            b"Context: c\r\nExten: s\r\nPriority: 1\r\nAsync: true\r\n\r\n"
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        first, second = await read_messages(reader, parser, 2, lambda m: True)
        assert first.message == "Originate successfully queued"
        assert (second.name, second.get("ActionID"), second.get("Reason")) == (
            "OriginateResponse",
            "o1",
            "5",
        )
        assert loop.time() - started >= 0.04
        writer.close()
    finally:
        await sim.stop()


async def test_state_follows_replayed_calls_like_queue_status_did(sim: AmiSimulator) -> None:
    """Replaying the three recorded calls gives the counters Asterisk reported.

    TalkTime is not compared: Asterisk averaged the talk time of the redirected call up to
    the redirect (1 s), while its AgentComplete says 10 s; the simulator only sees the latter.
    """
    for name in (
        "ami-queue-call-answered",
        "ami-queue-call-abandoned",
        "ami-queue-call-answered-late-and-redirect",
    ):
        await sim.replay(name)
    _, script = exchanges("ami-queue-call-answered-late-and-redirect")
    recorded = next(
        m for _, msgs in script for m in msgs if isinstance(m, Event) and m.name == "QueueParams"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    parser = AmiParser()
    writer.write(b"Action: Login\r\nUsername: cac311\r\nSecret: s3cret\r\n\r\n")
    await read_messages(reader, parser, 4, lambda m: True)
    writer.write(b"Action: QueueStatus\r\nQueue: cac311\r\nActionID: qs-final\r\n\r\n")
    messages = await read_messages(reader, parser, 4, lambda m: True)
    params = messages[1]
    assert_same(recorded, params, ignore={"TalkTime"})
    assert params.get("Completed") == "2" and params.get("ServicelevelPerf2") == "33.3"
    await sim.replay("ami-resync-ringnoanswer-timeout")
    writer.write(b"Action: QueueStatus\r\nActionID: q2\r\n\r\n")
    messages = await read_messages(reader, parser, 4, lambda m: m.get("ActionID") == "q2")
    assert (messages[1].get("Abandoned"), messages[1].get("ServicelevelPerf2")) == ("2", "25.0")
    writer.close()


async def test_resync_lists_reflect_a_half_replayed_call(sim: AmiSimulator) -> None:
    """Stop the ring-no-answer transcript where the client re-read state; compare lists."""
    name = "ami-resync-ringnoanswer-timeout"
    await sim.replay(name, end=16.55)
    _, script = exchanges(name)
    recorded = {
        aid: [m for _, msgs in script for m in msgs if m.get("ActionID") == aid]
        for aid in ("resync-csc", "resync-qs")
    }
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    parser = AmiParser()
    writer.write(b"Action: Login\r\nUsername: cac311\r\nSecret: s3cret\r\n\r\n")
    await read_messages(reader, parser, 4, lambda m: True)

    writer.write(b"Action: CoreShowChannels\r\nActionID: resync-csc\r\n\r\n")
    expected = recorded["resync-csc"]
    assert len(expected) == 4
    actual = await read_messages(reader, parser, len(expected), lambda m: True)
    # Asterisk lists channels in its container order; compare them sorted by Uniqueid.
    order = [0, *sorted(range(1, len(expected) - 1), key=lambda i: expected[i].get("Uniqueid"))]
    order_act = [
        0,
        *sorted(range(1, len(actual) - 1), key=lambda i: actual[i].get("Uniqueid")),
    ]
    for i, j in zip(order + [len(expected) - 1], order_act + [len(actual) - 1], strict=True):
        assert_same(expected[i], actual[j], ignore={"Duration"})

    writer.write(b"Action: QueueStatus\r\nActionID: resync-qs\r\n\r\n")
    expected = recorded["resync-qs"]
    actual = await read_messages(reader, parser, len(expected), lambda m: True)
    entries = [m for m in actual if isinstance(m, Event) and m.name == "QueueEntry"]
    recorded_entry = next(m for m in expected if isinstance(m, Event) and m.name == "QueueEntry")
    assert len(entries) == 1
    assert_same(recorded_entry, entries[0], ignore={"Wait"})
    assert actual[-1].get("ListItems") == "4"
    writer.close()


async def test_redirect_of_live_and_missing_channels(sim: AmiSimulator) -> None:
    await sim.replay("ami-resync-ringnoanswer-timeout", end=16.55)
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    parser = AmiParser()
    writer.write(b"Action: Login\r\nUsername: cac311\r\nSecret: s3cret\r\n\r\n")
    await read_messages(reader, parser, 4, lambda m: True)
    writer.write(
        b"Action: Redirect\r\nActionID: r1\r\nChannel: Local/312@cac311-inbound-0000000e;2\r\n"
        b"Context: cac311-tests\r\nExten: 316\r\nPriority: 1\r\n\r\n"
        b"Action: Redirect\r\nActionID: r2\r\nChannel: Local/nonexistent-0000;2\r\n"
        b"Context: cac311-tests\r\nExten: 316\r\nPriority: 1\r\n\r\n"
    )
    ok, bad = await read_messages(reader, parser, 2, lambda m: True)
    assert (ok.status, ok.message) == ("Success", "Redirect successful")
    assert (bad.status, bad.message) == (
        "Error",
        "Channel does not exist: Local/nonexistent-0000;2",
    )
    assert sim.queues["cac311"].entries == []
    assert sim.channels["1795475415.29"].context == "cac311-tests"
    writer.close()


async def test_emit_reaches_only_logged_in_clients_and_drop_all_closes(
    sim: AmiSimulator,
) -> None:
    r1, w1 = await asyncio.open_connection("127.0.0.1", sim.port)
    r2, w2 = await asyncio.open_connection("127.0.0.1", sim.port)
    p1 = AmiParser()
    w1.write(b"Action: Login\r\nUsername: cac311\r\nSecret: s3cret\r\n\r\n")
    await read_messages(r1, p1, 4, lambda m: True)
    sim.emit({"Event": "UserEvent", "UserEvent": "hello"})
    (event,) = await read_messages(r1, p1, 1, lambda m: True)
    assert event.fields == (("Event", "UserEvent"), ("UserEvent", "hello"))
    sim.drop_all()
    assert await asyncio.wait_for(r1.read(), 2.0) == b""
    assert await asyncio.wait_for(r2.read(), 2.0) == b"Asterisk Call Manager/11.0.0\r\n"
    w1.close()
    w2.close()
