"""Why ami/client.py does not wrap panoramisk 1.4 (the library the project first chose).

Against the exact responses of a real Asterisk 22 (the simulator replays them), panoramisk's
QueueAdd never resolves: its reply ``Message: Added interface to queue`` is taken for the start
of an event list. The agent desktop's "Conectarse a la cola" would hang. If a later panoramisk
release passes this test's first assertion no more, its use can be reconsidered.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from ami.client import AmiClient, AmiConfig
from asterisk_sim.ami import AmiSimulator

QUEUE_ADD = {"Queue": "cac311", "Interface": "PJSIP/1001", "MemberName": "Ana"}


@pytest.fixture
async def sim():
    simulator = AmiSimulator(username="cac311", secret="s3cret")
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_panoramisk_queue_add_never_resolves_but_ours_does(sim):
    from panoramisk import Manager

    manager = Manager(
        host="127.0.0.1", port=sim.port, username="cac311", secret="s3cret", ping_delay=0
    )
    try:
        await manager.connect()
        for _ in range(100):
            if manager.authenticated:
                break
            await asyncio.sleep(0.02)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(manager.send_action({"Action": "QueueAdd", **QUEUE_ADD}), 1.5)
    finally:
        manager.close()
    assert [a.get("Action") for a in sim.actions].count("QueueAdd") == 1  # it was answered

    ours = AmiClient(
        AmiConfig(
            host="127.0.0.1",
            port=sim.port,
            username="cac311",
            secret="s3cret",
            server="pbx1",
            action_timeout=1.5,
        ),
        rng=random.Random(1),
    )
    await ours.start()
    try:
        await ours.queue_remove("cac311", "PJSIP/1001")
        response = await ours.queue_add("cac311", "PJSIP/1001", "Ana")
        assert response.success and response.message == "Added interface to queue"
    finally:
        await ours.stop()
