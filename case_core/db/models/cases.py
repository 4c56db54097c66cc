"""Cases, their append-only history, and the yearly case-number counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base, CreatedAt


class CaseNumberCounterRow(Base):
    __tablename__ = "case_number_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_sequence: Mapped[int] = mapped_column(default=0)


class CaseRow(CreatedAt, Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(
            "type IN ('queja','denuncia','sugerencia','solicitud','consulta')", name="type"
        ),
        CheckConstraint(
            "status IN ('registrado','asignado','en_proceso','devuelto_311','cerrado')",
            name="status",
        ),
        CheckConstraint("NOT anonymous OR (type = 'denuncia' AND confidential)", name="anonymous"),
        CheckConstraint("(status = 'cerrado') = (closed_at IS NOT NULL)", name="closed_at"),
        Index("ix_cases_entity_status", "entity_id", "status"),
        Index("ix_cases_citizen_opened", "citizen_id", "opened_at"),
        Index("ix_cases_open_due", "due_at", postgresql_where="status <> 'cerrado'"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(12), unique=True)
    type: Mapped[str] = mapped_column(String(12))
    channel: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(16))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    description: Mapped[str] = mapped_column(Text)
    province: Mapped[str | None] = mapped_column(String(60))
    district: Mapped[str | None] = mapped_column(String(80))
    corregimiento: Mapped[str | None] = mapped_column(String(80))
    address: Mapped[str | None] = mapped_column(Text)
    confidential: Mapped[bool] = mapped_column(default=False)
    anonymous: Mapped[bool] = mapped_column(default=False)
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    sla_days: Mapped[int]
    opened_at: Mapped[datetime]
    due_at: Mapped[datetime]
    # When the entity holding the case received it (registration or latest reassignment):
    # its 24-hour first action and its due date run from here. NULL when never routed.
    assigned_at: Mapped[datetime | None]
    first_action_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    resolved_at_first_contact: Mapped[bool] = mapped_column(default=False)
    needs_review: Mapped[bool] = mapped_column(default=False)
    reopened_count: Mapped[int] = mapped_column(default=0, server_default="0")
    merged_into_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    sensitive: Mapped[bool] = mapped_column(default=False, server_default="false")
    office_id: Mapped[int | None] = mapped_column(ForeignKey("entity_offices.id"), index=True)
    registered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", use_alter=True), index=True)
    pop_to_save_seconds: Mapped[float | None]
    updated_at: Mapped[datetime | None]
    # Issue 12: the citizen's private tracking code (scrypt hash, see domain/tracking.py),
    # where to notify them, and where the problem is.
    tracking_code_hash: Mapped[str | None] = mapped_column(String(160))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    # Identity a citizen typed on the web, an app or an e-mail: unverified, so it is kept on
    # the case and never merged into the citizens registry (an agent links it after checking).
    declared_name: Mapped[str | None] = mapped_column(String(160))
    declared_cedula: Mapped[str | None] = mapped_column(String(20))


class CaseHistoryRow(Base):
    """Append-only: a trigger in the migration refuses UPDATE and DELETE."""

    __tablename__ = "case_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))  # status | note | assignment
    action: Mapped[str | None] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    entity_id: Mapped[int | None] = mapped_column(ForeignKey("entities.id"))
    note: Mapped[str | None] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(default=False)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(80))
