"""Screen pop: built from the IVR/caller ID, published by another "process" over
LISTEN/NOTIFY, delivered only to the right agent's sockets, recovered on reconnect."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import pytest

from agent_desktop.app import LISTENER
from agent_desktop.pop_bus import close_pop, current_pop, publish_pop
from agent_desktop.ws import Hub
from case_core.db.models import CitizenPhoneRow, CitizenRow, IvrSessionRow
from case_core.domain.case import CaseType, Channel
from case_core.domain.roles import Actor, Role
from case_core.services.agents import AgentState, record_agent_state, state_from_member
from case_core.services.cases import RegisterCase, register_case
from case_core.services.screen_pop import build_pop
from tests.conftest import PANAMA
from tests.integration.test_desktop_support import (  # noqa: F401
    START,
    make_desktop_fixture,
    next_message,
    other_process_fixture,
)

desktop = make_desktop_fixture()
AGENT1, AGENT2 = "PJSIP/1001", "PJSIP/1002"


async def _until(condition, within: float = 5.0) -> None:
    """Poll a condition the code under test offers no event for."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def _juan(uow_factory) -> int:
    async with uow_factory() as uow:
        return (await uow.citizens.by_cedula("8-123-4567")).id


async def _user(uow_factory, username):
    async with uow_factory() as uow:
        return await uow.users.by_username(username)


async def _pop(uow_factory, uniqueid="1795475283.27", interface=AGENT1, **kw):
    args = dict(
        call_uniqueid=uniqueid,
        linkedid="1795475264.24",
        caller_number="61234567",
        agent_interface=interface,
        ivr_variables={},
        connected_at=START,
        caller_channel="Local/312@cac311-inbound-0000000c;2",
    )
    args.update(kw)
    return await build_pop(uow_factory, **args)


async def test_given_ivr_session_with_cedula_then_pop_shows_citizen_choices_and_cases(seeded):
    juan = await _juan(seeded)
    async with seeded() as uow:
        entity = await uow.directory.entity_by_code("IDAAN")
        service = await uow.directory.service_by_code(entity.id, "falta-agua")
        uow.session.add(
            IvrSessionRow(
                route="inbound",
                uniqueid="1795475264.24",
                linkedid="1795475264.24",
                caller_number="67778888",
                started_at=START - timedelta(minutes=2),
                intent="estado",
                cedula="8-123-4567",
                case_number="2026000001",
            )
        )
        await uow.commit()
    agent2 = await _user(seeded, "agente2")
    other_agent = Actor(agent2.id, "agente2", Role.AGENT)
    common = dict(channel=Channel.TELEFONO, entity_id=entity.id, service_id=service.id)
    await register_case(
        seeded,
        RegisterCase(type=CaseType.QUEJA, description="Sin agua desde el lunes", **common,
                     citizen_id=juan),
        actor=other_agent, now=START - timedelta(days=40), tz=PANAMA,
    )  # fmt: skip
    await register_case(
        seeded,
        RegisterCase(type=CaseType.DENUNCIA, description="Conexión ilegal del vecino", **common,
                     citizen_id=juan, confidential=True),
        actor=other_agent, now=START - timedelta(days=1), tz=PANAMA,
    )  # fmt: skip
    # Variables disagree with the session: the session wins.
    pop = await _pop(seeded, ivr_variables={"CAC311_CEDULA": "4-712-1033"})
    assert pop["identity"]["status"] == "ivr"
    assert pop["identity"]["citizen"]["full_name"] == "Juan Pérez"
    assert pop["ivr"]["intent_label"] == "Consultar el estado de un caso"
    assert pop["ivr"]["case_number"] == "2026000001"
    confidential, queja = pop["cases"]
    assert confidential["type_label"] == "Caso confidencial"
    assert confidential["description"] is None and confidential["entity"] is None
    assert queja["type_label"] == "Queja" and queja["description"] == "Sin agua desde el lunes"
    assert queja["entity"].startswith("Instituto de Acueductos")
    assert queja["overdue"] is True
    # The agent who registered the denuncia sees it.
    pop2 = await _pop(seeded, interface=AGENT2)
    assert pop2["cases"][0]["description"] == "Conexión ilegal del vecino"
    assert pop["call"]["connected_at_local"] == "02/11/2026 10:00"  # America/Panama


async def test_given_no_ivr_session_then_variables_then_caller_id_identify(seeded):
    variables = {"CAC311_CEDULA": "4-712-1033", "CAC311_INTENT": "queja"}
    by_var = await _pop(seeded, uniqueid="9.1", linkedid="9.1", ivr_variables=variables)
    assert by_var["identity"]["citizen"]["full_name"] == "Yarisel Morales"
    assert by_var["ivr"]["intent_label"] == "Registrar una queja"
    by_phone = await _pop(seeded, uniqueid="9.2", linkedid="9.2", caller_number="61234567")
    assert by_phone["identity"]["status"] == "caller_id"
    assert by_phone["identity"]["citizen"]["cedula"] == "8-123-4567"
    async with seeded() as uow:
        sister = CitizenRow(cedula="8-123-9999", first_name="Marta", last_name="Pérez")
        uow.session.add(sister)
        await uow.session.flush()
        uow.session.add(CitizenPhoneRow(citizen_id=sister.id, e164="+50761234567", kind="movil"))
        await uow.commit()
    shared = await _pop(seeded, uniqueid="9.3", linkedid="9.3", caller_number="61234567")
    assert shared["identity"]["status"] == "multiple"
    names = {c["full_name"] for c in shared["identity"]["candidates"]}
    assert names == {"Juan Pérez", "Marta Pérez"}
    unknown = await _pop(seeded, uniqueid="9.4", linkedid="9.4", caller_number="69990000")
    assert unknown["identity"]["status"] == "unknown"
    assert unknown["identity"]["label"] == "No identificado"
    variables = {"CAC311_ANONYMOUS": "1", "CAC311_CEDULA": "8-123-4567"}
    anonymous = await _pop(seeded, uniqueid="9.5", linkedid="9.5", ivr_variables=variables)
    assert anonymous["identity"]["status"] == "anonymous"
    assert anonymous["identity"]["citizen"] is None and anonymous["cases"] == []
    assert anonymous["call"]["caller_number"] is None  # the number would identify the caller


async def test_given_pop_from_another_process_then_only_that_agents_socket_gets_it(
    desktop, other_process
):
    ana = await desktop.login("agente1", form=False)
    luis = await desktop.login("agente2", form=False)
    ana_ws, ana_ws2, luis_ws = await ana.ws(), await ana.ws(), await luis.ws()
    for ws in (ana_ws, ana_ws2, luis_ws):
        assert (await next_message(ws, "hello"))["interface"] in (AGENT1, AGENT2)
    pop_id = await publish_pop(other_process, await _pop(other_process), now=START)
    for ws in (ana_ws, ana_ws2):
        message = await next_message(ws, "pop")
        assert message["pop_id"] == pop_id
        assert message["pop"]["identity"]["citizen"]["full_name"] == "Juan Pérez"
    # Luis's first pop is his own: Ana's was never sent to him.
    luis_pop = await publish_pop(
        other_process, await _pop(other_process, uniqueid="2.1", interface=AGENT2), now=START
    )
    assert (await next_message(luis_ws, "pop"))["pop_id"] == luis_pop
    async with other_process() as uow:
        stored = await current_pop(other_process, AGENT1)
        user = await uow.users.by_username("agente1")
    assert stored.user_id == user.id and stored.call_uniqueid == "1795475283.27"
    for ws in (ana_ws, ana_ws2, luis_ws):
        await ws.close()


async def test_given_open_pop_when_browser_reconnects_then_it_gets_it_back(desktop, other_process):
    ana = await desktop.login("agente1", form=False)
    ws = await ana.ws()
    pop_id = await publish_pop(other_process, await _pop(other_process), now=START)
    assert (await next_message(ws, "pop"))["pop_id"] == pop_id
    await ws.close()
    again = await ana.ws()
    assert (await next_message(again, "pop"))["pop_id"] == pop_id
    # A new call replaces the old one; the old pop is closed.
    newer = await publish_pop(other_process, await _pop(other_process, uniqueid="3.1"), now=START)
    assert (await next_message(again, "pop_closed"))["pop_id"] == pop_id
    assert (await next_message(again, "pop"))["pop_id"] == newer
    assert await close_pop(other_process, "3.1", START + timedelta(minutes=3)) == [newer]
    assert (await next_message(again, "pop_closed"))["pop_id"] == newer
    await again.close()
    last = await ana.ws()
    await next_message(last, "hello")
    assert await current_pop(other_process, AGENT1) is None
    await last.close()


async def test_given_listener_connection_killed_then_it_reconnects_and_delivers(
    desktop, other_process, migrated_database
):
    ana = await desktop.login("agente1", form=False)
    ws = await ana.ws()
    await next_message(ws, "hello")
    listener = desktop.app[LISTENER]
    pid = listener.backend_pid
    admin = await asyncpg.connect(migrated_database.replace("+asyncpg", ""))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    # A pop published while the listener is down is re-sent after it reconnects.
    pop_id = await publish_pop(other_process, await _pop(other_process), now=START)
    assert (await next_message(ws, "pop"))["pop_id"] == pop_id
    await _until(lambda: listener.connections >= 2)
    later = await publish_pop(other_process, await _pop(other_process, uniqueid="4.1"), now=START)
    assert (await next_message(ws, "pop"))["pop_id"] == later
    await ws.close()


async def test_given_reported_agent_state_then_desktop_shows_and_pushes_it(desktop, other_process):
    ana = await desktop.login("agente1", form=False)
    ws = await ana.ws()
    await next_message(ws, "hello")
    await record_agent_state(other_process, AGENT1, AgentState.AVAILABLE, None, START, "ami")
    assert (await next_message(ws, "agent_state"))["label"] == "Disponible"
    state = state_from_member(status=1, paused=True)
    await record_agent_state(
        other_process, AGENT1, state, "almuerzo", START + timedelta(seconds=5), "QueueMemberPause"
    )
    message = await next_message(ws, "agent_state")
    assert message["state"] == "paused" and message["label"] == "En pausa: Almuerzo"
    page = await (await ana.client.get("/escritorio")).text()
    assert "En pausa: Almuerzo" in page
    await ws.close()


@pytest.mark.parametrize(
    ("status", "paused", "in_call", "expected"),
    [
        (1, False, False, AgentState.AVAILABLE),
        (2, False, False, AgentState.IN_CALL),
        (6, False, False, AgentState.RINGING),
        (5, False, False, AgentState.UNAVAILABLE),
        (1, False, True, AgentState.IN_CALL),
        (2, True, True, AgentState.PAUSED),
    ],
)
def test_given_queue_member_fields_then_one_desktop_state(status, paused, in_call, expected):
    assert state_from_member(status=status, paused=paused, in_call=in_call) is expected


class _StuckSocket:
    """A browser that never reads: every send blocks."""

    def __init__(self) -> None:
        self.closed_with = None
        self.sent: list[str] = []

    async def send_str(self, data: str) -> None:
        await asyncio.Event().wait()

    async def close(self, code=None, message=b"") -> None:  # type: ignore[no-untyped-def]
        self.closed_with = code


class _FastSocket(_StuckSocket):
    async def send_str(self, data: str) -> None:
        self.sent.append(data)


async def test_given_a_slow_browser_then_others_still_get_messages_and_it_is_closed():
    hub = Hub(maxsize=3)
    slow, fast = _StuckSocket(), _FastSocket()
    hub.add(slow, AGENT1)  # type: ignore[arg-type]
    hub.add(fast, AGENT1)  # type: ignore[arg-type]
    for n in range(10):
        hub.send_to_interface(AGENT1, {"type": "pop", "n": n})
        await asyncio.sleep(0)
    await _until(lambda: len(fast.sent) == 10 and slow.closed_with is not None)
    assert slow.closed_with is not None
    await hub.close_all()
    assert hub.clients == set()


async def test_given_an_open_socket_when_the_session_ends_then_it_is_closed_and_pops_stop(
    desktop, other_process, monkeypatch
):
    import agent_desktop.ws as ws_module

    monkeypatch.setattr(ws_module, "SESSION_CHECK_SECONDS", 0.05)
    ana = await desktop.login("agente1", form=False)
    ws = await ana.ws()
    await next_message(ws, "hello")
    # An open socket counts as activity: two idle hours later the desktop still works.
    desktop.clock.advance(hours=2)
    await asyncio.sleep(0.2)
    assert (await ana.client.get("/escritorio", allow_redirects=False)).status == 200
    assert (await ana.post("/logout", {}, allow_redirects=False)).status in (302, 303)
    assert (await next_message(ws, "expired"))["message"].startswith("Su sesión terminó")
    msg = await ws.receive(timeout=2)
    assert msg.type.name in ("CLOSE", "CLOSED", "CLOSING")
    await publish_pop(other_process, await _pop(other_process), now=START)
    assert ws.closed
