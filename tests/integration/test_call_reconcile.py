"""Open calls are reconciled with CoreShowChannels at start and after every AMI reconnect
(issue 15, finding 7): what Asterisk no longer has is closed as ``end_unknown``."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ami.bridge import AmiBridge
from ami.client import AmiClient, AmiConfig
from asterisk_sim.ami import AmiSimulator, SimChannel
from case_core.db.models import CallRow
from case_core.db.models.desktop import ScreenPopRow
from tests.integration.test_ami_bridge import until


async def _open_call(uow_factory, uniqueid: str, *, at: datetime, pop: bool = False) -> None:
    async with uow_factory() as uow:
        uow.session.add(
            CallRow(
                server="pbx1",
                uniqueid=uniqueid,
                linkedid=uniqueid,
                caller_number="+50762345678",
                queue="cac311",
                started_at=at,
                entered_at=at,
                answered_at=at + timedelta(seconds=5),
            )
        )
        if pop:
            uow.session.add(
                ScreenPopRow(
                    agent_interface="PJSIP/1001",
                    call_uniqueid=uniqueid,
                    linkedid=uniqueid,
                    payload={},
                    created_at=at,
                )
            )
        await uow.commit()


async def _row(uow_factory, uniqueid):
    async with uow_factory() as uow:
        return await uow.session.scalar(select(CallRow).where(CallRow.uniqueid == uniqueid))


@pytest.fixture
async def sim():
    simulator = AmiSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


def _live(sim: AmiSimulator, uniqueid: str) -> None:
    sim.channels[uniqueid] = SimChannel(
        name=f"PJSIP/trunk-{uniqueid}", uniqueid=uniqueid, linkedid=uniqueid, created=time.time()
    )


async def test_calls_left_open_by_a_restart_are_closed_at_start_and_after_a_reconnect(
    uow_factory, sim, panama
):
    before = datetime.now(UTC) - timedelta(minutes=10)
    await _open_call(uow_factory, "1795470001.1", at=before, pop=True)  # gone while we were down
    await _open_call(uow_factory, "1795470002.1", at=before)  # still up in Asterisk
    _live(sim, "1795470002.1")
    client = AmiClient(
        AmiConfig(
            host="127.0.0.1",
            port=sim.port,
            username="cac311",
            secret="s3cret",
            server="pbx1",
            action_timeout=2.0,
            connect_timeout=1.0,
            backoff_min=0.05,
            backoff_max=0.3,
        ),
        rng=random.Random(5),
    )
    bridge = AmiBridge(uow_factory, tz=panama)
    bridge.attach(client)
    try:
        await client.start()

        async def closed(uniqueid):
            row = await _row(uow_factory, uniqueid)
            return row is not None and row.ended_at is not None

        async def closed_with_its_pop():
            async with uow_factory() as uow:
                pop = await uow.session.scalar(select(ScreenPopRow))
            return pop.closed_at is not None and await closed("1795470001.1")

        # The row and its pop are closed in two transactions: wait on both (issue 15 flake).
        await until(closed_with_its_pop)
        gone = await _row(uow_factory, "1795470001.1")
        assert gone.end_unknown
        async with uow_factory() as uow:
            pop = await uow.session.scalar(select(ScreenPopRow))
        assert pop.closed_at == gone.ended_at
        live = await _row(uow_factory, "1795470002.1")
        assert live.ended_at is None and not live.end_unknown

        # The link drops; meanwhile the live call ends and its Hangup is never seen.
        sim.channels.pop("1795470002.1")
        sim.drop_all()
        await until(lambda: closed("1795470002.1"))
        assert (await _row(uow_factory, "1795470002.1")).end_unknown
    finally:
        await client.stop()
        await bridge.drain()
