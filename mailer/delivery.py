"""Deliver the due messages of the outbox, one SMTP transaction each, retrying failures.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` inside one database transaction per batch, so
several processes may run this at once and no message is sent twice. A mail server that is
down costs one connection timeout per batch and leaves the messages queued for the next try.
"""

from __future__ import annotations

import logging
from datetime import datetime

import aiosmtplib

from case_core.db.uow import UnitOfWorkFactory
from case_core.services.mail import claim_due_mail, mark_failed, mark_sent
from mailer.smtp import SmtpSettings, build_message, send_message

log = logging.getLogger(__name__)
UNREACHABLE = (OSError, aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError)


def _is_permanent(error: Exception) -> bool:
    """5xx replies to the recipient or the message are permanent; anything else is retried."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= r.code < 600 for r in error.recipients)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return 500 <= error.code < 600 and not isinstance(error, aiosmtplib.SMTPAuthenticationError)
    return False


async def deliver_due_mail(
    uow_factory: UnitOfWorkFactory, smtp: SmtpSettings, *, now: datetime, limit: int = 50
) -> int:
    """Send what is due; return how many messages were accepted by the server."""
    if not smtp.host:
        return 0
    sent = 0
    async with uow_factory() as uow:
        batch = await claim_due_mail(uow.session, now=now, limit=limit)
        for mail in batch:
            message = build_message(smtp, to=mail.to, subject=mail.subject, body=mail.body)
            try:
                await send_message(smtp, message)
            except (aiosmtplib.SMTPException, OSError) as err:
                permanent = _is_permanent(err)
                # The error names neither the recipient nor the text: nothing personal in logs.
                log.warning(
                    "mail %d not delivered (attempt %d, %s): %s",
                    mail.id,
                    mail.attempts + 1,
                    "permanent" if permanent else "will retry",
                    type(err).__name__,
                )
                await mark_failed(
                    uow.session, mail, now=now, error=type(err).__name__, permanent=permanent
                )
                if isinstance(err, UNREACHABLE):
                    break  # the server is unreachable: leave the rest for the next run
                continue
            await mark_sent(uow.session, mail.id, now=now)
            sent += 1
        await uow.commit()
    return sent
