"""Citizens and their phones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from case_core.db.models.base import Base, CreatedAt


def _trigram(name: str, expression: str) -> Index:
    """A GIN trigram index on an expression (search: ``case_core.db.citizen_search``)."""
    return Index(
        name, text(expression), postgresql_using="gin", postgresql_ops={expression: "gin_trgm_ops"}
    )


def full_name(first_name: str, last_name: str) -> str:
    """A citizen's name as shown (also for rows read as plain columns)."""
    return f"{first_name} {last_name}".strip()


class CitizenRow(CreatedAt, Base):
    __tablename__ = "citizens"
    __table_args__ = (
        # Spelled as PostgreSQL prints it back, so the schema comparison sees no change.
        _trigram(
            "ix_citizens_name_trgm",
            "cac311_fold((first_name::text || ' '::text) || last_name::text)",
        ),
        _trigram("ix_citizens_cedula_trgm", "cac311_fold(cedula)"),
        Index(
            "ix_citizens_name_words",
            text(
                "to_tsvector('simple'::regconfig, "
                "cac311_fold((first_name::text || ' '::text) || last_name::text))"
            ),
            postgresql_using="gin",
        ),
        Index(
            "ix_citizens_name_pairs",
            text("array_to_tsvector(cac311_name_pairs(first_name::text, last_name::text))"),
            postgresql_using="gin",
        ),
        Index(
            "ix_citizens_last_name_fold",
            text("cac311_fold(last_name::text)"),
            postgresql_ops={"cac311_fold(last_name::text)": "text_pattern_ops"},
        ),
        Index(
            "ix_citizens_first_name_fold",
            text("cac311_fold(first_name::text)"),
            postgresql_ops={"cac311_fold(first_name::text)": "text_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cedula: Mapped[str | None] = mapped_column(String(20), unique=True)
    first_name: Mapped[str] = mapped_column(String(80), default="")
    last_name: Mapped[str] = mapped_column(String(80), default="")
    email: Mapped[str | None] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(60))
    district: Mapped[str | None] = mapped_column(String(80))
    corregimiento: Mapped[str | None] = mapped_column(String(80))
    callback_consent: Mapped[bool] = mapped_column(default=True)
    opted_out_at: Mapped[datetime | None]

    phones: Mapped[list[CitizenPhoneRow]] = relationship(
        back_populates="citizen", lazy="raise", order_by="CitizenPhoneRow.id"
    )

    @property
    def full_name(self) -> str:
        return full_name(self.first_name, self.last_name)


class CitizenPhoneRow(CreatedAt, Base):
    __tablename__ = "citizen_phones"
    __table_args__ = (
        UniqueConstraint("citizen_id", "e164"),
        _trigram("ix_citizen_phones_e164_trgm", "cac311_fold(e164)"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="movil")

    citizen: Mapped[CitizenRow] = relationship(back_populates="phones", lazy="raise")
