"""The AGI simulator answers byte for byte what Asterisk 22 sent in the agi-* transcripts.

A tiny raw FastAGI server sends exactly the commands the transcript's client sent; the
simulator, configured with the transcript's channel values and caller behaviour, must send
the same environment block and the same reply bytes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from asterisk_sim.agi import (
    CallerAction,
    HangUp,
    Press,
    PressDuringPrompt,
    SimulatedAgiCall,
    Timeout,
    load_agi_transcript,
)
from tests.transcripts import transcript_dir


@dataclass
class Case:
    route: str
    sim: dict[str, object]
    caller: list[CallerAction] = field(default_factory=list)
    agi_status: str = "SUCCESS"


CASES = {
    "agi-inbound-happy": Case(
        "inbound",
        dict(
            args=("first", "second"),
            channel="Local/311@cac311-inbound-00000000;2",
            uniqueid="1795475111.1",
            callerid="62345678",
            calleridname="Maria Perez",
            context="cac311-inbound",
            extension="311",
            priority=4,
            threadid=140074839385792,
            missing_files={"no-such-prompt-file"},
        ),
        [PressDuringPrompt("1", endpos=21600), Press("8*123*4567#"), Timeout(), Timeout()],
    ),
    "agi-hangup-midway": Case(
        "hangup",
        dict(
            channel="Local/313@cac311-tests-00000003;2",
            uniqueid="1795475167.7",
            callerid="61112222",
            context="cac311-tests",
            extension="313",
            priority=3,
            threadid=140074839385792,
        ),
        [HangUp()],
        agi_status="HANGUP",
    ),
    "agi-errors": Case(
        "errors",
        dict(
            channel="Local/314@cac311-tests-00000004;2",
            uniqueid="1795475179.9",
            callerid="61113333",
            context="cac311-tests",
            extension="314",
            priority=3,
            threadid=140074840921792,
        ),
    ),
    "agi-callback-survey": Case(
        "satisfaction",
        dict(
            channel="Local/answer@phones-00000006;1",
            uniqueid="1795475200.12",
            callerid="311",
            calleridname="3-1-1",
            context="cac311-callback",
            extension="s",
            priority=2,
            threadid=140074839385792,
            variables={"CAC311_CALLBACK_ID": "cb-1001"},
        ),
        [Press("1"), Press("4"), Timeout()],
    ),
}


async def run_against_raw_server(name: str, case: Case) -> tuple[SimulatedAgiCall, list]:
    transcript = load_agi_transcript(transcript_dir() / f"{name}.jsonl")
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
            writer.write_eof()  # nothing else may follow the last reply
            seen["extra"] = await asyncio.wait_for(reader.read(), 2)
        finally:
            writer.close()
            done.set()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sim = SimulatedAgiCall(
        "127.0.0.1",
        port,
        case.route,
        request=f"agi://127.0.0.1:24573/{case.route}",
        caller=case.caller,
        **case.sim,  # type: ignore[arg-type]
    )
    try:
        await asyncio.wait_for(sim.run(), 5)
        await asyncio.wait_for(done.wait(), 5)
    finally:
        server.close()
    return sim, [transcript, seen]


@pytest.mark.parametrize("name", list(CASES))
async def test_given_transcript_commands_when_sent_to_simulator_then_replies_are_byte_identical(
    name,
):
    case = CASES[name]

    sim, (transcript, seen) = await run_against_raw_server(name, case)

    assert seen["env"] == transcript.env
    assert seen["replies"] == [reply for _, reply in transcript.exchanges]
    assert seen["extra"] == b""
    assert sim.commands == [c.decode().rstrip("\n") for c, _ in transcript.exchanges]
    assert sim.result is not None and sim.result.ended_by == "server"
    assert sim.agi_status == case.agi_status  # as ${AGISTATUS} in ami-agi-hangup-errors-...
    assert sim.caller.remaining == ()


async def test_given_inbound_script_when_run_then_variables_and_exec_calls_are_recorded():
    sim, _ = await run_against_raw_server("agi-inbound-happy", CASES["agi-inbound-happy"])
    assert sim.variables == {"CAC311_INTENT": "queja", "CAC311_CEDULA": "8-123-4567"}
    assert sim.exec_calls == [("Playback", "silence/1")]
    assert sim.unsimulated == []
