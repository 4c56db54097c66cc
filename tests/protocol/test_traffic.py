"""The demo traffic generator emits only event shapes Asterisk 22 produced, in its order.

Each generated event must have exactly the field names (and field order) of the same event in
the transcripts, and the generated sequence of (event, channel role[, key variable]) must
appear, in order, inside the transcript's own sequence: a subset of a real call, never a
reordering of it.
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import pytest

from ami.protocol import AmiParser, Event
from asterisk_sim.agi import Press
from asterisk_sim.ami import AmiSimulator
from asterisk_sim.traffic import TrafficGenerator, TrafficProfile, caller_script
from ivr.agi.server import FastAgiServer
from recordings.storage import relative_recording_path
from tests.transcripts import load_chunks

Fields = tuple[tuple[str, str], ...]
KEY_VARIABLES = {"MIXMONITOR_FILENAME", "AGISTATUS", "ABANDONED"}
SHAPE_SOURCES = (
    "ami-queue-call-answered",
    "ami-queue-call-abandoned",
    "ami-resync-ringnoanswer-timeout",
    "ami-login-and-actions",
)


def transcript_events(name: str) -> list[Fields]:
    parser = AmiParser()
    events: list[Fields] = []
    for chunk in load_chunks(name):
        if chunk.dir != "asterisk":
            continue
        if chunk.data.startswith(b"<") and chunk.data.endswith(b">"):
            parser = AmiParser()
            continue
        for message in parser.feed(chunk.data):
            if isinstance(message, Event):
                events.append(tuple(message.fields))
    return events


def key(fields: Fields) -> tuple[str, str, str]:
    d = dict(fields)
    channel = d.get("Channel", "")
    role = ""
    if channel:
        role = ("caller" if "-inbound-" in channel else "agent") + channel[-2:]
    variable = d.get("Variable", "") if d.get("Variable") in KEY_VARIABLES else ""
    return (d["Event"], role, variable)


def assert_subsequence(generated: list[Fields], transcript: list[Fields]) -> None:
    wanted = [key(e) for e in generated]
    have = iter(key(e) for e in transcript)
    for i, k in enumerate(wanted):
        if not any(k == h for h in have):
            raise AssertionError(f"event #{i} {k} is out of the transcript's order: {wanted}")


def assert_same_shapes(generated: list[Fields]) -> None:
    shapes: dict[str, set[tuple[str, ...]]] = {}
    for name in SHAPE_SOURCES:
        for e in transcript_events(name):
            shapes.setdefault(dict(e)["Event"], set()).add(tuple(k for k, _ in e))
    for e in generated:
        name = dict(e)["Event"]
        names = tuple(k for k, _ in e)
        assert name in shapes, f"{name} never appears in the transcripts"
        assert names in shapes[name], f"{name} fields {names} differ from the transcripts"


async def ivr(channel, **_) -> None:  # type: ignore[no-untyped-def]
    """A stand-in inbound flow: what the real one leaves on the channel for a queue call."""
    await channel.set_variable("CAC311_INTENT", "queja")
    await channel.set_variable("CAC311_NEXT", "queue")


@pytest.fixture
async def agi():
    server = FastAgiServer({"inbound": ivr}, "127.0.0.1", 0)
    await server.start()
    yield server
    await server.stop()


FAST = dict(
    calls_per_minute=0,
    ivr_seconds=(0.0, 0.0),
    bot_answer_seconds=(0.05, 0.05),
    bot_talk_seconds=(0.1, 0.1),
    ring_no_answer_share=0.0,
    max_recording_seconds=1.0,
)


async def generate(agi, tmp_path: Path, profile: TrafficProfile, *, patience: float = 5.0):
    sim = AmiSimulator(static_members=())
    gen = TrafficGenerator(
        sim,
        fastagi_host="127.0.0.1",
        fastagi_port=agi.port,
        recordings_dir=tmp_path,
        profile=profile,
        seed=1,
    )
    await gen.start()
    events: list[Fields] = []
    gen.listeners.append(lambda pairs: events.append(tuple(pairs)))
    await asyncio.wait_for(gen.spawn_call(script=[], caller_num="62345678", patience=patience), 10)
    await gen.stop()
    return gen, sim, events


async def test_given_a_free_bot_when_a_call_is_answered_then_events_follow_the_transcript(
    agi, tmp_path
):
    gen, sim, events = await generate(agi, tmp_path, TrafficProfile(bots=1, **FAST))

    assert gen.stats.answered == 1
    assert_same_shapes(events)
    assert_subsequence(events, transcript_events("ami-queue-call-answered"))
    assert sim.channels == {} and sim.queues["cac311"].completed == 1
    names = [dict(e)["Event"] for e in events]
    assert names.index("QueueCallerLeave") < names.index("AgentConnect")


async def test_given_no_agent_when_the_caller_gives_up_then_events_follow_the_transcripts(
    agi, tmp_path
):
    gen, sim, events = await generate(agi, tmp_path, TrafficProfile(bots=0, **FAST), patience=0.3)

    assert gen.stats.abandoned == 1
    assert_same_shapes(events)
    join = next(i for i, e in enumerate(events) if dict(e)["Event"] == "QueueCallerJoin")
    # Before the queue the call is the same as an answered one (MixMonitor, AGI, VarSets)...
    assert_subsequence(events[:join], transcript_events("ami-queue-call-answered"))
    # ...and from the queue on it is the abandoned transcript.
    assert_subsequence(events[join:], transcript_events("ami-queue-call-abandoned"))
    abandon = dict(next(e for e in events if dict(e)["Event"] == "QueueCallerAbandon"))
    assert abandon["Position"] == abandon["OriginalPosition"] == "1"
    assert sim.channels == {} and sim.queues["cac311"].abandoned == 1


async def test_given_a_bot_that_lets_it_ring_then_agent_ring_no_answer_has_the_real_shape(
    agi, tmp_path
):
    profile = TrafficProfile(
        bots=1, **{**FAST, "ring_no_answer_share": 1.0}, ring_timeout_seconds=0.1
    )
    gen, _, events = await generate(agi, tmp_path, profile, patience=0.5)

    rna = [dict(e) for e in events if dict(e)["Event"] == "AgentRingNoAnswer"]
    assert rna and gen.stats.ring_no_answer == len(rna) and gen.stats.abandoned == 1
    assert int(rna[0]["RingTime"]) >= 100
    assert_same_shapes(events)


async def test_the_ivr_variables_and_the_recording_reach_the_caller_channel(agi, tmp_path):
    _, _, events = await generate(agi, tmp_path, TrafficProfile(bots=1, **FAST))

    join = next(i for i, e in enumerate(events) if dict(e)["Event"] == "QueueCallerJoin")
    caller = dict(events[join])["Uniqueid"]
    before = [dict(e) for e in events[:join] if dict(e)["Event"] == "VarSet"]
    assert {(v["Variable"], v["Value"]) for v in before if v["Uniqueid"] == caller} >= {
        ("CAC311_INTENT", "queja"),
        ("CAC311_NEXT", "queue"),
        ("AGISTATUS", "SUCCESS"),
    }
    reported = next(v["Value"] for v in before if v["Variable"] == "MIXMONITOR_FILENAME")
    rel = relative_recording_path(reported)
    assert rel is not None and rel.name == f"{caller}.wav"
    with wave.open(str(tmp_path / rel)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert wav.getnframes() > 0


async def test_a_member_who_joins_by_queue_add_is_offered_the_next_call_before_a_bot(agi, tmp_path):
    sim = AmiSimulator(static_members=())
    profile = TrafficProfile(bots=1, **FAST, human_talk_seconds=0.1, human_answer_seconds=0.05)
    gen = TrafficGenerator(
        sim,
        fastagi_host="127.0.0.1",
        fastagi_port=agi.port,
        recordings_dir=tmp_path,
        profile=profile,
        seed=2,
    )
    await gen.start()
    gen.add_member("PJSIP/agent1001", "Ana Batista")  # as app_queue reports an AMI QueueAdd
    await asyncio.wait_for(gen.spawn_call(script=[], caller_num="62345678"), 10)
    sim.queues["cac311"].members["PJSIP/agent1001"].paused = True
    await asyncio.wait_for(gen.spawn_call(script=[], caller_num="62345678"), 10)
    await gen.stop()

    assert gen.stats.by_interface == {"PJSIP/agent1001": 1, "Local/901@cac311-bots/n": 1}


def test_caller_scripts_use_demo_cedulas_as_keys_and_sometimes_wrong_keys():
    import random

    rng = random.Random(7)
    scripts = [caller_script(rng, known_citizen="8-123-4567", case_numbers=[]) for _ in range(300)]
    keys = [a.digits for s in scripts for a in s if isinstance(a, Press)]
    assert "8*123*4567#" in keys
    assert any(k in ("7", "8", "9") for k in keys)  # not a menu key
    assert "5" in keys and "0" in keys and "6" in keys
