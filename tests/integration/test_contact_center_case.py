"""The Centro de Contactos works from the case: call context and manual surveys that count."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from case_core.db.models import CallbackRow, CaseRow, SurveyAnswerRow
from case_core.domain.case import CaseAction
from case_core.domain.roles import Actor, Role
from case_core.metrics.scorecards import scorecards
from case_core.services.cases import act_on_case, add_note
from tests.integration.test_contact_center import _callback, _case, _row
from tests.integration.test_desktop_support import (  # noqa: F401
    START,
    make_desktop_fixture,
    other_process_fixture,
)

desktop = make_desktop_fixture()
PANAMA = ZoneInfo("America/Panama")


async def _liaison(uow_factory) -> Actor:
    async with uow_factory() as uow:
        u = await uow.users.by_username("enlace.idaan")
    return Actor(u.id, u.username, Role.LIAISON, u.entity_id)


async def test_given_a_follow_up_call_then_the_agent_sees_status_entity_days_and_public_note(
    desktop, panama
):
    case_id = await _case(desktop.uow_factory, panama)  # opened 5 days ago, 3-day SLA
    liaison = await _liaison(desktop.uow_factory)
    await add_note(
        desktop.uow_factory,
        case_id=case_id,
        actor=liaison,
        public=True,
        note="Cuadrilla asignada para el jueves.",
        now=START - timedelta(days=2),
    )
    await add_note(
        desktop.uow_factory,
        case_id=case_id,
        actor=liaison,
        public=False,
        note="Falta el repuesto.",
        now=START - timedelta(days=1),
    )
    callback_id = await _callback(desktop.uow_factory, case_id, "tarea_humana")
    agent = await desktop.login("agente1", form=False)
    assert (await agent.post(f"/contactos/{callback_id}/llamar", {})).status == 200
    page = await (await agent.client.get("/contactos")).text()
    mine = page[page.index('id="mis-llamadas"') : page.index('id="para-llamar"')]
    assert "Asignado" in mine and "Instituto de Acueductos" in mine
    assert "vencido hace 2 días calendario" in mine  # due 31 Oct, today 2 Nov
    assert "Cuadrilla asignada para el jueves." in mine and "Falta el repuesto." not in mine
    assert 'name="satisfaccion"' not in mine  # a follow-up, not a survey


async def _closed_survey_call(desktop, panama):
    case_id = await _case(desktop.uow_factory, panama)
    await act_on_case(
        desktop.uow_factory,
        case_id=case_id,
        action=CaseAction.CLOSE,
        actor=await _liaison(desktop.uow_factory),
        now=START - timedelta(days=1),
        note="Reparado.",
    )
    callback_id = await _callback(
        desktop.uow_factory,
        case_id,
        "tarea_humana",
        kind="satisfaccion",
        window_end_at=START + timedelta(days=2),
    )
    agent = await desktop.login("agente1", form=False)
    assert (await agent.post(f"/contactos/{callback_id}/llamar", {})).status == 200
    return agent, case_id, callback_id


async def test_given_a_manual_survey_then_answers_count_in_the_scorecards_and_flag_review(
    desktop, panama
):
    agent, case_id, callback_id = await _closed_survey_call(desktop, panama)
    page = await (await agent.client.get("/contactos")).text()
    assert 'name="resuelto"' in page and 'name="satisfaccion"' in page
    bad = await agent.post(
        f"/contactos/{callback_id}/resultado",
        {"resultado": "contactado", "resuelto": "2", "satisfaccion": "7"},
    )
    assert bad.status == 400
    assert (await _row(desktop.uow_factory, callback_id)).status == "en_curso"  # nothing kept
    ok = await agent.post(
        f"/contactos/{callback_id}/resultado",
        {
            "resultado": "contactado",
            "resuelto": "2",
            "satisfaccion": "2",
            "comentario": "Volvió a fallar el sábado.",
        },
    )
    assert (await ok.json())["status"] == "completada"
    async with desktop.uow_factory() as uow:
        answers = {
            a.question: a.answer
            for a in (
                await uow.session.scalars(
                    select(SurveyAnswerRow).where(SurveyAnswerRow.callback_id == callback_id)
                )
            ).all()
        }
        case = await uow.session.get(CaseRow, case_id)
    assert answers == {
        "resuelto": "2",
        "satisfaccion": "2",
        "comentario": "Volvió a fallar el sábado.",
    }
    assert case.needs_review is True
    # The case opened 28 Oct: October's IDAAN scorecard has this one answer, mean 2.
    cards = await scorecards(
        desktop.uow_factory,
        datetime(2026, 10, 1, tzinfo=PANAMA),
        datetime(2026, 11, 1, tzinfo=PANAMA),
        PANAMA,
        as_of=START + timedelta(hours=1),
    )
    idaan = next(c for c in cards if c.entity_code == "IDAAN")
    assert (idaan.satisfaction_answers, idaan.satisfaction_avg) == (1, 2.0)
    # the review queue shows it, and the case timeline has the answers and the comment
    supervisor = await desktop.login("supervisor", form=False)
    queues = await (await supervisor.client.get("/colas?cola=revision")).text()
    async with desktop.uow_factory() as uow:
        number = (await uow.session.get(CaseRow, case_id)).number
    assert number in queues
    timeline = await (await supervisor.client.get(f"/casos/{number}")).text()
    assert "Satisfacción (1 a 5): 2" in timeline and "Volvió a fallar el sábado." in timeline
    async with desktop.uow_factory() as uow:
        assert (await uow.session.get(CallbackRow, callback_id)).outcome == "contactado_agente"
