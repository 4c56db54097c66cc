"""A database outage loses neither screen pops nor agent states (issue 15, finding 4).

PostgreSQL is really unreachable here: the bridge's engine goes through a TCP proxy that is
cut (connections dropped, new ones refused) while Asterisk answers calls and agents change
state, then restored.
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from ami.bridge import AmiBridge
from ami.client import AmiClient, AmiConfig
from ami.queue_control import AmiQueueControl
from asterisk_sim.ami import AmiSimulator
from case_core.db.engine import make_engine, make_sessionmaker
from case_core.db.models import CallRow, UserRow
from case_core.db.models.desktop import AgentStateEventRow, ScreenPopRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.security import hash_password
from tests.faults import TcpProxy
from tests.integration.test_ami_bridge import AGENT_INTERFACE, until


@pytest.fixture
async def proxied(migrated_database, seeded):
    url = make_url(migrated_database)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    engine = make_engine(
        url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        pool_size=2,
        connect_timeout=1.0,
    )
    yield proxy, UnitOfWorkFactory(make_sessionmaker(engine))
    await proxy.stop()
    await engine.dispose()


async def test_pops_and_agent_states_of_an_outage_are_delivered_late_not_lost(
    seeded, proxied, panama
):
    proxy, bridge_db = proxied
    async with seeded() as uow:
        uow.session.add(
            UserRow(
                username="ana",
                full_name="Ana Agente",
                role="agent",
                password_hash=hash_password("x" * 12),
                phone_interface=AGENT_INTERFACE,
            )
        )
        await uow.commit()
    sim = AmiSimulator()
    await sim.start()
    client = AmiClient(
        AmiConfig(
            host="127.0.0.1",
            port=sim.port,
            username="cac311",
            secret="s3cret",
            server="pbx1",
            action_timeout=2.0,
            connect_timeout=1.0,
        ),
        rng=random.Random(3),
    )
    bridge = AmiBridge(bridge_db, tz=panama)
    bridge.retry_delay_max = 0.2
    bridge.attach(client)
    try:
        await client.start()
        await client.wait_up(3)
        await proxy.cut()  # PostgreSQL goes away

        await sim.replay("ami-queue-call-answered")
        control = AmiQueueControl({"pbx1": client})
        await control.queue_add("cac311", "PJSIP/1001", "Ana Batista")
        await control.queue_pause("cac311", "PJSIP/1001", True, "almuerzo")

        async def queued():
            return bridge._pops or bridge._states  # noqa: SLF001  (nothing reached the DB)

        await until(queued)
        await proxy.restore()  # PostgreSQL is back

        async def delivered():
            async with seeded() as uow:
                pop = await uow.session.scalar(
                    select(ScreenPopRow).where(ScreenPopRow.call_uniqueid == "1795475111.1")
                )
                states = (
                    await uow.session.scalars(
                        select(AgentStateEventRow)
                        .where(AgentStateEventRow.interface == "PJSIP/1001")
                        .where(AgentStateEventRow.source != "resync")
                        .order_by(AgentStateEventRow.id)
                    )
                ).all()
                row = await uow.session.scalar(
                    select(CallRow).where(CallRow.uniqueid == "1795475111.1")
                )
            if pop is None or pop.closed_at is None or len(states) < 2 or row is None:
                return None
            return pop, [(s.state, s.reason) for s in states], row

        await until(delivered, within=20)
        pop, states, row = await delivered()
    finally:
        await client.stop()
        await bridge.drain()
        await sim.stop()
    assert pop.payload["late"] is True and pop.payload["late_seconds"] >= 0
    assert pop.agent_interface == AGENT_INTERFACE
    assert states == [("available", None), ("paused", "almuerzo")]
    assert row.ended_at is not None and row.talk_seconds == 5
    assert bridge.late_pops == 1
