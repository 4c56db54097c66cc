"""Several FastAGI processes on one address (SO_REUSEPORT): the kernel spreads the calls."""

from __future__ import annotations

import asyncio
import socket

import pytest

from asterisk_sim.agi import SimulatedAgiCall
from ivr.agi.server import FastAgiServer

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT")


async def test_two_servers_bind_one_port_and_both_answer_calls():
    served = {"a": 0, "b": 0}

    def route(name):  # type: ignore[no-untyped-def]
        async def handler(channel):  # type: ignore[no-untyped-def]
            served[name] += 1
            await channel.answer()

        return handler

    a = FastAgiServer({"t": route("a")}, "127.0.0.1", 0)
    await a.start()
    b = FastAgiServer({"t": route("b")}, "127.0.0.1", a.port)
    await b.start()
    try:
        assert a.port == b.port
        for _ in range(5):
            calls = [SimulatedAgiCall("127.0.0.1", a.port, "t", call_timeout=5) for _ in range(20)]
            await asyncio.gather(*(c.run() for c in calls))
            if served["a"] and served["b"]:
                break
        assert served["a"] > 0 and served["b"] > 0, served
    finally:
        await a.stop()
        await b.stop()


async def test_reuse_port_can_be_turned_off():
    a = FastAgiServer({}, "127.0.0.1", 0, reuse_port=False)
    await a.start()
    try:
        b = FastAgiServer({}, "127.0.0.1", a.port, reuse_port=False)
        with pytest.raises(OSError):
            await b.start()
    finally:
        await a.stop()
