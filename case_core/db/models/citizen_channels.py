"""Rows for the citizen channels (issue 12): case attachments, rate-limit events, Open311
API keys and the log of their POSTs, and e-mail intake messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base, CreatedAt


class CaseAttachmentRow(CreatedAt, Base):
    """A photo from the citizen web or a file of an intake e-mail, stored beside the
    recordings (``attachments/YYYY/MM/DD/<random>.<ext>`` under the recordings directory)."""

    __tablename__ = "case_attachments"
    __table_args__ = (CheckConstraint("source IN ('web','correo','app')", name="source"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    source: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(80))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    relative_path: Mapped[str] = mapped_column(Text)


class RateEventRow(Base):
    """One counted event of a rate limit (a failed status lookup, a web filing, an API
    call). ``source`` is a SHA-256 of the caller ID or IP address, never the digits."""

    __tablename__ = "rate_events"
    __table_args__ = (
        Index("ix_rate_events_bucket_source_at", "bucket", "source", "at"),
        Index("ix_rate_events_bucket_case_at", "bucket", "case_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime]


class Open311KeyRow(CreatedAt, Base):
    """An Open311 API key: only its SHA-256 is stored (the key is 32 random bytes, so a
    plain hash is enough), with its own rate limit."""

    __tablename__ = "open311_api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    requests_per_hour: Mapped[int] = mapped_column(default=60)
    revoked_at: Mapped[datetime | None]


class Open311PostRow(Base):
    """Every POST to Open311 with the key that made it (or none) and what came of it."""

    __tablename__ = "open311_post_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("open311_api_keys.id"))
    outcome: Mapped[str] = mapped_column(String(24))
    http_status: Mapped[int]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))


class AttachmentAccessRow(Base):
    """Who opened which attachment, and when (append-only by convention: no code updates it)."""

    __tablename__ = "attachment_access_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("case_attachments.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(20))
