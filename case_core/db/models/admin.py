"""Administration (issue 11): login attempts, the append-only admin audit, proposed directory
changes awaiting a 3-1-1 supervisor, and the officials/liaison contacts of each entity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base, CreatedAt


class LoginAttemptRow(Base):
    """One login attempt: the user name typed and the client address, never the password."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime]
    username: Mapped[str] = mapped_column(String(60))
    ip: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(20))  # ok, bad_password, locked, throttled, ...


class AdminAuditRow(Base):
    """Append-only (a trigger refuses UPDATE and DELETE): who changed what, before and after."""

    __tablename__ = "admin_audit"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_username: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class DirectoryChangeRow(CreatedAt, Base):
    """A change proposed by an entity (service/SLA template or knowledge article); it takes
    effect only when a 3-1-1 supervisor approves it. ``before``/``after`` are kept."""

    __tablename__ = "directory_changes"
    __table_args__ = (
        CheckConstraint("kind IN ('service','article')", name="kind"),
        CheckConstraint("status IN ('pendiente','aprobado','rechazado')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    target_id: Mapped[int | None]  # services.id or knowledge_articles.id
    status: Mapped[str] = mapped_column(String(12), default="pendiente", index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any]] = mapped_column(JSONB)
    proposed_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime]
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


class EntityContactRow(CreatedAt, Base):
    """An official or liaison of an entity, with contact data (the entity's directory)."""

    __tablename__ = "entity_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("entity_offices.id"))
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
