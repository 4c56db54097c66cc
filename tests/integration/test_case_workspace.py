"""The case workspace over HTTP: case page, global search, actions, queues, access
(real PostgreSQL, aiohttp TestServer)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from case_core.db.models import CaseHistoryRow, CaseRow
from case_core.domain.case import CaseAction, CaseType, Channel
from case_core.domain.roles import Actor, Role
from case_core.services.callbacks import record_survey_answer
from case_core.services.cases import RegisterCase, act_on_case, register_case
from case_core.services.citizens import CitizenData, save_citizen
from tests.integration.test_desktop_support import (  # noqa: F401
    START,
    make_desktop_fixture,
    other_process_fixture,
)
from tests.integration.test_liaison import _browser

desktop = make_desktop_fixture()


async def _actor(uow_factory, username: str) -> Actor:
    async with uow_factory() as uow:
        u = await uow.users.by_username(username)
    return Actor(u.id, u.username, Role(u.role), u.entity_id)


async def _register(
    desktop,
    *,
    entity="IDAAN",
    service="falta-agua",
    citizen_id=None,
    case_type=CaseType.QUEJA,
    anonymous=False,
    hours_ago=0.0,
    phone=None,
):
    async with desktop.uow_factory() as uow:
        e = await uow.directory.entity_by_code(entity)
        s = await uow.directory.service_by_code(e.id, service)
    return await register_case(
        desktop.uow_factory,
        RegisterCase(
            type=case_type,
            channel=Channel.TELEFONO,
            entity_id=e.id,
            service_id=s.id,
            description="No llega agua desde el lunes en la calle 5.",
            citizen_id=citizen_id,
            anonymous=anonymous,
            confidential=anonymous,
            contact_phone=phone,
            province="Panamá",
            district="San Miguelito",
        ),
        actor=await _actor(desktop.uow_factory, "agente1"),
        now=START - timedelta(hours=hours_ago),
        tz=desktop.app["desktop_settings"].tz if False else _tz(),
    )


def _tz():
    from zoneinfo import ZoneInfo

    return ZoneInfo("America/Panama")


async def _citizen(desktop) -> int:
    return await save_citizen(
        desktop.uow_factory,
        CitizenData(
            cedula="8-123-456", first_name="José", last_name="Muñoz Pérez", phone="6123-4567"
        ),
    )


async def _seven_cases(desktop):
    citizen_id = await _citizen(desktop)
    cases = [await _register(desktop, hours_ago=10 - i) for i in range(6)]
    cases.append(await _register(desktop, citizen_id=citizen_id, hours_ago=1))
    assert cases[-1].number == "2026000007"
    return citizen_id, cases


async def test_given_a_case_then_its_page_shows_identity_clock_and_timeline(desktop):
    citizen_id, cases = await _seven_cases(desktop)
    supervisor = await _browser(desktop, "supervisor", page="/escritorio")
    assert (await supervisor.get("/casos/7")).status == 404  # not a case number
    assert (await supervisor.get("/casos/2026999999")).status == 404
    page = await supervisor.get("/casos/2026000007")
    text = await page.text()
    assert page.status == 200
    assert "José Muñoz Pérez" in text and "8-123-456" in text and "+50761234567" in text
    assert f'href="/ciudadanos/{citizen_id}"' in text
    assert "Instituto de Acueductos" in text or "IDAAN" in text
    assert "Falta de agua potable" in text and "San Miguelito, Panamá" in text
    assert "3 días calendario" in text and "hábiles" not in text
    assert "Registrado: Registrado → Asignado" not in text  # the first status has no "from"
    assert "Asignación: Registrado → Asignado" in text
    assert 'action="/casos/2026000007/nota"' in text and "Reasignar" not in text  # not returned
    spaced = await supervisor.get("/casos/2026 000 007")
    assert spaced.status == 302 and spaced.headers["Location"] == "/casos/2026000007"


async def test_given_queries_then_the_global_search_finds_the_case(desktop):
    _, cases = await _seven_cases(desktop)
    agent = await _browser(desktop, "agente1", page="/escritorio")
    for query in ("2026000007", "2026 000 007"):
        response = await agent.get(f"/buscar?q={query}")
        assert response.status == 303 and response.headers["Location"] == "/casos/2026000007"
    for query in ("8-123-456", "61234567", "6123-4567", "jose munoz", "MUÑOZ"):
        response = await agent.get(f"/buscar?q={query}")
        text = await response.text()
        assert response.status == 200, query
        assert 'href="/casos/2026000007"' in text, query
        assert 'href="/casos/2026000001"' not in text, query  # not the citizen's case
    nothing = await (await agent.get("/buscar?q=Zzyzx")).text()
    assert "No se encontró nada" in nothing
    desk = await (await agent.get("/escritorio")).text()
    assert 'action="/buscar"' in desk and 'href="/colas"' in desk  # on every desktop page


async def test_given_a_returned_case_then_supervisor_reassigns_it_from_the_queue(desktop):
    c = await _register(desktop, hours_ago=2)
    idaan = await _browser(desktop, "enlace.idaan")
    r = await idaan.post(f"/enlace/casos/{c.id}/devolver", {"motivo": "Es basura, no agua."})
    assert r.status == 303
    supervisor = await _browser(desktop, "supervisor", page="/escritorio")
    queues = await (await supervisor.get("/colas")).text()
    assert re.search(r'data-cola="devueltos">1<', queues)
    assert "Es basura, no agua." in queues and f'href="/casos/{c.number}"' in queues
    page = await (await supervisor.get(f"/casos/{c.number}")).text()
    assert "Reasignar" in page
    async with desktop.uow_factory() as uow:
        mupa = await uow.directory.entity_by_code("MUPA")
        aseo = await uow.directory.service_by_code(mupa.id, "aseo")
    desktop.clock.advance(hours=1)
    r = await supervisor.post(
        f"/casos/{c.number}/reasignar", {"servicio": str(aseo.id), "motivo": "Es de aseo."}
    )
    assert r.status == 303 and r.headers["Location"] == f"/casos/{c.number}?hecho=reasignar"
    async with desktop.uow_factory() as uow:
        row = await uow.cases.get(c.id)
    assert (row.status, row.entity_id, row.service_id) == ("asignado", mupa.id, aseo.id)
    assert row.assigned_at == desktop.clock.now and row.sla_days == 5
    # a second click on the same form: the transition table refuses it, nothing changes
    again = await supervisor.post(f"/casos/{c.number}/reasignar", {"servicio": str(aseo.id)})
    assert again.status == 400 and "No se puede" in await again.text()
    queues = await (await supervisor.get("/colas")).text()
    assert re.search(r'data-cola="devueltos">0<', queues)
    # the new liaison sees it with the new due date; the old one no longer
    mupa_liaison = await _browser(desktop, "enlace.mupa")
    listing = await (await mupa_liaison.get("/enlace")).text()
    assert c.number in listing and "07/11/2026" in listing  # 2 Nov 11:00 + 5 days
    row_html = listing[listing.index(f'data-caso="{c.number}"') :]
    row_html = row_html[: row_html.index("</tr>")]
    assert "quedan 24 h de 24" in row_html  # MUPA's 24 h run from the reassignment
    assert c.number not in await (await idaan.get("/enlace")).text()


async def test_given_a_negative_survey_then_review_queue_and_reopen_with_count(desktop):
    c = await _register(desktop, hours_ago=30)
    liaison = await _actor(desktop.uow_factory, "enlace.idaan")
    await act_on_case(
        desktop.uow_factory,
        case_id=c.id,
        action=CaseAction.CLOSE,
        actor=liaison,
        now=START - timedelta(hours=1),
        note="Reparado.",
    )
    from case_core.db.models import CallbackRow

    async with desktop.uow_factory() as uow:
        cb = CallbackRow(
            case_id=c.id,
            kind="satisfaccion",
            phone="+50761234567",
            window_start_at=START - timedelta(hours=1),
            window_end_at=START + timedelta(days=3),
            status="en_curso",
        )
        uow.session.add(cb)
        await uow.commit()
    await record_survey_answer(desktop.uow_factory, cb.id, "resuelto", "2", START)
    supervisor = await _browser(desktop, "supervisor", page="/escritorio")
    queues = await (await supervisor.get("/colas?cola=revision")).text()
    assert re.search(r'data-cola="revision">1<', queues) and c.number in queues
    page = await (await supervisor.get(f"/casos/{c.number}")).text()
    assert "no se resolvió" in page and "¿Se resolvió su caso?: no" in page
    missing = await supervisor.post(f"/casos/{c.number}/reabrir", {"motivo": ""})
    assert missing.status == 400
    r = await supervisor.post(f"/casos/{c.number}/reabrir", {"motivo": "Encuesta negativa."})
    assert r.status == 303
    async with desktop.uow_factory() as uow:
        row = await uow.cases.get(c.id)
    assert (row.status, row.reopened_count, row.needs_review) == ("en_proceso", 1, False)
    page = await (await supervisor.get(f"/casos/{c.number}")).text()
    assert "reabierto 1 vez" in page and "Reapertura: Cerrado → En proceso" in page
    queues = await (await supervisor.get("/colas")).text()
    assert re.search(r'data-cola="revision">0<', queues)


async def test_given_notes_then_timeline_is_newest_first_with_visibility(desktop):
    c = await _register(desktop)
    agent = await _browser(desktop, "agente1", page="/escritorio")
    await agent.post(f"/casos/{c.number}/nota", {"nota": "Primera nota", "visibilidad": "interna"})
    desktop.clock.advance(minutes=5)
    await agent.post(f"/casos/{c.number}/nota", {"nota": "Segunda nota", "visibilidad": "publica"})
    text = await (await agent.get(f"/casos/{c.number}")).text()
    assert text.index("Segunda nota") < text.index("Primera nota") < text.index("Asignación")
    assert 'Nota pública</strong> <span class="visibilidad">(pública: la ve el ciudadano)' in text
    assert 'Nota interna</strong> <span class="visibilidad">(interna)' in text
    assert 'por <span class="quien">Ana Batista</span>' in text  # who, by full name
    # an agent may not reassign, close or reopen from the page
    assert (await agent.post(f"/casos/{c.number}/cerrar", {"nota": "x"})).status == 403
    # without the CSRF token: refused
    assert (
        await agent.post(
            f"/casos/{c.number}/nota", {"nota": "x", "visibilidad": "interna"}, csrf=False
        )
    ).status == 403


async def test_given_a_duplicate_then_merge_closes_it_into_the_survivor(desktop):
    citizen_id = await _citizen(desktop)
    first = await _register(desktop, citizen_id=citizen_id, hours_ago=5)
    duplicate = await _register(desktop, citizen_id=citizen_id, hours_ago=1)
    other = await _register(desktop, hours_ago=1)
    from case_core.db.models import CallRow

    async with desktop.uow_factory() as uow:  # the duplicate came with its own call
        call = CallRow(uniqueid="1795475283.50", started_at=START - timedelta(hours=1))
        uow.session.add(call)
        await uow.session.flush()
        (await uow.cases.get(duplicate.id)).call_id = call.id
        await uow.commit()
    supervisor = await _browser(desktop, "supervisor", page="/escritorio")
    await supervisor.post(
        f"/casos/{duplicate.number}/nota",
        {"nota": "Llamó otra vez por lo mismo", "visibilidad": "interna"},
    )
    refused = await supervisor.post(f"/casos/{other.number}/fusionar", {"destino": first.number})
    assert refused.status == 400 and "mismo ciudadano" in await refused.text()
    r = await supervisor.post(
        f"/casos/{duplicate.number}/fusionar", {"destino": first.number, "motivo": "Mismo reclamo."}
    )
    assert r.status == 303 and r.headers["Location"].startswith(f"/casos/{first.number}")
    async with desktop.uow_factory() as uow:
        dup = await uow.cases.get(duplicate.id)
    assert dup.status == "cerrado" and dup.merged_into_case_id == first.id
    survivor_page = await (await supervisor.get(f"/casos/{first.number}")).text()
    assert "Llamó otra vez por lo mismo" in survivor_page
    assert f'del duplicado <a href="/casos/{duplicate.number}">' in survivor_page
    call_item = survivor_page[survivor_page.index("Llamada entrante") :]
    assert call_item.index("del duplicado <a") < call_item.index("</li>")
    dup_page = await (await supervisor.get(f"/casos/{duplicate.number}")).text()
    assert f'fusionado en el caso <a href="/casos/{first.number}">' in dup_page


async def test_given_a_sensitive_mark_then_only_those_allowed_open_the_case(desktop):
    c = await _register(desktop)
    supervisor = await _browser(desktop, "supervisor", page="/escritorio")
    r = await supervisor.post(
        f"/casos/{c.number}/marcar",
        {"marca": "sensible", "valor": "si", "motivo": "Salud del menor."},
    )
    assert r.status == 303
    async with desktop.uow_factory() as uow:
        assert (await uow.cases.get(c.id)).sensitive is True
        marks = (
            await uow.session.scalars(
                select(CaseHistoryRow).where(
                    CaseHistoryRow.case_id == c.id, CaseHistoryRow.kind == "mark"
                )
            )
        ).all()
    assert len(marks) == 1 and not marks[0].public and "Salud del menor." in marks[0].note
    agent2 = await _browser(desktop, "agente2", page="/escritorio")
    assert (await agent2.get(f"/casos/{c.number}")).status == 404
    agent1 = await _browser(desktop, "agente1", page="/escritorio")  # registered it
    assert (await agent1.get(f"/casos/{c.number}")).status == 200
    mupa = await _browser(desktop, "enlace.mupa")
    assert (await mupa.get(f"/casos/{c.number}")).status == 404
    idaan = await _browser(desktop, "enlace.idaan")
    assert (await idaan.get(f"/casos/{c.number}")).status == 200


async def test_given_an_anonymous_denuncia_then_its_page_never_shows_the_reporter(desktop):
    c = await _register(desktop, case_type=CaseType.DENUNCIA, anonymous=True, phone="69990001")
    supervisor = await _browser(desktop, "supervisor", page="/escritorio")
    text = await (await supervisor.get(f"/casos/{c.number}")).text()
    assert "identidad reservada" in text and "69990001" not in text and "+50769990001" not in text
    refused = await supervisor.post(
        f"/casos/{c.number}/marcar", {"marca": "confidencial", "valor": "no", "motivo": "x"}
    )
    assert refused.status == 400


async def test_given_queues_then_first_action_and_overdue_list_oldest_first(desktop):
    late = await _register(desktop, hours_ago=24 * 5)  # 3-day SLA: overdue, no first action
    fresh = await _register(desktop, hours_ago=1)
    supervisor = await _browser(desktop, "supervisor", page="/escritorio")
    counts = await (await supervisor.get("/api/colas")).json()
    by_key = {q["clave"]: q["casos"] for q in counts["colas"]}
    assert by_key == {
        "devueltos": 0,
        "revision": 0,
        "escalados": 0,
        "sin_primera_accion": 1,
        "vencidos": 1,
    }
    text = await (await supervisor.get("/colas")).text()
    assert late.number in text and fresh.number not in text
    liaison = await _browser(desktop, "enlace.idaan")
    assert (await liaison.get("/colas")).status == 403
    async with desktop.uow_factory() as uow:
        assert await uow.session.scalar(select(CaseRow.id).where(CaseRow.id == late.id))


async def test_given_a_recorded_call_and_an_ivr_lookup_then_the_timeline_links_by_role(desktop):
    from case_core.db.models import CallRow, IvrSessionRow
    from case_core.db.models.recordings import RecordingRow

    async with desktop.uow_factory() as uow:
        agent1 = await uow.users.by_username("agente1")
        call = CallRow(
            uniqueid="1795475283.27",
            caller_number="+50761234567",
            started_at=START - timedelta(minutes=10),
            talk_seconds=125,
            agent_user_id=agent1.id,
            agent_name="Ana Batista",
        )
        uow.session.add(call)
        await uow.session.flush()
        uow.session.add(
            RecordingRow(call_id=call.id, relative_path="2026/11/02/x.wav", checked_at=START)
        )
        await uow.commit()
    async with desktop.uow_factory() as uow:
        e = await uow.directory.entity_by_code("IDAAN")
        s = await uow.directory.service_by_code(e.id, "falta-agua")
    c = await register_case(
        desktop.uow_factory,
        RegisterCase(
            type=CaseType.QUEJA,
            channel=Channel.TELEFONO,
            entity_id=e.id,
            service_id=s.id,
            description="Fuga de agua en la calle.",
            call_id=call.id,
        ),
        actor=await _actor(desktop.uow_factory, "agente1"),
        now=START - timedelta(minutes=5),
        tz=_tz(),
    )
    async with desktop.uow_factory() as uow:
        uow.session.add(
            IvrSessionRow(
                route="inbound",
                uniqueid="1795479999.1",
                started_at=START,
                case_number=c.number,
                outcome="estado_leido",
            )
        )
        await uow.commit()
    own = await (
        await (await _browser(desktop, "agente1", page="/escritorio")).get(f"/casos/{c.number}")
    ).text()
    assert f'href="/grabaciones/llamada/{call.id}"' in own and "Conversación de 2 min 05 s." in own
    assert "Sesión en el IVR" in own and "Se le leyó el estado del caso." in own
    # newest first: the IVR look-up (now), the registration (5 min ago), the call (10 min ago)
    assert own.index("Sesión en el IVR") < own.index("Asignación") < own.index("Llamada entrante")
    other = await (
        await (await _browser(desktop, "agente2", page="/escritorio")).get(f"/casos/{c.number}")
    ).text()
    assert "/grabaciones/llamada/" not in other
    assert "Grabación disponible solo para quien puede escucharla." in other
    sup = await (
        await (await _browser(desktop, "supervisor", page="/escritorio")).get(f"/casos/{c.number}")
    ).text()
    assert f'href="/grabaciones/llamada/{call.id}"' in sup


async def test_given_a_sensitive_case_then_pop_history_and_recordings_treat_it_as_confidential(
    desktop,
):
    from case_core.db.models import CallRow
    from case_core.services.case_actions import mark_case
    from recordings.repository import RecordingRepository

    citizen_id = await _citizen(desktop)
    async with desktop.uow_factory() as uow:
        call = CallRow(uniqueid="1795475283.99", agent_user_id=None, started_at=START)
        uow.session.add(call)
        await uow.commit()
    async with desktop.uow_factory() as uow:
        e = await uow.directory.entity_by_code("IDAAN")
        s = await uow.directory.service_by_code(e.id, "falta-agua")
    c = await register_case(
        desktop.uow_factory,
        RegisterCase(
            type=CaseType.QUEJA,
            channel=Channel.TELEFONO,
            entity_id=e.id,
            service_id=s.id,
            description="Detalle delicado del caso.",
            citizen_id=citizen_id,
            call_id=call.id,
        ),
        actor=await _actor(desktop.uow_factory, "agente1"),
        now=START,
        tz=_tz(),
    )
    agent2 = await _browser(desktop, "agente2", page="/escritorio")
    card = await (await agent2.client.get(f"/api/ciudadanos/{citizen_id}")).text()
    assert "Detalle delicado del caso." in card  # an ordinary case
    await mark_case(
        desktop.uow_factory,
        case_id=c.id,
        mark="sensible",
        on=True,
        reason="Datos de salud.",
        actor=await _actor(desktop.uow_factory, "supervisor"),
        now=START,
    )
    card = await (await agent2.client.get(f"/api/ciudadanos/{citizen_id}")).text()
    assert "Detalle delicado del caso." not in card and c.number in card
    async with desktop.uow_factory() as uow:
        assert await RecordingRepository(uow.session).case_confidential(call.id) is True


@pytest.fixture
async def reports(seeded, engine):  # type: ignore[no-untyped-def]
    """The desktop with the supervisors' report pages (as the wallboard module wires them)."""
    import asyncio

    from aiohttp.test_utils import TestServer

    from agent_desktop.app import LISTENER, init_app
    from agent_desktop.supervisor import setup_supervisor_report_routes
    from cac311.config import Settings
    from tests.integration.test_desktop_support import Desktop, FakeClock, FakeQueueControl

    clock = FakeClock(START)
    app = init_app(
        Settings(), uow_factory=seeded, engine=engine, queue_control=FakeQueueControl(), clock=clock
    )
    setup_supervisor_report_routes(app)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    await asyncio.wait_for(app[LISTENER].connected.wait(), 5)
    desk = Desktop(app, server, clock, FakeQueueControl(), seeded)
    yield desk
    for client in desk.clients:
        await client.close()
    await server.close()


async def test_given_cases_then_the_supervisor_page_groups_them_by_case_type(reports):
    desktop = reports
    await _register(desktop, hours_ago=2)
    await _register(desktop, case_type=CaseType.SOLICITUD, hours_ago=1)
    supervisor = await _browser(desktop, "supervisor", page="/escritorio")
    page = await supervisor.get("/supervisor/entidades?por=tipo")
    text = await page.text()
    assert page.status == 200 and "<th>Tipo de caso</th>" in text
    assert "<td>Queja</td>" in text and "<td>Solicitud</td>" in text
    csv_text = await (await supervisor.get("/supervisor/entidades?por=tipo&formato=csv")).text()
    header, *rows = csv_text.strip().splitlines()
    assert header.endswith(",tipo")
    assert sorted(r.rsplit(",", 1)[1] for r in rows) == ["queja", "solicitud"]
