"""Centro de Contactos pages (/contactos) and the callback figures, on real PostgreSQL.

The only fake is ``FakeQueueControl`` (the AMI boundary); ``AmiQueueControl`` itself is
driven against the AMI simulator at the end, and the dialplan context it names is checked.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from agent_desktop.contact_center import mask_phone
from ami.client import AmiClient, AmiConfig
from ami.queue_control import AmiQueueControl, ManualCallFailed
from asterisk_sim.ami import ANSWERED, NO_ANSWER, AmiSimulator
from asterisk_sim.conf import parse_config, parse_dialplan, sample_resolver
from case_core.db.models import (
    CallbackOptOutRow,
    CallbackRow,
    CaseRow,
    SurveyAnswerRow,
)
from case_core.domain.case import CaseType, Channel
from case_core.domain.roles import Actor, Role
from case_core.metrics.callbacks import callback_figures
from case_core.services.cases import RegisterCase, register_case
from tests.integration.test_desktop_support import (  # noqa: F401
    START,
    make_desktop_fixture,
    other_process_fixture,
)

desktop = make_desktop_fixture()
PHONE = "+50761234567"
JSON = {"Accept": "application/json"}


async def _case(uow_factory, panama, *, phone=PHONE, **kw) -> int:
    async with uow_factory() as uow:
        e = await uow.directory.entity_by_code("IDAAN")
        agent = await uow.users.by_username("agente1")
        s = await uow.directory.service_by_code(e.id, "falta-agua")
    registered = await register_case(
        uow_factory,
        RegisterCase(
            type=kw.pop("case_type", CaseType.QUEJA),
            channel=Channel.TELEFONO,
            entity_id=e.id,
            service_id=s.id,
            description="Fuga de agua en la acera desde el martes.",
            contact_phone=phone,
            **kw,
        ),
        actor=Actor(agent.id, agent.username, Role.AGENT),
        now=START - timedelta(days=5),
        tz=panama,
    )
    return registered.id


async def _callback(uow_factory, case_id, status, **kw) -> int:
    values = {
        "case_id": case_id,
        "kind": "seguimiento",
        "phone": PHONE,
        "window_start_at": START - timedelta(days=5),
        "window_end_at": START + timedelta(days=25),
        "next_attempt_at": START - timedelta(minutes=5) if status == "pendiente" else None,
        "attempts": 0,
        "max_attempts": 4,
        "status": status,
        "updated_at": START - timedelta(days=1),
    }
    values.update(kw)
    async with uow_factory() as uow:
        row = CallbackRow(**values)
        uow.session.add(row)
        await uow.commit()
        return row.id


async def _row(uow_factory, callback_id) -> CallbackRow:
    async with uow_factory() as uow:
        return await uow.session.get(CallbackRow, callback_id)


def _snapshot(row: CallbackRow) -> tuple:
    return (row.status, row.attempts, row.next_attempt_at, row.action_id, row.updated_at)


# -- access ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("agente1", 200),
        ("supervisor", 200),
        ("admin", 200),
        ("auditor", 403),
        ("enlace.idaan", 403),
    ],
)
async def test_given_a_role_when_opening_contactos_then_only_desktop_roles_get_in(
    desktop, username, status
):
    user = await desktop.login(username, form=False)
    for path in ("/contactos", "/contactos/cifras"):
        response = await user.client.get(path)
        assert response.status == status, (path, await response.text())
        if status == 403:
            assert "escritorio de agentes" in await response.text()


async def test_given_no_session_when_opening_contactos_then_redirected_to_login(desktop):
    client = await desktop.client()
    response = await client.get("/contactos", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login")


# -- listing ---------------------------------------------------------------------------


async def test_given_callbacks_in_every_state_when_listed_then_four_lists_with_masked_phones(
    desktop, panama
):
    uow = desktop.uow_factory
    ids = {}
    for name, status, kw in [
        ("due", "pendiente", {}),
        ("later", "pendiente", {"next_attempt_at": START + timedelta(hours=3)}),
        ("running", "en_curso", {"attempts": 1, "action_id": "cb-x-1"}),
        ("human", "tarea_humana", {"attempts": 4, "outcome": "no_answer"}),
        ("lost", "no_contactado", {"outcome": "ventana_vencida", "kind": "satisfaccion"}),
        ("done", "completada", {"outcome": "answered"}),
    ]:
        case_id = await _case(uow, panama)
        ids[name] = (await _callback(uow, case_id, status, **kw), case_id)
    async with uow() as u:
        numbers = {
            name: (await u.session.get(CaseRow, case_id)).number
            for name, (_, case_id) in ids.items()
        }
    agent = await desktop.login("agente1", form=False)
    page = await (await agent.client.get("/contactos")).text()
    sections = {
        key: page.split(f'id="{key}"', 1)[1].split("</section>", 1)[0]
        for key in ("para-llamar", "en-curso", "tareas", "no-contactados")
    }
    assert numbers["due"] in sections["para-llamar"]
    assert numbers["later"] not in page  # not due yet
    assert numbers["running"] in sections["en-curso"]
    assert numbers["human"] in sections["tareas"] and "4 de 4" in sections["tareas"]
    assert "No contestó" in sections["tareas"]
    assert numbers["lost"] in sections["no-contactados"] and "Satisfacción" in page
    assert "Plazo vencido" in sections["no-contactados"]
    assert numbers["done"] not in page
    assert PHONE not in page and "61234567" not in page and "****4567" in page
    window_end = (START + timedelta(days=25)).astimezone(panama).strftime("%d/%m/%Y %H:%M")
    assert window_end in sections["tareas"]  # shown in Panama time
    assert "IDAAN" in page or "Acueductos" in page
    assert 'href="/contactos"' in page  # the nav link


async def test_given_a_confidential_case_when_another_agent_lists_then_no_number_and_no_call(
    desktop, panama
):
    case_id = await _case(
        desktop.uow_factory, panama, case_type=CaseType.DENUNCIA, confidential=True
    )
    await _callback(desktop.uow_factory, case_id, "tarea_humana", attempts=4)
    async with desktop.uow_factory() as u:
        number = (await u.session.get(CaseRow, case_id)).number
    other = await desktop.login("agente2", form=False)
    page = await (await other.client.get("/contactos")).text()
    assert number not in page and "Caso confidencial" in page and "Llamar" not in page
    assert 'href="/casos/' not in page  # no link to a case the agent may not open
    boss = await desktop.login("supervisor", form=False)
    boss_page = await (await boss.client.get("/contactos")).text()
    assert number in boss_page and f'href="/casos/{number}"' in boss_page


# -- manual call -----------------------------------------------------------------------


async def test_given_a_human_task_when_agent_calls_then_agent_phone_then_citizen_and_attempt(
    desktop, panama
):
    callback_id = await _callback(
        desktop.uow_factory, await _case(desktop.uow_factory, panama), "tarea_humana", attempts=4
    )
    agent = await desktop.login("agente1", form=False)
    response = await agent.post(f"/contactos/{callback_id}/llamar", {})
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "en_curso"
    assert desktop.queue.calls == [("originate_manual_callback", "PJSIP/1001", PHONE, callback_id)]
    row = await _row(desktop.uow_factory, callback_id)
    async with desktop.uow_factory() as u:
        user_id = (await u.users.by_username("agente1")).id
    assert (row.status, row.attempts, row.last_attempt_at) == ("en_curso", 5, START)
    assert row.action_id == f"manual-{callback_id}-5-u{user_id}"
    # Only the agent working it sees the whole number and the outcome form.
    mine = await (await agent.client.get("/contactos")).text()
    assert PHONE in mine and 'id="mis-llamadas"' in mine
    other = await desktop.login("agente2", form=False)
    theirs = await (await other.client.get("/contactos")).text()
    assert PHONE not in theirs and "****4567" in theirs and 'id="mis-llamadas"' not in theirs
    # A second call while it is in progress is refused, and nothing is dialled.
    again = await other.post(f"/contactos/{callback_id}/llamar", {})
    assert again.status == 400 and "en curso" in (await again.json())["error"]
    assert len(desktop.queue.calls) == 1


async def test_given_a_browser_form_when_calling_then_redirect_back_with_a_message(desktop, panama):
    callback_id = await _callback(
        desktop.uow_factory, await _case(desktop.uow_factory, panama), "pendiente"
    )
    agent = await desktop.login("agente1", form=False)
    response = await agent.client.post(
        f"/contactos/{callback_id}/llamar",
        data={"csrf_token": agent.csrf},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == f"/contactos?hecho=llamando#devolucion-{callback_id}"
    page = await (await agent.client.get("/contactos?hecho=llamando")).text()
    assert "se está llamando al ciudadano" in page


async def test_given_ami_fails_when_calling_then_502_in_spanish_and_nothing_recorded(
    desktop, panama
):
    callback_id = await _callback(
        desktop.uow_factory, await _case(desktop.uow_factory, panama), "pendiente"
    )
    before = _snapshot(await _row(desktop.uow_factory, callback_id))
    desktop.queue.fail = True
    agent = await desktop.login("agente1", form=False)
    response = await agent.post(f"/contactos/{callback_id}/llamar", {})
    assert response.status == 502
    assert "No se registró ningún intento" in (await response.json())["error"]
    assert _snapshot(await _row(desktop.uow_factory, callback_id)) == before
    html = await agent.client.post(
        f"/contactos/{callback_id}/llamar", data={"csrf_token": agent.csrf}
    )
    assert html.status == 502 and "su teléfono no contestó" in await html.text()


async def test_given_a_user_without_phone_when_calling_then_400_and_nothing_dialled(
    desktop, panama
):
    callback_id = await _callback(
        desktop.uow_factory, await _case(desktop.uow_factory, panama), "tarea_humana"
    )
    boss = await desktop.login("supervisor", form=False)
    response = await boss.post(f"/contactos/{callback_id}/llamar", {})
    assert response.status == 400 and "teléfono asignado" in (await response.json())["error"]
    assert desktop.queue.calls == []
    assert (await _row(desktop.uow_factory, callback_id)).status == "tarea_humana"


async def test_given_bad_requests_then_403_without_csrf_and_400_or_404_for_bad_ids(desktop, panama):
    callback_id = await _callback(
        desktop.uow_factory, await _case(desktop.uow_factory, panama), "tarea_humana"
    )
    before = _snapshot(await _row(desktop.uow_factory, callback_id))
    agent = await desktop.login("agente1", form=False)
    for action, data in (("llamar", {}), ("resultado", {"resultado": "contactado"})):
        no_token = await agent.client.post(
            f"/contactos/{callback_id}/{action}", data=data, headers=JSON
        )
        assert no_token.status == 403, action
        assert "código de seguridad" in (await no_token.json())["error"]
        wrong = await agent.client.post(
            f"/contactos/{callback_id}/{action}", data={**data, "csrf_token": "x"}, headers=JSON
        )
        assert wrong.status == 403
        for bad in ("abc", "0", "-3", "99999999999999999999"):
            assert (await agent.post(f"/contactos/{bad}/{action}", data)).status == 400, bad
        assert (await agent.post(f"/contactos/987654/{action}", data)).status == 404
    assert desktop.queue.calls == []
    assert _snapshot(await _row(desktop.uow_factory, callback_id)) == before
    bad_result = await agent.post(f"/contactos/{callback_id}/resultado", {"resultado": "quizas"})
    assert bad_result.status == 400 and "resultado" in (await bad_result.json())["error"]


# -- outcomes --------------------------------------------------------------------------


async def _called(desktop, panama, status="tarea_humana", **kw):
    callback_id = await _callback(
        desktop.uow_factory, await _case(desktop.uow_factory, panama), status, **kw
    )
    agent = await desktop.login("agente1", form=False)
    assert (await agent.post(f"/contactos/{callback_id}/llamar", {})).status == 200
    return agent, callback_id


async def test_given_contact_when_recorded_then_completed(desktop, panama):
    agent, callback_id = await _called(desktop, panama)
    desktop.clock.advance(minutes=4)
    response = await agent.post(f"/contactos/{callback_id}/resultado", {"resultado": "contactado"})
    assert (await response.json())["status"] == "completada"
    row = await _row(desktop.uow_factory, callback_id)
    assert (row.status, row.outcome, row.updated_at) == (
        "completada",
        "contactado_agente",
        START + timedelta(minutes=4),
    )
    again = await agent.post(f"/contactos/{callback_id}/resultado", {"resultado": "ocupado"})
    assert again.status == 400 and "ya fue registrado" in (await again.json())["error"]


async def test_given_busy_on_a_human_task_when_recorded_then_back_to_the_human_queue(
    desktop, panama
):
    agent, callback_id = await _called(desktop, panama, attempts=4)
    response = await agent.post(f"/contactos/{callback_id}/resultado", {"resultado": "ocupado"})
    assert (await response.json())["status"] == "tarea_humana"
    row = await _row(desktop.uow_factory, callback_id)
    assert (row.status, row.outcome, row.attempts) == ("tarea_humana", "busy", 5)


async def test_given_no_answer_early_in_the_window_when_recorded_then_retried_in_hours(
    desktop, panama
):
    agent, callback_id = await _called(desktop, panama, status="pendiente")
    response = await agent.post(f"/contactos/{callback_id}/resultado", {"resultado": "no_contesta"})
    assert (await response.json())["status"] == "pendiente"
    row = await _row(desktop.uow_factory, callback_id)
    assert (row.outcome, row.attempts) == ("no_answer", 1)
    assert row.next_attempt_at == START + timedelta(minutes=30)  # the first retry delay


async def test_given_the_citizen_declines_when_recorded_then_opt_out_and_no_more_calls(
    desktop, panama
):
    agent, callback_id = await _called(desktop, panama)
    row = await _row(desktop.uow_factory, callback_id)
    other = await _callback(
        desktop.uow_factory, row.case_id, "pendiente", kind="satisfaccion"
    )  # another waiting call of the same case
    response = await agent.post(f"/contactos/{callback_id}/resultado", {"resultado": "no_desea"})
    assert (await response.json())["status"] == "completada"
    row = await _row(desktop.uow_factory, callback_id)
    assert (row.status, row.outcome) == ("completada", "no_desea_llamadas")
    assert (await _row(desktop.uow_factory, other)).status == "cancelada"
    async with desktop.uow_factory() as u:
        opt = (await u.session.scalars(select(CallbackOptOutRow))).one()
    assert (opt.case_id, opt.callback_id, opt.source) == (row.case_id, callback_id, "agente")


async def test_given_another_agent_when_recording_the_result_then_403(desktop, panama):
    _, callback_id = await _called(desktop, panama)
    other = await desktop.login("agente2", form=False)
    response = await other.post(f"/contactos/{callback_id}/resultado", {"resultado": "contactado"})
    assert response.status == 403
    assert (await _row(desktop.uow_factory, callback_id)).status == "en_curso"


def test_mask_phone_keeps_the_last_four_digits():
    assert mask_phone("+507 6123-4567") == "****4567"


# -- figures ---------------------------------------------------------------------------


def _t(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


async def _raw_case(uow, entity_id, number, *, opened, closed=None) -> int:
    row = CaseRow(
        number=number,
        type="queja",
        channel="telefono",
        status="cerrado" if closed else "registrado",
        entity_id=entity_id,
        description="x",
        sla_days=10,
        opened_at=opened,
        due_at=opened + timedelta(days=14),
        closed_at=closed,
        confidential=False,
        anonymous=False,
        contact_phone=PHONE,
        resolved_at_first_contact=False,
        needs_review=False,
    )
    uow.session.add(row)
    await uow.session.flush()
    return row.id


def _done_callback(case_id, kind, start, at, status="completada") -> CallbackRow:
    return CallbackRow(
        case_id=case_id,
        kind=kind,
        phone=PHONE,
        window_start_at=start,
        window_end_at=start + timedelta(days=3 if kind == "satisfaccion" else 30),
        attempts=1,
        max_attempts=4,
        status=status,
        updated_at=at,
    )


async def test_given_hand_made_cases_when_figures_computed_then_each_share_and_average(seeded):
    async with seeded() as uow:
        idaan = (await uow.directory.entity_by_code("IDAAN")).id
        mupa = (await uow.directory.entity_by_code("MUPA")).id
        n = iter(f"2026{i:06d}" for i in range(1, 100))
        # IDAAN, closed in November: called in time / too late / never (3 days over) /
        # closed 1 day before as_of, not called yet (pending) / called 2nd day (in time).
        a = await _raw_case(uow, idaan, next(n), opened=_t(1), closed=_t(5))
        b = await _raw_case(uow, idaan, next(n), opened=_t(1), closed=_t(6))
        await _raw_case(uow, idaan, next(n), opened=_t(2), closed=_t(7))
        await _raw_case(uow, idaan, next(n), opened=_t(2), closed=_t(29))
        e = await _raw_case(uow, idaan, next(n), opened=_t(2), closed=_t(28, 20))
        uow.session.add_all(
            [
                _done_callback(a, "satisfaccion", _t(5), _t(7)),
                _done_callback(b, "satisfaccion", _t(6), _t(9, 13)),  # 3 days + 1 h
                _done_callback(e, "satisfaccion", _t(28, 20), _t(29, 21)),
                # a follow-up of case a, completed 3 days after opening: counts for follow-up
                _done_callback(a, "seguimiento", _t(1), _t(4)),
                # not completed: does not count
                _done_callback(b, "seguimiento", _t(1), _t(3), status="tarea_humana"),
            ]
        )
        # MUPA: opened in October (outside the follow-up cohort), closed in November, called.
        m = await _raw_case(uow, mupa, next(n), opened=_t(1) - timedelta(days=20), closed=_t(3))
        m2 = await _raw_case(uow, mupa, next(n), opened=_t(10))
        uow.session.add_all(
            [
                _done_callback(m, "satisfaccion", _t(3), _t(4)),
                _done_callback(m2, "seguimiento", _t(10), _t(25)),
            ]
        )
        await uow.session.flush()
        cb = (
            await uow.session.scalars(select(CallbackRow.id).where(CallbackRow.case_id == a))
        ).first()
        cb_m = (
            await uow.session.scalars(select(CallbackRow.id).where(CallbackRow.case_id == m))
        ).first()
        october = _t(1) - timedelta(days=2)
        for callback_id, case_id, question, answer, at in [
            (cb, a, "satisfaccion", "4", _t(7)),
            (cb, a, "resuelto", "1", _t(7)),
            (cb_m, m, "satisfaccion", "5", _t(4)),
            (cb_m, m, "satisfaccion", "2", _t(4)),
            (cb_m, m, "satisfaccion", "1", october),  # outside the period
        ]:
            uow.session.add(
                SurveyAnswerRow(
                    callback_id=callback_id,
                    case_id=case_id,
                    question=question,
                    answer=answer,
                    answered_at=at,
                )
            )
        await uow.commit()
    start, end = _t(1, 5), datetime(2026, 12, 1, 5, tzinfo=UTC)  # November, Panama time
    figures = await callback_figures(seeded, start, end, as_of=_t(30))
    overall, by_name = figures[0], {f.entity_code: f for f in figures[1:]}
    assert overall.overall and overall.entity_id is None
    assert len(by_name) == len(figures) - 1 >= 2  # every active entity has a row
    i, m_ = by_name["IDAAN"], by_name["MUPA"]
    assert (i.closed_cases, i.satisfaction_done, i.satisfaction_decided) == (5, 2, 4)
    assert i.satisfaction_pending == 1 and i.satisfaction_percent == 50.0
    # follow-up: 5 IDAAN cases opened in November, none of whose 30 days are over at
    # as_of, one done -> 1 of 1 decided.
    assert (i.opened_cases, i.followup_done, i.followup_decided) == (5, 1, 1)
    assert (m_.closed_cases, m_.satisfaction_done, m_.satisfaction_decided) == (1, 1, 1)
    assert (m_.opened_cases, m_.followup_done, m_.followup_decided) == (1, 1, 1)
    assert (i.satisfaction_answers, i.satisfaction_avg) == (1, 4.0)
    assert (m_.satisfaction_answers, m_.satisfaction_avg) == (2, 3.5)
    assert (overall.closed_cases, overall.satisfaction_done, overall.satisfaction_decided) == (
        6,
        3,
        5,
    )
    assert (overall.opened_cases, overall.followup_done) == (6, 2)
    assert overall.satisfaction_answers == 3 and overall.satisfaction_avg == pytest.approx(11 / 3)
    others = [f for code, f in by_name.items() if code not in ("IDAAN", "MUPA")]
    assert all(f.closed_cases == 0 and f.satisfaction_percent is None for f in others)
    # As of the end of December every 3-day window is over: the pending case is a miss.
    later = await callback_figures(seeded, start, end, as_of=datetime(2026, 12, 31, tzinfo=UTC))
    assert (later[0].satisfaction_decided, later[0].followup_decided) == (6, 6)


async def test_given_the_figures_page_then_period_filters_work_and_bad_dates_are_400(desktop):
    agent = await desktop.login("agente1", form=False)
    page = await agent.client.get("/contactos/cifras?desde=2026-10-01&hasta=2026-11-02")
    text = await page.text()
    assert page.status == 200 and "01/10/2026" in text and "Todas las entidades" in text
    assert "Satisfacción en 3 días" in text and "sin datos" in text
    for query in ("desde=2026-13-01", "desde=2026-11-05&hasta=2026-11-01", "hasta=ayer"):
        bad = await agent.client.get(f"/contactos/cifras?{query}")
        assert bad.status == 400, query
        assert "fecha" in (await bad.text()).lower()
    board = await (await agent.client.get("/contactos")).text()
    assert 'id="cifras-mes"' in board and "01/11/2026" in board


# -- the telephony side ----------------------------------------------------------------


def test_given_the_dialplan_then_the_manual_context_dials_the_citizen_through_the_trunk():
    conf = Path(__file__).resolve().parents[2] / "asterisk_conf" / "extensions.conf"
    plan = parse_dialplan(parse_config(conf, resolve=sample_resolver))
    found = plan.find_exten("cac311-callback-manual", PHONE)
    assert found is not None
    jump = plan.contexts["cac311-callback-manual"][found][-1]
    assert (jump.app, jump.args) == ("Goto", "cac311-outbound,${EXTEN},1")
    steps = plan.contexts["cac311-outbound"][plan.find_exten("cac311-outbound", PHONE)]
    # Each national-plan pattern keeps the number and goes to the one "dial" extension.
    assert [(s.app, s.args) for s in steps] == [
        ("Set", "CAC311_OUTBOUND_NUMBER=${EXTEN}"),
        ("Goto", "dial,1"),
    ]
    apps = [(s.app, s.args) for s in plan.contexts["cac311-outbound"]["dial"]]
    dial = next(i for i, (app, _) in enumerate(apps) if app == "Dial")
    assert apps[dial][1].startswith("PJSIP/${CAC311_OUTBOUND_NUMBER}@${CAC311_TRUNK}")
    assert ("Set", "CALLERID(num)=${CAC311_CALLERID_NUM}") in apps[:dial]


@pytest.fixture
async def sim_control():
    outcomes = {"PJSIP/1001": ANSWERED}
    sim = AmiSimulator(originate_policy=lambda channel: outcomes.get(channel, NO_ANSWER))
    await sim.start()
    client = AmiClient(
        AmiConfig(
            host="127.0.0.1",
            port=sim.port,
            username="cac311",
            secret="s3cret",
            action_timeout=1.0,
            connect_timeout=1.0,
            backoff_min=0.05,
            backoff_max=0.3,
        ),
        rng=random.Random(1),
    )
    await client.start()
    await client.wait_up(3)
    yield sim, AmiQueueControl({"pbx1": client})
    await client.stop()
    await sim.stop()


async def test_given_ami_when_manual_callback_then_async_originate_of_the_agent_phone(sim_control):
    sim, control = sim_control
    await control.originate_manual_callback("PJSIP/1001", PHONE, 42)
    originate = [m for m in sim.actions if m.get("Action") == "Originate"][-1]
    assert originate.get("Channel") == "PJSIP/1001"
    assert originate.get("Context") == "cac311-callback-manual"
    assert (originate.get("Exten"), originate.get("Priority")) == (PHONE, "1")
    assert originate.get("Async", "").lower() == "true"
    assert originate.get_all("Variable") == ["CAC311_CALLBACK_ID=42"]
    assert "311" in (originate.get("CallerID") or "")
    with pytest.raises(ManualCallFailed):
        await control.originate_manual_callback("PJSIP/1002", PHONE, 42)  # nobody answers
    with pytest.raises(ValueError):
        await control.originate_manual_callback("PJSIP/1001", "6123\r\nAction: Hangup", 42)


async def test_given_a_long_manual_call_when_the_scheduler_runs_then_it_is_left_to_its_agent(
    seeded, panama
):
    from case_core.db.models import CallbackRow
    from case_core.domain.callbacks import make_policy
    from case_core.services.callbacks import schedule_callbacks

    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    async with seeded() as uow:
        entity = await uow.directory.entity_by_code("IDAAN")
    for action_id in ("manual-1-1-u1", "cb-2-1"):  # one live callback per case and kind
        case = await register_case(
            seeded,
            RegisterCase(
                type=CaseType.QUEJA,
                channel=Channel.TELEFONO,
                entity_id=entity.id,
                service_id=None,
                description="Fuga en la acera.",
                contact_phone="61234567",
            ),
            actor=Actor(None, "agente1", Role.AGENT),
            now=now - timedelta(days=2),
            tz=panama,
        )
        async with seeded() as uow:
            uow.session.add(
                CallbackRow(
                    case_id=case.id,
                    kind="seguimiento",
                    phone="+50761234567",
                    window_start_at=now - timedelta(days=2),
                    window_end_at=now + timedelta(days=20),
                    status="en_curso",
                    attempts=1,
                    action_id=action_id,
                    last_attempt_at=now - timedelta(hours=1),
                )
            )
            await uow.commit()
    await schedule_callbacks(seeded, now, policy=make_policy(panama))
    async with seeded() as uow:
        rows = {r.action_id: r.status for r in (await uow.session.scalars(select(CallbackRow)))}
    assert rows["manual-1-1-u1"] == "en_curso"
    assert rows["cb-2-1"] != "en_curso"  # a lost automatic attempt is resolved
