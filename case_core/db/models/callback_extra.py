"""Opt-outs of automated callbacks: the audit record, and the only consent record of a case
without a citizen (a citizen's own opt-out also sets ``citizens.opted_out_at``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base


class CallbackOptOutRow(Base):
    __tablename__ = "callback_opt_outs"
    __table_args__ = (
        CheckConstraint("case_id IS NOT NULL OR citizen_id IS NOT NULL", name="subject"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"), index=True)
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"))
    source: Mapped[str] = mapped_column(String(20))  # ivr | agente | ciudadano
    at: Mapped[datetime]
