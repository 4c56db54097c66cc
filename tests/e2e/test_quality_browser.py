"""End to end in headless Chromium: a quality advisor opens the weekly list, audits a phone
case while its recording plays, saves and publishes; the entity's liaison reads the finding
and answers it; the entity's e-mail arrives at a real SMTP server on loopback.

Debian's /usr/bin/chromium through Playwright (never ``playwright install``).
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from agent_desktop.app import init_app
from agent_desktop.auth import current_actor
from cac311.config import Settings
from case_core.db.models import CallRow, CaseRow, OfficeRow
from case_core.db.models.quality import CaseAuditReplyRow, CaseAuditRow
from case_core.db.models.recordings import RecordingAccessRow
from case_core.domain import quality as q
from case_core.services import quality as svc
from mailer.delivery import deliver_due_mail
from recordings.web import setup_recordings_routes
from tests.e2e.test_desktop_browser import ARGS, CHROMIUM
from tests.integration.test_desktop_support import FakeQueueControl
from tests.integration.test_recordings import write_wav

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is missing (apt install chromium)"
    ),
]

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Wednesday of week 48
WEEK = "2026-W47"


async def _world(uow_factory, root: Path) -> tuple[int, str]:
    """A phone case of IDAAN closed in week 47 with its recorded call; IDAAN's advisor."""
    start, _ = q.week_bounds(WEEK, svc.PANAMA)
    uniqueid = "1795475111.1"
    write_wav(root / "2026/11/18" / f"{uniqueid}.wav", seconds=4.0)
    async with uow_factory() as uow:
        idaan = await uow.directory.entity_by_code("IDAAN")
        agent = await uow.users.by_username("agente1")
        advisor = await uow.users.by_username("auditor")
        call = CallRow(
            uniqueid=uniqueid,
            agent_user_id=agent.id,
            started_at=start + timedelta(days=2),
            answered_at=start + timedelta(days=2, seconds=8),
            recording_path=f"2026/11/18/{uniqueid}.wav",
        )
        uow.session.add(call)
        await uow.session.flush()
        uow.session.add(
            CaseRow(
                number="2026047001",
                type="queja",
                channel="telefono",
                status="cerrado",
                entity_id=idaan.id,
                description="Fuga de agua potable en la vía principal.",
                sla_days=10,
                opened_at=start + timedelta(days=2),
                due_at=start + timedelta(days=12),
                first_action_at=start + timedelta(days=3),
                closed_at=start + timedelta(days=4),
                call_id=call.id,
                registered_by_user_id=agent.id,
            )
        )
        uow.session.add(
            OfficeRow(
                entity_id=idaan.id, name="Sede central", kind="sede", email="enlaces@idaan.test"
            )
        )
        await uow.commit()
        advisor_id, idaan_id = advisor.id, idaan.id
    await svc.assign_entity(
        uow_factory, advisor_user_id=advisor_id, entity_id=idaan_id, starts_on=date(2026, 1, 1)
    )
    await svc.draw_weekly_sample(uow_factory, week=WEEK, now=NOW)
    return idaan_id, "2026047001"


async def _serious_violations(page) -> list[str]:
    """axe-core's serious or critical accessibility violations of the page (WCAG A/AA)."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(
        page, options={"runOnly": ["wcag2a", "wcag2aa"], "resultTypes": ["violations"]}
    )
    assert results.response["testEngine"]["name"] == "axe-core"
    assert results.response["passes"], "axe checked nothing"
    return [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def _login(page, base: str, username: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=usuario]", username)
    await page.fill("input[name=contrasena]", "cac311-demo")
    await page.click("button[type=submit]")
    await page.wait_for_load_state()


async def test_given_an_advisor_when_auditing_with_the_recording_then_liaison_answers_and_mail(
    seeded, engine, smtp_server, tmp_path
):
    from playwright.async_api import async_playwright, expect

    root = tmp_path / "grabaciones"
    root.mkdir()
    settings = Settings(recordings_dir=root)
    idaan_id, number = await _world(seeded, root)
    clock = lambda: NOW  # noqa: E731
    app = init_app(
        settings, uow_factory=seeded, engine=engine, queue_control=FakeQueueControl(), clock=clock
    )
    setup_recordings_routes(
        app, uow_factory=seeded, settings=settings, current_actor=current_actor, clock=clock
    )
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[*ARGS, "--autoplay-policy=no-user-gesture-required", "--mute-audio"],
            )
            advisor = await browser.new_context()
            page = await advisor.new_page()
            page.set_default_timeout(10000)
            await _login(page, base, "auditor")
            # auditors land on the recordings; the weekly list defaults to last week
            await page.goto(f"{base}/calidad")
            await expect(page.locator("h1")).to_contain_text("semana 47 de 2026")
            row = page.locator(f"tr[data-caso='{number}']")
            await expect(row).to_contain_text("Pendiente")
            await row.locator("a").click()
            await expect(page.locator("h1")).to_have_text(f"Auditoría del caso {number}")

            assert await _serious_violations(page) == []
            audio = page.locator("#grabacion")
            await audio.evaluate("a => a.play()")
            await page.wait_for_function(
                "() => { const a = document.querySelector('#grabacion');"
                " return a && !a.paused && a.currentTime > 0; }"
            )
            fieldsets = page.locator("fieldset[data-criterio]")
            codes = [await f.get_attribute("data-criterio") for f in await fieldsets.all()]
            assert "lectura_numero" in codes and "saludo" in codes  # phone case
            for code in codes:
                value = "no_cumple" if code == "lectura_numero" else "cumple"
                await page.check(f"input[name='c_{code}'][value='{value}']")
            await page.fill("#comentario", "El agente no leyó el número de caso al ciudadano.")
            await page.select_option("#resultado", "con_observaciones")
            assert await audio.evaluate("a => !a.paused")  # still playing while saving
            await page.click("#btn-guardar-auditoria")
            await expect(page.locator("[role=status]")).to_have_text("Auditoría guardada.")
            await expect(row).to_contain_text("Con observaciones")
            await page.click("text=Publicar los resultados a la entidad")
            await expect(page.locator("[role=status]")).to_have_text(
                "Resultados publicados a la entidad."
            )

            sent = await deliver_due_mail(seeded, smtp_server.settings, now=NOW)
            assert sent == 1
            (message,) = await smtp_server.wait_for(1)
            assert message["To"] == "enlaces@idaan.test"
            assert "auditoría de calidad" in message["Subject"]
            body = message.get_content()
            assert f"Caso {number}: Con observaciones" in body
            assert "No cumple: Llamada: se leyó el número de caso al ciudadano." in body
            assert "El agente no leyó el número de caso" in body

            liaison = await browser.new_context()
            lpage = await liaison.new_page()
            lpage.set_default_timeout(10000)
            await _login(lpage, base, "enlace.idaan")
            await lpage.click("header nav a:has-text('Auditorías de calidad')")
            finding = lpage.locator(f"article[data-caso='{number}']")
            await expect(finding).to_contain_text("El agente no leyó el número de caso")
            assert await _serious_violations(lpage) == []
            await finding.locator("textarea").fill("Reforzamos el protocolo con el equipo.")
            await finding.locator("button:has-text('Responder')").click()
            await expect(lpage.locator("[role=status]")).to_have_text("Respuesta enviada.")
            await expect(
                lpage.locator(f"article[data-caso='{number}'] .respuesta")
            ).to_contain_text("Reforzamos el protocolo con el equipo.")
            await browser.close()
    finally:
        await runner.cleanup()
    async with seeded() as uow:
        audit = (await uow.session.scalars(select(CaseAuditRow))).one()
        reply = (await uow.session.scalars(select(CaseAuditReplyRow))).one()
        plays = (
            await uow.session.scalars(
                select(RecordingAccessRow).where(RecordingAccessRow.username == "auditor")
            )
        ).all()
    assert audit.result == "con_observaciones" and audit.scores["lectura_numero"] == "no_cumple"
    assert audit.criteria_met == audit.criteria_scored - 1
    assert reply.audit_id == audit.id and reply.actor_label == "Jorge Samudio"
    assert [p.action for p in plays] == ["play"]
    assert idaan_id == audit.entity_id
