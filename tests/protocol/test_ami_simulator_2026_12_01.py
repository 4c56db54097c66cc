"""The AMI simulator answers the actions of the 2026-12-01 captures as Asterisk 22.10.1 did.

Each recorded action is sent to the simulator byte for byte (after the recorded events up to
that moment were replayed, so that the channels exist) and its response is compared with the
recorded one, field by field (ActionID included).
"""

from __future__ import annotations

import asyncio

import pytest

from ami.protocol import AmiParser, Response
from asterisk_sim.ami import AmiSimulator
from tests.transcripts import load_jsonl


def recorded(name: str) -> list[tuple[float, bytes, Response]]:
    """(t, action bytes, Asterisk's response) for every action after the Login."""
    rows = load_jsonl(name)
    responses: dict[str, Response] = {}
    parser = AmiParser()
    for row in rows:
        if row["dir"] != "asterisk":
            continue
        if row["data"].startswith("<"):
            parser = AmiParser()
            continue
        for m in parser.feed(row["data"].encode()):
            if isinstance(m, Response) and m.action_id:
                responses.setdefault(m.action_id, m)
    out = []
    for row in rows:
        if row["dir"] == "us" and row["data"].startswith("Action:"):
            data = row["data"].encode()
            aid = next(
                line.split(": ", 1)[1]
                for line in row["data"].split("\r\n")
                if line.startswith("ActionID: ")
            )
            if not data.startswith(b"Action: Login"):
                out.append((row["t"], data, responses[aid]))
    return out


async def _answers(
    sim: AmiSimulator, name: str, wanted: set[str]
) -> list[tuple[Response, Response]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    parser = AmiParser()
    got: list = []

    async def read_until(aid: str) -> Response:
        while True:
            for m in got:
                if isinstance(m, Response) and m.action_id == aid:
                    return m
            got.extend(parser.feed(await asyncio.wait_for(reader.read(65536), 5)))

    writer.write(b"Action: Login\r\nUsername: cac311\r\nSecret: s3cret\r\nActionID: l\r\n\r\n")
    await read_until("l")
    pairs = []
    last_t = 0.0
    for t, data, expected in recorded(name):
        action = data.split(b"\r\n", 1)[0].split(b": ", 1)[1].decode()
        await sim.replay(name, start=last_t, end=t)  # the PBX events that came before it
        last_t = t
        if action not in wanted:
            continue
        writer.write(data)
        await writer.drain()
        pairs.append((expected, await read_until(expected.action_id or "")))
    writer.close()
    return pairs


@pytest.fixture
async def sim():
    simulator = AmiSimulator(static_members=(("cac311", "PJSIP/1001", "Agente Ana"),))
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_given_queue_member_actions_then_answers_are_the_recorded_ones(sim):
    pairs = await _answers(
        sim, "2026-12-01/ami-queue-member-lifecycle", {"QueueAdd", "QueueRemove", "QueuePause"}
    )
    assert [e.message for e, _ in pairs][:3] == [
        "Unable to add interface: Already there",
        "Unable to remove interface: Not there",
        "Interface paused successfully",
    ]
    for expected, answered in pairs:
        assert answered.fields == expected.fields


async def test_given_the_read_back_actions_then_answers_are_the_recorded_ones(sim):
    pairs = await _answers(
        sim,
        "2026-12-01/ami-redirect-both-legs-readback",
        {"Setvar", "Redirect", "Bridge", "Hangup"},
    )
    messages = [e.message for e, _ in pairs]
    assert messages[:4] == [
        "Variable Set",
        "Dual Redirect successful",
        "Channels have been bridged",
        "Channel Hungup",
    ]
    assert "Redirect successful" in messages[4:]
    for expected, answered in pairs:
        assert answered.fields == expected.fields


async def test_given_core_restart_now_then_the_shutdown_event_is_the_recorded_one(sim):
    from ami.protocol import Event

    parser = AmiParser()
    recorded_event = None
    for row in load_jsonl("2026-12-01/ami-queue-member-lifecycle"):
        if row["dir"] == "asterisk" and not row["data"].startswith("<"):
            for m in parser.feed(row["data"].encode()):
                if isinstance(m, Event) and m.name == "Shutdown":
                    recorded_event = m
        elif row["data"].startswith("<"):
            parser = AmiParser()
    assert recorded_event is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(b"Action: Login\r\nUsername: cac311\r\nSecret: s3cret\r\nActionID: l\r\n\r\n")
    live = AmiParser()
    got: list = []
    while not any(isinstance(m, Response) for m in got):
        got.extend(live.feed(await asyncio.wait_for(reader.read(65536), 5)))
    sim.drop_all(restart=True, shutdown_event=True)
    data = b""
    while chunk := await asyncio.wait_for(reader.read(65536), 5):
        data += chunk
    events = [m for m in got + live.feed(data) if isinstance(m, Event) and m.name == "Shutdown"]
    assert [e.fields for e in events] == [recorded_event.fields]
    writer.close()
