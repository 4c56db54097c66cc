"""What keeps a screen pop fast at real event volume (issue 18): the web side pushes pops and
agent states from the notification itself, one batched session check serves every live
socket, the caller's facts are gathered while they wait in the queue, agent states and pop
closes are written in batches."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

import agent_desktop.app as app_module
import agent_desktop.session_watch as watch_module
from agent_desktop.pop_bus import (
    MAX_NOTIFY_BYTES,
    close_pops,
    notification_payload,
    parse_notification,
    publish_pop,
)
from agent_desktop.session_watch import SESSION_WATCH
from case_core.db.models import CallRow
from case_core.db.models.desktop import AgentStateEventRow, ScreenPopRow
from case_core.services.agents import (
    AgentState,
    ReportedState,
    parse_agent_state_notice,
    record_agent_states,
)
from case_core.services.screen_pop import build_pop
from tests.integration import test_ami_bridge as bridge_cases
from tests.integration.test_desktop_pop import AGENT1, AGENT2, _pop
from tests.integration.test_desktop_support import (  # noqa: F401
    START,
    make_desktop_fixture,
    next_message,
    other_process_fixture,
)

desktop = make_desktop_fixture()
sim, bridge, until = bridge_cases.sim, bridge_cases.bridge, bridge_cases.until


async def _ana_socket(desktop):  # type: ignore[no-untyped-def]
    """agente1's desktop socket, past its hello."""
    ana = await desktop.login("agente1", form=False)
    ws = await ana.ws()
    await next_message(ws, "hello")
    return ws


@pytest.fixture
def web_reads(monkeypatch):
    """Counts the web process's reads of a notified pop or agent state."""
    reads: list[str] = []
    real_get_pop = app_module.get_pop
    real_by_id = app_module.agent_state_by_id

    async def get_pop(uow_factory, pop_id):  # type: ignore[no-untyped-def]
        reads.append("pop")
        return await real_get_pop(uow_factory, pop_id)

    async def agent_state_by_id(uow_factory, event_id):  # type: ignore[no-untyped-def]
        reads.append("agent_state")
        return await real_by_id(uow_factory, event_id)

    monkeypatch.setattr(app_module, "get_pop", get_pop)
    monkeypatch.setattr(app_module, "agent_state_by_id", agent_state_by_id)
    return reads


async def test_a_pop_and_its_closing_reach_the_socket_without_a_database_read(
    desktop, other_process, web_reads
):
    ws = await _ana_socket(desktop)
    pop = await _pop(other_process)
    pop_id = await publish_pop(other_process, pop, now=START)
    message = await next_message(ws, "pop")
    assert message == {"type": "pop", "pop_id": pop_id, "pop": pop}
    await close_pops(other_process, [("1795475283.27", START + timedelta(minutes=2))])
    assert (await next_message(ws, "pop_closed"))["pop_id"] == pop_id
    assert web_reads == []
    await ws.close()


async def test_a_pop_too_large_for_a_notification_is_read_from_its_row(
    desktop, other_process, web_reads
):
    ws = await _ana_socket(desktop)
    pop = await _pop(other_process)
    pop["identity"]["label"] = "á" * MAX_NOTIFY_BYTES  # over the limit in bytes, not chars
    pop_id = await publish_pop(other_process, pop, now=START)
    message = await next_message(ws, "pop")
    assert message["pop_id"] == pop_id and message["pop"]["identity"]["label"] == "á" * 7900
    assert web_reads == ["pop"]
    await ws.close()


async def test_agent_states_are_pushed_from_the_notice_and_an_older_one_never_wins(
    desktop, other_process, web_reads
):
    ws = await _ana_socket(desktop)
    later, earlier = START + timedelta(seconds=10), START + timedelta(seconds=5)
    await record_agent_states(
        other_process,
        [
            ReportedState(AGENT1, AgentState.IN_CALL, None, later, "QueueMemberStatus"),
            # Reported after, but about an earlier moment (a re-read): not what is current.
            ReportedState(AGENT1, AgentState.AVAILABLE, None, earlier, "resync"),
            ReportedState(AGENT1, AgentState.PAUSED, "almuerzo", later, "QueueMemberPause"),
        ],
    )
    first = await next_message(ws, "agent_state")
    second = await next_message(ws, "agent_state")
    assert (first["state"], second["state"]) == ("in_call", "paused")
    assert second["label"] == "En pausa: Almuerzo"
    assert web_reads == []
    await ws.close()


async def test_agent_states_of_a_batch_are_stored_in_order_with_their_labels(
    seeded, other_process
):
    ids = await record_agent_states(
        other_process,
        [
            ReportedState(AGENT1, AgentState.RINGING, None, START, "QueueMemberStatus"),
            ReportedState(AGENT2, AgentState.PAUSED, "capacitacion", START, "QueueMemberPause"),
            ReportedState(AGENT1, AgentState.AVAILABLE, "ignored", START, "QueueMemberStatus"),
        ],
    )
    assert ids == sorted(ids) and len(set(ids)) == 3
    async with other_process() as uow:
        rows = (
            await uow.session.scalars(select(AgentStateEventRow).order_by(AgentStateEventRow.id))
        ).all()
    assert [(r.id, r.interface, r.state, r.reason) for r in rows] == [
        (ids[0], AGENT1, "ringing", None),
        (ids[1], AGENT2, "paused", "capacitacion"),
        (ids[2], AGENT1, "available", None),  # only a pause keeps its reason
    ]


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "abc",
        "{",
        '{"id": "7", "interface": "PJSIP/1", "message": {}}',
        '{"id": 7, "message": {"type": "pop"}}',
        '{"id": 7, "interface": "PJSIP/1", "message": "pop"}',
    ],
)
def test_a_malformed_pop_notification_is_refused(payload):
    with pytest.raises(ValueError):
        parse_notification(payload)


@pytest.mark.parametrize(
    "payload",
    [
        "x",
        '{"id": 1}',
        '{"id": 1, "state": {"interface": "PJSIP/1"}}',
        '{"id": 1, "state": {"interface": "PJSIP/1", "at": "ayer"}}',
    ],
)
def test_a_malformed_agent_state_notice_is_refused(payload):
    with pytest.raises(ValueError):
        parse_agent_state_notice(payload)


def test_notifications_of_older_writers_are_bare_ids():
    assert parse_notification("42").pop_id == 42 and parse_notification("42").message is None
    assert parse_agent_state_notice("42").event_id == 42
    message = {"type": "pop_closed", "pop_id": 3}
    assert parse_notification(notification_payload(3, AGENT1, message)).message == message


async def test_one_session_check_serves_every_live_socket(desktop, monkeypatch):
    import agent_desktop.ws as ws_module

    checked: list[list[int]] = []
    real = watch_module.keep_alive_many

    async def keep_alive_many(uow_factory, ids, *, now):  # type: ignore[no-untyped-def]
        checked.append(list(ids))
        return await real(uow_factory, ids, now=now)

    monkeypatch.setattr(watch_module, "keep_alive_many", keep_alive_many)
    monkeypatch.setattr(ws_module, "SESSION_CHECK_SECONDS", 0.05)
    ana = await desktop.login("agente1", form=False)
    luis = await desktop.login("agente2", form=False)
    sockets = [await ana.ws(), await ana.ws(), await luis.ws()]
    for ws in sockets:
        await next_message(ws, "hello")
    watch = desktop.app[SESSION_WATCH]
    await until(_async(lambda: watch.checks >= 2))
    # Three sockets, two sessions: each check is one query naming both sessions once.
    assert all(len(ids) == 2 for ids in checked)
    assert (await luis.post("/logout", {}, allow_redirects=False)).status in (302, 303)
    assert (await next_message(sockets[2], "expired"))["message"].startswith("Su sesión")
    # Ana's sockets stay open and are still checked.
    checks = watch.checks
    await until(_async(lambda: watch.checks >= checks + 2))
    assert not sockets[0].closed and not sockets[1].closed
    assert len(checked[-1]) == 1
    for ws in sockets:
        await ws.close()


def _async(predicate):  # type: ignore[no-untyped-def]
    async def check() -> object:
        return predicate()

    return check


async def test_the_pop_uses_the_caller_facts_gathered_at_the_queue_join(seeded, sim, bridge):
    ami_bridge, _ = bridge
    await sim.replay("ami-queue-call-answered")

    async def stored():
        async with seeded() as uow:
            pop = await uow.session.scalar(
                select(ScreenPopRow).where(ScreenPopRow.call_uniqueid == "1795475111.1")
            )
            row = await uow.session.scalar(
                select(CallRow).where(CallRow.uniqueid == "1795475111.1")
            )
        return (pop, row) if pop is not None and row is not None else None

    await until(stored)
    pop, row = await stored()
    assert ami_bridge.prefetch_used == 1
    # The same pop as one built all at once at the answer.
    call = pop.payload["call"]
    rebuilt = await build_pop(
        seeded,
        call_uniqueid=call["uniqueid"],
        linkedid=call["linkedid"],
        caller_number=row.caller_number,
        agent_interface=call["agent_interface"],
        ivr_variables=row.ivr_variables,
        connected_at=datetime.fromisoformat(call["connected_at"]),
        caller_channel=call["channel"],
        server=call["server"],
        agent_channel=call["agent_channel"],
    )
    for part in ("identity", "ivr", "cases"):
        assert rebuilt[part] == pop.payload[part]


async def test_facts_gathered_for_a_caller_who_abandons_are_dropped(seeded, sim, bridge):
    ami_bridge, _ = bridge
    await sim.replay("ami-queue-call-abandoned")

    async def ended():
        async with seeded() as uow:
            row = await uow.session.scalar(select(CallRow).where(CallRow.abandoned.is_(True)))
        return row is not None and row.ended_at is not None

    await until(ended)
    assert ami_bridge._facts == {}  # noqa: SLF001  (nothing is kept for an ended call)
    assert ami_bridge.prefetch_used == 0
