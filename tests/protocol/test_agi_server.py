"""FastAgiServer robustness: bad connections never disturb a concurrent good call; load."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

import pytest

from asterisk_sim.agi import HangUp, Press, SimulatedAgiCall
from ivr.agi import AgiChannel, FastAgiServer
from ivr.agi.server import UNKNOWN_ROUTE_MESSAGE

PERSONAL = "8-123-4567"


async def good_flow(ch: AgiChannel) -> None:
    await ch.answer()
    digits = await ch.get_data("beep", 3000, 12)
    await ch.set_variable("CAC311_CEDULA", digits or "")
    await ch.stream_file("silence/1")


async def crash_flow(ch: AgiChannel) -> None:
    await ch.answer()
    raise ValueError(f"bad cedula {PERSONAL} for {ch.env.callerid}")


gate = asyncio.Event()


async def blocked_flow(ch: AgiChannel) -> None:
    await ch.answer()
    await gate.wait()


ROUTES = {"good": good_flow, "crash": crash_flow, "blocked": blocked_flow}


@pytest.fixture
async def server() -> AsyncIterator[FastAgiServer]:
    srv = FastAgiServer(ROUTES, "127.0.0.1", 0, env_timeout=0.3, command_timeout=2.0)
    await srv.start()
    yield srv
    await srv.stop()


async def good_call(port: int, digits: str = "8*123*4567#") -> SimulatedAgiCall:
    sim = SimulatedAgiCall("127.0.0.1", port, "good", caller=[Press(digits)], call_timeout=5)
    await sim.run()
    return sim


def assert_good(sim: SimulatedAgiCall) -> None:
    assert sim.result is not None
    assert (sim.result.ended_by, sim.result.agi_status) == ("server", "SUCCESS")
    assert sim.commands[0] == "ANSWER" and sim.commands[-1] == 'STREAM FILE silence/1 ""'
    assert sim.variables == {"CAC311_CEDULA": "8*123*4567"}


async def eventually(predicate: Callable[[], bool], within: float = 2.0) -> None:
    """Poll ``predicate`` every 10 ms until it holds; fail after ``within`` seconds."""
    for _ in range(int(within / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


async def wait_idle(srv: FastAgiServer) -> None:
    await eventually(lambda: not (srv.active_connections or srv.active_calls))


async def test_given_health_check_connect_and_close_when_good_call_runs_then_it_completes(
    server,
):
    async def health_checks() -> None:
        for _ in range(20):
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.close()
        # And one that sends half an env block, then closes.
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"agi_network: yes\nagi_netw")
        await writer.drain()
        writer.close()

    t0 = time.monotonic()
    sim, _ = await asyncio.gather(good_call(server.port), health_checks())

    assert_good(sim)
    await wait_idle(server)
    assert time.monotonic() - t0 < 2  # no busy loop, no waiting for env_timeout


@pytest.mark.parametrize(
    "garbage",
    [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01\x00", b"\n\n\n"],
)
async def test_given_garbage_when_good_call_runs_then_garbage_closed_and_call_completes(
    server, garbage
):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(garbage)
    await writer.drain()

    sim = await good_call(server.port)

    assert await asyncio.wait_for(reader.read(), 1) == b""  # closed, nothing written
    writer.close()
    assert_good(sim)
    await wait_idle(server)


async def test_given_stalled_env_block_when_timeout_passes_then_closed_and_call_completes(
    server,
):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network: yes\nagi_network_script: good\n")  # no empty line, ever
    await writer.drain()
    t0 = time.monotonic()

    sim = await good_call(server.port)
    assert_good(sim)

    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert 0.25 < time.monotonic() - t0 < 1.5  # closed by env_timeout=0.3
    writer.close()
    await wait_idle(server)


async def test_given_handler_crash_when_logged_then_no_personal_data_and_call_completes(
    server, caplog
):
    caplog.set_level(logging.DEBUG, logger="ivr.agi")
    crash = SimulatedAgiCall("127.0.0.1", server.port, "crash", callerid="61234567")

    results = await asyncio.gather(crash.run(), good_call(server.port))

    assert results[0].ended_by == "server" and results[0].agi_status == "SUCCESS"
    assert crash.commands == ["ANSWER"]
    assert_good(results[1])
    failures = [r for r in caplog.records if "handler failed" in r.getMessage()]
    assert len(failures) == 1 and "ValueError" in failures[0].getMessage()
    assert PERSONAL not in caplog.text and "61234567" not in caplog.text
    await wait_idle(server)


async def test_given_unknown_route_when_called_then_verbose_then_close(server):
    stray = SimulatedAgiCall("127.0.0.1", server.port, "no-such-route")

    results = await asyncio.gather(stray.run(), good_call(server.port))

    assert stray.commands == [f'VERBOSE "{UNKNOWN_ROUTE_MESSAGE}" 1']
    assert results[0].ended_by == "server"
    assert_good(results[1])


async def test_given_caller_hangs_up_when_flow_raises_agihangup_then_no_error_logged(
    server, caplog
):
    caplog.set_level(logging.INFO, logger="ivr.agi")
    sim = SimulatedAgiCall("127.0.0.1", server.port, "good", caller=[HangUp()])

    result = await sim.run()

    assert result.agi_status == "HANGUP"
    assert sim.commands == ["ANSWER", "GET DATA beep 3000 12"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "ended by hangup" in caplog.text


async def test_given_running_calls_when_stopped_then_cancelled_after_grace():
    srv = FastAgiServer(ROUTES, "127.0.0.1", 0, shutdown_grace=0.2)
    await srv.start()
    sims = [SimulatedAgiCall("127.0.0.1", srv.port, "blocked") for _ in range(3)]
    tasks = [asyncio.create_task(s.run()) for s in sims]
    await eventually(lambda: srv.active_calls == 3)

    t0 = time.monotonic()
    await srv.stop()

    assert time.monotonic() - t0 < 1.5
    results = await asyncio.wait_for(asyncio.gather(*tasks), 2)
    assert all(r.ended_by == "server" for r in results)
    assert srv.active_calls == 0
    # Nothing listens any more: Asterisk would set AGISTATUS=FAILURE and fail open.
    late = await SimulatedAgiCall("127.0.0.1", sims[0].port, "good").run()
    assert (late.ended_by, late.agi_status) == ("connect_failed", "FAILURE")


async def test_given_200_concurrent_calls_when_served_then_all_complete(server):
    n = 200
    t0 = time.monotonic()

    sims = await asyncio.gather(*(good_call(server.port) for _ in range(n)))

    for sim in sims:
        assert_good(sim)
    assert len({s.uniqueid for s in sims}) == n
    await wait_idle(server)
    assert time.monotonic() - t0 < 10


async def test_given_a_peer_outside_the_allow_list_when_it_connects_then_closed_unread(caplog):
    # Issue 15, finding 2: only the configured Asterisk hosts may open FastAGI sessions.
    srv = FastAgiServer(ROUTES, "127.0.0.1", 0, allow=("192.0.2.10",))
    await srv.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(b"agi_network: yes\nagi_network_script: good\nagi_uniqueid: 1.1\n\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 2) == b""  # no ANSWER, nothing at all
        writer.close()
        assert srv.refused_peers == 1 and srv.active_calls == 0
        assert "not in the allow-list" in caplog.text
    finally:
        await srv.stop()


def test_given_default_settings_then_fastagi_listens_on_loopback_for_loopback_asterisk():
    from cac311.config import Settings, load_settings

    assert Settings().fastagi_bind.host == "127.0.0.1"
    assert Settings().fastagi_allow == ("127.0.0.1", "::1")
    s = load_settings({"CAC311_FASTAGI_ALLOW": "10.0.0.5, 10.1.0.0/24"})
    assert s.fastagi_allow == ("10.0.0.5", "10.1.0.0/24")
    with pytest.raises(ValueError, match="FASTAGI_ALLOW"):
        load_settings({"CAC311_FASTAGI_ALLOW": "asterisk.example"})
