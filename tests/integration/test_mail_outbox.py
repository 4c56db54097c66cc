"""The mail outbox: queued in the caller's transaction, delivered over real SMTP, retried."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from case_core.db.models.mail import OutboundMailRow
from case_core.services.mail import RETRY_DELAYS, enqueue_mail
from mailer.delivery import deliver_due_mail

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


async def _queue(uow_factory, *, to="ana@example.com", key=None, commit=True):
    async with uow_factory() as uow:
        mail_id = await enqueue_mail(
            uow.session,
            to=to,
            subject="Su caso 2026000007 cambió de estado",
            body="Estimada ciudadana: su caso está en atención. Año, niño, canción.",
            kind="notificacion",
            now=NOW,
            dedupe_key=key,
        )
        if commit:
            await uow.commit()
    return mail_id


async def _rows(uow_factory):
    async with uow_factory() as uow:
        return list((await uow.session.execute(select(OutboundMailRow))).scalars())


async def test_a_queued_message_reaches_the_smtp_server_with_its_spanish_text(
    uow_factory, smtp_server
):
    await _queue(uow_factory)
    sent = await deliver_due_mail(uow_factory, smtp_server.settings, now=NOW)
    assert sent == 1
    (message,) = await smtp_server.wait_for(1)
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "Su caso 2026000007 cambió de estado"
    assert "Año, niño, canción." in message.get_content()
    (row,) = await _rows(uow_factory)
    assert (row.status, row.attempts, row.sent_at) == ("enviado", 1, NOW)
    # Sent once only: a second run finds nothing due.
    assert await deliver_due_mail(uow_factory, smtp_server.settings, now=NOW) == 0


async def test_a_message_of_a_rolled_back_transaction_is_never_sent(uow_factory, smtp_server):
    await _queue(uow_factory, commit=False)
    assert await deliver_due_mail(uow_factory, smtp_server.settings, now=NOW) == 0
    assert await _rows(uow_factory) == []


async def test_the_same_dedupe_key_queues_one_message(uow_factory):
    assert await _queue(uow_factory, key="escalamiento:7:riesgo") is not None
    assert await _queue(uow_factory, key="escalamiento:7:riesgo") is None
    assert len(await _rows(uow_factory)) == 1


async def test_a_server_that_is_down_leaves_the_message_queued_until_it_is_back(
    uow_factory, smtp_server
):
    await _queue(uow_factory)
    settings = smtp_server.settings
    await smtp_server.stop()
    assert await deliver_due_mail(uow_factory, settings, now=NOW) == 0
    (row,) = await _rows(uow_factory)
    assert (row.status, row.attempts, row.last_error) == ("pendiente", 1, "SMTPConnectError")
    assert row.next_attempt_at == NOW + RETRY_DELAYS[0]

    await smtp_server.start()
    # Not due yet: nothing is sent before the retry time.
    assert await deliver_due_mail(uow_factory, settings, now=NOW + timedelta(seconds=1)) == 0
    assert await deliver_due_mail(uow_factory, settings, now=row.next_attempt_at) == 1
    await smtp_server.wait_for(1)
    (row,) = await _rows(uow_factory)
    assert (row.status, row.attempts) == ("enviado", 2)


async def test_two_senders_at_once_send_each_message_once(uow_factory, smtp_server):
    for n in range(20):
        await _queue(uow_factory, to=f"persona{n}@example.com")
    settings = dataclasses.replace(smtp_server.settings)
    counts = await asyncio.gather(
        deliver_due_mail(uow_factory, settings, now=NOW, limit=7),
        deliver_due_mail(uow_factory, settings, now=NOW, limit=7),
        deliver_due_mail(uow_factory, settings, now=NOW, limit=7),
    )
    total = sum(counts)
    while total < 20:  # whatever the first three runs left
        total += await deliver_due_mail(uow_factory, settings, now=NOW)
    await smtp_server.wait_for(20)
    recipients = sorted(rcpt for _sender, rcpts in smtp_server.envelopes for rcpt in rcpts)
    assert recipients == sorted(f"persona{n}@example.com" for n in range(20))


async def test_an_address_with_a_header_break_is_refused(uow_factory):
    import pytest

    with pytest.raises(ValueError):
        await _queue(uow_factory, to="ana@example.com\r\nBcc: x@y.com")
