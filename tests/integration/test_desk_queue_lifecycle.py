"""Queue membership follows the agent's presence at the desktop, and the states shown are
rebuilt from Asterisk: logout, a session that ends, a closed browser (after the grace time)
remove or pause the member; a QueueStatus re-read (start, reconnect, restart) logs out
members Asterisk no longer has; "Conectarse" when already a member says so.

The AMI answers are Asterisk 22's (transcript ami-queue-member-lifecycle), played by the
simulator through our AMI client.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from agent_desktop.handlers.queue import run_queue_action
from agent_desktop.keys import QUEUE_CONTROL, SETTINGS
from agent_desktop.presence import PRESENCE
from agent_desktop.sessions import SessionInfo
from ami.queue_control import AmiQueueControl
from cac311.config import Settings
from case_core.domain.roles import Actor, Role
from case_core.services.agents import AgentState, latest_agent_state, record_agent_state
from tests.integration.test_ami_bridge import AGENT_INTERFACE, bridge, sim  # noqa: F401
from tests.integration.test_desktop_support import (  # noqa: F401
    make_desktop_fixture,
    other_process_fixture,
)

desktop = make_desktop_fixture(Settings(desk_leave_grace_seconds=0))  # type: ignore[arg-type]
paused_desktop = make_desktop_fixture(
    Settings(desk_leave_action="pause", desk_leave_grace_seconds=0)  # type: ignore[arg-type]
)


async def _wait_for(predicate, within: float = 5.0):  # type: ignore[no-untyped-def]
    """Poll a condition until it holds (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if result := await predicate():
            return result
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def _session(interface: str) -> SessionInfo:
    return SessionInfo(
        1, "x" * 32, Actor(1, "ana", Role.AGENT), "Ana Agente", interface, datetime.now(UTC)
    )


async def test_given_an_agent_already_in_the_queue_when_conectarse_then_the_desk_says_so(
    sim, bridge  # noqa: F811
):
    _, client = bridge
    config = {SETTINGS: Settings(), QUEUE_CONTROL: AmiQueueControl({"pbx1": client})}
    before = len(sim.actions)
    message = await run_queue_action(config, _session(AGENT_INTERFACE), "join", "")
    assert message == "Ya está conectado a la cola."
    # The client's own re-read after login (CoreShowChannels…) may interleave.
    assert "QueueAdd" in [m.get("Action") for m in sim.actions[before:]]
    left = await run_queue_action(config, _session("PJSIP/1999"), "leave", "")
    assert left == "Ya estaba desconectado de la cola."


async def test_given_an_agent_shown_in_call_when_asterisk_restarts_without_it_then_it_is_logged_out(  # noqa: E501
    seeded, sim, bridge  # noqa: F811
):
    bridge_, client = bridge
    await record_agent_state(
        seeded, "PJSIP/1009", AgentState.IN_CALL, None, datetime.now(UTC), "test"
    )
    sim.drop_all(restart=True)

    async def logged_out():  # type: ignore[no-untyped-def]
        state = await latest_agent_state(seeded, "PJSIP/1009")
        return state is not None and state.state is AgentState.LOGGED_OUT

    await _wait_for(logged_out)
    # The member Asterisk still has keeps its state from the snapshot.
    kept = await latest_agent_state(seeded, AGENT_INTERFACE)
    assert kept is not None and kept.state is AgentState.AVAILABLE


async def test_given_an_agent_when_logging_out_then_the_member_is_removed(desktop):
    agent = await desktop.login("agente1", form=False)
    response = await agent.post("/logout", {}, allow_redirects=False)
    assert response.status == 302
    assert ("queue_remove", "cac311", "PJSIP/1001") in desktop.queue.calls


async def test_given_pause_configured_when_logging_out_then_the_member_is_paused(
    paused_desktop,
):
    agent = await paused_desktop.login("agente1", form=False)
    await agent.post("/logout", {}, allow_redirects=False)
    assert ("queue_pause", "cac311", "PJSIP/1001", True, "desk_closed") in (
        paused_desktop.queue.calls
    )
    view = await _state_view(paused_desktop.uow_factory)
    assert view.label == "En pausa: escritorio cerrado"


async def _state_view(uow_factory):  # type: ignore[no-untyped-def]
    await record_agent_state(
        uow_factory, "PJSIP/1001", AgentState.PAUSED, "desk_closed", datetime.now(UTC), "t"
    )
    return await latest_agent_state(uow_factory, "PJSIP/1001")


async def test_given_a_closed_browser_when_the_grace_time_passes_then_the_member_is_removed(
    desktop,
):
    agent = await desktop.login("agente1", form=False)
    ws = await agent.ws()
    await ws.close()

    async def removed():  # type: ignore[no-untyped-def]
        return ("queue_remove", "cac311", "PJSIP/1001") in desktop.queue.calls

    await _wait_for(removed)


async def test_given_a_reload_within_the_grace_time_then_the_member_stays(seeded, engine):
    from aiohttp.test_utils import TestServer

    from agent_desktop.app import LISTENER, init_app
    from tests.integration.test_desktop_support import START, Desktop, FakeClock, FakeQueueControl

    queue = FakeQueueControl()
    app = init_app(
        replace(Settings(), desk_leave_grace_seconds=3600),
        uow_factory=seeded,
        engine=engine,
        queue_control=queue,
        clock=FakeClock(START),
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    await asyncio.wait_for(app[LISTENER].connected.wait(), 5)
    desk = Desktop(app, server, FakeClock(START), queue, seeded)
    try:
        agent = await desk.login("agente1", form=False)
        first = await agent.ws()
        await first.close()
        await _wait_for(lambda: _true(app[PRESENCE].pending("PJSIP/1001")))
        second = await agent.ws()
        await second.receive_json()  # hello: the socket is registered
        assert not app[PRESENCE].pending("PJSIP/1001")
        assert not any(c[0] == "queue_remove" for c in queue.calls)
        await second.close()
    finally:
        for client in desk.clients:
            await client.close()
        await server.close()


async def _true(value: bool) -> bool:
    return value


@pytest.mark.parametrize("action", ["join", "leave"])
async def test_given_the_fake_control_when_it_fails_then_the_message_is_the_generic_one(action):
    from tests.integration.test_desktop_support import FakeQueueControl

    config = {SETTINGS: Settings(), QUEUE_CONTROL: FakeQueueControl(fail=True)}
    from agent_desktop.handlers.queue import QueueCommandError

    with pytest.raises(QueueCommandError):
        await run_queue_action(config, _session("PJSIP/1001"), action, "")


async def test_given_an_open_desktop_when_its_session_ends_then_the_member_is_removed(
    desktop, monkeypatch
):
    from sqlalchemy import delete

    import agent_desktop.ws as ws_module
    from case_core.db.models.desktop import WebSessionRow

    monkeypatch.setattr(ws_module, "SESSION_CHECK_SECONDS", 0.05)
    agent = await desktop.login("agente1", form=False)
    ws = await agent.ws()
    await ws.receive_json()  # hello
    async with desktop.uow_factory() as uow:  # expired / ended elsewhere
        await uow.session.execute(delete(WebSessionRow))
        await uow.commit()

    async def removed():  # type: ignore[no-untyped-def]
        return ("queue_remove", "cac311", "PJSIP/1001") in desktop.queue.calls

    await _wait_for(removed)
    await ws.close()
