"""Shared pieces of the desk browser tests: a desktop app on a free port, logged-in pages,
pops published as the AMI listener "process" would, axe-core scans and screenshots.

axe-core comes from the npm registry (``scripts/setup`` installs it into ``var/node``); the
scans are skipped with a clear reason when it is missing. Screenshots go to
``var/screenshots/`` for a reviewer (CI keeps that folder).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from agent_desktop.app import init_app
from agent_desktop.pop_bus import publish_pop
from cac311.config import Settings
from case_core.db.engine import make_engine, make_sessionmaker
from case_core.db.uow import UnitOfWorkFactory
from case_core.services.screen_pop import build_pop
from tests.e2e.test_desktop_browser import ARGS, CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "var" / "node" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
PASSWORD = "cac311-demo"


@dataclass
class Desk:
    app: web.Application
    base: str
    ami_uow: UnitOfWorkFactory
    browser: Any

    async def page(
        self, username: str, *, width: int = 1366, height: int = 768, axe: bool = False
    ) -> Any:
        # axe-core is injected as an inline script, which the desktop's CSP forbids.
        context = await self.browser.new_context(
            viewport={"width": width, "height": height}, bypass_csp=axe
        )
        page = await context.new_page()
        page.set_default_timeout(8000)
        await page.goto(f"{self.base}/login")
        await page.fill("input[name=usuario]", username)
        await page.fill("input[name=contrasena]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_load_state()
        return page

    async def pop(
        self,
        *,
        uniqueid: str,
        caller: str | None,
        interface: str = "PJSIP/1001",
        variables: dict[str, str] | None = None,
        channel: str | None = None,
        server: str | None = None,
    ) -> int:
        pop = await build_pop(
            self.ami_uow,
            call_uniqueid=uniqueid,
            linkedid=uniqueid,
            caller_number=caller,
            agent_interface=interface,
            ivr_variables=variables or {},
            connected_at=datetime.now(UTC),
            caller_channel=channel or f"Local/312@cac311-inbound-{uniqueid};2",
            server=server,
        )
        return await publish_pop(self.ami_uow, pop)


@asynccontextmanager
async def running_desk(
    uow_factory: UnitOfWorkFactory,
    engine: Any,
    database_url: str,
    *,
    queue_control: Any,
    extra_setup: Any = None,
    call_control: Any = None,
    settings: Settings | None = None,
) -> AsyncIterator[Desk]:
    from playwright.async_api import async_playwright

    app = init_app(
        settings or Settings(),
        uow_factory=uow_factory,
        engine=engine,
        queue_control=queue_control,
        call_control=call_control,
    )
    if extra_setup is not None:
        extra_setup(app)
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    ami_engine = make_engine(database_url, pool_size=2)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            try:
                yield Desk(
                    app,
                    f"http://127.0.0.1:{port}",
                    UnitOfWorkFactory(make_sessionmaker(ami_engine)),
                    browser,
                )
            finally:
                await browser.close()
    finally:
        await runner.cleanup()
        await ami_engine.dispose()


async def axe_violations(page: Any, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list:
    """Run axe-core (WCAG 2 A/AA rules) on the page; the violations of the given impacts."""
    if not AXE_JS.exists():
        pytest.skip(f"axe-core is missing ({AXE_JS}); run scripts/setup")
    await page.add_script_tag(path=str(AXE_JS))
    result = await page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
        })"""
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in impacts
    ]


async def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=False)
    return path
