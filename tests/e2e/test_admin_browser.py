"""End to end in Chromium (issue 11, "Done when"): an admin creates an Enlace Ejecutivo; the
liaison logs in, must change the temporary password, proposes an SLA change and a knowledge
article; a supervisor approves both; an agent's desktop then finds the article by an
accent-less word, and an announcement made by the supervisor appears on the agent's open
desktop without reload."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import select

from agent_desktop.admin.live import LIVE_LISTENER
from agent_desktop.app import init_app
from cac311.config import Settings
from case_core.db.models import ServiceRow
from tests.e2e.test_desktop_browser import ARGS, CHROMIUM
from tests.integration.test_desktop_support import PASSWORD, FakeQueueControl

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is missing (apt install chromium)"
    ),
]
TEMPORARY = "temporal-obras-2026"
CHOSEN = "puente-de-las-americas-9"


async def _login(page, base: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    await page.goto(f"{base}/login")
    await page.fill("input[name=usuario]", username)
    await page.fill("input[name=contrasena]", password)
    await page.click("form[action='/login'] button[type=submit]")


async def test_liaison_proposes_supervisor_approves_agent_finds_the_article(seeded, engine):
    import asyncio

    from playwright.async_api import async_playwright, expect

    app = init_app(Settings(), uow_factory=seeded, engine=engine, queue_control=FakeQueueControl())
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await asyncio.wait_for(app[LIVE_LISTENER].connected.wait(), 5)
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)

            # The administrator creates the liaison.
            admin = await (await browser.new_context()).new_page()
            admin.set_default_timeout(8000)
            await _login(admin, base, "admin", PASSWORD)
            await admin.goto(f"{base}/admin/usuarios")
            form = admin.locator("#nuevo-usuario")
            await form.locator("input[name=usuario]").fill("enlace.mop")
            await form.locator("input[name=nombre]").fill("Rita Obras")
            await form.locator("select[name=rol]").select_option("liaison_exec")
            await form.locator("select[name=entidad]").select_option(label="MOP")
            await form.locator("input[name=contrasena]").fill(TEMPORARY)
            await form.locator("button[type=submit]").click()
            await expect(admin.locator("p.hecho")).to_contain_text("enlace.mop")

            # The liaison must change the temporary password first.
            liaison = await (await browser.new_context()).new_page()
            liaison.set_default_timeout(8000)
            await _login(liaison, base, "enlace.mop", TEMPORARY)
            await liaison.wait_for_url(f"{base}/cuenta/contrasena")
            await liaison.goto(f"{base}/directorio")
            await liaison.wait_for_url(f"{base}/cuenta/contrasena")  # held there
            await liaison.fill("input[name=actual]", TEMPORARY)
            await liaison.fill("input[name=nueva]", CHOSEN)
            await liaison.fill("input[name=repetir]", CHOSEN)
            await liaison.click("form[action='/cuenta/contrasena'] button[type=submit]")
            await liaison.wait_for_url(lambda url: "/cuenta/" not in url)

            # It proposes an SLA change and an article for its entity.
            await liaison.goto(f"{base}/directorio")
            await expect(liaison.locator("h1")).to_contain_text("Ministerio de Obras Públicas")
            service = liaison.locator("article[data-servicio=huecos]")
            await service.locator("summary").click()
            await service.locator("input[name=plazo]").fill("12")
            await service.locator("input[name=responde]").fill("Dirección de Mantenimiento Vial")
            await service.locator("button[type=submit]").click()
            await expect(liaison.locator("p.hecho")).to_contain_text("cuando el 3-1-1")
            await liaison.locator("#form-articulo").locator("xpath=..").locator("summary").click()
            article = liaison.locator("#form-articulo")
            await article.locator("input[name=titulo]").fill("Reparación de huecos en la vía")
            await article.locator("textarea[name=cuerpo]").fill(
                "<p>La <strong>cuadrilla</strong> repara el hueco en la próxima jornada.</p>"
            )
            await article.locator("button[type=submit]").click()
            await expect(liaison.locator("p.hecho")).to_contain_text("cuando el 3-1-1")

            # A supervisor approves both.
            supervisor = await (await browser.new_context()).new_page()
            supervisor.set_default_timeout(8000)
            await _login(supervisor, base, "supervisor", PASSWORD)
            await supervisor.goto(f"{base}/directorio/propuestas")
            proposals = supervisor.locator("article.propuesta")
            await expect(proposals).to_have_count(2)
            await expect(proposals.first).to_contain_text("MOP")
            for _ in range(2):
                await supervisor.locator(
                    "article.propuesta button", has_text="Aprobar"
                ).first.click()
                await expect(supervisor.locator("p.hecho")).to_contain_text("aprobada")
            await expect(supervisor.locator("article.propuesta")).to_have_count(0)

            # The agent's desktop finds the article by a word typed without its accent.
            agent = await (await browser.new_context()).new_page()
            agent.set_default_timeout(8000)
            await _login(agent, base, "agente1", PASSWORD)
            await agent.wait_for_url(f"{base}/escritorio")
            await agent.fill("#q-articulos", "reparacion proxima")
            await agent.click("#buscar-articulos button")
            result = agent.locator("#resultados-articulos article")
            await expect(result).to_have_count(1)
            await expect(result).to_contain_text("Reparación de huecos en la vía")
            await expect(result.locator("strong")).to_have_text("cuadrilla")

            # An announcement appears on that open desktop without reload.
            await supervisor.goto(f"{base}/anuncios")
            await supervisor.locator("select[name=entidad]").select_option(label="MOP")
            await supervisor.fill("textarea[name=texto]", "Cierre del puente sobre el río Caimito.")
            end = (await _panama_now(seeded) + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
            await supervisor.fill("input[name=fin]", end)
            await supervisor.fill("input[name=corregimiento]", "Arraiján")
            await supervisor.click("#nueva-afectacion button[type=submit]")
            await expect(supervisor.locator("p.hecho")).to_contain_text("escritorios")
            await expect(agent.locator("#afectaciones")).to_contain_text("río Caimito")
            await expect(agent.locator("#afectaciones")).to_contain_text("Arraiján")
            await browser.close()
    finally:
        await runner.cleanup()
    async with seeded() as uow:
        mop = await uow.directory.entity_by_code("MOP")
        huecos = await uow.session.scalar(
            select(ServiceRow).where(ServiceRow.entity_id == mop.id, ServiceRow.code == "huecos")
        )
    assert (huecos.sla_days, huecos.who_answers) == (12, "Dirección de Mantenimiento Vial")


async def _panama_now(seeded):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    return datetime.now(UTC).astimezone(ZoneInfo("America/Panama")).replace(tzinfo=None)
