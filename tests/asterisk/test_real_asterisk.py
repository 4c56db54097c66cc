"""Optional checks against a real Asterisk 22 running asterisk_conf/ (never run in CI).

Set ``CAC311_TEST_ASTERISK=user:secret@host:port`` (the AMI user ``cac311`` of
``site/manager.conf``) to run them, e.g. against a PBX built from source on a development
machine. They only read, or originate calls that fail before dialling anything.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from ami.client import REQUIRED_MODULE_ACTIONS, AmiActionError, AmiClient, AmiConfig
from ami.events import OriginateResponse, Resync

TARGET = os.environ.get("CAC311_TEST_ASTERISK", "")
pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.skipif(not TARGET, reason="CAC311_TEST_ASTERISK (user:secret@host:port) unset"),
]


def _config() -> AmiConfig:
    credentials, _, address = TARGET.rpartition("@")
    user, _, secret = credentials.partition(":")
    host, _, port = address.rpartition(":")
    return AmiConfig(host=host, port=int(port), username=user, secret=secret, server="real")


@pytest.fixture
async def client():
    c = AmiClient(_config())
    events: list = []
    c.subscribe(events.append)
    c.received = events  # type: ignore[attr-defined]
    await c.start()
    await c.wait_up(10)
    yield c
    await c.stop()


async def _until(predicate, within: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_the_pbx_runs_pjsip_and_the_queue_and_the_client_resyncs(client):
    await _until(lambda: client.missing_modules is not None)
    assert client.missing_modules == ()
    await _until(lambda: any(isinstance(e, Resync) for e in client.received))
    resync = next(e for e in client.received if isinstance(e, Resync))
    assert any(p.queue == "cac311" for p in resync.params)


async def test_the_simulators_listcommands_is_the_pbxs(client):
    """asterisk_sim/ami_listcommands_cac311.txt was captured from such a PBX."""
    response = await client._action("ListCommands", {})
    real = {k for k, _ in response.fields} - {"Response", "ActionID"}
    path = Path(__file__).parents[2] / "asterisk_sim" / "ami_listcommands_cac311.txt"
    lines = [x for x in path.read_text().splitlines() if x and not x.startswith("#")]
    assert {x.partition(":")[0] for x in lines} == real
    assert set(REQUIRED_MODULE_ACTIONS.values()) <= real


@pytest.mark.parametrize("action", ["ModuleCheck", "PJSIPShowEndpoints"])
async def test_the_product_user_may_not_use_system_actions(client, action):
    with pytest.raises(AmiActionError, match="Permission denied"):
        await client._action(action, {"Module": "res_pjsip.so"})


@pytest.mark.parametrize("number", ["+13055550100", "50761234567", "911"])
async def test_outbound_refuses_numbers_outside_panamas_national_plan(client, number):
    response = await client.originate_async(
        f"Local/{number}@cac311-outbound/n", "cac311-readback-agent", "s", 1, "311", {}, 5000
    )
    assert isinstance(response, OriginateResponse)
    assert not response.success and response.reason == 0  # no such extension: nothing dialled
