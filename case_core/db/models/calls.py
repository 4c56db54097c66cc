"""Calls as tracked from AMI, and IVR sessions with their steps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base, CreatedAt


class CallRow(CreatedAt, Base):
    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("server", "uniqueid"),
        Index("ix_calls_entered_at", "entered_at"),
        Index("ix_calls_linkedid", "server", "linkedid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    server: Mapped[str] = mapped_column(String(40), default="pbx1")
    uniqueid: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(10), default="inbound")  # inbound|outbound
    caller_number: Mapped[str | None] = mapped_column(String(40))
    # Keyed hash of the number when the caller chose an anonymous denuncia (issue 15).
    caller_hash: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[datetime | None]
    entered_at: Mapped[datetime | None]  # joined the agent queue
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    hold_seconds: Mapped[int | None]
    talk_seconds: Mapped[int | None]
    ring_seconds: Mapped[int | None]
    agent_interface: Mapped[str | None] = mapped_column(String(80))
    agent_name: Mapped[str | None] = mapped_column(String(80))
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    abandoned: Mapped[bool] = mapped_column(default=False)
    end_unknown: Mapped[bool] = mapped_column(default=False)
    hangup_cause: Mapped[int | None]
    recording_path: Mapped[str | None] = mapped_column(Text)
    ivr_variables: Mapped[dict] = mapped_column(JSONB, default=dict)
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"))


class IvrSessionRow(CreatedAt, Base):
    __tablename__ = "ivr_sessions"
    __table_args__ = (
        Index("ix_ivr_sessions_uniqueid", "uniqueid"),
        # Open sessions only: the sweep of sessions whose FastAGI process died.
        Index("ix_ivr_sessions_open", "started_at", postgresql_where=text("ended_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    route: Mapped[str] = mapped_column(String(40))
    uniqueid: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    caller_number: Mapped[str | None] = mapped_column(String(40))
    caller_hash: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(40))
    intent: Mapped[str | None] = mapped_column(String(20))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    cedula: Mapped[str | None] = mapped_column(String(20))
    anonymous: Mapped[bool] = mapped_column(default=False)
    case_number: Mapped[str | None] = mapped_column(String(12))
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"))


class IvrStepRow(Base):
    __tablename__ = "ivr_steps"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("ivr_sessions.id", ondelete="CASCADE"))
    seq: Mapped[int]
    at: Mapped[datetime]
    step: Mapped[str] = mapped_column(String(40))
    digits: Mapped[str | None] = mapped_column(String(40))
    result: Mapped[str | None] = mapped_column(String(40))
