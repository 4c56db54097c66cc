"""Callbacks placed by the Centro de Contactos, and survey answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base, CreatedAt


class CallbackRow(CreatedAt, Base):
    __tablename__ = "callbacks"
    __table_args__ = (
        CheckConstraint("kind IN ('seguimiento','satisfaccion')", name="kind"),
        CheckConstraint("window_end_at > window_start_at", name="window"),
        Index("ix_callbacks_due", "next_attempt_at", postgresql_where="status = 'pendiente'"),
        Index(
            "uq_callbacks_case_kind_live",
            "case_id",
            "kind",
            unique=True,
            postgresql_where="status IN ('pendiente','en_curso')",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    phone: Mapped[str] = mapped_column(String(20))
    window_start_at: Mapped[datetime]
    window_end_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=4)
    # pendiente | en_curso | completada | no_contactado | tarea_humana | cancelada | reemplazada
    status: Mapped[str] = mapped_column(String(16), default="pendiente")
    outcome: Mapped[str | None] = mapped_column(String(40))
    last_attempt_at: Mapped[datetime | None]
    action_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime | None]
    # The leg of the current attempt (issue 15): a random token sent as a channel variable,
    # the channel uniqueid from its OriginateResponse, when it answered and when a FastAGI
    # session took it. Only a session that matches all of them is trusted.
    leg_token: Mapped[str | None] = mapped_column(String(64))
    leg_uniqueid: Mapped[str | None] = mapped_column(String(64))
    leg_answered_at: Mapped[datetime | None]
    leg_used_at: Mapped[datetime | None]


class SurveyAnswerRow(Base):
    __tablename__ = "survey_answers"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    question: Mapped[str] = mapped_column(String(20))  # resuelto | satisfaccion
    answer: Mapped[str] = mapped_column(Text)
    answered_at: Mapped[datetime]
