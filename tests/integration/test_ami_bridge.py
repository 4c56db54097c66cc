"""Real AMI event streams from Asterisk 22, replayed by the simulator through the AMI client
into PostgreSQL: call rows, screen pops, agent states and link outages."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest
from sqlalchemy import select

from ami.bridge import AmiBridge
from ami.client import AmiActionError, AmiClient, AmiConfig
from ami.queue_control import AmiQueueControl
from asterisk_sim.ami import AmiSimulator
from case_core.db.models import CallRow, UserRow
from case_core.db.models.desktop import AgentStateEventRow, ScreenPopRow
from case_core.db.models.metrics import AmiLinkOutageRow
from case_core.security import hash_password

AGENT_INTERFACE = "Local/100@agents/n"  # the queue member of the captured calls


async def until(predicate: Callable[[], object], within: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


@pytest.fixture
async def sim():
    simulator = AmiSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def bridge(seeded, sim, panama):
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
    client = AmiClient(
        AmiConfig(
            host="127.0.0.1",
            port=sim.port,
            username="cac311",
            secret="s3cret",
            server="pbx1",
            ping_interval=30.0,
            ping_timeout=1.0,
            action_timeout=1.0,
            connect_timeout=1.0,
            backoff_min=0.05,
            backoff_max=0.3,
        ),
        rng=random.Random(3),
    )
    bridge = AmiBridge(seeded, tz=panama)
    bridge.attach(client)
    await client.start()
    await client.wait_up(3)
    yield bridge, client
    await client.stop()
    await bridge.drain()


async def _call(uow_factory, uniqueid):
    async with uow_factory() as uow:
        return await uow.session.scalar(select(CallRow).where(CallRow.uniqueid == uniqueid))


async def test_answered_call_is_stored_with_timings_agent_recording_and_pop(seeded, sim, bridge):
    await sim.replay("ami-queue-call-answered")

    async def done():
        # Wait on everything asserted below: the row is written before its pop is closed, so
        # waiting on the row alone raced with close_pop on a loaded machine (issue 15).
        row = await _call(seeded, "1795475111.1")
        async with seeded() as uow:
            closed = await uow.session.scalar(
                select(ScreenPopRow.closed_at).where(ScreenPopRow.call_uniqueid == "1795475111.1")
            )
        return (
            row is not None
            and row.talk_seconds is not None
            and row.ended_at is not None
            and closed is not None
        )

    await until(done)
    row = await _call(seeded, "1795475111.1")
    assert (row.hold_seconds, row.talk_seconds, row.abandoned) == (0, 5, False)
    assert row.linkedid == "1795475111.0" and row.caller_number == "+50762345678"
    assert row.agent_interface == AGENT_INTERFACE and row.agent_name == "Agente Ana"
    assert row.agent_user_id is not None
    assert row.recording_path == "/var/spool/asterisk/monitor/1795475111.1.wav"
    assert row.answered_at is not None and row.entered_at <= row.answered_at <= row.ended_at
    assert row.ivr_variables.get("CAC311_INTENT")
    async with seeded() as uow:
        pops = (await uow.session.scalars(select(ScreenPopRow))).all()
    assert len(pops) == 1
    pop = pops[0]
    assert pop.agent_interface == AGENT_INTERFACE and pop.call_uniqueid == "1795475111.1"
    assert pop.payload["call"]["caller_number"] == "62345678"
    assert pop.payload["ivr"]["intent"] == row.ivr_variables["CAC311_INTENT"]
    assert pop.closed_at is not None  # the call ended
    assert "late" not in pop.payload  # delivered in time (issue 15: late pops say so)


async def test_abandoned_call_is_flagged_with_its_wait(seeded, sim, bridge):
    await sim.replay("ami-queue-call-abandoned")

    async def done():
        row = await _call(seeded, "1795475142.5")
        return row is not None and row.ended_at is not None

    await until(done)
    row = await _call(seeded, "1795475142.5")
    assert row.abandoned and row.hold_seconds == 20 and row.answered_at is None
    async with seeded() as uow:
        assert (await uow.session.scalars(select(ScreenPopRow))).all() == []


async def test_link_dropped_mid_call_is_recovered_and_the_outage_recorded(seeded, sim, bridge):
    bridge_obj, client = bridge
    await sim.replay("ami-resync-ringnoanswer-timeout", end=16.55)
    uniqueid = "1795475415.29"

    async def queued():
        return await _call(seeded, uniqueid) is not None

    await until(queued)
    sim.drop_all()

    async def outage_closed():
        async with seeded() as uow:
            rows = (await uow.session.scalars(select(AmiLinkOutageRow))).all()
        return len(rows) == 1 and rows[0].up_at is not None

    await until(outage_closed)
    row = await _call(seeded, uniqueid)
    assert row.ended_at is None and not row.end_unknown  # still waiting: not lost
    assert bridge_obj.tracker.get("pbx1", uniqueid) is not None
    await sim.replay("ami-resync-ringnoanswer-timeout", start=16.55)

    async def ended():
        r = await _call(seeded, uniqueid)
        return r.ended_at is not None

    await until(ended)
    row = await _call(seeded, uniqueid)
    assert row.abandoned  # left by the queue timeout: app_queue counts it as abandoned
    assert bridge_obj.errors == 0


async def test_queue_membership_and_pause_come_back_as_reported_states(seeded, sim, bridge):
    _, client = bridge
    control = AmiQueueControl({"pbx1": client})
    await control.queue_add("cac311", "PJSIP/1001", "Ana Batista")
    await control.queue_pause("cac311", "PJSIP/1001", True, "almuerzo")
    await control.queue_pause("cac311", "PJSIP/1001", False, "")
    await control.queue_remove("cac311", "PJSIP/1001")

    async def four():
        async with seeded() as uow:
            rows = (
                await uow.session.scalars(
                    select(AgentStateEventRow)
                    .where(AgentStateEventRow.interface == "PJSIP/1001")
                    .where(AgentStateEventRow.source != "resync")
                    .order_by(AgentStateEventRow.id)
                )
            ).all()
        return [(r.state, r.reason) for r in rows] if len(rows) >= 4 else None

    await until(four)
    assert await four() == [
        ("available", None),
        ("paused", "almuerzo"),
        ("available", None),
        ("logged_out", None),
    ]
    with pytest.raises(AmiActionError, match="Channel does not exist"):
        await control.redirect_to_readback("PJSIP/nobody-00000001", "2026000123")


async def test_a_call_row_that_cannot_be_stored_does_not_hold_back_the_others(seeded, panama):
    from datetime import UTC, datetime

    from ami.events import QueueCallerJoin

    bridge = AmiBridge(seeded, tz=panama)
    bridge.retry_delay_max = 0.05

    def join(uniqueid: str, number: str, queue: str = "cac311") -> QueueCallerJoin:
        return QueueCallerJoin(
            server="pbx1",
            received_at=datetime(2026, 11, 25, 15, 0, tzinfo=UTC),
            channel=f"PJSIP/trunk-{uniqueid}",
            uniqueid=uniqueid,
            linkedid=uniqueid,
            caller_id_num=number,
            caller_id_name=None,
            queue=queue,
            position=1,
            count=1,
        )

    # A queue name longer than calls.queue allows: PostgreSQL refuses that row.
    await bridge.handle(join("1795475500.1", "62345678", queue="q" * 60))
    await bridge.handle(join("1795475500.2", "62345678"))
    # A caller ID longer than its column is cut, not refused.
    await bridge.handle(join("1795475500.3", "6" * 60))
    await bridge.drain(within=1.0)
    assert bridge.errors >= 1
    row = await _call(seeded, "1795475500.2")
    assert row is not None and row.caller_number == "+50762345678"  # stored in E.164
    assert (await _call(seeded, "1795475500.3")).caller_number == "6" * 40


def test_a_callback_leg_put_through_to_the_queue_is_stored_as_outbound():
    from datetime import UTC, datetime

    from ami.bridge import snapshot_of
    from ami.tracker import CallRecord

    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    leg = CallRecord(
        server="pbx1",
        uniqueid="1.2",
        linkedid="1.1",
        channel="PJSIP/trunk-1",
        caller_number="311",
        queue="cac311",
        entered_at=now,
        ivr_vars=(("CAC311_CALLBACK_ID", "42"), ("CAC311_TRANSFER", "queue")),
    )
    snapshot = snapshot_of(leg)
    assert (snapshot.direction, snapshot.callback_id) == ("outbound", 42)
    inbound = snapshot_of(
        CallRecord(
            server="pbx1",
            uniqueid="2.2",
            linkedid="2.1",
            channel="x",
            caller_number="6",
            queue="cac311",
            entered_at=now,
        )
    )
    assert (inbound.direction, inbound.callback_id) == ("inbound", None)


async def test_bridge_attached_after_the_client_is_up_closes_the_outage_of_the_last_run(
    seeded, sim, panama
):
    """cac311.bootstrap starts the AMI clients, then attaches the bridge: after a deploy the
    outage recorded at the previous shutdown must still be closed."""
    from datetime import UTC, datetime, timedelta

    from case_core.metrics.outages import outages_between, record_link_down

    shutdown_at = datetime.now(UTC) - timedelta(minutes=2)
    await record_link_down(seeded, "pbx1", shutdown_at)
    client = AmiClient(
        AmiConfig(host="127.0.0.1", port=sim.port, username="cac311", secret="s3cret",
                  server="pbx1", connect_timeout=1.0, action_timeout=1.0),
        rng=random.Random(3),
    )  # fmt: skip
    await client.start()
    await client.wait_up(3)
    bridge = AmiBridge(seeded, tz=panama)
    detach = bridge.attach(client)
    try:
        await bridge.drain()
        window = await outages_between(
            seeded, shutdown_at - timedelta(minutes=1), datetime.now(UTC) + timedelta(minutes=1)
        )
        assert len(window) == 1
        assert window[0].up_at is not None and window[0].up_at >= shutdown_at
    finally:
        detach()
        await client.stop()


async def test_read_back_keeps_the_agent_and_the_call_row_closes_without_agentcomplete(
    seeded, sim, bridge
):
    """2026-12-01/ami-redirect-both-legs-readback, call 1, with cac311's own actions: the
    desktop's Setvar + dual Redirect go to the simulator, the PBX events are the recorded ones
    (app_queue sent no AgentComplete for that call)."""
    bridge_obj, client = bridge
    name = "2026-12-01/ami-redirect-both-legs-readback"
    caller, agent = "Local/q@cap-tests-0000010b;2", "PJSIP/1001-00000049"
    uniqueid = "1796136899.608"
    await sim.replay(name, end=4.013)  # queued, answered by PJSIP/1001, bridged

    async def answered():
        row = await _call(seeded, uniqueid)
        return row is not None and row.answered_at is not None

    await until(answered)
    control = AmiQueueControl({"pbx1": client})
    await control.redirect_to_readback(caller, "2026000123", agent_channel=agent)

    sent = [(m.get("Action"), m.get("Channel"), m.get("ExtraChannel")) for m in sim.actions]
    assert sent[-2:] == [("Setvar", caller, None), ("Redirect", caller, agent)]
    assert sim.actions[-1].get("ExtraContext") == "cac311-readback-agent"
    assert sim.actions[-1].get("Exten") == "2026000123"
    await sim.replay(name, start=4.014, end=20)  # read-back, Bridge, the caller hangs up

    async def closed():
        row = await _call(seeded, uniqueid)
        return row is not None and row.talk_seconds is not None

    await until(closed)
    row = await _call(seeded, uniqueid)
    assert row.ended_at is not None and not row.end_unknown and not row.abandoned
    assert row.agent_interface == "PJSIP/1001"
    # Measured from the answer to the caller's Hangup (the replay is instant here; the pure
    # tracker test checks the recorded 14.9 s).
    assert row.talk_seconds == int((row.ended_at - row.answered_at).total_seconds())
    assert row.ivr_variables["CAC311_AGENT_CHANNEL"] == agent
    assert bridge_obj.tracker.get("pbx1", uniqueid) is None
    assert bridge_obj.errors == 0
