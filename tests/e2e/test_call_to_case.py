"""The whole path of a call, in a real browser: the agent joins the queue from the desktop
(AMI QueueAdd to the simulated Asterisk), a citizen keys a cédula in the IVR (our FastAGI
server), the simulated app_queue connects the call to the agent (AMI AgentConnect), the
pop shows the citizen, the agent registers a case and sends the caller to hear its number
(AMI Redirect into ``cac311-readback``)."""

from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import replace

import pytest
from sqlalchemy import select

from asterisk_sim.agi import Press
from asterisk_sim.traffic import TrafficGenerator, TrafficProfile, TrafficSimulator
from cac311.bootstrap import running_parts
from cac311.config import AmiServer, HostPort, Settings
from case_core.db.models import CallRow
from tests.e2e.test_desktop_browser import ARGS, CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is missing"),
]


async def test_a_call_walks_ivr_queue_pop_case_and_readback(seeded, migrated_database, tmp_path):
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=10_000)

    # No static member: the only agent in the queue is the one who joins from the browser.
    sim = TrafficSimulator(username="cac311", secret="s3cret", static_members=())
    await sim.start()
    settings = replace(
        Settings(),
        database_url=migrated_database,
        ami_servers=(AmiServer("pbx1", "127.0.0.1", sim.port, "cac311", "s3cret"),),
        fastagi_bind=HostPort("127.0.0.1", 0),
        http_bind=HostPort("127.0.0.1", 0),
        recordings_dir=tmp_path,
    )
    try:
        async with running_parts(settings, {"ivr", "ami", "web"}) as rt:
            traffic = TrafficGenerator(
                sim,
                fastagi_host="127.0.0.1",
                fastagi_port=rt.ports["ivr"],
                recordings_dir=tmp_path,
                seed=7,
                profile=TrafficProfile(
                    calls_per_minute=0,
                    bots=0,
                    ivr_seconds=(0.1, 0.2),
                    human_answer_seconds=0.2,
                    human_talk_seconds=60,
                ),
            )
            await traffic.start()
            base = f"http://127.0.0.1:{rt.ports['web']}"
            async with async_playwright() as p:
                browser = await p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=ARGS
                )
                page = await browser.new_page()
                page.set_default_timeout(10_000)
                await page.goto(f"{base}/login")
                await page.fill("input[name=usuario]", "agente1")
                await page.fill("input[name=contrasena]", "cac311-demo")
                await page.click("button[type=submit]")
                await page.wait_for_url(f"{base}/escritorio")
                await expect(page.locator("#conexion")).to_have_text("En línea")

                await page.click("#btn-conectar")  # QueueAdd over AMI
                await expect(page.locator("#estado-etiqueta")).to_have_text("Disponible")

                # A citizen the caller ID does not know types the cédula of Juan Pérez.
                call = traffic.spawn_call(
                    script=[Press("1"), Press("8*123*4567#")], caller_num="62220000", patience=120
                )
                await expect(page.locator("#pop-nombre")).to_have_text("Juan Pérez")
                await expect(page.locator("#pop-intencion")).to_contain_text("ueja")
                await expect(page.locator("#cedula")).to_have_value("8-123-4567")

                await page.locator("#servicio").press_sequentially("falta de agua", delay=20)
                await page.locator(
                    "#servicio-sugerencias [role=option]", has_text="IDAAN"
                ).first.click()
                await page.fill("#descripcion", "Sin agua desde el lunes en calle 50.")
                await page.click("#btn-guardar")
                number = page.locator("#numero-caso")
                await expect(number).to_have_text(re.compile(r"^\d{4} \d{3} \d{3}$"))
                case_number = ((await number.text_content()) or "").replace(" ", "")

                await page.click("#btn-leer-numero")
                await expect(page.locator("#resultado-lectura")).to_have_text(
                    "El ciudadano está escuchando el número de su caso."
                )
                await browser.close()
            await traffic.stop()
            call.cancel()
            await asyncio.gather(call, return_exceptions=True)
    finally:
        await sim.stop()

    redirects = [a for a in sim.actions if a.get("Action", "").lower() == "redirect"]
    assert len(redirects) == 1
    assert (redirects[0].get("Context"), redirects[0].get("Exten")) == (
        "cac311-readback",
        case_number,
    )
    async with seeded() as uow:
        case = await uow.cases.by_number(case_number)
        linked = await uow.session.get(CallRow, case.call_id)
        calls = (await uow.session.scalars(select(CallRow))).all()
    assert case.citizen_id is not None and case.pop_to_save_seconds is not None
    assert linked.agent_interface == "PJSIP/1001" and linked.answered_at is not None
    assert len(calls) == 1
