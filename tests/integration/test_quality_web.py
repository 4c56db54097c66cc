"""Quality pages over HTTP (real PostgreSQL, aiohttp TestServer): action plans on the entity's
scorecard, access by role and entity, publication to the liaisons, the expired-cases CSV,
the agents' own call evaluations and the supervisor's figures."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from case_core.db.models import CallRow, CaseRow, EntityRow, OfficeRow, UserRow
from case_core.db.models.mail import OutboundMailRow
from case_core.db.models.quality import ActionPlanRow, CaseAuditRow, QualityAssignmentRow
from case_core.domain import quality as q
from case_core.services import quality as svc
from tests.integration.test_desktop_support import (  # noqa: F401
    START,
    make_desktop_fixture,
)
from tests.integration.test_liaison import _browser

desktop = make_desktop_fixture()
OCTOBER = datetime(2026, 10, 1, 14, 0, tzinfo=UTC)


async def _entity_id(uow_factory, code: str) -> int:
    async with uow_factory() as uow:
        return (await uow.directory.entity_by_code(code)).id


async def _user_id(uow_factory, username: str) -> int:
    async with uow_factory() as uow:
        return (await uow.users.by_username(username)).id


async def _cases(uow_factory, entity_id: int, *, on_time: int, late: int, prefix: str) -> None:
    """Cases opened on 1 October: ``on_time`` closed in 9 days, ``late`` still open."""
    async with uow_factory() as uow:
        for i in range(on_time + late):
            closed = OCTOBER + timedelta(days=9) if i < on_time else None
            uow.session.add(
                CaseRow(
                    number=f"{prefix}{i:04d}",
                    type="queja",
                    channel="telefono",
                    status="cerrado" if closed else "asignado",
                    entity_id=entity_id,
                    description="caso de octubre",
                    sla_days=15,
                    opened_at=OCTOBER,
                    due_at=OCTOBER + timedelta(days=15),
                    first_action_at=OCTOBER + timedelta(hours=3),
                    closed_at=closed,
                )
            )
        await uow.commit()


async def test_given_an_entity_below_70_percent_when_its_advisor_plans_then_scorecard_shows_it(
    desktop,
):
    uow = desktop.uow_factory
    idaan, mupa = await _entity_id(uow, "IDAAN"), await _entity_id(uow, "MUPA")
    advisor = await _user_id(uow, "auditor")
    for entity in (idaan, mupa):
        await svc.assign_entity(
            uow, advisor_user_id=advisor, entity_id=entity, starts_on=date(2026, 1, 1)
        )
    await _cases(uow, idaan, on_time=3, late=7, prefix="20261000")  # 30 %
    await _cases(uow, mupa, on_time=9, late=1, prefix="20261001")  # 90 %
    browser = await _browser(desktop, "auditor", "/calidad/entidades?mes=2026-10")

    page = await (await browser.get(f"/calidad/entidades/{idaan}?mes=2026-10")).text()
    assert "30,0 %" in page and "bajo la meta de 70 %" in page and 'id="form-plan"' in page
    # the advisor sees the entity's open cases (the 7 late ones), not the closed ones
    assert all(f'data-caso="20261000{i:04d}"' in page for i in range(3, 10))
    assert 'data-caso="202610000000"' not in page
    plan = {
        "mes": "2026-10",
        "problema": "Solo el 30 % de los casos se cerró en 30 días.",
        "medidas": "Revisión semanal de casos abiertos con el enlace operativo.",
        "responsable": "Jefe de atención al cliente del IDAAN",
        "vence": "2026-11-30",
    }
    created = await browser.post(f"/calidad/entidades/{idaan}/planes", plan)
    assert created.status == 303, await created.text()
    page = await (await browser.get(created.headers["Location"])).text()
    assert "Plan de acción creado." in page
    assert "Revisión semanal de casos abiertos" in page and "Jefe de atención" in page
    assert "Abierto" in page and "Vencido" not in page

    refused = await browser.post(f"/calidad/entidades/{mupa}/planes", plan)
    assert refused.status == 400 and "no está bajo la meta" in await refused.text()

    # progress, then the due date passes: flagged on the scorecard and the supervisor's page
    async with uow() as u:
        plan_id = (await u.session.scalars(select(ActionPlanRow.id))).one()
    moved = await browser.post(
        f"/calidad/planes/{plan_id}",
        {"estado": "en_curso", "nota": "Primera reunión hecha.", "entidad": str(idaan)},
    )
    assert moved.status == 303
    desktop.clock.advance(days=40)
    browser = await _browser(desktop, "auditor", "/calidad")  # the old session expired
    page = await (await browser.get(f"/calidad/entidades/{idaan}?mes=2026-10")).text()
    assert "En curso" in page and "Primera reunión hecha." in page and "Vencido" in page
    supervisor = await _browser(desktop, "supervisor", "/supervisor/calidad")
    figures = await (await supervisor.get("/supervisor/calidad")).text()
    assert "Planes de acción abiertos" in figures and "Jefe de atención" in figures
    assert "<strong>Vencido</strong>" in figures and "<svg" in figures
    # the supervisor's entity page shows the plan too
    page = await (await supervisor.get(f"/calidad/entidades/{idaan}?mes=2026-10")).text()
    assert "Revisión semanal de casos abiertos" in page

    # another advisor's entity: refused
    async with uow() as u:
        u.session.add(
            UserRow(username="asesor2", full_name="Otro", role="auditor", password_hash="x")
        )
        await u.commit()
    other = await _browser(desktop, "asesor2", "/calidad")
    assert (await other.get(f"/calidad/entidades/{idaan}")).status == 403
    agent = await _browser(desktop, "agente1", "/escritorio")
    assert (await agent.get(f"/calidad/entidades/{idaan}")).status == 403


async def test_given_published_audits_then_only_the_entitys_liaisons_read_and_answer(desktop):
    uow = desktop.uow_factory
    idaan = await _entity_id(uow, "IDAAN")
    advisor = await _user_id(uow, "auditor")
    await svc.assign_entity(
        uow, advisor_user_id=advisor, entity_id=idaan, starts_on=date(2026, 1, 1)
    )
    week = q.previous_week(START, svc.PANAMA)
    start, _ = q.week_bounds(week, svc.PANAMA)
    async with uow() as u:
        for i in range(2):
            u.session.add(
                CaseRow(
                    number=f"2026444{i:03d}",
                    type="queja",
                    channel="web",
                    status="cerrado",
                    entity_id=idaan,
                    description='=HYPERLINK("x")',
                    sla_days=10,
                    opened_at=start - timedelta(days=2),
                    due_at=start + timedelta(days=8),
                    closed_at=start + timedelta(days=1),
                )
            )
        u.session.add(
            OfficeRow(entity_id=idaan, name="Sede IDAAN", kind="sede", email="enlace@idaan.gob.pa")
        )
        u.session.add(
            UserRow(
                username="ejecutivo.idaan",
                full_name="Enlace Ejecutivo",
                role="liaison_exec",
                entity_id=idaan,
                password_hash="x",
            )
        )
        await u.commit()
    await svc.draw_weekly_sample(uow, week=week, now=START)
    browser = await _browser(desktop, "auditor", "/calidad")
    listing = await (await browser.get(f"/calidad?semana={week}")).text()
    assert listing.count("Pendiente") == 2
    async with uow() as u:
        case_ids = sorted((await u.session.scalars(select(CaseRow.id))).all())
    form = await (await browser.get(f"/calidad/casos/{case_ids[0]}")).text()
    assert "Llamada: saludo" not in form  # a web case: no call-protocol criteria
    data = {f"c_{c.code}": "cumple" for c in q.criteria_for(phone=False)}
    incomplete = await browser.post(f"/calidad/casos/{case_ids[0]}", {**data, "c_informado": ""})
    assert incomplete.status == 400 and "Califique el criterio" in await incomplete.text()
    data["c_informado"] = "no_cumple"
    saved = await browser.post(
        f"/calidad/casos/{case_ids[0]}",
        {**data, "resultado": "con_observaciones", "comentario": "No consta aviso al ciudadano."},
    )
    assert saved.status == 303
    twice = await browser.post(  # a double click: the audit is kept once
        f"/calidad/casos/{case_ids[0]}", {**data, "resultado": "satisfactorio", "comentario": ""}
    )
    assert twice.status == 400 and "ya fue auditado" in await twice.text()
    liaison = await _browser(desktop, "enlace.idaan", "/enlace/auditorias")
    assert (
        "Todavía no hay auditorías publicadas"
        in await (await liaison.get("/enlace/auditorias")).text()
    )
    published = await browser.post(f"/calidad/entidades/{idaan}/publicar", {"semana": week})
    assert published.status == 303
    again = await browser.post(f"/calidad/entidades/{idaan}/publicar", {"semana": week})
    assert again.status == 303
    async with uow() as u:
        mails = (await u.session.scalars(select(OutboundMailRow))).all()
    assert [m.to_address for m in mails] == ["enlace@idaan.gob.pa"]  # once, despite two posts
    assert "No cumple: El ciudadano fue informado del resultado." in mails[0].body

    page = await (await liaison.get("/enlace/auditorias")).text()
    assert "No consta aviso al ciudadano." in page and "Con observaciones" in page
    async with uow() as u:
        audit_id = (await u.session.scalars(select(CaseAuditRow.id))).one()
    answered = await liaison.post(
        f"/enlace/auditorias/{audit_id}/respuesta", {"respuesta": "Se llamó al ciudadano el lunes."}
    )
    assert answered.status == 303
    advisor_view = await (await browser.get(f"/calidad/casos/{case_ids[0]}")).text()
    assert "Respuesta de la entidad" in advisor_view and "Se llamó al ciudadano" in advisor_view
    executive = await _browser(desktop, "ejecutivo.idaan", "/enlace/auditorias")
    page = await (await executive.get("/enlace/auditorias")).text()
    assert "Se llamó al ciudadano el lunes." in page
    mupa = await _browser(desktop, "enlace.mupa", "/enlace/auditorias")
    assert "No consta aviso" not in await (await mupa.get("/enlace/auditorias")).text()
    stolen = await mupa.post(f"/enlace/auditorias/{audit_id}/respuesta", {"respuesta": "x"})
    assert stolen.status == 404
    forged = await liaison.post(
        f"/enlace/auditorias/{audit_id}/respuesta", {"respuesta": "x"}, csrf=False
    )
    assert forged.status == 403
    agent = await _browser(desktop, "agente1", "/escritorio")
    assert (await agent.get("/enlace/auditorias")).status == 403
    assert (await liaison.get(f"/calidad/casos/{case_ids[0]}")).status == 403

    # a second audit of the week: unseen by the entity until published, then mailed alone
    second = await browser.post(
        f"/calidad/casos/{case_ids[1]}",
        {
            **{f"c_{c.code}": "cumple" for c in q.criteria_for(phone=False)},
            "resultado": "satisfactorio",
            "comentario": "Todo en orden.",
        },
    )
    assert second.status == 303
    listing = await (await browser.get(f"/calidad?semana={week}")).text()
    assert "sin publicar" in listing and "(1 auditoría nueva)" in listing
    assert "Todo en orden." not in await (await liaison.get("/enlace/auditorias")).text()
    assert (
        await browser.post(f"/calidad/entidades/{idaan}/publicar", {"semana": week})
    ).status == 303
    assert "Todo en orden." in await (await liaison.get("/enlace/auditorias")).text()
    async with uow() as u:
        mails = (
            await u.session.scalars(select(OutboundMailRow).order_by(OutboundMailRow.id))
        ).all()
    assert len(mails) == 2 and "Todo en orden." in mails[1].body
    assert "No consta aviso" not in mails[1].body
    listing = await (await browser.get(f"/calidad?semana={week}")).text()
    assert "sin publicar" not in listing and "Publicar los resultados" not in listing

    # the supervisor's figures: 2 of 2 sampled cases audited, 11 of 12 criteria met
    supervisor = await _browser(desktop, "supervisor", "/supervisor/calidad")
    figures = await (await supervisor.get("/supervisor/calidad")).text()
    assert "Rosa Delgado" in figures and "2 de 2" in figures
    assert "91,7 % (11 de 12)" in figures
    # the 3-1-1 timeline rows: the audit, then the entity's reply; internal
    async with uow() as u:
        entries = await svc.audit_timeline_entries(u.session, case_ids[0])
    assert [e["kind"] for e in entries] == ["audit", "audit_reply"]
    assert all(e["public"] is False for e in entries)


async def test_given_expired_cases_then_the_report_groups_by_age_and_csv_is_formula_safe(desktop):
    uow = desktop.uow_factory
    idaan = await _entity_id(uow, "IDAAN")
    async with uow() as u:
        for i, days in enumerate((2, 10, 45)):
            due = START - timedelta(days=days)
            u.session.add(
                CaseRow(
                    number=f"2026555{i:03d}",
                    type="solicitud",
                    channel="web",
                    status="en_proceso",
                    entity_id=idaan,
                    description="vencido",
                    sla_days=10,
                    opened_at=due - timedelta(days=10),
                    due_at=due,
                )
            )
        await u.commit()
    supervisor = await _browser(desktop, "supervisor", "/calidad")
    page = await (await supervisor.get(f"/calidad/entidades/{idaan}/vencidos")).text()
    assert "3 casos abiertos con el plazo vencido" in page
    response = await supervisor.get(f"/calidad/entidades/{idaan}/vencidos?formato=csv")
    assert response.status == 200 and response.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0] == list(svc.EXPIRED_COLUMNS)
    assert [r[-1] for r in rows[1:]] == ["más de 30 días", "8 a 15 días", "1 a 7 días"]
    assert svc.safe_cell("=1+1") == "'=1+1" and svc.safe_cell("-3") == "'-3"
    assert svc.safe_cell("Agua") == "Agua"


async def test_given_evaluated_calls_then_each_agent_sees_own_and_supervisor_the_team(desktop):
    uow = desktop.uow_factory
    week = q.previous_week(START, svc.PANAMA)
    start, _ = q.week_bounds(week, svc.PANAMA)
    agents = {name: await _user_id(uow, name) for name in ("agente1", "agente2")}
    async with uow() as u:
        for n, agent_id in enumerate(agents.values()):
            for i in range(3):
                u.session.add(
                    CallRow(
                        uniqueid=f"17954{n}{i}.1",
                        agent_user_id=agent_id,
                        answered_at=start + timedelta(hours=10 + i),
                        recording_path=f"x/{n}{i}.wav",
                    )
                )
        await u.commit()
    drawn = await svc.draw_weekly_call_sample(uow, week=week, now=START)
    assert {k: len(v) for k, v in drawn.items()} == {agents["agente1"]: 2, agents["agente2"]: 2}
    assert await svc.draw_weekly_call_sample(uow, week=week, now=START) == {}
    browser = await _browser(desktop, "auditor", "/calidad/llamadas")
    listing = await (await browser.get(f"/calidad/llamadas?semana={week}")).text()
    assert listing.count("Pendiente") == 4
    for agent, call_ids in drawn.items():
        answers = {f"c_{c.code}": "cumple" for c in q.CALL_CRITERIA}
        if agent == agents["agente2"]:
            answers["c_identidad"] = "no_cumple"
        saved = await browser.post(
            f"/calidad/llamadas/{call_ids[0]}", {**answers, "comentario": "Buen trato."}
        )
        assert saved.status == 303, await saved.text()
        form = await (await browser.get(f"/calidad/llamadas/{call_ids[0]}")).text()
        assert "Evaluada el" in form and 'id="grabacion"' in form
    one = await _browser(desktop, "agente1", "/mis-evaluaciones")
    mine = await (await one.get("/mis-evaluaciones")).text()
    assert mine.count("data-evaluacion=") == 1 and "7 de 7 criterios" in mine
    two = await _browser(desktop, "agente2", "/mis-evaluaciones")
    theirs = await (await two.get("/mis-evaluaciones")).text()
    assert theirs.count("data-evaluacion=") == 1 and "6 de 7 criterios" in theirs
    supervisor = await _browser(desktop, "supervisor", "/supervisor/calidad")
    figures = await (await supervisor.get(f"/supervisor/calidad?semana={week}")).text()
    assert "Ana Batista" in figures and "100,0 %" in figures and "85,7 %" in figures
    assert (await one.get("/supervisor/calidad")).status == 403


async def test_given_a_supervisor_when_assigning_advisors_then_limit_and_rotation_history(desktop):
    uow = desktop.uow_factory
    advisor = await _user_id(uow, "auditor")
    supervisor = await _browser(desktop, "supervisor", "/supervisor/calidad/asesores")
    async with uow() as u:
        entity_ids = sorted((await u.session.scalars(select(EntityRow.id))).all())
    assert len(entity_ids) >= 26
    for entity_id in entity_ids[:25]:
        done = await supervisor.post(
            "/supervisor/calidad/asesores",
            {"asesor": str(advisor), "entidad": str(entity_id), "desde": "2026-01-01"},
        )
        assert done.status == 303
    refused = await supervisor.post(
        "/supervisor/calidad/asesores",
        {"asesor": str(advisor), "entidad": str(entity_ids[25]), "desde": "2026-01-01"},
    )
    assert refused.status == 400 and "como máximo 25 entidades" in await refused.text()
    missing = await supervisor.post(
        "/supervisor/calidad/asesores",
        {"asesor": str(advisor), "entidad": "999999", "desde": "2026-01-01"},
    )
    assert missing.status == 400 and "no existe" in await missing.text()
    page = await (await supervisor.get("/supervisor/calidad/asesores")).text()
    assert "25 de 25" in page and page.count("vigente") == 25
    async with uow() as u:
        first = (
            await u.session.scalars(
                select(QualityAssignmentRow.id).order_by(QualityAssignmentRow.id)
            )
        ).first()
    ended = await supervisor.post(
        f"/supervisor/calidad/asesores/{first}/fin", {"hasta": "2026-10-31"}
    )
    assert ended.status == 303
    rotated = await supervisor.post(
        "/supervisor/calidad/asesores",
        {"asesor": str(advisor), "entidad": str(entity_ids[25]), "desde": "2026-11-01"},
    )
    assert rotated.status == 303
    page = await (await supervisor.get("/supervisor/calidad/asesores")).text()
    assert "31/10/2026" in page and page.count("vigente") == 25  # the old one is history
    async with uow() as u:
        u.session.add(
            UserRow(username="asesor2", full_name="Otro", role="auditor", password_hash="x")
        )
        await u.commit()
    second = await _user_id(uow, "asesor2")
    taken = await supervisor.post(
        "/supervisor/calidad/asesores",
        {"asesor": str(second), "entidad": str(entity_ids[1]), "desde": "2026-11-01"},
    )
    assert taken.status == 400 and "ya tiene otro asesor" in await taken.text()
    freed = await supervisor.post(  # the entity whose assignment ended on 31 October
        "/supervisor/calidad/asesores",
        {"asesor": str(second), "entidad": str(entity_ids[0]), "desde": "2026-11-01"},
    )
    assert freed.status == 303
    auditor = await _browser(desktop, "auditor", "/calidad")
    assert (await auditor.get("/supervisor/calidad/asesores")).status == 403
    forged = await supervisor.post(
        "/supervisor/calidad/asesores",
        {"asesor": str(advisor), "entidad": str(entity_ids[0]), "desde": "2026-11-01"},
        csrf=False,
    )
    assert forged.status == 403


async def test_given_malformed_requests_then_spanish_errors_and_nothing_saved(desktop):
    uow = desktop.uow_factory
    idaan = await _entity_id(uow, "IDAAN")
    anonymous = await desktop.client()
    first = await anonymous.get("/calidad", allow_redirects=False)
    assert first.status == 302 and first.headers["Location"].startswith("/login")
    supervisor = await _browser(desktop, "supervisor", "/calidad")
    for path, status, text in (
        ("/calidad?semana=2026-W99", 400, "no existe"),
        ("/calidad?semana=semana", 400, "AAAA-Wnn"),
        ("/calidad/casos/abc", 400, "no es válida"),
        ("/calidad/casos/999999", 404, "no existe"),
        ("/calidad/entidades?mes=2026-13", 400, "AAAA-MM"),
        (f"/calidad/entidades/{idaan}/vencidos?formato=xls", 400, "csv"),
        ("/supervisor/calidad?semanas=0", 400, "entre 1 y 26"),
        ("/calidad/llamadas/999999", 404, "no existe"),
    ):
        response = await supervisor.get(path)
        assert response.status == status, path
        assert text in await response.text(), path
    bad_date = await supervisor.post(
        f"/calidad/entidades/{idaan}/planes",
        {"mes": "2026-10", "problema": "p", "medidas": "m", "responsable": "r", "vence": "mañana"},
    )
    assert bad_date.status == 400 and "AAAA-MM-DD" in await bad_date.text()
    nul = await supervisor.post(
        f"/calidad/entidades/{idaan}/planes",
        {
            "mes": "2026-10",
            "problema": "p\x00",
            "medidas": "m",
            "responsable": "r",
            "vence": "2026-12-01",
        },
    )
    assert nul.status == 400
    async with uow() as u:
        assert (await u.session.scalars(select(ActionPlanRow))).all() == []


async def test_given_an_illegal_plan_move_then_a_400_not_a_500(desktop):
    uow = desktop.uow_factory
    idaan = await _entity_id(uow, "IDAAN")
    await _cases(uow, idaan, on_time=1, late=4, prefix="20261002")
    supervisor = await _browser(desktop, "supervisor", "/calidad")
    plan = {"mes": "2026-10", "problema": "p", "medidas": "m", "responsable": "r"}
    created = await supervisor.post(
        f"/calidad/entidades/{idaan}/planes", {**plan, "vence": "2026-12-01"}
    )
    assert created.status == 303
    async with uow() as u:
        plan_id = (await u.session.scalars(select(ActionPlanRow.id))).one()
    done = await supervisor.post(f"/calidad/planes/{plan_id}", {"estado": "cumplido", "nota": "ok"})
    assert done.status == 303
    back = await supervisor.post(f"/calidad/planes/{plan_id}", {"estado": "abierto", "nota": ""})
    assert back.status == 400 and "no puede pasar" in await back.text()
    unknown = await supervisor.post(f"/calidad/planes/{plan_id}", {"estado": "x", "nota": ""})
    assert unknown.status == 400
