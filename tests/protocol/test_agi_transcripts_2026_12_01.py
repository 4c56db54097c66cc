"""The 2026-12-01 FastAGI capture (three sessions in one file): parser and simulator.

``2026-12-01/agi-barge-in-and-hangup-digits`` came from another run of Asterisk 22.10.1 than
the top-level transcripts; it holds three FastAGI sessions, split at ``<CLOSE>``.
"""

from __future__ import annotations

import asyncio

import pytest

from asterisk_sim.agi import (
    AgiTranscript,
    HangUp,
    Press,
    PressDuringPrompt,
    SimulatedAgiCall,
    load_agi_sessions,
)
from ivr.agi.protocol import parse_replies
from tests.transcripts import transcript_dir

NAME = "2026-12-01/agi-barge-in-and-hangup-digits"


def sessions() -> list[AgiTranscript]:
    return load_agi_sessions(transcript_dir() / f"{NAME}.jsonl")


def _txt_sessions() -> list[list[str]]:
    """The ``>> `` reply lines after each session's environment, from the readable .txt."""
    out: list[list[str]] = []
    current: list[str] = []
    in_env = True
    for line in (transcript_dir() / f"{NAME}.txt").read_text(encoding="utf-8").split("\n"):
        if line == "<< <CLOSE>":
            out.append(current)
            current, in_env = [], True
        elif line.startswith(">> "):
            if in_env:
                in_env = line != ">> "
            else:
                current.append(line[3:])
    return out


def test_given_the_capture_then_it_holds_three_sessions_matching_the_txt():
    parsed = sessions()
    assert len(parsed) == 3
    for transcript, txt_lines in zip(parsed, _txt_sessions(), strict=True):
        stream = b"".join(reply for _, reply in transcript.exchanges)
        replies, rest = parse_replies(stream)
        assert rest == b""
        assert len(replies) == len(transcript.exchanges)
        assert stream.decode().rstrip("\n").split("\n") == txt_lines


def test_given_hangup_during_get_data_then_minus_one_and_the_next_reply_carries_hangup():
    first = sessions()[0]
    replies, _ = parse_replies(b"".join(reply for _, reply in first.exchanges))
    by_command = dict(zip((c.decode().strip() for c, _ in first.exchanges), replies, strict=True))
    # The two keys typed before the hangup are lost: no digits in the reply.
    assert by_command["GET DATA cac311/bienvenida 6000 8"].result == "-1"
    assert by_command["GET VARIABLE CAP_TEST"].hangup_seen
    assert by_command['STREAM FILE cac311/bienvenida ""'].code == 511
    assert by_command['STREAM FILE cac311/bienvenida "0123456789*#"'].result == str(ord("3"))
    assert by_command["EXEC Background cac311/bienvenida"].result == str(ord("4"))


# What the caller did in each session (keys sent with AMI PlayDTMF during our command).
SCRIPTS = [
    dict(
        route="test1",
        caller=[
            PressDuringPrompt("3", endpos=10080),
            PressDuringPrompt("1", endpos=5040),
            Press("7"),
            Press("#"),
            PressDuringPrompt("4"),
            Press("42", hangup=True),
        ],
        channel="Local/agitest1@cap-tests-00000001;2",
        uniqueid="1796137184.5",
        callerid="60008801",
        calleridname="Ciudadano 801",
        variables={"CAP_TEST": "test1"},
        threadid=140043100595904,
        agi_status="HANGUP",
    ),
    dict(
        route="test2",
        caller=[Press("5"), HangUp()],
        channel="Local/agitest2@cap-tests-00000002;2",
        uniqueid="1796137208.7",
        callerid="60008802",
        calleridname="Ciudadano 802",
        threadid=140043099571904,
        agi_status="HANGUP",
    ),
    dict(
        route="test3",
        caller=[Press("42")],
        channel="Local/agitest3@cap-tests-00000003;2",
        uniqueid="1796137224.9",
        callerid="60008803",
        calleridname="Ciudadano 803",
        threadid=140043100595904,
        agi_status="SUCCESS",
    ),
]


async def _drive(transcript: AgiTranscript, script: dict) -> tuple[SimulatedAgiCall, dict]:
    """Send the transcript's commands to the simulator; collect what it answered."""
    seen: dict[str, object] = {}
    done = asyncio.Event()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            seen["env"] = await reader.readuntil(b"\n\n")
            got = []
            for command, expected in transcript.exchanges:
                writer.write(command)
                await writer.drain()
                got.append(await asyncio.wait_for(reader.readexactly(len(expected)), 2))
            seen["replies"] = got
            writer.write_eof()
            seen["extra"] = await asyncio.wait_for(reader.read(), 2)
        finally:
            writer.close()
            done.set()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    route = script["route"]
    sim = SimulatedAgiCall(
        "127.0.0.1",
        port,
        route,
        request=f"agi://127.0.0.1:4599/{route}",
        caller=script["caller"],
        channel=script["channel"],
        uniqueid=script["uniqueid"],
        callerid=script["callerid"],
        calleridname=script["calleridname"],
        context="cap-tests",
        extension="agi",
        priority=5,
        threadid=script["threadid"],
        variables=script.get("variables"),
    )
    try:
        await asyncio.wait_for(sim.run(), 5)
        await asyncio.wait_for(done.wait(), 5)
    finally:
        server.close()
    return sim, seen


@pytest.mark.parametrize("index", [0, 1, 2])
async def test_given_each_captured_session_when_replayed_to_the_simulator_then_byte_identical(
    index: int,
):
    transcript = sessions()[index]
    script = SCRIPTS[index]

    sim, seen = await _drive(transcript, script)

    assert seen["env"] == transcript.env
    assert seen["replies"] == [reply for _, reply in transcript.exchanges]
    assert seen["extra"] == b""
    assert sim.agi_status == script["agi_status"]
    assert sim.caller.remaining == ()
    assert sim.unsimulated == []
