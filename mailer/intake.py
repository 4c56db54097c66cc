"""E-mail intake: an SMTP server of ours (aiosmtpd) that turns messages into ``correo`` cases.

Why SMTP rather than reading an IMAP mailbox: the institution's mail relay (which already
does TLS, spam and virus filtering) forwards the intake address to us, and SMTP is
store-and-forward: we answer ``250`` only after the case is committed, and a ``451`` when
the database cannot take it, so the relay keeps the message and retries; nothing is lost
across a restart, and no mailbox password, polling loop or IMAP flag bookkeeping is needed.
The server is not an open relay: it accepts recipients of the intake domain only, and is
meant to listen on a private address reachable by the relay alone.

Each accepted message opens a case (type ``solicitud``, status ``registrado``, the "to
classify" pseudo-entity) with the text of the message and its attachments, and the sender
gets the case number and tracking code, unless the message is automatic (``Auto-Submitted``,
``Precedence: bulk``, a null sender) so that two robots never answer each other forever.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from case_core.db.models import EntityRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.case import CaseType, Channel
from case_core.services import rate_limit
from case_core.services.cases import RegisterCase, register_case
from case_core.services.citizen_cases import ACTORS, AttachmentFile, add_attachments
from case_core.services.mail import looks_like_address
from case_core.services.rate_limit import Limit
from recordings import attachments as files

if TYPE_CHECKING:
    from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)

TO_CLASSIFY_CODE = "CAC311-CLASIFICAR"
TO_CLASSIFY_NAME = "Centro de Atención Ciudadana 3-1-1 (por clasificar)"
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
MAX_ATTACHMENTS = 10
PER_SENDER = Limit("correo_entrante", 20, timedelta(hours=1))
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class IntakeConfig:
    domain: str
    attachments_dir: Path
    tz: ZoneInfo


async def to_classify_entity(uow_factory: UnitOfWorkFactory) -> int:
    """The pseudo-entity of cases no agent has routed yet (created on first use)."""
    async with uow_factory() as uow:
        await uow.session.execute(
            insert(EntityRow)
            .values(
                code=TO_CLASSIFY_CODE,
                name=TO_CLASSIFY_NAME,
                short_name="Por clasificar",
                kind="interna",
                active=True,
            )
            .on_conflict_do_nothing(index_elements=[EntityRow.code])
        )
        entity_id = await uow.session.scalar(
            select(EntityRow.id).where(EntityRow.code == TO_CLASSIFY_CODE)
        )
        await uow.commit()
    assert entity_id is not None
    return entity_id


def is_automatic(message: EmailMessage, mail_from: str) -> bool:
    """RFC 3834: never answer automatic messages or bounces."""
    auto = (message.get("Auto-Submitted") or "no").strip().lower()
    precedence = (message.get("Precedence") or "").strip().lower()
    return (
        auto != "no"
        or precedence in ("bulk", "list", "junk")
        or not mail_from
        or mail_from == "<>"
        or message.get("List-Id") is not None
    )


def message_text(message: EmailMessage) -> str:
    """The plain text of a message (its HTML without tags when there is no text part)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        content = part.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]
    if part.get_content_subtype() == "html":
        content = html.unescape(re.sub(r"<[^>]{0,2000}>", " ", content))
    return "\n".join(line.rstrip() for line in content.splitlines()).strip()


class IntakeHandler:
    """The aiosmtpd handler: RCPT checks the domain, DATA opens the case."""

    def __init__(self, uow_factory: UnitOfWorkFactory, config: IntakeConfig, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.config = config
        self.clock = clock

    async def handle_RCPT(  # noqa: N802 (aiosmtpd API)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        _, _, domain = address.rpartition("@")
        if domain.lower() != self.config.domain:
            return "550 5.7.1 Destinatario no aceptado (no es un relé abierto)"
        if len(envelope.rcpt_tos) >= 5:
            return "452 4.5.3 Demasiados destinatarios"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd API)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            number = await self.receive(raw, envelope.mail_from or "")
        except Exception as err:  # the database or the disk: let the relay retry
            log.warning("intake message not accepted: %s", type(err).__name__)
            return "451 4.3.0 No se pudo registrar el mensaje; intente más tarde"
        if number is None:
            return "250 OK (no se abrió caso)"
        return f"250 OK caso {number}"

    async def receive(self, raw: bytes, mail_from: str) -> str | None:
        """Open the case of one message; returns its number (None when refused quietly)."""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        now = self.clock()
        _, sender = parseaddr(str(message.get("From", "")))
        sender = sender if looks_like_address(sender) else ""
        reply_to = "" if is_automatic(message, mail_from) else sender
        source = f"correo:{(sender or mail_from).lower()}"
        async with self.uow_factory() as uow:
            if await rate_limit.exceeded(uow.session, PER_SENDER, now=now, source=source):
                log.info("intake: sender over its hourly limit, message dropped")
                return None
            await rate_limit.record_event(uow.session, PER_SENDER, now=now, source=source)
            await uow.commit()
        subject = " ".join(str(message.get("Subject", "")).split())[:200]
        body = message_text(message)[:3500]
        description = f"Correo recibido: {subject or '(sin asunto)'}\n\n{body}".strip()
        if len(description) < 5:
            description = "Correo recibido sin texto."
        entity_id = await to_classify_entity(self.uow_factory)
        registered = await register_case(
            self.uow_factory,
            RegisterCase(
                type=CaseType.SOLICITUD,
                channel=Channel.CORREO,
                entity_id=entity_id,
                service_id=None,
                description=description[:4000],
                contact_email=reply_to or None,
                declared_name=_display_name(message) or None,
                assign=False,
            ),
            actor=ACTORS[Channel.CORREO],
            now=now,
            tz=self.config.tz,
        )
        stored = await asyncio.to_thread(self._store_files, raw, message, now)
        await add_attachments(self.uow_factory, registered.id, stored, source="correo")
        # The answer with number and code is the confirmation register_case queued for the
        # contact address; an automatic message has none, so it gets no answer.
        if sender and not reply_to:
            log.info("intake: automatic message, no answer sent")
        log.info("intake: case opened from e-mail with %d file(s)", len(stored) - 1)
        return registered.number

    def _store_files(
        self, raw: bytes, message: EmailMessage, now: datetime
    ) -> list[AttachmentFile]:
        base = self.config.attachments_dir
        out = []
        saved = files.store(base, raw, "eml", now=now)
        out.append(AttachmentFile("mensaje.eml", *_fields(saved)))
        for index, part in enumerate(message.iter_attachments()):
            if index >= MAX_ATTACHMENTS:
                break
            data = part.get_payload(decode=True) or b""
            if not data or len(data) > files.MAX_MAIL_ATTACHMENT_BYTES:
                continue
            kind = files.sniff_any(data) or "bin"
            if kind in files.IMAGE_TYPES:
                try:
                    data = files.strip_metadata(data, kind)
                except files.NotAllowed:
                    kind = "bin"  # kept for the agent, never served as an image
            name = _safe_name(part.get_filename() or f"adjunto-{index + 1}.{kind}")
            saved = files.store(base, data, kind, now=now)
            out.append(AttachmentFile(name, *_fields(saved)))
        return out


def _fields(saved: files.StoredFile) -> tuple[str, str, int, str]:
    return saved.relative_path, saved.content_type, saved.size_bytes, saved.sha256


def _display_name(message: EmailMessage) -> str:
    name, _ = parseaddr(str(message.get("From", "")))
    return " ".join(name.split())[:160]


def _safe_name(name: str) -> str:
    return "".join(ch for ch in name if ch.isalnum() or ch in "._- ")[:100].strip() or "adjunto"


async def start_intake_server(
    uow_factory: UnitOfWorkFactory,
    config: IntakeConfig,
    *,
    host: str,
    port: int,
    clock: Clock,
    hostname: str = "cac311-intake",
) -> asyncio.base_events.Server:
    """Listen on ``host:port``; returns the asyncio server (close() and wait_closed())."""
    from aiosmtpd.smtp import SMTP

    handler = IntakeHandler(uow_factory, config, clock)
    loop = asyncio.get_running_loop()

    def factory() -> Any:
        return SMTP(
            handler,
            hostname=hostname,
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            decode_data=False,
            timeout=60,
        )

    return await loop.create_server(factory, host, port)


__all__ = ["IntakeConfig", "IntakeHandler", "start_intake_server", "to_classify_entity"]
