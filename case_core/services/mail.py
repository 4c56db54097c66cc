"""The mail outbox: queue a message in the caller's transaction; delivery happens elsewhere.

Queuing in the same transaction as the change that causes the message (a status change, an
escalation, an audit result) means a message is never sent for a change that rolled back, and
never lost for one that committed. ``mailer.delivery`` sends what is due and retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models.mail import OutboundMailRow

MAX_ATTEMPTS = 10
# Waits after the 1st, 2nd… failed attempt; the last one repeats (about 13 h in all).
RETRY_DELAYS = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
)


def looks_like_address(address: str) -> bool:
    """A cheap sanity check (one @, a dot in the domain, no spaces or header breaks)."""
    local, sep, domain = address.partition("@")
    return (
        bool(sep and local and "." in domain and "@" not in domain)
        and not any(c.isspace() for c in address)
        and len(address) <= 254
    )


async def enqueue_mail(
    session: AsyncSession,
    *,
    to: str,
    subject: str,
    body: str,
    kind: str,
    now: datetime,
    case_id: int | None = None,
    dedupe_key: str | None = None,
) -> int | None:
    """Queue a plain-text message; return its id, or None when ``dedupe_key`` was queued."""
    if not looks_like_address(to):
        raise ValueError("dirección de correo no válida")
    stmt = (
        insert(OutboundMailRow)
        .values(
            kind=kind,
            to_address=to,
            subject=" ".join(subject.split())[:300],
            body=body,
            case_id=case_id,
            dedupe_key=dedupe_key,
            status="pendiente",
            attempts=0,
            next_attempt_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboundMailRow.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


@dataclass(frozen=True)
class MailToSend:
    id: int
    to: str
    subject: str
    body: str
    attempts: int


async def claim_due_mail(session: AsyncSession, *, now: datetime, limit: int) -> list[MailToSend]:
    """Lock up to ``limit`` due messages for this transaction (other senders skip them)."""
    rows = (
        await session.execute(
            select(OutboundMailRow)
            .where(OutboundMailRow.status == "pendiente", OutboundMailRow.next_attempt_at <= now)
            .order_by(OutboundMailRow.next_attempt_at, OutboundMailRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    return [MailToSend(r.id, r.to_address, r.subject, r.body, r.attempts) for r in rows]


async def mark_sent(session: AsyncSession, mail_id: int, *, now: datetime) -> None:
    await session.execute(
        text(
            "UPDATE outbound_mail SET status = 'enviado', sent_at = :now, "
            "attempts = attempts + 1, last_error = NULL WHERE id = :id"
        ),
        {"now": now, "id": mail_id},
    )


async def mark_failed(
    session: AsyncSession, mail: MailToSend, *, now: datetime, error: str, permanent: bool
) -> None:
    """Schedule the next attempt, or give up after MAX_ATTEMPTS or a permanent refusal."""
    attempts = mail.attempts + 1
    give_up = permanent or attempts >= MAX_ATTEMPTS
    delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
    await session.execute(
        text(
            "UPDATE outbound_mail SET attempts = :attempts, last_error = :error, "
            "status = :status, next_attempt_at = :next WHERE id = :id"
        ),
        {
            "attempts": attempts,
            "error": error[:300],
            "status": "fallido" if give_up else "pendiente",
            "next": now + delay,
            "id": mail.id,
        },
    )
