"""A quality audit and the entity's reply show on the case page's timeline, for 3-1-1 staff."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from case_core.db.models import CaseRow
from case_core.domain import quality as q
from case_core.services import quality as svc
from tests.integration.test_desktop_support import (  # noqa: F401
    START,
    make_desktop_fixture,
)
from tests.integration.test_liaison import _browser
from tests.integration.test_quality_web import _entity_id, _user_id

desktop = make_desktop_fixture()


async def test_given_an_audited_case_then_its_page_shows_the_audit_as_internal(desktop):
    uow = desktop.uow_factory
    idaan = await _entity_id(uow, "IDAAN")
    advisor = await _user_id(uow, "auditor")
    await svc.assign_entity(
        uow, advisor_user_id=advisor, entity_id=idaan, starts_on=date(2026, 1, 1)
    )
    week = q.previous_week(START, svc.PANAMA)
    start, _ = q.week_bounds(week, svc.PANAMA)
    async with uow() as u:
        u.session.add(
            CaseRow(
                number="2026555001",
                type="queja",
                channel="web",
                status="cerrado",
                entity_id=idaan,
                description="Fuga de agua en la vía.",
                sla_days=10,
                opened_at=start - timedelta(days=2),
                due_at=start + timedelta(days=8),
                closed_at=start + timedelta(days=1),
            )
        )
        await u.commit()
    await svc.draw_weekly_sample(uow, week=week, now=START)
    async with uow() as u:
        case_id = (await u.session.scalars(select(CaseRow.id))).one()

    advisor_browser = await _browser(desktop, "auditor", "/calidad")
    data = {f"c_{c.code}": "cumple" for c in q.criteria_for(phone=False)}
    data["c_informado"] = "no_cumple"
    saved = await advisor_browser.post(
        f"/calidad/casos/{case_id}",
        {**data, "resultado": "con_observaciones", "comentario": "No consta aviso al ciudadano."},
    )
    assert saved.status == 303

    supervisor = await _browser(desktop, "supervisor", "/escritorio")
    page = await (await supervisor.get("/casos/2026555001")).text()
    # The entry is marked internal: the citizen never sees an audit.
    internal = '<span class="visibilidad">(interna)</span>'
    assert f"<strong>Auditoría de calidad</strong> {internal}" in page
    assert "No consta aviso al ciudadano." in page
