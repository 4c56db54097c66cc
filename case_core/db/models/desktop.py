"""Agent desktop tables: web sessions, screen pops and the agent states Asterisk reported."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base


class WebSessionRow(Base):
    """A logged-in browser. Only the SHA-256 of the cookie token is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # absolute expiry; idle expiry is checked against last_seen_at


class ScreenPopRow(Base):
    """What an agent's desktop showed for one connected call (open until the call ends)."""

    __tablename__ = "screen_pops"
    __table_args__ = (
        Index("ix_screen_pops_agent_open", "agent_interface", "closed_at"),
        Index("ix_screen_pops_call", "call_uniqueid"),
        # A call's end closes its open pops by uniqueid or linkedid (0013_open_pops).
        Index("ix_screen_pops_open_call", "call_uniqueid", postgresql_where="closed_at IS NULL"),
        Index("ix_screen_pops_open_linkedid", "linkedid", postgresql_where="closed_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    agent_interface: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    call_uniqueid: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class AgentStateEventRow(Base):
    """One agent (queue member) state as Asterisk reported it; the latest one is current."""

    __tablename__ = "agent_state_events"
    __table_args__ = (Index("ix_agent_state_events_interface_at", "interface", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    interface: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(80))
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(40))
