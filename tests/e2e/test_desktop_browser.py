"""End to end: an agent logs in with headless Chromium, a pop arrives as the AMI listener
would publish it on AgentConnect, the agent registers a case and sees its number.

Uses Debian's /usr/bin/chromium through Playwright's async API (never ``playwright
install``); skipped only when that binary is missing.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime

import pytest
from aiohttp import web

from agent_desktop.app import LISTENER, init_app
from agent_desktop.pop_bus import publish_pop
from cac311.config import Settings
from case_core.db.engine import make_engine, make_sessionmaker
from case_core.db.uow import UnitOfWorkFactory
from case_core.services.screen_pop import build_pop
from tests.integration.test_desktop_support import FakeQueueControl

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is missing (apt install chromium)"
    ),
]


async def test_given_agent_in_browser_when_a_call_pops_then_case_is_registered(
    seeded, engine, migrated_database
):
    from playwright.async_api import async_playwright, expect

    app = init_app(Settings(), uow_factory=seeded, engine=engine, queue_control=FakeQueueControl())
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    ami_engine = make_engine(migrated_database, pool_size=2)  # the AMI listener "process"
    ami_uow = UnitOfWorkFactory(make_sessionmaker(ami_engine))
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = await browser.new_page()
            page.set_default_timeout(8000)
            await page.goto(f"{base}/login")
            await page.fill("input[name=usuario]", "agente1")
            await page.fill("input[name=contrasena]", "cac311-demo")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/escritorio")
            await expect(page.locator("#conexion")).to_have_text("En línea")
            assert app[LISTENER].connected.is_set()

            pop = await build_pop(
                ami_uow,
                call_uniqueid="1795475283.27",
                linkedid="1795475264.24",
                caller_number="61234567",
                agent_interface="PJSIP/1001",
                ivr_variables={"CAC311_INTENT": "queja"},
                connected_at=datetime.now(UTC),
                caller_channel="Local/312@cac311-inbound-0000000c;2",
            )
            await publish_pop(ami_uow, pop)
            await expect(page.locator("#pop-nombre")).to_have_text("Juan Pérez")
            await expect(page.locator("#cedula")).to_have_value("8-123-4567")
            await expect(page.locator("#tipo")).to_have_value("queja")

            await page.locator("#servicio").press_sequentially("falta de agua", delay=20)
            option = page.locator("#servicio-sugerencias [role=option]", has_text="IDAAN").first
            await option.click()
            await expect(page.locator("#servicio-elegido")).to_contain_text("Falta de agua potable")
            await page.fill("#descripcion", "No llega agua a la casa desde el lunes.")
            await page.click("#btn-guardar")
            number = page.locator("#numero-caso")
            await expect(number).to_have_text(re.compile(r"^\d{4} \d{3} \d{3}$"))
            shown = (await number.text_content()) or ""
            await browser.close()
    finally:
        await runner.cleanup()
        await ami_engine.dispose()
    async with seeded() as uow:
        case = await uow.cases.by_number(shown.replace(" ", ""))
    assert case is not None and case.pop_to_save_seconds is not None
    assert case.description == "No llega agua a la casa desde el lunes."
