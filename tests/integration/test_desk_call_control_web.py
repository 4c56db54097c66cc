"""The call-control endpoints against PostgreSQL with a recording fake of the PBX side:
transfer only to targets the desk offers (agents, supervisors, entity office phones), only on
one's own live call; spying only for supervisors with a phone."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import update

from agent_desktop.app import LISTENER, init_app
from agent_desktop.pop_bus import close_pop, publish_pop
from cac311.config import Settings
from case_core.db.models import UserRow
from case_core.db.models.directory import OfficeRow
from tests.integration.test_desktop_pop import _pop
from tests.integration.test_desktop_support import (  # noqa: F401
    START,
    Desktop,
    FakeClock,
    FakeQueueControl,
    other_process_fixture,
)


@dataclass
class FakeCallControl:
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    async def hangup(self, server, caller_channel):  # type: ignore[no-untyped-def]
        self.calls.append(("hangup", caller_channel))

    async def hold(self, server, caller_channel, agent_interface):  # type: ignore[no-untyped-def]
        self.calls.append(("hold", caller_channel, agent_interface))

    async def resume(self, server, caller_channel, agent_interface):  # type: ignore[no-untyped-def]
        self.calls.append(("resume", caller_channel, agent_interface))

    async def transfer(self, server, caller_channel, agent_interface, exten, *, attended):  # type: ignore[no-untyped-def]
        self.calls.append(("transfer", exten, attended))

    async def spy(self, supervisor_interface, agent_interface, mode, caller_id):  # type: ignore[no-untyped-def]
        self.calls.append(("spy", supervisor_interface, agent_interface, mode.value))


@pytest.fixture
async def desk(seeded, engine):  # type: ignore[no-untyped-def]
    control = FakeCallControl()
    clock = FakeClock(START)
    app = init_app(
        Settings(),
        uow_factory=seeded,
        engine=engine,
        queue_control=FakeQueueControl(),
        clock=clock,
        call_control=control,
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    await asyncio.wait_for(app[LISTENER].connected.wait(), 5)
    d = Desktop(app, server, clock, FakeQueueControl(), seeded)
    d.control = control  # type: ignore[attr-defined]
    yield d
    for client in d.clients:
        await client.close()
    await server.close()


async def test_given_a_live_call_then_targets_are_offered_and_a_typed_number_is_refused(
    desk, other_process
):
    async with desk.uow_factory() as uow:
        entity = await uow.directory.entity_by_code("IDAAN")
        uow.session.add(
            OfficeRow(entity_id=entity.id, name="Sede central", kind="sede", phones="523-8000")
        )
        await uow.commit()
    agent = await desk.login("agente1", form=False)
    targets = (await (await agent.client.get("/api/transferencias")).json())["targets"]
    labels = [t["label"] for t in targets]
    assert "Agente: Luis Herrera" in labels and "Agente: Ana Batista" not in labels
    office = next(t for t in targets if t["label"] == "IDAAN — Sede central")
    pop_id = await publish_pop(other_process, await _pop(other_process), now=START)

    typed = await agent.post(
        "/agente/llamada", {"pop_id": pop_id, "accion": "transferir", "destino": "+50761234567"}
    )
    assert typed.status == 400
    ok = await agent.post(
        "/agente/llamada", {"pop_id": pop_id, "accion": "consultar", "destino": office["id"]}
    )
    assert ok.status == 200, await ok.text()
    assert desk.control.calls[-1] == ("transfer", "+5075238000", True)

    other = await desk.login("agente2", form=False)
    stolen = await other.post("/agente/llamada", {"pop_id": pop_id, "accion": "colgar"})
    assert stolen.status == 403
    await close_pop(other_process, "1795475283.27", START)
    late = await agent.post("/agente/llamada", {"pop_id": pop_id, "accion": "colgar"})
    assert late.status == 400
    assert ("hangup", "Local/312@cac311-inbound-0000000c;2") not in desk.control.calls


async def test_given_roles_when_spying_then_only_supervisors_with_a_phone(desk):
    for user in ("agente1", "auditor"):
        actor = await desk.login(user, form=False)
        form = {"agente": "PJSIP/1001", "modo": "escuchar"}
        assert (await actor.post("/supervisor/espiar", form)).status == 403, user
    boss = await desk.login("supervisor", form=False)
    no_phone = await boss.post("/supervisor/espiar", {"agente": "PJSIP/1001", "modo": "escuchar"})
    assert no_phone.status == 400
    async with desk.uow_factory() as uow:
        await uow.session.execute(
            update(UserRow)
            .where(UserRow.username == "supervisor")
            .values(phone_interface="PJSIP/1009")
        )
        await uow.commit()
    boss = await desk.login("supervisor", form=False)
    bad_mode = await boss.post("/supervisor/espiar", {"agente": "PJSIP/1001", "modo": "grabar"})
    assert bad_mode.status == 400
    unknown = await boss.post("/supervisor/espiar", {"agente": "PJSIP/9999", "modo": "escuchar"})
    assert unknown.status == 400
    ok = await boss.post("/supervisor/espiar", {"agente": "PJSIP/1001", "modo": "susurrar"})
    assert ok.status == 200
    assert desk.control.calls == [("spy", "PJSIP/1009", "PJSIP/1001", "susurrar")]
