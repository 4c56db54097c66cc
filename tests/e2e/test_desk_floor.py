"""End to end at the agent desk: several calls in a row for one agent in one browser, each
case holding only its own caller's data; a double submit; keyboard-only registration; the
"Resuelta en el primer contacto" box; accessibility (axe-core) and screenshots.

Uses Debian's /usr/bin/chromium through Playwright (never ``playwright install``).
"""

from __future__ import annotations

import re
import shutil

import pytest
from sqlalchemy import func, select

from case_core.db.models import CaseRow
from tests.e2e.desk_harness import axe_violations, running_desk, screenshot
from tests.e2e.test_desktop_browser import CHROMIUM
from tests.integration.test_desktop_support import FakeQueueControl

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is missing (apt install chromium)"
    ),
]

CASE_NUMBER = re.compile(r"^\d{4} \d{3} \d{3}$")


async def _choose_service(page, typed: str, entity: str) -> None:
    from playwright.async_api import expect

    await page.fill("#servicio", "")
    await page.locator("#servicio").press_sequentially(typed, delay=15)
    await page.locator("#servicio-sugerencias [role=option]", has_text=entity).first.click()
    await expect(page.locator("#servicio")).to_have_value(re.compile("^" + entity + " — "))
    await expect(page.locator("#servicio-elegido")).to_contain_text("Elegido:")


async def _saved_number(page) -> str:
    from playwright.async_api import expect

    number = page.locator("#numero-caso")
    await expect(page.locator("#resultado-caso")).to_be_visible()
    await expect(number).to_have_text(CASE_NUMBER)
    return ((await number.text_content()) or "").replace(" ", "")


async def _case(uow_factory, number: str) -> CaseRow:
    async with uow_factory() as uow:
        case = await uow.cases.by_number(number)
    assert case is not None, number
    return case


async def _case_count(uow_factory) -> int:
    async with uow_factory() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(CaseRow)) or 0)


async def test_given_one_agent_when_three_calls_come_in_a_row_then_each_case_holds_only_its_own_caller(  # noqa: E501
    seeded, engine, migrated_database
):
    from playwright.async_api import expect

    async with running_desk(
        seeded, engine, migrated_database, queue_control=FakeQueueControl()
    ) as desk:
        page = await desk.page("agente1")
        await expect(page.locator("#conexion")).to_have_text("En línea")

        # Call 1: Juan Pérez, known by caller ID, chose "queja" in the IVR.
        await desk.pop(
            uniqueid="1795475283.1", caller="61234567", variables={"CAC311_INTENT": "queja"}
        )
        await expect(page.locator("#pop-nombre")).to_have_text("Juan Pérez")
        await expect(page.locator("#corregimiento")).to_have_value("Bella Vista")
        await expect(page).to_have_title(re.compile("Llamada entrante"))
        await expect(page.locator("#aviso-llamada")).to_contain_text("Juan Pérez")
        await _choose_service(page, "tuberia", "IDAAN")
        await page.fill("#descripcion", "Tubería rota frente a la casa.")
        await page.click("#btn-guardar")
        first = await _saved_number(page)

        # A second case on the same call starts clean, refilled from this call only.
        await page.fill("#distrito", "Distrito tecleado a mano")
        await page.click("#btn-nuevo-caso")
        await expect(page.locator("#distrito")).to_have_value("Panamá")
        await expect(page.locator("#servicio")).to_have_value("")
        await expect(page.locator("#tipo")).to_have_value("queja")

        # Call 2: an unknown number; nothing of Juan may remain, and the caller ID is the phone.
        await desk.pop(
            uniqueid="1795475283.2", caller="69998877", variables={"CAC311_INTENT": "solicitud"}
        )
        await expect(page.locator("#pop-nombre")).to_have_text("No identificado")
        await expect(page.locator("#resultado-caso")).to_be_hidden()
        for field in ("#provincia", "#distrito", "#corregimiento", "#cedula", "#nombre"):
            await expect(page.locator(field)).to_have_value("")
        await expect(page.locator("#telefono")).to_have_value("69998877")
        await expect(page.locator("#tipo")).to_have_value("solicitud")
        await _choose_service(page, "semaforo", "ATTT")
        await page.fill("#nombre", "Rosa")
        await page.fill("#descripcion", "El semáforo de la esquina no funciona.")
        await page.click("#btn-guardar")
        second = await _saved_number(page)

        # Call 3: an anonymous denuncia; a double click on "Guardar caso" makes one case.
        await desk.pop(
            uniqueid="1795475283.3",
            caller="62223333",
            variables={"CAC311_INTENT": "denuncia", "CAC311_ANONYMOUS": "1"},
        )
        await expect(page.locator("#pop-nombre")).to_have_text("Denuncia anónima")
        await expect(page.locator("#anonimo")).to_be_checked()
        for field in ("#provincia", "#distrito", "#corregimiento", "#telefono", "#cedula"):
            await expect(page.locator(field)).to_have_value("")
        await _choose_service(page, "basura", "AAUD")
        await page.fill("#descripcion", "Botan basura en el río de noche.")
        before = await _case_count(seeded)
        await page.dblclick("#btn-guardar")
        third = await _saved_number(page)
        await page.click("#btn-guardar")  # once more after the result showed
        await expect(page.locator("#numero-caso")).to_have_text(CASE_NUMBER)
        await expect(page.locator("#error-caso")).to_be_hidden()
        assert await _case_count(seeded) == before + 1

    one, two, three = [await _case(seeded, n) for n in (first, second, third)]
    assert (one.type, one.contact_phone, one.district, one.corregimiento) == (
        "queja",
        "+50761234567",
        "Panamá",
        "Bella Vista",
    )
    assert (two.type, two.contact_phone, two.province, two.district, two.corregimiento) == (
        "solicitud",
        "+50769998877",
        None,
        None,
        None,
    )
    assert (three.type, three.anonymous, three.citizen_id, three.contact_phone) == (
        "denuncia",
        True,
        None,
        None,
    )
    assert (three.province, three.district, three.corregimiento) == (None, None, None)
    assert len({first, second, third}) == 3


async def test_given_an_agent_with_no_mouse_when_a_call_pops_then_the_case_is_registered_from_the_keyboard(  # noqa: E501
    seeded, engine, migrated_database
):
    from playwright.async_api import expect

    async with running_desk(
        seeded, engine, migrated_database, queue_control=FakeQueueControl()
    ) as desk:
        page = await desk.page("agente1")
        await expect(page.locator("#conexion")).to_have_text("En línea")
        await desk.pop(
            uniqueid="1795475284.1", caller="61234567", variables={"CAC311_INTENT": "queja"}
        )
        await expect(page.locator("#pop-titulo")).to_be_focused()
        kb = page.keyboard
        await kb.press("Alt+S")
        await expect(page.locator("#servicio")).to_be_focused()
        await kb.type("semaforo", delay=15)
        combo = page.locator("#servicio")
        await expect(page.locator("#servicio-sugerencias [role=option]").first).to_be_visible()
        await expect(combo).to_have_attribute("aria-expanded", "true")
        await kb.press("ArrowDown")
        await expect(combo).to_have_attribute("aria-activedescendant", "servicio-opcion-0")
        await expect(page.locator("#servicio-opcion-0")).to_have_attribute("aria-selected", "true")
        await kb.press("Escape")
        await expect(page.locator("#servicio-sugerencias")).to_be_hidden()
        await kb.type("s", delay=15)  # "semaforos": the list opens again
        await expect(page.locator("#servicio-sugerencias [role=option]").first).to_be_visible()
        await kb.press("ArrowDown")
        await kb.press("Enter")  # picks the option; must not submit the form
        await expect(page.locator("#servicio-elegido")).to_contain_text("Semáforos dañados")
        await expect(page.locator("#resultado-caso")).to_be_hidden()
        await expect(page.locator("#error-caso")).to_be_hidden()
        await kb.press("Alt+D")
        await expect(page.locator("#descripcion")).to_be_focused()
        await kb.type("Semáforo apagado en la vía España.", delay=5)
        await kb.press("Alt+T")
        await expect(page.locator("#tipo")).to_be_focused()
        await kb.press("Alt+G")
        number = await _saved_number(page)
        await expect(page.locator("#resultado-caso-titulo")).to_be_focused()
        await kb.press("Alt+N")
        await expect(page.locator("#resultado-caso")).to_be_hidden()
        await expect(page.locator("#tipo")).to_be_focused()
    case = await _case(seeded, number)
    assert case.description == "Semáforo apagado en la vía España."
    assert case.type == "queja"


async def test_given_a_queja_when_the_form_shows_then_first_contact_resolution_is_hidden_until_consulta(  # noqa: E501
    seeded, engine, migrated_database
):
    from playwright.async_api import expect

    async with running_desk(
        seeded, engine, migrated_database, queue_control=FakeQueueControl()
    ) as desk:
        page = await desk.page("agente1")
        box = page.locator("#caja-primer-contacto")
        await expect(box).to_be_hidden()
        await page.select_option("#tipo", "queja")
        await expect(box).to_be_hidden()
        await page.select_option("#tipo", "consulta")
        await expect(box).to_be_visible()
        await page.check("#resuelta_primer_contacto")
        await page.select_option("#tipo", "denuncia")
        await expect(box).to_be_hidden()
        await expect(page.locator("#resuelta_primer_contacto")).not_to_be_checked()


async def test_given_the_desktop_with_a_pop_when_axe_core_scans_it_then_no_serious_violation_and_a_screenshot(  # noqa: E501
    seeded, engine, migrated_database
):
    from playwright.async_api import expect

    async with running_desk(
        seeded, engine, migrated_database, queue_control=FakeQueueControl()
    ) as desk:
        page = await desk.page("agente1", axe=True)
        await expect(page.locator("#conexion")).to_have_text("En línea")
        assert await axe_violations(page) == []
        await desk.pop(
            uniqueid="1795475285.1", caller="61234567", variables={"CAC311_INTENT": "queja"}
        )
        await expect(page.locator("#pop-nombre")).to_have_text("Juan Pérez")
        await page.locator("#servicio").press_sequentially("agua", delay=15)
        await expect(page.locator("#servicio-sugerencias [role=option]").first).to_be_visible()
        assert await axe_violations(page) == []
        await screenshot(page, "escritorio-1366x768")
        await page.locator("#servicio-sugerencias [role=option]").first.click()
        await page.fill("#descripcion", "Sin agua desde el lunes en toda la calle.")
        await page.click("#btn-guardar")
        await _saved_number(page)
        assert await axe_violations(page) == []
        await screenshot(page, "escritorio-caso-registrado-1366x768")


async def test_given_the_auditor_when_on_the_recordings_then_header_navigation_and_logout_are_there(  # noqa: E501
    seeded, engine, migrated_database, tmp_path
):
    from dataclasses import replace

    from playwright.async_api import expect

    from agent_desktop.auth import current_actor
    from agent_desktop.chrome import desktop_layout
    from cac311.config import Settings
    from recordings.web import setup_recordings_routes

    def add_recordings(app):  # type: ignore[no-untyped-def]
        setup_recordings_routes(
            app,
            uow_factory=seeded,
            settings=replace(Settings(), recordings_dir=tmp_path),
            current_actor=current_actor,
            layout=desktop_layout(),
        )

    async with running_desk(
        seeded,
        engine,
        migrated_database,
        queue_control=FakeQueueControl(),
        extra_setup=add_recordings,
    ) as desk:
        page = await desk.page("auditor", axe=True)
        await expect(page).to_have_url(desk.base + "/grabaciones")
        await expect(page.locator("header.barra")).to_contain_text("Rosa Delgado")
        await expect(page.locator("header nav a", has_text="Grabaciones")).to_be_visible()
        await expect(page.locator("header nav a", has_text="Escritorio")).to_have_count(0)
        await expect(page.locator("a", has_text="registro de accesos")).to_have_count(0)
        assert await axe_violations(page) == []
        response = await page.goto(desk.base + "/grabaciones/auditoria")
        assert response is not None and response.status == 403
        await page.goto(desk.base + "/grabaciones")
        await page.locator("header button", has_text="Cerrar sesión").click()
        await expect(page).to_have_url(re.compile(r"/login$"))


async def test_given_the_wallboard_on_a_tv_when_axe_core_scans_it_then_no_serious_violation_and_a_screenshot(  # noqa: E501
    seeded, engine, migrated_database
):
    from playwright.async_api import expect

    from agent_desktop.wallboard import setup_wallboard_routes
    from case_core.services.agents import AgentState, record_agent_state

    async with running_desk(
        seeded,
        engine,
        migrated_database,
        queue_control=FakeQueueControl(),
        extra_setup=setup_wallboard_routes,
    ) as desk:
        from datetime import UTC, datetime, timedelta

        now = datetime.now(UTC)
        await record_agent_state(
            seeded, "PJSIP/1001", AgentState.IN_CALL, None, now - timedelta(seconds=192), "t"
        )
        await record_agent_state(seeded, "PJSIP/1002", AgentState.PAUSED, "almuerzo", now, "t")
        page = await desk.page("supervisor", width=1920, height=1080, axe=True)
        await page.goto(desk.base + "/supervisor/tablero")
        await expect(page.locator("#conexion")).to_have_text("En vivo")
        agents = page.locator("#agentes-lista")
        await expect(agents).to_contain_text("Ana Batista")
        await expect(agents).not_to_contain_text("PJSIP/")
        await expect(agents.locator("tr", has_text="Ana Batista")).to_contain_text(
            re.compile(r"En llamada · 3 min \d+ s")
        )
        assert await axe_violations(page) == []
        # Everything above the fold of a 1920×1080 TV.
        height = await page.evaluate("document.documentElement.scrollHeight")
        assert height <= 1080, height
        await screenshot(page, "tablero-1920x1080")


async def test_given_a_call_that_ends_when_the_agent_documents_it_then_the_wrapup_is_stored_and_counted(  # noqa: E501
    seeded, engine, migrated_database
):
    from datetime import UTC, datetime

    from playwright.async_api import expect

    from agent_desktop.pop_bus import close_pop
    from agent_desktop.wallboard import setup_wallboard_routes
    from case_core.db.models.desk import CallWrapupRow

    async with running_desk(
        seeded,
        engine,
        migrated_database,
        queue_control=FakeQueueControl(),
        extra_setup=setup_wallboard_routes,
    ) as desk:
        page = await desk.page("agente1")
        await expect(page.locator("#conexion")).to_have_text("En línea")
        # A call with a case: the wrap-up offers "Caso registrado".
        await desk.pop(
            uniqueid="1795475290.1", caller="61234567", variables={"CAC311_INTENT": "queja"}
        )
        await expect(page.locator("#pop-nombre")).to_have_text("Juan Pérez")
        await _choose_service(page, "agua", "IDAAN")
        await page.fill("#descripcion", "Sin agua desde el lunes.")
        await page.click("#btn-guardar")
        await _saved_number(page)
        await close_pop(desk.ami_uow, "1795475290.1", datetime.now(UTC))
        await expect(page.locator("#trabajo-posterior")).to_be_visible()
        await expect(page.locator("#trabajo-posterior-tiempo")).to_contain_text("quedan")
        await expect(page.locator("#codigo-cierre")).to_have_value("caso_registrado")
        await page.click("#btn-cierre")
        await expect(page.locator("#resultado-cierre")).to_have_text(
            "Llamada documentada: Caso registrado."
        )
        # A call without a case is documented too; "caso registrado" is refused for it.
        await desk.pop(uniqueid="1795475290.2", caller="69990000")
        await expect(page.locator("#pop-nombre")).to_have_text("No identificado")
        await close_pop(desk.ami_uow, "1795475290.2", datetime.now(UTC))
        await expect(page.locator("#codigo-cierre")).to_have_value("")
        await page.select_option("#codigo-cierre", "caso_registrado")
        await page.click("#btn-cierre")
        await expect(page.locator("#resultado-cierre")).to_contain_text("No hay un caso registrado")
        await expect(page.locator("#resultado-cierre")).to_have_class("error")
        await page.select_option("#codigo-cierre", "numero_equivocado")
        await page.click("#btn-cierre")
        await expect(page.locator("#resultado-cierre")).to_have_text(
            "Llamada documentada: Número equivocado."
        )

        boss = await desk.page("supervisor")
        await boss.goto(desk.base + "/supervisor/agentes")
        row = boss.locator("#tabla-agentes tr", has_text="Ana Batista")
        await expect(row.locator("td.cierres")).to_have_text(
            "Caso registrado: 1 · Número equivocado: 1"
        )
    async with seeded() as uow:
        from sqlalchemy import select

        codes = sorted((await uow.session.scalars(select(CallWrapupRow.code))).all())
    assert codes == ["caso_registrado", "numero_equivocado"]


async def test_given_states_reported_by_asterisk_then_the_queue_buttons_follow_them(
    seeded, engine, migrated_database
):
    from datetime import UTC, datetime, timedelta

    from playwright.async_api import expect

    from case_core.services.agents import AgentState, record_agent_state

    async with running_desk(
        seeded, engine, migrated_database, queue_control=FakeQueueControl()
    ) as desk:
        page = await desk.page("agente1")
        await expect(page.locator("#conexion")).to_have_text("En línea")
        join, pause, resume = (
            page.locator(s) for s in ("#btn-conectar", "#btn-pausa", "#btn-reanudar")
        )
        leave = page.locator("#btn-desconectar")
        now = datetime.now(UTC)
        await record_agent_state(
            desk.ami_uow, "PJSIP/1001", AgentState.AVAILABLE, None, now - timedelta(seconds=75), "t"
        )
        await expect(page.locator("#estado-etiqueta")).to_have_text("Disponible")
        await expect(page.locator("#estado-tiempo")).to_contain_text("1 min")
        await expect(join).to_be_disabled()
        await expect(pause).to_be_enabled()
        await expect(resume).to_be_disabled()
        await record_agent_state(
            desk.ami_uow, "PJSIP/1001", AgentState.PAUSED, "almuerzo", now, "t"
        )
        await expect(page.locator("#estado-etiqueta")).to_have_text("En pausa: Almuerzo")
        await expect(resume).to_be_enabled()
        await expect(pause).to_be_disabled()
        await record_agent_state(desk.ami_uow, "PJSIP/1001", AgentState.LOGGED_OUT, None, now, "t")
        await expect(join).to_be_enabled()
        await expect(leave).to_be_disabled()


async def test_given_pause_mode_when_the_wrapup_time_is_over_then_the_desk_resumes_the_member(
    seeded, engine, migrated_database
):
    from dataclasses import replace
    from datetime import UTC, datetime

    from playwright.async_api import expect

    from agent_desktop.pop_bus import close_pop
    from cac311.config import Settings

    queue = FakeQueueControl()
    settings = replace(Settings(), desk_wrapup_pause=True, desk_wrapup_seconds=2)
    async with running_desk(
        seeded, engine, migrated_database, queue_control=queue, settings=settings
    ) as desk:
        page = await desk.page("agente1")
        await expect(page.locator("#conexion")).to_have_text("En línea")
        await desk.pop(uniqueid="1795475299.1", caller="61234567")
        await expect(page.locator("#pop-nombre")).to_have_text("Juan Pérez")
        await close_pop(desk.ami_uow, "1795475299.1", datetime.now(UTC))
        await expect(page.locator("#trabajo-posterior-tiempo")).to_have_text("· tiempo cumplido")
        resumed = ("queue_pause", "cac311", "PJSIP/1001", False, "")
        await expect(page.locator("#resultado-cola")).to_have_text("Solicitud enviada: reanudar.")
    assert ("queue_pause", "cac311", "PJSIP/1001", True, "trabajo_posterior") in queue.calls
    assert resumed in queue.calls
