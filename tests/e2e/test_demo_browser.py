"""``cac311 demo`` as a newcomer meets it: log in as a demo agent, join the queue, and a
simulated caller's pop arrives in the browser."""

from __future__ import annotations

import re
import shutil

import pytest

from asterisk_sim.traffic import TrafficProfile
from cac311.config import HostPort, Settings
from cac311.demo import DemoOptions, running_demo
from case_core.seed.directory_data import DEMO_PASSWORD
from tests.e2e.test_desktop_browser import ARGS, CHROMIUM

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is missing"),
]

# Callers arrive every second or so and only the person who joins the queue answers.
PROFILE = TrafficProfile(
    calls_per_minute=60,
    bots=0,
    ivr_seconds=(0.1, 0.3),
    human_answer_seconds=0.2,
    human_talk_seconds=30,
    patience_mean=60,
)


async def test_a_demo_agent_logs_in_joins_the_queue_and_gets_a_pop(
    uow_factory, migrated_database, tmp_path
):
    from playwright.async_api import async_playwright, expect

    options = DemoOptions(http=HostPort("127.0.0.1", 0), data_dir=tmp_path, profile=PROFILE, seed=3)
    async with running_demo(Settings(), options, database_url=migrated_database) as demo:
        base = demo.base_url()
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = await browser.new_page()
            await page.goto(f"{base}/login")
            await page.fill("input[name=usuario]", "agente1")
            await page.fill("input[name=contrasena]", DEMO_PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/escritorio")
            await page.click("#btn-conectar")
            state = page.locator("#estado-etiqueta")
            await expect(state).to_have_text("Disponible", timeout=10_000)
            await expect(page.locator("#pop")).to_be_visible(timeout=15_000)
            # The caller's number is shown with the pop (the demo callers have Panama numbers).
            await expect(page.locator("#pop-numero")).to_have_text(re.compile(r"\d{7,}"))
            await browser.close()
