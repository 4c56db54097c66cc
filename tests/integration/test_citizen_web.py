"""The citizen web (/ciudadano/) over HTTP against PostgreSQL: filing with photos, following
with the tracking code, abuse controls, attachment access and the citizen's e-mails."""

from __future__ import annotations

import re
from datetime import timedelta

from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from case_core.db.models import AttachmentAccessRow, CaseAttachmentRow, CaseRow, CitizenRow
from case_core.domain.case import CaseAction
from case_core.domain.roles import Actor, Role
from case_core.services.cases import act_on_case, add_note
from mailer.delivery import deliver_due_mail
from tests.integration.citizen_support import make_web_fixture
from tests.integration.test_desktop_support import START

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ENVIO = re.compile(r'name="envio" value="([^"]+)"')
JPEG = (
    b"\xff\xd8"  # SOI, APP0 (JFIF), SOS with a little entropy-coded data, EOI
    + b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\xff\xda\x00\x04\x01\x00"
    + b"\x12\x34" * 100
    + b"\xff\xd9"
)
EXIF = b"\xff\xe1\x00\x1dExif\x00\x00GPS 8.98N 79.52W Rosa"
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + b"\x00\x00\x00\x0dIHDR"
    + b"\x00\x00\x00\x01" * 2
    + b"\x08\x00\x00\x00\x00"
    + b"0000"
    + b"\x00\x00\x00\x00IEND"
    + b"0000"
)


web = make_web_fixture()
proxied = make_web_fixture(trusted_proxies=("127.0.0.1",))


async def _service_id(uow_factory, entity="IDAAN", code="fuga") -> int:
    async with uow_factory() as uow:
        e = await uow.directory.entity_by_code(entity)
        return (await uow.directory.service_by_code(e.id, code)).id


async def _form_page(client: TestClient, query: str = "fuga") -> tuple[str, str, str]:
    page = await client.get("/ciudadano/nuevo", params={"q": query})
    assert page.status == 200
    html = await page.text()
    return html, CSRF.search(html).group(1), ENVIO.search(html).group(1)


def _filing(csrf: str, envio: str, service_id: int, **over) -> FormData:
    fields = {
        "csrf_token": csrf,
        "envio": envio,
        "servicio_id": str(service_id),
        "tipo": "queja",
        "descripcion": "Hay una fuga de agua frente a la escuela.",
        "provincia": "Panamá",
        "distrito": "Panamá",
        "corregimiento": "Bella Vista",
        "direccion": "Calle 50, frente a la escuela",
        "latitud": "8.9824",
        "longitud": "-79.5199",
        "nombre": "Rosa Núñez",
        "cedula": "8-765-4321",
        "telefono": "6999-0000",
        "correo": "rosa@example.org",
    }
    fields.update(over)
    form = FormData()
    for name, value in fields.items():
        if value is not None:
            form.add_field(name, value)
    return form


async def _file(client, service_id, *, photos=(), **over):
    _, csrf, envio = await _form_page(client)
    form = _filing(csrf, envio, service_id, **over)
    for name, data, ctype in photos:
        form.add_field("fotos", data, filename=name, content_type=ctype)
    return await client.post("/ciudadano/nuevo", data=form)


def _number_and_code(html: str) -> tuple[str, str]:
    number = re.search(r'id="numero-caso">(\d{10})<', html).group(1)
    code = re.search(r'id="codigo-seguimiento">(\d{3} \d{3})<', html).group(1)
    return number, code.replace(" ", "")


async def _follow(client, number, code):
    page = await client.get("/ciudadano/consulta")
    csrf = CSRF.search(await page.text()).group(1)
    return await client.post(
        "/ciudadano/consulta", data={"csrf_token": csrf, "numero": number, "codigo": code}
    )


async def test_search_ignores_accents_and_case(web):
    client = await web.client()
    html, _, _ = await _form_page(client, "TUBERIA rota")
    assert "Fuga o tubería rota" in html
    html, _, _ = await _form_page(client, "acueductos")
    assert "Falta de agua potable" in html


async def test_filing_with_a_photo_then_following_shows_the_public_timeline(web, seeded, tmp_path):
    client = await web.client()
    service_id = await _service_id(seeded)
    with_exif = JPEG[:2] + EXIF + JPEG[2:]
    response = await _file(client, service_id, photos=[("fuga.jpg", with_exif, "image/jpeg")])
    assert response.status == 200, await response.text()
    html = await response.text()
    number, code = _number_and_code(html)
    async with seeded() as uow:
        case = await uow.cases.by_number(number)
        photos = (
            await uow.session.scalars(
                select(CaseAttachmentRow).where(CaseAttachmentRow.case_id == case.id)
            )
        ).all()
        citizens = (await uow.session.scalars(select(CitizenRow))).all()
    assert case.channel == "web" and case.latitude == 8.9824 and case.longitude == -79.5199
    assert case.declared_name == "Rosa Núñez" and case.declared_cedula == "8-765-4321"
    assert case.citizen_id is None  # an unverified cédula never touches the registry
    assert not [c for c in citizens if c.cedula == "8-765-4321"]
    assert len(photos) == 1 and photos[0].content_type == "image/jpeg"
    # Stored without its EXIF segment (GPS, owner), the image itself byte for byte.
    assert (tmp_path / photos[0].relative_path).read_bytes() == JPEG
    assert "fuga" not in photos[0].relative_path  # the citizen's file name is not a path

    liaison = Actor(None, "enlace_idaan", Role.LIAISON, entity_id=case.entity_id)
    await add_note(
        seeded,
        case_id=case.id,
        actor=liaison,
        note="Cuadrilla asignada para mañana.",
        public=True,
        now=START + timedelta(hours=2),
    )
    await add_note(
        seeded,
        case_id=case.id,
        actor=liaison,
        note="Nota interna del enlace.",
        public=False,
        now=START + timedelta(hours=3),
    )
    page = await _follow(client, number, code)
    assert page.status == 200
    text = await page.text()
    assert "Asignado" in text and "Instituto de Acueductos" in text
    assert "Cuadrilla asignada para mañana." in text
    assert "Nota interna" not in text and "enlace_idaan" not in text


async def test_a_wrong_code_and_an_unknown_number_get_the_same_answer(web, seeded):
    client = await web.client()
    response = await _file(client, await _service_id(seeded))
    number, code = _number_and_code(await response.text())
    wrong = await _follow(client, number, f"{(int(code) + 1) % 10**6:06d}")
    unknown = await _follow(client, "2026999999", code)
    assert wrong.status == unknown.status == 404
    assert "no coinciden" in await wrong.text()
    assert "Instituto de Acueductos" not in await wrong.text()


async def test_failed_lookups_are_limited_per_ip(web, seeded):
    client = await web.client()
    response = await _file(client, await _service_id(seeded))
    number, code = _number_and_code(await response.text())
    for attempt in range(5):
        assert (
            await _follow(
                client, number, f"{attempt:06d}" if f"{attempt:06d}" != code else "999999"
            )
        ).status == 404
    locked = await _follow(client, number, code)
    assert locked.status == 429 and "Demasiados intentos" in await locked.text()


async def test_an_anonymous_denuncia_hides_the_entity_and_keeps_no_identity(web, seeded):
    client = await web.client()
    response = await _file(
        client,
        await _service_id(seeded),
        tipo="denuncia",
        anonimo="1",
        descripcion="Venta de agua contaminada en el barrio.",
    )
    assert response.status == 200, await response.text()
    number, code = _number_and_code(await response.text())
    async with seeded() as uow:
        case = await uow.cases.by_number(number)
    assert case.anonymous and case.confidential
    assert (case.declared_name, case.declared_cedula, case.contact_email, case.contact_phone) == (
        None,
        None,
        None,
        None,
    )
    text = await (await _follow(client, number, code)).text()
    assert "Asignado" in text
    assert "Instituto de Acueductos" not in text and "IDAAN" not in text


async def test_anonymous_is_only_for_a_denuncia_and_identity_needs_a_contact(web, seeded):
    client = await web.client()
    service_id = await _service_id(seeded)
    refused = await _file(client, service_id, anonimo="1")
    assert refused.status == 400 and "Solo una denuncia" in await refused.text()
    no_contact = await _file(client, service_id, telefono="", correo="")
    assert no_contact.status == 400 and "teléfono o un correo" in await no_contact.text()
    # What the citizen typed comes back in the form.
    assert "Hay una fuga de agua frente a la escuela." in await no_contact.text()


async def test_abuse_controls_csrf_honeypot_double_submit_and_photo_checks(web, seeded):
    client = await web.client()
    service_id = await _service_id(seeded)
    _, csrf, envio = await _form_page(client)
    no_csrf = await client.post("/ciudadano/nuevo", data=_filing("x", envio, service_id))
    assert no_csrf.status == 400 and "caducó" in await no_csrf.text()
    bot = await _file(client, service_id, sitio_web="http://spam.example")
    assert bot.status == 400
    first = await client.post("/ciudadano/nuevo", data=_filing(csrf, envio, service_id))
    again = await client.post("/ciudadano/nuevo", data=_filing(csrf, envio, service_id))
    assert first.status == 200 and again.status == 400
    assert "ya fue enviado" in await again.text()
    not_image = await _file(
        client, service_id, photos=[("x.jpg", b"MZ\x90\x00" * 50, "image/jpeg")]
    )
    assert not_image.status == 400 and "JPEG, PNG o WebP" in await not_image.text()
    big = b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024 + 10)
    too_big = await _file(client, service_id, photos=[("big.jpg", big, "image/jpeg")])
    assert too_big.status == 400 and "5 MB" in await too_big.text()
    four = [("f.jpg", JPEG, "image/jpeg")] * 4
    too_many = await _file(client, service_id, photos=four)
    assert too_many.status == 400 and "como máximo 3 fotos" in await too_many.text()
    async with seeded() as uow:
        count = len((await uow.session.scalars(select(CaseRow))).all())
    assert count == 1  # only the first of the double submission


async def test_filings_are_limited_per_ip(web, seeded):
    client = await web.client()
    service_id = await _service_id(seeded)
    for _ in range(10):
        assert (await _file(client, service_id)).status == 200
    limited = await _file(client, service_id)
    assert limited.status == 400 and "demasiados casos" in await limited.text()


async def test_attachments_follow_the_recording_rules_and_are_audited(web, seeded):
    client = await web.client()
    response = await _file(
        client,
        await _service_id(seeded),
        photos=[("a.png", PNG, "image/png")],
    )
    number, _ = _number_and_code(await response.text())
    async with seeded() as uow:
        case = await uow.cases.by_number(number)
        att = (
            await uow.session.scalars(
                select(CaseAttachmentRow).where(CaseAttachmentRow.case_id == case.id)
            )
        ).one()
    url = f"/casos/{case.id}/adjuntos/{att.id}"
    from case_core.services.citizen_cases import case_attachments

    assert [a.url for a in await case_attachments(seeded, case.id)] == [url]
    assert (await client.get(url)).status == 401
    supervisor = await web.login("supervisor", form=False)
    got = await supervisor.client.get(url)
    assert got.status == 200 and (await got.read()).startswith(b"\x89PNG")
    assert got.headers["Content-Disposition"].startswith("attachment")
    async with seeded() as uow:
        log = (await uow.session.scalars(select(AttachmentAccessRow))).all()
    assert [(r.attachment_id, r.username) for r in log] == [(att.id, "supervisor")]
    other = await web.login("enlace.mupa", form=False)
    assert (await other.client.get(url)).status == 403
    # The entity's liaison finds the photo on the case page and may open it.
    liaison = await web.login("enlace.idaan", form=False)
    page = await liaison.client.get(f"/enlace/casos/{case.id}")
    html = await page.text()
    assert page.status == 200 and f'href="{url}"' in html and "Rosa Núñez" in html
    assert (await liaison.client.get(url)).status == 200


async def test_the_citizen_receives_the_confirmation_and_the_status_change_by_smtp(
    web, seeded, smtp_server
):
    client = await web.client()
    response = await _file(client, await _service_id(seeded))
    number, code = _number_and_code(await response.text())
    async with seeded() as uow:
        case = await uow.cases.by_number(number)
    liaison = Actor(None, "enlace_idaan", Role.LIAISON, entity_id=case.entity_id)
    await act_on_case(
        seeded,
        case_id=case.id,
        action=CaseAction.START,
        actor=liaison,
        now=START + timedelta(hours=1),
        note="Estamos revisando la tubería.",
    )
    sent = await deliver_due_mail(seeded, smtp_server.settings, now=START + timedelta(hours=1))
    assert sent == 2
    await smtp_server.wait_for(2)
    confirmation, notice = smtp_server.messages
    assert confirmation["To"] == notice["To"] == "rosa@example.org"
    body = confirmation.get_content()
    assert number in confirmation["Subject"] and number in body
    assert f"{code[:3]} {code[3:]}" in body
    notice_body = notice.get_content()
    assert "En proceso" in notice_body and "Estamos revisando la tubería." in notice_body
    assert code not in notice_body and f"{code[:3]} {code[3:]}" not in notice_body


async def test_behind_a_trusted_proxy_each_citizen_has_their_own_limit(proxied, seeded):
    client = await proxied.client()
    response = await _file(client, await _service_id(seeded))
    number, code = _number_and_code(await response.text())
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    async def follow_as(ip: str, secret: str):
        page = await client.get("/ciudadano/consulta")
        csrf = CSRF.search(await page.text()).group(1)
        return await client.post(
            "/ciudadano/consulta",
            data={"csrf_token": csrf, "numero": number, "codigo": secret},
            headers={"X-Forwarded-For": f"203.0.113.9, {ip}"},
        )

    for _ in range(5):
        assert (await follow_as("198.51.100.1", wrong)).status == 404
    assert (await follow_as("198.51.100.1", code)).status == 429
    assert (await follow_as("198.51.100.2", code)).status == 200


async def test_without_a_trusted_proxy_a_forged_forwarded_for_changes_nothing(web, seeded):
    client = await web.client()
    response = await _file(client, await _service_id(seeded))
    number, code = _number_and_code(await response.text())
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for n in range(5):
        page = await client.get("/ciudadano/consulta")
        csrf = CSRF.search(await page.text()).group(1)
        await client.post(
            "/ciudadano/consulta",
            data={"csrf_token": csrf, "numero": number, "codigo": wrong},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        )
    assert (await _follow(client, number, code)).status == 429
