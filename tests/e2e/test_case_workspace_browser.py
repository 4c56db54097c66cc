"""End to end in headless Chromium: a case that the entity returns is reassigned by 3-1-1,
worked by the new entity, flagged by a negative survey and reopened; the case page tells the
whole story in order, with who and when. And the global search box finds the case.

Debian's /usr/bin/chromium through Playwright (never ``playwright install``).
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from agent_desktop.app import init_app
from cac311.config import Settings
from case_core.db.models import CallbackRow
from case_core.domain.case import CaseType, Channel
from case_core.domain.roles import Actor, Role
from case_core.services.callbacks import record_survey_answer
from case_core.services.cases import RegisterCase, register_case
from case_core.services.citizens import CitizenData, save_citizen
from tests.e2e.test_desktop_browser import ARGS, CHROMIUM
from tests.integration.test_desktop_support import FakeQueueControl

PANAMA = ZoneInfo("America/Panama")
PASSWORD = "cac311-demo"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is missing (apt install chromium)"
    ),
]


async def _registered_case(uow_factory, *, cases: int = 1) -> str:
    """``cases`` IDAAN cases by agente1; the last one is José Muñoz's. Returns its number."""
    citizen_id = await save_citizen(
        uow_factory,
        CitizenData(
            cedula="8-123-456", first_name="José", last_name="Muñoz Pérez", phone="6123-4567"
        ),
    )
    async with uow_factory() as uow:
        idaan = await uow.directory.entity_by_code("IDAAN")
        service = await uow.directory.service_by_code(idaan.id, "falta-agua")
        agent = await uow.users.by_username("agente1")
    number = ""
    for i in range(cases):
        registered = await register_case(
            uow_factory,
            RegisterCase(
                type=CaseType.QUEJA,
                channel=Channel.TELEFONO,
                entity_id=idaan.id,
                service_id=service.id,
                description="Se acumula la basura frente a la escuela desde hace una semana.",
                citizen_id=citizen_id if i == cases - 1 else None,
            ),
            actor=Actor(agent.id, agent.username, Role.AGENT),
            now=datetime.now(UTC) - timedelta(minutes=30),
            tz=PANAMA,
        )
        number = registered.number
    return number


async def _login(browser, base: str, username: str):  # type: ignore[no-untyped-def]
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(8000)
    await page.goto(f"{base}/login")
    await page.fill("input[name=usuario]", username)
    await page.fill("input[name=contrasena]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_load_state()
    return page


async def _serve(seeded, engine):  # type: ignore[no-untyped-def]
    app = init_app(Settings(), uow_factory=seeded, engine=engine, queue_control=FakeQueueControl())
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def test_given_a_returned_case_when_staff_work_it_then_the_timeline_shows_every_step(
    seeded, engine
):
    from playwright.async_api import async_playwright, expect

    number = await _registered_case(seeded)
    runner, base = await _serve(seeded, engine)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            # 1. The IDAAN liaison returns the case as not competent.
            idaan = await _login(browser, base, "enlace.idaan")
            await idaan.wait_for_url(f"{base}/enlace")
            await idaan.click(f"text={number}")
            await idaan.fill("textarea[name=motivo]", "No es competencia del IDAAN: es aseo.")
            await idaan.click("form[action$='/devolver'] button")
            await expect(idaan.locator(".fin")).to_have_text("El caso fue devuelto al 3-1-1.")

            # 2. It appears in the 3-1-1 returned queue, with the reason; the supervisor
            # opens it from there and reassigns it to MUPA, Recolección de basura.
            sup = await _login(browser, base, "supervisor")
            await sup.goto(f"{base}/colas?cola=devueltos")
            await expect(sup.locator('[data-cola="devueltos"]')).to_have_text("1")
            row = sup.locator(f'#cola-devueltos tr[data-caso="{number}"]')
            await expect(row).to_contain_text("No es competencia del IDAAN: es aseo.")
            await row.locator("a").click()
            await sup.wait_for_url(f"{base}/casos/{number}")
            await sup.select_option(
                "#reasignar-servicio",
                label="Municipio de Panamá — Recolección de basura (5 días calendario)",
            )
            await sup.fill("#reasignar-motivo", "Corresponde al municipio.")
            await sup.click("#form-reasignar button")
            await expect(sup.locator(".fin")).to_have_text("El caso fue reasignado.")
            await expect(sup.locator("#entidad-caso")).to_contain_text("Municipio de Panamá")
            due = (await sup.locator("#vence").text_content() or "").strip()
            async with seeded() as uow:
                case = await uow.cases.by_number(number)
            assert due == case.due_at.astimezone(PANAMA).strftime("%d/%m/%Y")
            assert case.assigned_at > case.opened_at and case.sla_days == 5

            # 3. The new liaison sees it with the new due date, and answers the citizen.
            mupa = await _login(browser, base, "enlace.mupa")
            line = mupa.locator(f'tr[data-caso="{number}"]')
            await expect(line).to_contain_text(due)
            await line.locator("a").click()
            await mupa.fill("form[action$='/cerrar'] textarea", "Se recogió la basura.")
            await mupa.click("form[action$='/cerrar'] button")
            await expect(mupa.locator(".fin")).to_have_text("El caso quedó cerrado.")

            # 4. The citizen answers "not solved" in the satisfaction survey (IVR).
            async with seeded() as uow:
                callback = CallbackRow(
                    case_id=case.id,
                    kind="satisfaccion",
                    phone="+50761234567",
                    window_start_at=datetime.now(UTC),
                    window_end_at=datetime.now(UTC) + timedelta(days=3),
                    status="en_curso",
                )
                uow.session.add(callback)
                await uow.commit()
            await record_survey_answer(seeded, callback.id, "resuelto", "2", datetime.now(UTC))

            # 5. It is in the review queue; the supervisor reopens it from there.
            await sup.goto(f"{base}/colas?cola=revision")
            await expect(sup.locator('[data-cola="revision"]')).to_have_text("1")
            await sup.locator(f'#cola-revision tr[data-caso="{number}"] a').click()
            await expect(sup.locator("[data-revision]")).to_be_visible()
            await sup.fill("#reabrir-motivo", "El ciudadano dice que la basura sigue allí.")
            await sup.click("#form-reabrir button")
            await expect(sup.locator(".fin")).to_have_text("El caso fue reabierto.")
            await expect(sup.locator("#estado-caso")).to_have_text("En proceso · reabierto 1 vez")

            # 6. The timeline: every step, newest first, with who and when.
            items = sup.locator("#linea-tiempo li")
            texts = [t.strip() for t in await items.all_inner_texts()]
            steps = [
                ("Reapertura: Cerrado → En proceso", "Carlos Pinzón"),
                ("¿Se resolvió su caso?: no", "Ciudadano"),
                ("Cierre: Asignado → Cerrado", "Itzel Quintero"),
                ("Reasignación: Devuelto al 311 → Asignado", "Carlos Pinzón"),
                ("Devolución al 3-1-1: Asignado → Devuelto al 311", "Jorge Samudio"),
                ("Asignación: Registrado → Asignado", "Ana Batista"),
                ("Estado: Registrado", "Ana Batista"),
            ]
            positions = []
            for title, who in steps:
                found = [i for i, t in enumerate(texts) if title in t and who in t]
                assert found, (title, who, texts)
                positions.append(found[0])
            assert positions == sorted(positions), texts
            stamp = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}")
            assert all(stamp.match(t) for t in texts), texts
            assert any("Es de aseo" in t or "Corresponde al municipio." in t for t in texts)
            await browser.close()
    finally:
        await runner.cleanup()


async def test_given_the_search_box_then_number_cedula_phone_and_accentless_name_find_the_case(
    seeded, engine
):
    from playwright.async_api import async_playwright, expect

    number = await _registered_case(seeded, cases=7)
    assert number == f"{datetime.now(PANAMA).year}000007"
    spaced = f"{number[:4]} {number[4:7]} {number[7:]}"
    runner, base = await _serve(seeded, engine)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = await _login(browser, base, "agente1")
            await page.wait_for_url(f"{base}/escritorio")
            # the work-queue counts in the navigation (nothing is late yet)
            await expect(page.locator("#colas-total")).to_have_text("(0)")
            for query in (number, spaced):
                await page.fill("#busqueda-global", query)
                await page.press("#busqueda-global", "Enter")
                await page.wait_for_url(f"{base}/casos/{number}")
                await expect(page.locator("h1")).to_contain_text(number)
            for query in ("8-123-456", "6123-4567", "jose munoz"):
                await page.fill("#busqueda-global", query)
                await page.press("#busqueda-global", "Enter")
                await page.wait_for_url(re.compile(r"/buscar\?q="))
                results = page.locator("#resultados-casos")
                await expect(results).to_contain_text(number)
                await expect(results).not_to_contain_text(f"{number[:4]}000001")
            await results.locator(f"a:has-text('{number}')").click()
            await page.wait_for_url(f"{base}/casos/{number}")
            await expect(page.locator("#titulo-caso")).to_contain_text(number)
            await browser.close()
    finally:
        await runner.cleanup()
