"""Open311 GeoReport v2 over HTTP, both formats, every method and its errors, and no
personal data or confidential case through GET."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import select

from case_core.db.models import CaseRow, Open311PostRow
from case_core.domain.case import CaseAction, CaseType, Channel
from case_core.domain.roles import Actor, Role
from case_core.services.api_keys import create_api_key, revoke_api_key
from case_core.services.cases import RegisterCase, act_on_case, add_note, register_case
from case_core.services.citizens import CitizenData, save_citizen
from tests.integration.citizen_support import make_web_fixture
from tests.integration.test_desktop_support import START

ROOT = Path(__file__).resolve().parents[2]
web = make_web_fixture()
FORMATS = ["json", "xml"]
PERSONAL = ("Rosa", "Núñez", "8-765-4321", "6999", "rosa@example.org", "frente a mi casa")


def _parse(fmt: str, text: str):
    """The body as plain Python: JSON as is; XML back to lists/dicts by the same rules."""
    if fmt == "json":
        return json.loads(text)
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(text)
    return _element(root)


LISTS = {"services", "service_requests", "errors", "attributes", "values", "endpoints", "formats"}


def _element(el):
    if el.tag in LISTS:
        return [_element(c) for c in el]
    if len(el) == 0:
        return el.text
    return {c.tag: _element(c) for c in el}


async def _get(client, path, fmt, **params):
    response = await client.get(f"{path}.{fmt}", params=params)
    expected = "application/json" if fmt == "json" else "text/xml"
    assert response.content_type == expected and response.charset == "utf-8"
    return response.status, _parse(fmt, await response.text()), await response.text()


async def _post(client, fmt, data):
    response = await client.post(f"/open311/v2/requests.{fmt}", data=data)
    return response.status, _parse(fmt, await response.text())


async def _service(uow_factory, entity="IDAAN", code="fuga"):
    async with uow_factory() as uow:
        e = await uow.directory.entity_by_code(entity)
        return await uow.directory.service_by_code(e.id, code)


async def _cases(seeded):
    """A public case with a public and an internal note, a confidential one, an anonymous one."""
    service = await _service(seeded)
    citizen_id = await save_citizen(
        seeded,
        CitizenData(
            cedula="8-765-4321",
            first_name="Rosa",
            last_name="Núñez",
            phone="6999-0000",
            email="rosa@example.org",
        ),
    )
    agent = Actor(None, "agente1", Role.AGENT)

    async def make(**kw):
        return await register_case(
            seeded,
            RegisterCase(
                type=kw.pop("type", CaseType.QUEJA),
                channel=Channel.TELEFONO,
                entity_id=service.entity_id,
                service_id=service.id,
                description="Fuga frente a mi casa, llamen a Rosa Núñez al 6999-0000.",
                address="Calle 50",
                corregimiento="Bella Vista",
                province="Panamá",
                **{"contact_phone": "6999-0000", **kw},
            ),
            actor=agent,
            now=kw.pop("now", START),
            tz=seeded_tz,
        )

    public = await make(citizen_id=citizen_id, latitude=8.98, longitude=-79.52)
    liaison = Actor(None, "enlace.idaan", Role.LIAISON, entity_id=service.entity_id)
    await act_on_case(
        seeded,
        case_id=public.id,
        action=CaseAction.START,
        actor=liaison,
        now=START + timedelta(hours=1),
    )
    await add_note(
        seeded,
        case_id=public.id,
        actor=liaison,
        note="Cuadrilla en camino.",
        public=True,
        now=START + timedelta(hours=2),
    )
    await add_note(
        seeded,
        case_id=public.id,
        actor=liaison,
        note="interno: revisar",
        public=False,
        now=START + timedelta(hours=3),
    )
    confidential = await make(type=CaseType.DENUNCIA, confidential=True, citizen_id=citizen_id)
    anonymous = await make(type=CaseType.DENUNCIA, anonymous=True, contact_phone=None)
    return service, public, confidential, anonymous


from zoneinfo import ZoneInfo  # noqa: E402

seeded_tz = ZoneInfo("America/Panama")


@pytest.mark.parametrize("fmt", FORMATS)
async def test_discovery_lists_the_v2_endpoint(web, fmt):
    client = await web.client()
    status, body, _ = await _get(client, "/open311/discovery", fmt)
    assert status == 200
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_services_and_a_service_definition(web, seeded, fmt):
    client = await web.client()
    service = await _service(seeded)
    status, body, _ = await _get(client, "/open311/v2/services", fmt, jurisdiction_id="311.gob.pa")
    assert status == 200
    mine = [s for s in body if s["service_code"] == str(service.id)]
    assert len(mine) == 1
    s = mine[0]
    assert s["service_name"] == "Fuga o tubería rota" and s["type"] == "realtime"
    assert s["group"] == "Instituto de Acueductos y Alcantarillados Nacionales"
    assert s["metadata"] in (True, "true") and "IDAAN" in s["keywords"]
    status, definition, _ = await _get(client, f"/open311/v2/services/{service.id}", fmt)
    assert status == 200 and definition["service_code"] == str(service.id)
    (attribute,) = definition["attributes"]
    assert attribute["code"] == "tipo" and attribute["datatype"] == "singlevaluelist"
    assert {v["key"] for v in attribute["values"]} == {t.value for t in CaseType}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/open311/v2/services/999999", {}, 404),
        ("/open311/v2/services/abc", {}, 404),
        ("/open311/v2/services", {"jurisdiction_id": "otra.gob.pa"}, 404),
        ("/open311/v2/requests", {"start_date": "ayer"}, 400),
        ("/open311/v2/requests", {"end_date": "2026-11-02T10:00:00"}, 400),
        (
            "/open311/v2/requests",
            {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},
            400,
        ),
        (
            "/open311/v2/requests",
            {"start_date": "2026-11-02T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},
            400,
        ),
        ("/open311/v2/requests", {"status": "perdido"}, 400),
        ("/open311/v2/requests", {"service_code": "x1"}, 400),
        ("/open311/v2/requests", {"service_request_id": "2026000001,12"}, 400),
        ("/open311/v2/requests", {"page_size": "5000"}, 400),
        ("/open311/v2/requests", {"page": "0"}, 400),
        ("/open311/v2/requests/12ab", {}, 400),
        ("/open311/v2/requests/2026999999", {}, 404),
        ("/open311/v2/requests/2026000001", {"jurisdiction_id": "otra.gob.pa"}, 404),
    ],
)
async def test_get_errors_are_the_specs_list_of_code_and_description(
    web, fmt, path, params, status
):
    client = await web.client()
    got, body, _ = await _get(client, path, fmt, **params)
    assert got == status
    assert isinstance(body, list) and len(body) == 1
    assert int(body[0]["code"]) == status and body[0]["description"]


async def test_an_unknown_format_is_an_xml_error(web):
    client = await web.client()
    response = await client.get("/open311/v2/services.csv")
    assert response.status == 404 and response.content_type == "text/xml"
    assert _parse("xml", await response.text())[0]["code"] == "404"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_requests_list_public_cases_only_and_no_personal_data(web, seeded, fmt):
    service, public, confidential, anonymous = await _cases(seeded)
    client = await web.client()
    status, body, raw = await _get(client, "/open311/v2/requests", fmt)
    assert status == 200
    assert [r["service_request_id"] for r in body] == [public.number]
    r = body[0]
    assert r["status"] == "open" and r["status_notes"] == "Cuadrilla en camino."
    assert r["agency_responsible"] == "Instituto de Acueductos y Alcantarillados Nacionales"
    assert r["service_code"] == str(service.id) and r["service_name"] == "Fuga o tubería rota"
    assert r["requested_datetime"] == "2026-11-02T10:00:00-05:00"
    assert r["updated_datetime"] == "2026-11-02T11:00:00-05:00"
    assert r["expected_datetime"].endswith("-05:00")
    assert r["address"] == "Calle 50, Bella Vista, Panamá"
    assert float(r["lat"]) == 8.98 and float(r["long"]) == -79.52
    for secret in PERSONAL + ("interno", confidential.number, anonymous.number):
        assert secret not in raw
    # Asked by number, the confidential and anonymous cases still do not exist.
    ids = ",".join((public.number, confidential.number, anonymous.number))
    _, listed, _ = await _get(client, "/open311/v2/requests", fmt, service_request_id=ids)
    assert [x["service_request_id"] for x in listed] == [public.number]
    for number in (confidential.number, anonymous.number):
        got, err, _ = await _get(client, f"/open311/v2/requests/{number}", fmt)
        assert got == 404 and int(err[0]["code"]) == 404
    got, one, raw_one = await _get(client, f"/open311/v2/requests/{public.number}", fmt)
    assert got == 200 and one[0]["service_request_id"] == public.number
    assert not any(secret in raw_one for secret in PERSONAL)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_request_filters_statuses_and_paging(web, seeded, fmt):
    service, public, *_ = await _cases(seeded)
    other = await _service(seeded, "IDAAN", "falta-agua")
    agent = Actor(None, "agente1", Role.AGENT)
    closed = await register_case(
        seeded,
        RegisterCase(
            type=CaseType.CONSULTA,
            channel=Channel.TELEFONO,
            entity_id=other.entity_id,
            service_id=other.id,
            description="Consulta respondida.",
            resolved_at_first_contact=True,
        ),
        actor=agent,
        now=START + timedelta(days=1),
        tz=seeded_tz,
    )
    web.clock.advance(days=2)
    client = await web.client()

    async def numbers(**params):
        status, body, _ = await _get(client, "/open311/v2/requests", fmt, **params)
        assert status == 200
        return [r["service_request_id"] for r in body]

    assert await numbers() == [closed.number, public.number]
    assert await numbers(status="closed") == [closed.number]
    assert await numbers(status="open") == [public.number]
    assert await numbers(status="open,closed") == [closed.number, public.number]
    assert await numbers(service_code=str(service.id)) == [public.number]
    assert await numbers(
        start_date="2026-11-03T00:00:00-05:00", end_date="2026-11-30T00:00:00Z"
    ) == [closed.number]
    assert await numbers(page_size="1") == [closed.number]
    assert await numbers(page_size="1", page="2") == [public.number]
    assert await numbers(page_size="1", page="3") == []
    _, ext, _ = await _get(client, "/open311/v2/requests", fmt, extensions="true")
    assert [r["status"] for r in ext] == ["closed", "in_progress"]
    assert await numbers(status="in_progress") == [public.number]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_post_creates_an_app_case_and_logs_it_with_its_key(web, seeded, fmt):
    key = await create_api_key(seeded, f"app-{fmt}")
    service = await _service(seeded)
    client = await web.client()
    status, body = await _post(
        client,
        fmt,
        {
            "api_key": key,
            "jurisdiction_id": "311.gob.pa",
            "service_code": str(service.id),
            "lat": "8.9824",
            "long": "-79.5199",
            "address_string": "Vía España",
            "attribute[tipo]": "queja",
            "email": "rosa@example.org",
            "first_name": "Rosa",
            "last_name": "Núñez",
            "phone": "6999-0000",
            "description": "Fuga de agua en la vía.",
            "media_url": "https://fotos.example/1.jpg",
        },
    )
    assert status == 200, body
    (created,) = body
    number = created["service_request_id"]
    assert "Código de seguimiento" in created["service_notice"]
    async with seeded() as uow:
        case = await uow.cases.by_number(number)
        log = (await uow.session.scalars(select(Open311PostRow))).all()
    assert case.channel == "app" and case.type == "queja" and case.latitude == 8.9824
    assert case.declared_name == "Rosa Núñez" and case.contact_email == "rosa@example.org"
    assert case.citizen_id is None and "https://fotos.example/1.jpg" in case.description
    assert [(r.outcome, r.http_status, r.case_id) for r in log] == [("creado", 200, case.id)]
    assert log[0].api_key_id is not None


@pytest.mark.parametrize("fmt", FORMATS)
async def test_post_errors_are_refused_and_logged(web, seeded, fmt):
    key = await create_api_key(seeded, "errores", requests_per_hour=9)
    revoked = await create_api_key(seeded, "vieja")
    await revoke_api_key(seeded, "vieja", now=START)
    service = await _service(seeded)
    good = {
        "api_key": key,
        "service_code": str(service.id),
        "lat": "8.98",
        "long": "-79.52",
        "description": "Fuga de agua en la vía.",
    }
    client = await web.client()
    cases = [
        ({k: v for k, v in good.items() if k != "api_key"}, 403),
        ({**good, "api_key": "o311_falsa"}, 403),
        ({**good, "api_key": revoked}, 403),
        ({**good, "jurisdiction_id": "otra.gob.pa"}, 404),
        ({k: v for k, v in good.items() if k != "service_code"}, 400),
        ({**good, "service_code": "999999"}, 404),
        ({k: v for k, v in good.items() if k not in ("lat", "long")}, 400),
        ({**good, "lat": "norte"}, 400),
        ({**good, "long": ""}, 400),
        ({**good, "attribute[tipo]": "reclamo"}, 400),
        ({**good, "description": "x"}, 400),
        ({**good, "attribute[tipo]": "sugerencia", "description": "Una sugerencia valiosa."}, 200),
    ]
    for data, expected in cases:
        status, body = await _post(client, fmt, data)
        assert status == expected, (data, body)
        if expected != 200:
            assert int(body[0]["code"]) == expected and body[0]["description"]
    # The key's hourly limit (9 POSTs with it) is reached: the next POST is refused.
    status, body = await _post(client, fmt, good)
    assert status == 429 and int(body[0]["code"]) == 429
    async with seeded() as uow:
        log = (await uow.session.scalars(select(Open311PostRow).order_by(Open311PostRow.id))).all()
        cases_made = (await uow.session.scalars(select(CaseRow))).all()
    assert [r.http_status for r in log] == [c[1] for c in cases] + [429]
    assert len(cases_made) == 1
    assert log[0].api_key_id is None and all(r.api_key_id is not None for r in log[3:])


async def test_cli_creates_lists_and_revokes_keys(migrated_database, uow_factory):
    env = {**os.environ, "CAC311_DATABASE_URL": migrated_database}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "cac311.cli", "open311", "keys", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    created = run("create", "app-movil", "--per-hour", "30")
    assert created.returncode == 0, created.stderr
    key = next(line.strip() for line in created.stdout.splitlines() if "o311_" in line)
    listed = run("list")
    assert "app-movil" in listed.stdout and "30/h" in listed.stdout and "activa" in listed.stdout
    assert key not in listed.stdout
    async with uow_factory() as uow:
        from case_core.db.models import Open311KeyRow

        row = (await uow.session.scalars(select(Open311KeyRow))).one()
    assert key not in row.key_hash and len(row.key_hash) == 64
    assert run("create", "app-movil").returncode == 1
    assert run("revoke", "app-movil").returncode == 0
    assert "revocada" in run("list").stdout
