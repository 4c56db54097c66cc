"""AmiClient against the AMI simulator on a free port."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable

import pytest

from ami import events as ev
from ami.client import (
    AmiActionError,
    AmiAuthError,
    AmiClient,
    AmiConfig,
    AmiConnectionLost,
    AmiNotConnected,
    AmiTimeout,
)
from ami.tracker import CallTracker
from asterisk_sim.ami import AmiSimulator, OriginateOutcome, default_originate_policy


async def until(predicate: Callable[[], bool], within: float = 3.0) -> None:
    """Poll a condition (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def make_client(port: int, **overrides: object) -> AmiClient:
    settings: dict = dict(
        host="127.0.0.1",
        port=port,
        username="cac311",
        secret="s3cret",
        server="pbx-test",
        ping_interval=30.0,
        ping_timeout=1.0,
        action_timeout=1.0,
        connect_timeout=1.0,
        backoff_min=0.05,
        backoff_max=0.4,
    )
    settings.update(overrides)
    return AmiClient(AmiConfig(**settings), rng=random.Random(7))


@pytest.fixture
async def sim():
    simulator = AmiSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def client(sim: AmiSimulator):
    c = make_client(sim.port)
    c.received = []  # type: ignore[attr-defined]
    c.subscribe(c.received.append)  # type: ignore[attr-defined]
    await c.start()
    await until(lambda: any(isinstance(e, ev.Resync) for e in c.received))  # type: ignore[attr-defined]
    yield c
    await c.stop()


def resyncs(c: AmiClient) -> list[ev.Resync]:
    return [e for e in c.received if isinstance(e, ev.Resync)]  # type: ignore[attr-defined]


async def test_given_simulator_when_started_then_up_with_resync(client: AmiClient) -> None:
    assert client.state == "up"
    assert client.last_change.tzinfo is not None
    (snapshot,) = resyncs(client)
    assert snapshot.server == "pbx-test"
    assert [m.member_name for m in snapshot.members] == ["Agente Ana"]
    assert snapshot.params[0].queue == "cac311"
    assert snapshot.entries == () and snapshot.channels == ()
    assert snapshot.uptime == 45 and not snapshot.asterisk_restarted
    booted = [e for e in client.received if isinstance(e, ev.FullyBooted)]  # type: ignore[attr-defined]
    assert booted and booted[0].uptime == 45
    assert (await client.ping()).get("Ping") == "Pong"


async def test_given_replayed_call_then_typed_events_arrive_in_order(
    sim: AmiSimulator, client: AmiClient
) -> None:
    seen: list[ev.AmiEvent] = []

    async def slow_subscriber(event: ev.AmiEvent) -> None:
        await asyncio.sleep(0)
        seen.append(event)

    client.subscribe(slow_subscriber)
    await sim.replay("ami-queue-call-answered")
    await until(lambda: sum(isinstance(e, ev.Hangup) for e in seen) == 4)
    queue_flow = [
        type(e).__name__
        for e in seen
        if isinstance(
            e,
            ev.QueueCallerJoin
            | ev.AgentCalled
            | ev.QueueCallerLeave
            | ev.AgentConnect
            | ev.AgentComplete,
        )
    ]
    assert queue_flow == [
        "QueueCallerJoin",
        "AgentCalled",
        "QueueCallerLeave",
        "AgentConnect",
        "AgentComplete",
    ]
    assert all(e.server == "pbx-test" and e.received_at.tzinfo for e in seen)
    connect = next(e for e in seen if isinstance(e, ev.AgentConnect))
    assert (connect.uniqueid, connect.hold_time) == ("1795475111.1", 0)


async def test_given_wrong_secret_then_auth_failed_with_backoff_and_stop_stops(
    sim: AmiSimulator,
) -> None:
    c = make_client(sim.port, secret="wrong")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(AmiAuthError, match="Authentication failed"):
        await c.start()
    assert c.state == "auth_failed"
    await until(lambda: sim.login_attempts >= 4)
    # delays: 0.05, [0.05, 0.1], [0.1, 0.2] -> at least 0.2 s before the 4th attempt
    assert loop.time() - started >= 0.2
    assert c.state == "auth_failed"
    await c.stop()
    attempts = sim.login_attempts
    await asyncio.sleep(0.5)  # longer than the largest backoff: nothing may happen
    assert sim.login_attempts == attempts
    assert c.state == "down"
    with pytest.raises(AmiNotConnected):
        await c.ping()


async def test_given_link_drop_mid_call_then_reconnect_and_resync_keeps_call(
    sim: AmiSimulator, client: AmiClient
) -> None:
    tracker = CallTracker()
    client.subscribe(tracker.handle)
    await sim.replay("ami-resync-ringnoanswer-timeout", end=16.55)
    await until(lambda: tracker.get("pbx-test", "1795475415.29") is not None)
    loop = asyncio.get_running_loop()
    states: list[str] = []
    dropped = loop.time()
    sim.drop_all()
    await until(lambda: states.append(client.state) or len(resyncs(client)) == 2)
    assert "down" in states or "connecting" in states
    assert sim.connections == 2
    assert loop.time() - dropped >= 0.05  # waited at least backoff_min
    snapshot = resyncs(client)[-1]
    assert not snapshot.asterisk_restarted
    assert [e.uniqueid for e in snapshot.entries] == ["1795475415.29"]
    by_id = {c.uniqueid: c for c in snapshot.channels}
    assert by_id["1795475415.29"].application == "Queue"
    await until(lambda: tracker.get("pbx-test", "1795475415.29") is not None)
    record = tracker.get("pbx-test", "1795475415.29")
    assert record is not None and record.ended_at is None and not record.unknown_end


async def test_given_asterisk_restart_then_resync_flags_it_and_call_is_closed(
    sim: AmiSimulator, client: AmiClient
) -> None:
    updates = []
    tracker = CallTracker()
    client.subscribe(lambda e: updates.extend(tracker.handle(e)))
    await sim.replay("ami-resync-ringnoanswer-timeout", end=16.55)
    await until(lambda: any(u.change == "queued" for u in updates))
    sim.drop_all(restart=True)
    await until(lambda: len(resyncs(client)) == 2)
    snapshot = resyncs(client)[-1]
    assert snapshot.asterisk_restarted and snapshot.entries == () and snapshot.uptime == 0
    await until(lambda: any(u.change == "ended" for u in updates))
    ended = [u.record for u in updates if u.change == "ended"]
    assert ended[0].uniqueid == "1795475415.29" and ended[0].unknown_end
    assert tracker.calls() == []


async def test_given_link_down_when_action_times_out_then_it_is_never_sent_later(
    sim: AmiSimulator,
) -> None:
    c = make_client(sim.port, action_timeout=0.2)
    c.received = []  # type: ignore[attr-defined]
    c.subscribe(c.received.append)  # type: ignore[attr-defined]
    await c.start()
    await until(lambda: len(resyncs(c)) == 1)
    port = sim.port
    await sim.stop()
    await until(lambda: c.state != "up")
    with pytest.raises(AmiTimeout):
        await c.queue_pause("cac311", "Local/100@agents/n", True, "almuerzo")
    await sim.start(port=port)
    await until(lambda: len(resyncs(c)) == 2)
    await c.ping()  # the link is up and answering: anything queued would be here by now
    sent = [m.get("Action") for m in sim.actions]
    assert "QueuePause" not in sent
    await c.stop()


async def test_given_pending_originate_when_link_drops_then_lost_and_not_resent() -> None:
    sim = AmiSimulator(originate_policy=lambda ch: OriginateOutcome(4, delay=5.0))
    await sim.start()
    c = make_client(sim.port)
    try:
        await c.start()
        task = asyncio.create_task(
            c.originate_async("Local/answer@phones", "cac311-callback", "s", 1, None, {}, 20000)
        )
        await until(lambda: any(m.get("Action") == "Originate" for m in sim.actions))
        sim.drop_all()
        with pytest.raises(AmiConnectionLost):
            await task
        await c.wait_up(2.0)
        await c.ping()
        assert [m.get("Action") for m in sim.actions].count("Originate") == 1
    finally:
        await c.stop()
        await sim.stop()


async def test_given_silent_peer_then_ping_timeout_drops_and_reconnects(
    sim: AmiSimulator,
) -> None:
    c = make_client(sim.port, ping_interval=0.05, ping_timeout=0.1)
    await c.start()
    sim.unresponsive = True
    await until(lambda: c.state != "up")
    sim.unresponsive = False
    await c.wait_up(3.0)
    assert sim.connections >= 2
    await c.stop()


@pytest.mark.parametrize(
    ("channel", "success", "reason"),
    [
        ("Local/answer@phones", True, 4),
        ("Local/busy@phones", False, 5),
        ("Local/noanswer@phones", False, 3),
        ("Local/congest@phones", False, 8),
        ("Local/nosuchexten@phones", False, 0),
        ("PJSIP/60001111@trunk", False, 0),
    ],
)
async def test_originate_outcomes_are_typed(
    client: AmiClient, channel: str, success: bool, reason: int
) -> None:
    assert default_originate_policy(channel).reason == reason
    result = await client.originate_async(
        channel,
        "cac311-callback",
        "s",
        1,
        '"3-1-1" <311>',
        {"CAC311_CALLBACK_ID": "cb-1001"},
        20000,
        action_id=f"cb-{reason}",
    )
    assert isinstance(result, ev.OriginateResponse)
    assert (result.success, result.reason, result.action_id) == (success, reason, f"cb-{reason}")
    assert (result.uniqueid is not None) is success
    assert result.caller_id_num == "311"


async def test_refused_actions_raise_with_asterisk_message(client: AmiClient) -> None:
    with pytest.raises(AmiActionError, match="Channel not specified"):
        await client.originate_async("", "c", "s", 1, None, {}, 1000)
    with pytest.raises(AmiActionError, match="Unable to remove interface: Not there"):
        await client.queue_remove("cac311", "Local/999@agents/n")
    with pytest.raises(AmiActionError, match="Channel does not exist: Local/nope;2"):
        await client.redirect("Local/nope;2", "cac311-tests", "316", 1)


async def test_queue_member_actions_and_status(client: AmiClient) -> None:
    await client.queue_add("cac311", "Local/101@agents/n", "Agente Beto")
    await client.queue_pause("cac311", "Local/101@agents/n", True, "almuerzo")
    status = await client.queue_status("cac311")
    beto = next(m for m in status.members if m.member_name == "Agente Beto")
    assert (beto.paused, beto.paused_reason, beto.membership) == (True, "almuerzo", "dynamic")
    await client.queue_remove("cac311", "Local/101@agents/n")
    await until(
        lambda: any(isinstance(e, ev.QueueMemberRemoved) for e in client.received)  # type: ignore[attr-defined]
    )
    kinds = [
        type(e).__name__ for e in client.received if type(e).__name__.startswith("QueueMember")
    ]  # type: ignore[attr-defined]
    assert kinds == ["QueueMemberAdded", "QueueMemberPause", "QueueMemberRemoved"]
    assert await client.core_show_channels() == ()


async def test_given_nothing_listening_then_start_returns_down_and_stop_cancels_retries() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = make_client(port)
    await c.start()
    assert c.state in ("down", "connecting")
    await until(lambda: c.connect_attempts >= 3)
    await c.stop()
    attempts = c.connect_attempts
    await asyncio.sleep(0.5)
    assert c.connect_attempts == attempts and c.state == "down"


async def test_given_a_shutdown_event_then_the_link_drops_at_once_and_the_restart_is_seen(
    sim: AmiSimulator, client: AmiClient
) -> None:
    """2026-12-01/ami-queue-member-lifecycle: ``Event: Shutdown`` (``Restart: True``) came
    before the socket closed. A PBX that takes 30 s to close gets no action meanwhile."""
    updates = []
    tracker = CallTracker()
    client.subscribe(lambda e: updates.extend(tracker.handle(e)))
    await sim.replay("ami-resync-ringnoanswer-timeout", end=16.55)
    await until(lambda: any(u.change == "queued" for u in updates))
    states: list[str] = []
    client.state_listeners.append(lambda state, at: states.append(state))
    sim.drop_all(restart=True, shutdown_event=True, linger=30.0)
    await until(lambda: "down" in states)  # at the event, not 30 s later when the socket closes
    sim.drop_all(restart=True)  # the PBX is back (uptime 0)
    await until(lambda: any(r.asterisk_restarted for r in resyncs(client)))
    await until(lambda: tracker.calls() == [])


async def test_given_a_login_before_asterisk_has_booted_then_resync_waits_for_fullybooted(
    sim: AmiSimulator, client: AmiClient
) -> None:
    """Seen on the real 22.10.1 (lab build, asterisk_conf/ loaded): a login 1 s after
    ``core restart now`` is accepted, but QueueStatus is still an unknown command and
    FullyBooted only comes once the modules are loaded."""
    updates = []
    tracker = CallTracker()
    client.subscribe(lambda e: updates.extend(tracker.handle(e)))
    await sim.replay("ami-resync-ringnoanswer-timeout", end=16.55)
    await until(lambda: any(u.change == "queued" for u in updates))
    sim.drop_all(restart=True, boot_delay=0.5)
    await until(lambda: len(resyncs(client)) == 2)
    snapshot = resyncs(client)[-1]
    assert snapshot.asterisk_restarted  # and it did not fail on "Invalid/unknown command"
    await until(lambda: tracker.calls() == [])
    await until(lambda: client.missing_modules == ())  # asked once the modules were there
