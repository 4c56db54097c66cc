"""Case escalations: one row per case and level, written by ``services.escalation``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base

ESCALATION_LEVELS = ("primera_accion", "riesgo_sla", "vencido")


class CaseEscalationRow(Base):
    __tablename__ = "case_escalations"
    __table_args__ = (
        CheckConstraint("level IN ('primera_accion','riesgo_sla','vencido')", name="level"),
        UniqueConstraint("case_id", "level", name="uq_case_escalations_case_id_level"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    level: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(index=True)
