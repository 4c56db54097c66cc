"""SMTP settings and one message sent with aiosmtplib."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib


@dataclass(frozen=True)
class SmtpSettings:
    """Where cac311 hands its mail (the institution's relay). ``host`` empty = not configured:
    messages stay queued until it is."""

    host: str
    port: int = 25
    sender: str = "3-1-1 Panamá <no-responder@311.gob.pa>"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 10.0


def build_message(settings: SmtpSettings, *, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    domain = settings.sender.rpartition("@")[2].rstrip(">") or "311.gob.pa"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Content-Language"] = "es-PA"
    message.set_content(body)
    return message


async def send_message(settings: SmtpSettings, message: EmailMessage) -> None:
    """Send one message; raises aiosmtplib errors (the caller decides whether to retry)."""
    await aiosmtplib.send(
        message,
        hostname=settings.host,
        port=settings.port,
        username=settings.username,
        password=settings.password,
        start_tls=settings.starttls,
        timeout=settings.timeout,
    )
