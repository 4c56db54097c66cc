"""Case form, directory search, read-back and queue actions through the desktop."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from agent_desktop.pop_bus import publish_pop
from case_core.db.models import CallRow, CaseRow, CitizenRow
from case_core.services.screen_pop import build_pop
from tests.integration.test_desktop_support import (  # noqa: F401
    START,
    make_desktop_fixture,
    next_message,
    other_process_fixture,
)

desktop = make_desktop_fixture()
PANAMA = ZoneInfo("America/Panama")
CHANNEL = "Local/312@cac311-inbound-0000000c;2"
AGENT_CHANNEL = "PJSIP/1001-00000007"


async def _service(uow_factory, entity="IDAAN", code="falta-agua"):
    async with uow_factory() as uow:
        e = await uow.directory.entity_by_code(entity)
        return await uow.directory.service_by_code(e.id, code)


async def _call_and_pop(uow_factory, interface="PJSIP/1001") -> tuple[int, int]:
    async with uow_factory() as uow:
        call = CallRow(
            server="pbx1",
            uniqueid="1795475283.27",
            linkedid="1795475264.24",
            caller_number="69990000",
            queue="cac311",
            entered_at=START - timedelta(seconds=20),
            answered_at=START,
            agent_interface=interface,
        )
        uow.session.add(call)
        await uow.commit()
    pop = await build_pop(
        uow_factory,
        call_uniqueid="1795475283.27",
        linkedid="1795475264.24",
        caller_number="69990000",
        agent_interface=interface,
        ivr_variables={"CAC311_INTENT": "queja"},
        connected_at=START,
        caller_channel=CHANNEL,
        server="pbx1",
        agent_channel=AGENT_CHANNEL,
    )
    return call.id, await publish_pop(uow_factory, pop, now=START)


async def test_given_pop_when_agent_saves_the_form_then_case_links_call_and_times_it(
    desktop, other_process
):
    call_id, pop_id = await _call_and_pop(other_process)
    service = await _service(desktop.uow_factory)
    agent = await desktop.login("agente1", form=False)
    desktop.clock.advance(seconds=95)
    response = await agent.post(
        "/casos",
        {
            "pop_id": str(pop_id),
            "tipo": "queja",
            "servicio_id": str(service.id),
            "descripcion": "No llega agua a la barriada desde hace tres días.",
            "provincia": "Panamá",
            "distrito": "San Miguelito",
            "corregimiento": "Belisario Porras",
            "cedula": "8-765-4321",
            "nombre": "Rosa",
            "apellido": "Núñez",
            "telefono": "6999-0000",
        },
    )
    assert response.status == 200, await response.text()
    data = await response.json()
    assert data["number"] == "2026000001" and data["number_spaced"] == "2026 000 001"
    assert data["status_label"] == "Asignado"
    async with desktop.uow_factory() as uow:
        case = await uow.cases.by_number(data["number"])
        citizen = await uow.citizens.by_cedula("8-765-4321")
        agent_row = await uow.users.by_username("agente1")
    assert case.call_id == call_id and case.pop_to_save_seconds == 95.0
    assert case.channel == "telefono" and case.entity_id == service.entity_id
    assert case.citizen_id == citizen.id and case.registered_by_user_id == agent_row.id
    assert case.corregimiento == "Belisario Porras" and case.contact_phone == "+50769990000"
    assert [p.e164 for p in citizen.phones] == ["+50769990000"]


async def test_given_consulta_answered_from_articles_then_closed_at_first_contact(desktop):
    service = await _service(desktop.uow_factory, code="facturacion")
    agent = await desktop.login("agente1", form=False)
    articles = await (await agent.client.get(f"/api/servicios/{service.id}/articulos")).json()
    assert "Cómo reclamar una factura de agua" in [a["title"] for a in articles["articles"]]
    response = await agent.post(
        "/casos",
        {
            "tipo": "consulta",
            "servicio_id": str(service.id),
            "descripcion": "Pregunta cómo reclamar su factura.",
            "resuelta_primer_contacto": "1",
        },
    )
    data = await response.json()
    assert data["status_label"] == "Cerrado"
    async with desktop.uow_factory() as uow:
        case = await uow.cases.by_number(data["number"])
    assert case.resolved_at_first_contact and case.call_id is None and case.citizen_id is None


async def test_given_anonymous_denuncia_then_no_citizen_is_saved(desktop):
    service = await _service(desktop.uow_factory)
    agent = await desktop.login("agente1", form=False)
    response = await agent.post(
        "/casos",
        {
            "tipo": "denuncia",
            "servicio_id": str(service.id),
            "descripcion": "Conexión ilegal en la calle 5.",
            "anonimo": "1",
            "cedula": "8-765-4321",
            "nombre": "Rosa",
        },
    )
    assert response.status == 200, await response.text()
    async with desktop.uow_factory() as uow:
        case = await uow.session.scalar(select(CaseRow))
        citizens = (await uow.session.scalars(select(CitizenRow.cedula))).all()
    assert case.anonymous and case.confidential and case.citizen_id is None
    assert "8-765-4321" not in citizens


async def test_given_pop_of_another_agent_when_saving_then_403(desktop, other_process):
    _, pop_id = await _call_and_pop(other_process, interface="PJSIP/1002")
    service = await _service(desktop.uow_factory)
    agent = await desktop.login("agente1", form=False)
    response = await agent.post(
        "/casos",
        {"pop_id": str(pop_id), "tipo": "queja", "servicio_id": str(service.id),
         "descripcion": "Descripción suficiente."},
    )  # fmt: skip
    assert response.status == 403
    assert (await response.json())["error"] == "Esa llamada no fue atendida por usted."


async def test_given_a_few_letters_then_services_are_found_by_name_or_entity(desktop):
    agent = await desktop.login("agente1", form=False)
    found = await (await agent.client.get("/api/servicios?q=idaan agua")).json()
    labels = [r["label"] for r in found["results"]]
    assert labels and all(r["entity_short"] == "IDAAN" for r in found["results"])
    assert (await (await agent.client.get("/api/servicios?q=a")).json()) == {"results": []}


async def test_given_saved_case_when_reading_back_then_caller_channel_is_redirected(
    desktop, other_process
):
    _, pop_id = await _call_and_pop(other_process)
    service = await _service(desktop.uow_factory)
    agent = await desktop.login("agente1", form=False)
    saved = await (
        await agent.post(
            "/casos",
            {"pop_id": str(pop_id), "tipo": "queja", "servicio_id": str(service.id),
             "descripcion": "Descripción suficiente."},
        )
    ).json()  # fmt: skip
    number = saved["number"]
    ok = await agent.post("/casos/leer", {"pop_id": str(pop_id), "numero": number})
    assert ok.status == 200 and (await ok.json())["ok"]
    assert desktop.queue.calls == [("redirect_to_readback", CHANNEL, number)]
    # The agent's leg goes along so the read-back keeps the agent on the line.
    assert desktop.queue.readback_agent_channels == [AGENT_CHANNEL]
    desktop.queue.fail = True
    down = await agent.post("/casos/leer", {"pop_id": str(pop_id), "numero": number})
    assert down.status == 502 and "lea el número usted mismo" in (await down.json())["error"]
    bad = await agent.post("/casos/leer", {"pop_id": str(pop_id), "numero": "12"})
    assert bad.status == 400


async def test_given_agent_when_using_queue_buttons_then_queue_control_is_asked(desktop):
    agent = await desktop.login("agente1", form=False)
    for action, reason in (("join", ""), ("pause", "almuerzo"), ("resume", ""), ("leave", "")):
        response = await agent.post("/agente/cola", {"accion": action, "motivo": reason})
        assert response.status == 200, await response.text()
    assert desktop.queue.calls == [
        ("queue_add", "cac311", "PJSIP/1001", "Ana Batista"),
        ("queue_pause", "cac311", "PJSIP/1001", True, "almuerzo"),
        ("queue_pause", "cac311", "PJSIP/1001", False, ""),
        ("queue_remove", "cac311", "PJSIP/1001"),
    ]
    no_reason = await agent.post("/agente/cola", {"accion": "pause", "motivo": "siesta"})
    assert no_reason.status == 400
    assert (await no_reason.json())["error"] == "Elija el motivo de la pausa."
    desktop.queue.fail = True
    down = await agent.post("/agente/cola", {"accion": "join"})
    assert down.status == 502 and "central telefónica" in (await down.json())["error"]


async def test_given_websocket_commands_then_csrf_is_required(desktop):
    agent = await desktop.login("agente1", form=False)
    ws = await agent.ws()
    await next_message(ws, "hello")
    await ws.send_json({"type": "queue", "action": "join"})
    refused = await next_message(ws, "result")
    assert not refused["ok"] and desktop.queue.calls == []
    await ws.send_json({"type": "queue", "action": "pause", "reason": "bano", "csrf": agent.csrf})
    accepted = await next_message(ws, "result")
    assert accepted["ok"], accepted
    assert desktop.queue.calls == [("queue_pause", "cac311", "PJSIP/1001", True, "bano")]
    await ws.send_str("not json")
    assert not (await next_message(ws, "result"))["ok"]
    await ws.close()


async def test_given_citizen_then_search_and_page_show_identity_cases_and_calls(desktop):
    async with desktop.uow_factory() as uow:
        juan = await uow.citizens.by_cedula("8-123-4567")
        uow.session.add(
            CallRow(uniqueid="7.1", caller_number="+50761234567", entered_at=START,
                    talk_seconds=125, hold_seconds=12, agent_name="Ana Batista")
        )  # fmt: skip
        await uow.commit()
    agent = await desktop.login("agente1", form=False)
    search = await (await agent.client.get("/ciudadanos?q=Pérez")).text()
    assert f'href="/ciudadanos/{juan.id}"' in search and "Juan Pérez" in search
    api = await (await agent.client.get("/api/ciudadanos?q=8-123-45")).json()
    assert [r["id"] for r in api["results"]] == [juan.id]
    page = await (await agent.client.get(f"/ciudadanos/{juan.id}")).text()
    assert "+50761234567" in page and "Bella Vista" in page
    assert "02/11/2026 10:00" in page and "125" in page  # call time in America/Panama
    missing = await agent.client.get("/ciudadanos/999999")
    assert missing.status == 404 and "El ciudadano no existe." in await missing.text()


async def test_given_a_saved_case_then_the_agent_sees_a_tracking_code_that_is_stored_hashed(
    desktop,
):
    from case_core.domain.tracking import verify_tracking_code

    service = await _service(desktop.uow_factory)
    agent = await desktop.login("agente1", form=False)
    response = await agent.post(
        "/casos",
        {
            "tipo": "queja",
            "servicio_id": str(service.id),
            "descripcion": "No llega agua a la barriada.",
            "correo": "rosa@example.org",
        },
    )
    data = await response.json()
    code = data["tracking_code"]
    assert len(code) == 6 and code.isdigit()
    assert data["tracking_code_spaced"] == f"{code[:3]} {code[3:]}"
    async with desktop.uow_factory() as uow:
        case = await uow.cases.by_number(data["number"])
    assert code not in case.tracking_code_hash and verify_tracking_code(
        code, case.tracking_code_hash
    )
    assert case.contact_email == "rosa@example.org"


async def test_given_a_walk_in_during_a_call_then_the_case_is_not_linked_to_the_call(
    desktop, other_process
):
    _, pop_id = await _call_and_pop(other_process)
    service = await _service(desktop.uow_factory)
    agent = await desktop.login("agente1", form=False)
    for channel in ("presencial", "redes"):
        response = await agent.post(
            "/casos",
            {
                "pop_id": str(pop_id),
                "canal": channel,
                "tipo": "queja",
                "servicio_id": str(service.id),
                "descripcion": "Reclamo presentado en ventanilla.",
            },
        )
        data = await response.json()
        assert data["channel"] == channel and data["call_id"] is None
        async with desktop.uow_factory() as uow:
            case = await uow.cases.by_number(data["number"])
        assert case.channel == channel and case.call_id is None
    bad = await agent.post(
        "/casos",
        {"canal": "fax", "tipo": "queja", "servicio_id": str(service.id), "descripcion": "x" * 9},
    )
    assert bad.status == 400 and "canal" in (await bad.json())["error"]


async def test_given_a_lost_code_when_the_agent_makes_a_new_one_then_only_it_opens_the_case(
    desktop,
):
    from case_core.db.models import OutboundMailRow
    from case_core.services.case_status import private_status

    service = await _service(desktop.uow_factory)
    agent = await desktop.login("agente1", form=False)
    saved = await (
        await agent.post(
            "/casos",
            {
                "tipo": "queja",
                "servicio_id": str(service.id),
                "descripcion": "No llega agua a la barriada.",
                "cedula": "8-765-4321",
                "nombre": "Rosa",
                "correo": "rosa@example.org",
            },
        )
    ).json()
    page = await agent.client.get(f"/ciudadanos/{saved['citizen_id']}")
    assert 'action="/casos/codigo"' in await page.text()
    renewed = await agent.post("/casos/codigo", {"numero": saved["number"]})
    assert renewed.status == 200
    data = await renewed.json()
    new, old = data["tracking_code"], saved["tracking_code"]
    assert new != old and data["emailed"] is True

    async def lookup(code: str):
        return await private_status(
            desktop.uow_factory,
            number=saved["number"],
            secret=code,
            source="t:1",
            now=desktop.clock(),
            tz=PANAMA,
        )

    assert await lookup(new) is not None
    assert await lookup(old) is None
    async with desktop.uow_factory() as uow:
        mails = (
            await uow.session.scalars(select(OutboundMailRow).order_by(OutboundMailRow.id))
        ).all()
        history = await uow.cases.history(saved["case_id"])
    assert [m.kind for m in mails] == ["caso_registrado", "caso_codigo"]
    assert f"{new[:3]} {new[3:]}" in mails[1].body
    note = history[-1]
    assert note.kind == "note" and not note.public and new not in (note.note or "")
    liaison = await desktop.login("enlace.idaan", form=False)
    refused = await liaison.post("/casos/codigo", {"numero": saved["number"]})
    assert refused.status == 403
