"""Agent desk tables: one submission key per case form, and the wrap-up of each call.

``case_submissions`` makes "Guardar caso" idempotent: the form carries a random key, the
first request that claims ``(user_id, key)`` registers the case, any repeat (a double click,
a retry after a timeout, the back button) gets that same case back.

``call_wrapups`` is the after-call work of an agent: every interaction is documented with a
wrap-up code, with or without a case.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base

WRAPUP_CODES_SQL = (
    "('caso_registrado','solo_informacion','numero_equivocado','llamada_cortada',"
    "'broma','transferida','otro')"
)


class CaseSubmissionRow(Base):
    __tablename__ = "case_submissions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # NULL only inside the registering transaction, between the claim and the insert.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]


class CallWrapupRow(Base):
    __tablename__ = "call_wrapups"
    __table_args__ = (
        CheckConstraint(f"code IN {WRAPUP_CODES_SQL}", name="code"),
        Index("ix_call_wrapups_user_at", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    agent_interface: Mapped[str | None] = mapped_column(String(80))
    pop_id: Mapped[int | None] = mapped_column(
        ForeignKey("screen_pops.id", ondelete="SET NULL"), unique=True
    )
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    code: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
