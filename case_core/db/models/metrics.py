"""AMI link outages: intervals in which call tracking was blind, so metrics flag them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base, CreatedAt


class AmiLinkOutageRow(CreatedAt, Base):
    """One period without an AMI link to ``server``; ``up_at`` is NULL while still down."""

    __tablename__ = "ami_link_outages"
    __table_args__ = (
        CheckConstraint("up_at IS NULL OR up_at >= down_at", name="order"),
        Index("ix_ami_link_outages_down_at", "down_at"),
        Index(
            "uq_ami_link_outages_open",
            "server",
            unique=True,
            postgresql_where="up_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    server: Mapped[str] = mapped_column(String(40))
    down_at: Mapped[datetime]
    up_at: Mapped[datetime | None]
