"""Escalation reaches people: one e-mail per level (Enlace Operativo → Enlace Ejecutivo →
3-1-1 supervisor) through the outbox, delivered by a real SMTP server on loopback, and
retried after the server was down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from case_core.db.models import UserRow
from case_core.db.models.mail import OutboundMailRow
from case_core.services.escalation_mail import escalate_and_notify
from mailer.delivery import deliver_due_mail
from tests.integration.test_desktop_support import START
from tests.integration.test_liaison import _register

ORIGIN = "https://cac311.example.pa"


async def _people(uow_factory) -> None:
    """E-mails for the IDAAN Enlace Operativo and the supervisor; an IDAAN Enlace Ejecutivo;
    the MUPA liaison has an e-mail too (and must get nothing about an IDAAN case)."""
    async with uow_factory() as uow:
        s = uow.session
        idaan = await uow.directory.entity_by_code("IDAAN")
        for username, email in (
            ("enlace.idaan", "operativo@idaan.test"),
            ("enlace.mupa", "operativo@mupa.test"),
            ("supervisor", "supervision@311.test"),
            ("admin", "no es un correo"),  # ignored: admins are not in the chain anyway
        ):
            await s.execute(update(UserRow).where(UserRow.username == username).values(email=email))
        s.add(
            UserRow(
                username="ejecutivo.idaan",
                full_name="Marta Ríos",
                role="liaison_exec",
                entity_id=idaan.id,
                password_hash="x",
                email="ejecutivo@idaan.test",
            )
        )
        # a second supervisor whose address is unusable: skipped, the job goes on
        s.add(
            UserRow(
                username="supervisor2",
                full_name="Supervisor sin correo válido",
                role="supervisor",
                password_hash="x",
                email="supervisor2 at 311",
            )
        )
        await uow.commit()


async def _queued(uow_factory) -> list[OutboundMailRow]:
    async with uow_factory() as uow:
        return list(
            (await uow.session.scalars(select(OutboundMailRow).order_by(OutboundMailRow.id))).all()
        )


async def _run(uow_factory, panama, now):
    return await escalate_and_notify(uow_factory, now, panama, public_origin=ORIGIN)


async def test_given_an_untouched_case_then_each_level_mails_the_next_person_once(
    seeded, panama, smtp_server
):
    await _people(seeded)
    case = await _register(seeded, panama, entity="IDAAN", service="falta-agua", hours_ago=0)
    # 2 Nov 10:00 + 25 h: no first action (Operativo); 5 Nov 00:00, the last day of a 3-day
    # SLA: at risk (Ejecutivo); 6 Nov 01:00: overdue (supervisor).
    moments = (
        START + timedelta(hours=25),
        datetime(2026, 11, 5, 5, 0, tzinfo=UTC),
        datetime(2026, 11, 6, 6, 0, tzinfo=UTC),
    )
    for now in moments:
        report = await _run(seeded, panama, now)
        assert report.total == 1
        assert (await _run(seeded, panama, now + timedelta(minutes=10))).total == 0
    queued = await _queued(seeded)
    assert [m.to_address for m in queued] == [
        "operativo@idaan.test",
        "ejecutivo@idaan.test",
        "supervision@311.test",
    ]

    # The mail server is down: nothing is delivered, nothing is lost, the job is not blocked.
    await smtp_server.stop()
    last = moments[-1]
    assert await deliver_due_mail(seeded, smtp_server.settings, now=last) == 0
    assert (await _run(seeded, panama, last + timedelta(minutes=1))).total == 0  # still runs
    pending = await _queued(seeded)
    assert all(m.status == "pendiente" and m.attempts >= 1 for m in pending[:1])
    assert not smtp_server.messages

    # Back up: the retry delivers one message per level.
    await smtp_server.start()
    later = last + timedelta(minutes=5)
    delivered = 0
    for step in range(5):  # a batch stops at an unreachable server; retry until all are sent
        delivered += await deliver_due_mail(
            seeded, smtp_server.settings, now=later + timedelta(minutes=step)
        )
        if delivered == 3:
            break
    messages = await smtp_server.wait_for(3)
    assert delivered == 3 and len(messages) == 3
    by_to = {m["To"]: m for m in messages}
    assert set(by_to) == {"operativo@idaan.test", "ejecutivo@idaan.test", "supervision@311.test"}
    first = by_to["operativo@idaan.test"]
    assert first["Subject"] == f"Caso {case.number} sin primera acción (24 horas)"
    body = first.get_content()
    assert f"{ORIGIN}/enlace/casos/{case.id}" in body
    assert "24 horas" in body and "3 días calendario" in body
    assert "No llega agua" not in body  # the description stays in the system
    risk = by_to["ejecutivo@idaan.test"]
    assert risk["Subject"] == f"Caso {case.number} en riesgo de vencer"
    assert "Vence hoy, 05/11/2026." in risk.get_content()
    overdue = by_to["supervision@311.test"]
    assert overdue["Subject"] == f"Caso {case.number} vencido"
    assert f"{ORIGIN}/casos/{case.number}" in overdue.get_content()
    assert "hace 1 día calendario" in overdue.get_content()
    assert all(m.status == "enviado" for m in await _queued(seeded))
