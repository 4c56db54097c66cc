"""End to end in headless Chromium: a citizen on a phone-sized screen files a case with a
photo on /ciudadano/ (no JavaScript on these pages), reads the number and code, follows the
case, and sees the liaison's public note appear; the photo reached the staff side."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime

import pytest
from aiohttp import web
from sqlalchemy import select

from agent_desktop.app import init_app
from cac311.config import Settings
from case_core.db.models import CaseAttachmentRow
from case_core.domain.roles import Actor, Role
from case_core.services.cases import add_note
from tests.e2e.test_desktop_browser import ARGS, CHROMIUM
from tests.integration.test_citizen_web import JPEG
from tests.integration.test_desktop_support import FakeQueueControl

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is missing (apt install chromium)"
    ),
]


async def test_a_citizen_files_a_case_with_a_photo_then_follows_it(seeded, engine, tmp_path):
    from playwright.async_api import async_playwright, expect

    app = init_app(
        Settings(recordings_dir=tmp_path / "rec"),
        uow_factory=seeded,
        engine=engine,
        queue_control=FakeQueueControl(),
    )
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    photo = tmp_path / "fuga.jpg"
    photo.write_bytes(JPEG)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            context = await browser.new_context(
                viewport={"width": 375, "height": 740}, java_script_enabled=False
            )
            page = await context.new_page()
            page.set_default_timeout(8000)
            await page.goto(f"{base}/ciudadano/")
            await page.get_by_role("link", name="Presentar un caso").first.click()
            await page.get_by_label("¿Sobre qué es su caso?").fill("tuberia")
            await page.get_by_role("button", name="Buscar").click()
            await page.get_by_label(re.compile("Fuga o tubería rota")).check()
            await page.get_by_label("Queja").check()
            await page.get_by_label("Descripción").fill("Tubería rota frente a la escuela.")
            await page.get_by_label("Provincia").select_option("Panamá")
            await page.get_by_label("Dirección o punto de referencia").fill("Calle 50")
            await page.get_by_label(re.compile("^Latitud")).fill("8.9824")
            await page.get_by_label(re.compile("^Longitud")).fill("-79.5199")
            await page.get_by_label(re.compile("^Fotos")).set_input_files(str(photo))
            await page.get_by_label("Nombre y apellido").fill("Rosa Núñez")
            await page.get_by_label("Teléfono").fill("6999-0000")
            # Keyboard only for the last step: Enter on the focused submit button.
            await page.get_by_role("button", name="Enviar caso").focus()
            await page.keyboard.press("Enter")
            await expect(page.get_by_role("heading", name="Hemos recibido su caso")).to_be_visible()
            number = (await page.locator("#numero-caso").inner_text()).strip()
            code = (await page.locator("#codigo-seguimiento").inner_text()).replace(" ", "")
            assert re.fullmatch(r"\d{10}", number) and re.fullmatch(r"\d{6}", code)
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375  # nothing wider than a phone screen

            async def follow() -> None:
                await page.goto(f"{base}/ciudadano/consulta")
                await page.get_by_label("Número de caso").fill(number)
                await page.get_by_label(re.compile("^Código de seguimiento")).fill(code)
                await page.get_by_role("button", name="Consultar").click()

            await follow()
            await expect(page.locator("#estado")).to_have_text("Asignado")
            await expect(page.locator("#historial")).not_to_contain_text("Cuadrilla")

            async with seeded() as uow:
                case = await uow.cases.by_number(number)
                stored = (
                    await uow.session.scalars(
                        select(CaseAttachmentRow).where(CaseAttachmentRow.case_id == case.id)
                    )
                ).one()
            assert (tmp_path / "rec" / stored.relative_path).read_bytes() == JPEG
            liaison = Actor(None, "enlace.idaan", Role.LIAISON, entity_id=case.entity_id)
            await add_note(
                seeded,
                case_id=case.id,
                actor=liaison,
                public=True,
                now=datetime.now(UTC),
                note="Cuadrilla programada para el jueves.",
            )
            await follow()
            await expect(page.locator("#historial")).to_contain_text(
                "Cuadrilla programada para el jueves."
            )

            # A wrong code shows the same refusal as an unknown number, and no case data.
            await page.goto(f"{base}/ciudadano/consulta")
            await page.get_by_label("Número de caso").fill(number)
            wrong = f"{(int(code) + 1) % 10**6:06d}"
            await page.get_by_label(re.compile("^Código de seguimiento")).fill(wrong)
            await page.get_by_role("button", name="Consultar").click()
            await expect(page.get_by_role("alert")).to_contain_text("no coinciden")
            await expect(page.locator("body")).not_to_contain_text("Cuadrilla")
            await browser.close()
    finally:
        await runner.cleanup()
