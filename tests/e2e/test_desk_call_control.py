"""End to end: call control from the desktop and the wallboard, through our AMI client to
the simulator (which answers as Asterisk 22 in the 2026-12-01 transcripts): hold, resume,
blind transfer, hang up; a supervisor listens from the wallboard; agents and auditors may
not spy."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import update

from agent_desktop.wallboard import setup_wallboard_routes
from ami.call_control import AmiCallControl
from asterisk_sim.ami import ANSWERED, AmiSimulator
from case_core.db.models import UserRow
from tests.e2e.desk_harness import running_desk
from tests.e2e.test_desktop_browser import CHROMIUM
from tests.integration.test_desktop_support import FakeQueueControl
from tests.protocol.test_ami_client import make_client, until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is missing (apt install chromium)"
    ),
]

CALLER = "Local/q@cac311-inbound-00000007;2"
AGENT = "PJSIP/1001-00000005"


@pytest.fixture
async def pbx():
    sim = AmiSimulator(originate_policy=lambda channel: ANSWERED)
    await sim.start()
    client = make_client(sim.port, server="pbx1")
    await client.start()
    await client.wait_up(3)
    yield sim, AmiCallControl({"pbx1": client})
    await client.stop()
    await sim.stop()


def _bridged_call(sim: AmiSimulator) -> None:
    for name, uid in ((CALLER, "1796137460.20"), (AGENT, "1796137463.22")):
        sim.emit(
            {
                "Event": "Newchannel",
                "Channel": name,
                "Uniqueid": uid,
                "Linkedid": "1796137460.19",
                "ChannelState": "6",
            }
        )
        sim.emit({"Event": "BridgeEnter", "Uniqueid": uid, "BridgeUniqueid": "b-1"})


def _sent(sim: AmiSimulator, action: str) -> list[dict[str, str]]:
    return [
        dict(m.fields) for m in sim.actions if (m.get("Action") or "").lower() == action.lower()
    ]


async def test_given_a_call_on_the_desktop_when_the_agent_holds_resumes_transfers_and_hangs_up_then_ami_does_it(  # noqa: E501
    seeded, engine, migrated_database, pbx
):
    from playwright.async_api import expect

    sim, control = pbx
    _bridged_call(sim)
    async with running_desk(
        seeded, engine, migrated_database, queue_control=FakeQueueControl(), call_control=control
    ) as desk:
        page = await desk.page("agente1")
        await expect(page.locator("#conexion")).to_have_text("En línea")
        await desk.pop(uniqueid="1796137460.20", caller="61234567", channel=CALLER, server="pbx1")
        await expect(page.locator("#pop-nombre")).to_have_text("Juan Pérez")

        await page.click("#btn-espera")
        await expect(page.locator("#resultado-llamada")).to_have_text(
            "El ciudadano está en espera con música."
        )
        await expect(page.locator("#btn-reanudar-llamada")).to_be_visible()
        redirect = _sent(sim, "Redirect")[-1]
        assert (redirect["Channel"], redirect["ExtraChannel"]) == (CALLER, AGENT)
        assert (redirect["Exten"], redirect["ExtraExten"]) == ("moh", "wait")

        await page.click("#btn-reanudar-llamada")
        await expect(page.locator("#resultado-llamada")).to_have_text("Llamada reanudada.")
        bridge = _sent(sim, "Bridge")[-1]
        assert (bridge["Channel1"], bridge["Channel2"]) == (AGENT, CALLER)

        await page.click("#btn-transferir")  # no target chosen: said, nothing sent
        await expect(page.locator("#resultado-llamada")).to_have_text(
            "Elija a quién transferir la llamada."
        )
        assert _sent(sim, "BlindTransfer") == []
        await page.select_option("#destino-transferencia", label="Agente: Luis Herrera")
        await page.click("#btn-transferir")
        await expect(page.locator("#resultado-llamada")).to_have_text("Llamada transferida.")
        blind = _sent(sim, "BlindTransfer")[-1]
        assert (blind["Channel"], blind["Context"], blind["Exten"]) == (
            AGENT,
            "cac311-transfer",
            "1002",
        )

        await page.click("#btn-colgar")
        await expect(page.locator("#resultado-llamada")).to_have_text("Llamada terminada.")
        assert _sent(sim, "Hangup")[-1]["Channel"] == CALLER
        await until(lambda: sim._find_channel(CALLER) is None)
        await page.click("#btn-colgar")  # the channel is gone now
        await expect(page.locator("#resultado-llamada")).to_have_text("La llamada ya terminó.")
        await expect(page.locator("#resultado-llamada")).to_have_class("error")


async def test_given_a_supervisor_on_the_wallboard_when_listening_then_chanspy_and_others_are_refused(  # noqa: E501
    seeded, engine, migrated_database, pbx
):
    from datetime import UTC, datetime

    from playwright.async_api import expect

    from case_core.services.agents import AgentState, record_agent_state

    sim, control = pbx
    _bridged_call(sim)
    async with seeded() as uow:
        await uow.session.execute(
            update(UserRow)
            .where(UserRow.username == "supervisor")
            .values(phone_interface="PJSIP/1009")
        )
        await uow.commit()
    await record_agent_state(seeded, "PJSIP/1001", AgentState.IN_CALL, None, datetime.now(UTC), "t")
    async with running_desk(
        seeded,
        engine,
        migrated_database,
        queue_control=FakeQueueControl(),
        call_control=control,
        extra_setup=setup_wallboard_routes,
    ) as desk:
        page = await desk.page("supervisor", width=1920, height=1080)
        await page.goto(desk.base + "/supervisor/tablero")
        await expect(page.locator("#conexion")).to_have_text("En vivo")
        await page.get_by_role("button", name="Escuchar la llamada de Ana Batista").click()
        await expect(page.locator("#resultado-espia")).to_contain_text("sin ser oído")
        spy = [m for m in _sent(sim, "Originate") if m.get("Application") == "ChanSpy"][-1]
        assert (spy["Channel"], spy["Data"]) == ("PJSIP/1009", "PJSIP/1001,qE")

        for user in ("auditor", "agente2"):
            other = await desk.page(user)
            token = await other.evaluate(
                "() => (document.body.dataset.csrf || "
                "(document.querySelector('input[name=csrf_token]') || {}).value || '')"
            )
            status = await other.evaluate(
                """async ([token]) => {
                    const f = new FormData();
                    f.append('csrf_token', token); f.append('agente', 'PJSIP/1001');
                    f.append('modo', 'escuchar');
                    const r = await fetch('/supervisor/espiar', {method: 'POST', body: f,
                        headers: {Accept: 'application/json'}});
                    return r.status; }""",
                [token],
            )
            assert status == 403, user
        assert len([m for m in _sent(sim, "Originate") if m.get("Application")]) == 1
