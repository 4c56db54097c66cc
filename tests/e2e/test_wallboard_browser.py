"""End to end: a supervisor opens the live wallboard in headless Chromium; calls saved by
another "process" (the AMI listener's engine) change the page without a reload.

Uses Debian's /usr/bin/chromium through Playwright's async API (never ``playwright
install``); skipped only when that binary is missing.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from agent_desktop.app import init_app
from agent_desktop.wallboard import WALLBOARD, setup_wallboard_routes
from cac311.config import Settings
from case_core.db.engine import make_engine, make_sessionmaker
from case_core.db.uow import UnitOfWorkFactory
from case_core.services.calls import CallSnapshot, save_call
from tests.e2e.test_desktop_browser import ARGS, CHROMIUM
from tests.integration.test_desktop_support import FakeQueueControl

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is missing (apt install chromium)"
    ),
]


async def test_given_a_supervisor_on_the_wallboard_when_a_call_waits_and_is_answered_late_then_the_page_changes(  # noqa: E501
    seeded, engine, migrated_database
):
    from playwright.async_api import async_playwright, expect

    app = init_app(Settings(), uow_factory=seeded, engine=engine, queue_control=FakeQueueControl())
    setup_wallboard_routes(app)
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
            page.set_default_timeout(5000)
            await page.goto(f"{base}/login?siguiente=/supervisor/tablero")
            await page.fill("input[name=usuario]", "supervisor")
            await page.fill("input[name=contrasena]", "cac311-demo")
            await page.click("button[type=submit]")
            await page.goto(f"{base}/supervisor/tablero")
            await expect(page.locator("#conexion")).to_have_text("En vivo")
            await expect(page.locator("#en-espera")).to_have_text("0")
            await expect(page.locator("#nivel-servicio")).to_have_text("sin llamadas")
            await expect(page.locator("#grafico svg line.meta")).to_have_count(1)
            await page.evaluate("window.sameDocument = true")

            entered = datetime.now(UTC) - timedelta(seconds=20)
            snapshot = CallSnapshot(
                server="pbx1",
                uniqueid="1795475283.27",
                linkedid="1795475264.24",
                queue="cac311",
                entered_at=entered,
            )
            await save_call(ami_uow, snapshot)
            await expect(page.locator("#en-espera")).to_have_text("1", timeout=1500)

            late = CallSnapshot(
                server="pbx1",
                uniqueid="1795475283.27",
                linkedid="1795475264.24",
                queue="cac311",
                entered_at=entered,
                answered_at=entered + timedelta(seconds=20),
                hold_seconds=20,
            )
            await save_call(ami_uow, late)
            await expect(page.locator("#en-espera")).to_have_text("0", timeout=1500)
            await expect(page.locator("#nivel-servicio")).to_have_text("0.0 %")
            await expect(page.locator("#nivel-servicio")).to_have_attribute("data-cumple", "no")
            await expect(page.locator("#grafico svg rect.barra-bajo")).to_have_count(1)
            # same document: pushed, not reloaded
            assert await page.evaluate("window.sameDocument === true")
            assert app[WALLBOARD].recomputations >= 2
            await browser.close()
    finally:
        await runner.cleanup()
        await ami_engine.dispose()
