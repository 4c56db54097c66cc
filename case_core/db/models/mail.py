"""The mail outbox: every message cac311 sends, queued in PostgreSQL and retried."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base, CreatedAt

MAIL_STATUSES = ("pendiente", "enviado", "fallido")


class OutboundMailRow(CreatedAt, Base):
    __tablename__ = "outbound_mail"
    __table_args__ = (
        CheckConstraint("status IN ('pendiente','enviado','fallido')", name="status"),
        Index(
            "ix_outbound_mail_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pendiente'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # notificacion, escalamiento, auditoria…
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="pendiente")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None]
