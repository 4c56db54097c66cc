"""Citizens and their phones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from case_core.db.models.base import Base, CreatedAt


class CitizenRow(CreatedAt, Base):
    __tablename__ = "citizens"

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
        return f"{self.first_name} {self.last_name}".strip()


class CitizenPhoneRow(CreatedAt, Base):
    __tablename__ = "citizen_phones"
    __table_args__ = (UniqueConstraint("citizen_id", "e164"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    e164: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="movil")

    citizen: Mapped[CitizenRow] = relationship(back_populates="phones", lazy="raise")
