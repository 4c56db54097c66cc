"""AgiChannel on a real FastAgiServer, driven by recorded Asterisk bytes and by the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from asterisk_sim.agi import (
    HangUp,
    Press,
    PressDuringPrompt,
    SimulatedAgiCall,
    Timeout,
    replay_transcript,
)
from ivr.agi import AgiChannel, AgiCommandError, AgiHangup, AgiTimeout, FastAgiServer
from tests.transcripts import transcript_dir

Flow = Callable[[AgiChannel], Awaitable[None]]


class Routes(dict[str, Flow]):
    """The server's route table; each test adds the flows it needs."""

    def add(self, name: str, flow: Flow) -> None:
        self[name] = flow


@pytest.fixture
async def routes() -> Routes:
    return Routes()


@pytest.fixture
async def server(routes: Routes) -> AsyncIterator[FastAgiServer]:
    srv = FastAgiServer(routes, "127.0.0.1", 0, env_timeout=2.0, command_timeout=2.0)
    await srv.start()
    yield srv
    await srv.stop()


def inbound_flow(out: dict[str, object]) -> Flow:
    async def flow(ch: AgiChannel) -> None:
        await ch.answer()
        await ch.verbose("cac311 inbound start")
        out["status"] = await ch.channel_status()
        out["lang"] = await ch.get_variable("CHANNEL(language)")
        out["unset"] = await ch.get_variable("CAC311_NOT_SET")
        out["full"] = await ch.get_full_variable("${CALLERID(num)}-${UNIQUEID}")
        await ch.set_variable("CAC311_INTENT", "queja")
        out["intent"] = await ch.get_variable("CAC311_INTENT")
        out["silence"] = await ch.stream_file("silence/1")
        out["menu"] = await ch.stream_file("vm-enter-num-to-call", "0123456789*#")
        out["cedula"] = await ch.get_data("beep", 10000, 20)
        out["nothing"] = await ch.get_data("beep", 3000, 5)
        out["say_digits"] = await ch.say_digits("2026")
        out["say_number"] = await ch.say_number(42)
        out["wait"] = await ch.wait_for_digit(1000)
        out["exec"] = await ch.exec_app("Playback", "silence/1")
        out["missing"] = await ch.stream_file("no-such-prompt-file")
        await ch.set_variable("CAC311_CEDULA", "8-123-4567")
        out["env_args"] = ch.env.args

    return flow


INBOUND_EXPECTED = {
    "status": 6,
    "lang": "es",
    "unset": None,
    "full": "62345678-1795475111.1",
    "intent": "queja",
    "silence": None,
    "menu": "1",
    "cedula": "8*123*4567",
    "nothing": None,
    "say_digits": None,
    "say_number": None,
    "wait": None,
    "exec": 0,
    "missing": None,
    "env_args": ("first", "second"),
}


def hangup_flow(out: dict[str, object]) -> Flow:
    async def flow(ch: AgiChannel) -> None:
        await ch.answer()
        with pytest.raises(AgiHangup):
            await ch.get_data("beep", 15000, 20)
        out["dead_after_minus_one"] = ch.is_dead
        with pytest.raises(AgiHangup):
            await ch.get_variable("CHANNEL(language)")  # HANGUP line, then its result
        with pytest.raises(AgiHangup):
            await ch.stream_file("beep")  # 511
        await ch.set_variable("X", "1")  # still answered on a dead channel
        out["ok"] = True

    return flow


def survey_flow(out: dict[str, object]) -> Flow:
    async def flow(ch: AgiChannel) -> None:
        await ch.answer()
        out["callback_id"] = await ch.get_variable("CAC311_CALLBACK_ID")
        await ch.stream_file("silence/1")
        out["keys"] = [
            await ch.get_data("beep", 8000, 1),
            await ch.get_data("beep", 8000, 1),
            await ch.get_data("beep", 4000, 1),
        ]

    return flow


def errors_flow(out: dict[str, object]) -> Flow:
    async def flow(ch: AgiChannel) -> None:
        await ch.answer()
        codes = []
        for verb, args in [
            ("FOO BAR", ()),
            ("GET DATA", ()),
            ("STREAM FILE", ()),
            ("SAY NUMBER", ("abc",)),
            ("SET VARIABLE", ()),
        ]:
            with pytest.raises(AgiCommandError) as err:
                await ch.command(verb, *args)
            codes.append(err.value.code)
        out["exec"] = (await ch.command("EXEC", "NoSuchApplication", '"x"')).result_int
        with pytest.raises(AgiCommandError) as err:
            await ch.command("GET VARIABLE")
        out["usage"] = err.value.text
        out["codes"] = codes

    return flow


async def test_given_recorded_inbound_bytes_when_flow_uses_channel_api_then_same_commands(
    routes, server
):
    out: dict[str, object] = {}
    routes.add("inbound", inbound_flow(out))

    pairs = await replay_transcript(
        transcript_dir() / "agi-inbound-happy.jsonl", "127.0.0.1", server.port
    )

    assert [received for _, received in pairs] == [expected for expected, _ in pairs]
    assert out == INBOUND_EXPECTED


async def test_given_recorded_hangup_bytes_when_flow_continues_then_hangup_semantics(
    routes, server
):
    out: dict[str, object] = {}
    routes.add("hangup", hangup_flow(out))

    pairs = await replay_transcript(
        transcript_dir() / "agi-hangup-midway.jsonl", "127.0.0.1", server.port
    )

    assert [received for _, received in pairs] == [expected for expected, _ in pairs]
    assert out == {"dead_after_minus_one": True, "ok": True}


async def test_given_recorded_survey_bytes_when_flow_reads_keys_then_digits_and_timeout(
    routes, server
):
    out: dict[str, object] = {}
    routes.add("satisfaction", survey_flow(out))

    pairs = await replay_transcript(
        transcript_dir() / "agi-callback-survey.jsonl", "127.0.0.1", server.port
    )

    assert [received for _, received in pairs] == [expected for expected, _ in pairs]
    assert out == {"callback_id": "cb-1001", "keys": ["1", "4", None]}


async def test_given_recorded_error_bytes_when_flow_sends_bad_commands_then_command_errors(
    routes, server
):
    out: dict[str, object] = {}
    routes.add("errors", errors_flow(out))

    pairs = await replay_transcript(transcript_dir() / "agi-errors.jsonl", "127.0.0.1", server.port)

    assert [received for _, received in pairs] == [expected for expected, _ in pairs]
    assert out["codes"] == [510, 520, 520, 520, 520]
    assert out["exec"] == -2
    assert "Example return code: 200 result=1 (testvariable)" in str(out["usage"])


async def test_given_simulator_when_inbound_flow_runs_then_same_results_as_recorded(routes, server):
    out: dict[str, object] = {}
    routes.add("inbound", inbound_flow(out))
    sim = SimulatedAgiCall(
        "127.0.0.1",
        server.port,
        "inbound",
        args=("first", "second"),
        uniqueid="1795475111.1",
        callerid="62345678",
        missing_files={"no-such-prompt-file"},
        caller=[PressDuringPrompt("1"), Press("8*123*4567#"), Timeout(), Timeout()],
    )

    result = await sim.run()

    assert out == INBOUND_EXPECTED
    assert result.agi_status == "SUCCESS" and not result.caller_hung_up
    assert sim.variables["CAC311_CEDULA"] == "8-123-4567"


async def test_given_simulator_hangup_when_flow_continues_then_same_semantics(routes, server):
    out: dict[str, object] = {}
    routes.add("hangup", hangup_flow(out))
    sim = SimulatedAgiCall("127.0.0.1", server.port, "hangup", caller=[HangUp()])

    result = await sim.run()

    assert out == {"dead_after_minus_one": True, "ok": True}
    assert result.agi_status == "HANGUP"
    assert sim.variables == {"X": "1"}


async def test_given_hangup_during_prompt_when_streaming_then_agi_hangup_not_missing_file(
    routes, server
):
    seen: list[str] = []

    async def flow(ch: AgiChannel) -> None:
        try:
            await ch.stream_file("long-prompt", "12")
        except AgiHangup:
            seen.append("hangup")
            await ch.set_variable("CAC311_ABANDONED", "1")  # HANGUP line: tolerated here
            seen.append(f"dead={ch.is_dead}")

    routes.add("prompt", flow)
    sim = SimulatedAgiCall("127.0.0.1", server.port, "prompt", caller=[HangUp()])
    await sim.run()

    assert seen == ["hangup", "dead=True"]
    assert sim.replies[0] == b"200 result=-1 endpos=4000\n"
    assert sim.variables == {"CAC311_ABANDONED": "1"}


async def test_given_partial_keys_when_get_data_times_out_then_partial_digits_returned(
    routes, server
):
    seen: list[object] = []

    async def flow(ch: AgiChannel) -> None:
        seen.append(await ch.get_data("beep", 3000, 10))
        seen.append(await ch.get_data("beep", 3000, 3))
        seen.append(await ch.wait_for_digit(2000))
        seen.append(await ch.say_digits("123", "#"))
        seen.append(await ch.exec_app("NoSuchApp"))

    routes.add("keys", flow)
    sim = SimulatedAgiCall(
        "127.0.0.1",
        server.port,
        "keys",
        caller=[Press("12"), Press("98765"), Press("7"), PressDuringPrompt("#")],
    )
    await sim.run()

    assert seen == ["12", "987", "7", "#", -2]
    assert sim.replies[0] == b"200 result=12 (timeout)\n"


async def test_given_silent_asterisk_when_command_times_out_then_agi_timeout_and_closed(
    routes,
):
    seen: list[str] = []

    async def flow(ch: AgiChannel) -> None:
        try:
            await ch.answer()
        except AgiTimeout:
            seen.append("timeout")
            raise

    routes.add("slow", flow)
    srv = FastAgiServer(routes, "127.0.0.1", 0, command_timeout=0.2)
    await srv.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"agi_network: yes\nagi_network_script: slow\n\n")
        assert await asyncio.wait_for(reader.readline(), 2) == b"ANSWER\n"
        # We never answer: the server gives up and closes the socket.
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
    finally:
        await srv.stop()
    assert seen == ["timeout"]


async def test_given_argument_with_quotes_when_set_then_simulator_stores_exact_value(
    routes, server
):
    async def flow(ch: AgiChannel) -> None:
        await ch.set_variable("CAC311_NOTE", 'dijo "hola" \\ adiós')

    routes.add("quote", flow)
    sim = SimulatedAgiCall("127.0.0.1", server.port, "quote")
    await sim.run()

    assert sim.variables == {"CAC311_NOTE": 'dijo "hola" \\ adiós'}


async def test_given_keys_then_a_hangup_when_collecting_digits_then_the_keys_survive():
    """GET DATA would answer ``200 result=-1`` and lose ``8*12`` (as captured on 2026-12-01);
    one WAIT FOR DIGIT per key keeps them."""
    from asterisk_sim.agi import Press, SimulatedAgiCall
    from ivr.agi.errors import AgiHangup
    from ivr.agi.server import FastAgiServer

    seen: dict[str, object] = {}

    async def route(channel) -> None:  # type: ignore[no-untyped-def]
        try:
            await channel.collect_digits("cac311/cedula-solicitud", 8000, 20)
        except AgiHangup:
            seen["keyed"] = channel.keyed
            seen["dead"] = channel.is_dead

    async with FastAgiServer({"t": route}, "127.0.0.1", 0) as server:
        call = SimulatedAgiCall("127.0.0.1", server.port, "t", caller=[Press("8*12", hangup=True)])
        await call.run()
    assert seen == {"keyed": "8*12", "dead": True}
    assert call.commands[0] == 'STREAM FILE cac311/cedula-solicitud "0123456789*#"'
    assert call.commands[1:] == ["WAIT FOR DIGIT 8000"] * 5
