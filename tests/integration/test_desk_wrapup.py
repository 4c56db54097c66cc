"""After-call work against PostgreSQL: with ``desk_wrapup_pause`` the member is paused while
the agent documents the call and resumed when the code is saved; the codes' rules."""

from __future__ import annotations

from dataclasses import replace

from agent_desktop.pop_bus import close_pop, publish_pop
from cac311.config import Settings
from tests.integration.test_desktop_pop import _pop
from tests.integration.test_desktop_support import (  # noqa: F401
    START,
    make_desktop_fixture,
    other_process_fixture,
)

desktop = make_desktop_fixture(replace(Settings(), desk_wrapup_pause=True))


async def test_given_pause_mode_when_a_call_ends_and_is_documented_then_paused_then_resumed(
    desktop, other_process
):
    agent = await desktop.login("agente1", form=False)
    pop_id = await publish_pop(other_process, await _pop(other_process), now=START)
    early = await agent.post("/agente/cierre/inicio", {"pop_id": pop_id})
    assert early.status == 400  # the call is still on
    await close_pop(other_process, "1795475283.27", START)

    started = await agent.post("/agente/cierre/inicio", {"pop_id": pop_id})
    assert started.status == 200
    assert (await started.json())["pause"] is True
    assert ("queue_pause", "cac311", "PJSIP/1001", True, "trabajo_posterior") in (
        desktop.queue.calls
    )

    refused = await agent.post("/agente/cierre", {"pop_id": pop_id, "codigo": "otro"})
    assert refused.status == 400
    assert "nota" in (await refused.json())["error"]
    no_case = await agent.post("/agente/cierre", {"pop_id": pop_id, "codigo": "caso_registrado"})
    assert no_case.status == 400
    assert not any(
        c[:4] == ("queue_pause", "cac311", "PJSIP/1001", False) for c in desktop.queue.calls
    )

    saved = await agent.post(
        "/agente/cierre", {"pop_id": pop_id, "codigo": "otro", "nota": "Pidió un teléfono."}
    )
    assert saved.status == 200, await saved.text()
    assert ("queue_pause", "cac311", "PJSIP/1001", False, "") in desktop.queue.calls
    corrected = await agent.post("/agente/cierre", {"pop_id": pop_id, "codigo": "broma"})
    assert corrected.status == 200  # one wrap-up per call, corrected in place

    other = await desktop.login("agente2", form=False)
    stolen = await other.post("/agente/cierre", {"pop_id": pop_id, "codigo": "broma"})
    assert stolen.status == 403
