"""E-mail intake against a real SMTP conversation on loopback: a message becomes a
``correo`` case with its attachment, and the sender gets number and code by real SMTP."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import aiosmtplib
import pytest
from sqlalchemy import select

from case_core.db.models import CaseAttachmentRow, CaseRow
from case_core.domain.roles import Actor, Role
from case_core.domain.tracking import verify_tracking_code
from case_core.services.case_status import private_status
from case_core.services.cases import classify_case
from mailer.delivery import deliver_due_mail
from mailer.intake import TO_CLASSIFY_CODE, IntakeConfig, start_intake_server

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
PANAMA = ZoneInfo("America/Panama")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
async def intake(seeded, tmp_path):
    server = await start_intake_server(
        seeded,
        IntakeConfig(domain="311.gob.pa", attachments_dir=tmp_path, tz=PANAMA),
        host="127.0.0.1",
        port=0,
        clock=lambda: NOW,
    )
    port = server.sockets[0].getsockname()[1]
    yield port, tmp_path
    server.close()
    await server.wait_closed()


def _message(**headers) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Rosa Núñez <rosa@example.org>")
    msg["To"] = "casos@311.gob.pa"
    msg["Subject"] = "Basura acumulada en la esquina"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Hace una semana no pasa el camión de la basura por la calle 5.")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="nota.pdf")
    return msg


async def _send(port, msg, sender="rosa@example.org", rcpt="casos@311.gob.pa"):
    return await aiosmtplib.send(
        msg, hostname="127.0.0.1", port=port, sender=sender, recipients=[rcpt], timeout=10
    )


async def test_a_message_becomes_a_correo_case_with_its_attachment_and_an_answer(
    intake, seeded, smtp_server
):
    port, base = intake
    _, reply = await _send(port, _message())
    number = re.search(r"caso (\d{10})", reply).group(1)
    async with seeded() as uow:
        case = await uow.cases.by_number(number)
        entity = await uow.directory.entity(case.entity_id)
        files = (
            await uow.session.scalars(
                select(CaseAttachmentRow)
                .where(CaseAttachmentRow.case_id == case.id)
                .order_by(CaseAttachmentRow.id)
            )
        ).all()
    assert case.channel == "correo" and case.status == "registrado"
    assert entity.code == TO_CLASSIFY_CODE
    assert "Basura acumulada" in case.description and "camión de la basura" in case.description
    assert case.contact_email == "rosa@example.org" and case.declared_name == "Rosa Núñez"
    assert [(f.filename, f.content_type) for f in files] == [
        ("mensaje.eml", "message/rfc822"),
        ("nota.pdf", "application/pdf"),
    ]
    assert (base / files[1].relative_path).read_bytes() == PDF
    assert (await deliver_due_mail(seeded, smtp_server.settings, now=NOW)) == 1
    await smtp_server.wait_for(1)
    answer = smtp_server.messages[0]
    assert answer["To"] == "rosa@example.org" and number in answer["Subject"]
    code = re.search(r"Código de seguimiento: (\d{3}) (\d{3})", answer.get_content())
    code = code.group(1) + code.group(2)
    assert verify_tracking_code(code, case.tracking_code_hash)
    # The agent classifies it; the citizen can follow it with the code from the answer.
    async with seeded() as uow:
        mupa = await uow.directory.entity_by_code("MUPA")
        service = await uow.directory.service_by_code(mupa.id, "aseo")
    assert service is not None
    await classify_case(
        seeded,
        case_id=case.id,
        service_id=service.id,
        case_type="queja",
        actor=Actor(None, "agente1", Role.AGENT),
        now=NOW,
        tz=PANAMA,
    )
    status = await private_status(
        seeded, number=number, secret=code, source="web:1", now=NOW, tz=PANAMA
    )
    assert status.status_label == "Asignado" and status.entity_code == "MUPA"


async def test_other_domains_are_refused_and_robots_get_no_answer(intake, seeded, smtp_server):
    port, _ = intake
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await _send(port, _message(), rcpt="alguien@otro.example")
    await _send(port, _message(Auto_Submitted="auto-replied"))
    await _send(port, _message(From="MAILER-DAEMON <postmaster@example.org>"), sender="")
    async with seeded() as uow:
        cases = (await uow.session.scalars(select(CaseRow))).all()
    assert len(cases) == 2 and all(c.contact_email is None for c in cases)
    assert (await deliver_due_mail(seeded, smtp_server.settings, now=NOW)) == 0


async def test_agents_classify_e_mail_cases_from_their_queue(intake, seeded, engine):
    port, _ = intake
    _, reply = await _send(port, _message())
    number = re.search(r"caso (\d{10})", reply).group(1)
    from aiohttp.test_utils import TestServer

    from agent_desktop.app import LISTENER, init_app
    from cac311.config import Settings
    from tests.integration.test_desktop_support import CSRF_RE, Desktop, FakeClock, FakeQueueControl

    app = init_app(
        Settings(recordings_dir=intake[1]),
        uow_factory=seeded,
        engine=engine,
        queue_control=FakeQueueControl(),
        clock=FakeClock(NOW),
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        await asyncio.wait_for(app[LISTENER].connected.wait(), 5)
        desk = Desktop(app, server, FakeClock(NOW), FakeQueueControl(), seeded)
        agent = await desk.login("agente1", form=False)
        page = await agent.client.get("/correo/por-clasificar", params={"q": "basura"})
        html = await page.text()
        assert page.status == 200 and f"Caso {number}" in html and "nota.pdf" in html
        async with seeded() as uow:
            case = await uow.cases.by_number(number)
            mupa = await uow.directory.entity_by_code("MUPA")
            service = await uow.directory.service_by_code(mupa.id, "aseo")
        pdf_link = re.search(r'href="(/casos/\d+/adjuntos/\d+)">nota.pdf', html).group(1)
        got = await agent.client.get(pdf_link)
        assert got.status == 200 and await got.read() == PDF  # nobody registered it: agents may
        csrf = CSRF_RE.search(html).group(1)
        done = await agent.client.post(
            f"/casos/{case.id}/clasificar",
            data={"csrf_token": csrf, "tipo": "queja", "servicio_id": str(service.id)},
            allow_redirects=False,
        )
        assert done.status == 303
        async with seeded() as uow:
            case = await uow.cases.by_number(number)
        assert (case.status, case.type, case.entity_id) == ("asignado", "queja", mupa.id)
        again = await agent.client.get("/correo/por-clasificar")
        assert f"Caso {number}" not in await again.text()
        for client in desk.clients:
            await client.close()
    finally:
        await server.close()


async def test_serve_runs_the_intake_part_when_configured(seeded, migrated_database, tmp_path):
    from cac311.bootstrap import running_parts
    from cac311.config import HostPort, Settings

    settings = Settings(
        database_url=migrated_database,
        intake_bind=HostPort("127.0.0.1", 0),
        intake_domain="311.gob.pa",
        recordings_dir=tmp_path,
        health_bind=HostPort("127.0.0.1", 0),
    )
    async with running_parts(settings, {"intake"}) as rt:
        _, reply = await _send(rt.ports["intake"], _message())
        assert re.search(r"caso \d{10}", reply)
    unconfigured = Settings(database_url=migrated_database, health_bind=HostPort("127.0.0.1", 0))
    async with running_parts(unconfigured, {"intake"}) as rt:
        assert "intake" not in rt.ports
