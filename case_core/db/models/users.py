"""People who use the system: agents, supervisors, liaisons, auditors, admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base, CreatedAt


class UserRow(CreatedAt, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('agent','supervisor','liaison','liaison_exec','liaison_contact',"
            "'auditor','contact_center','admin')",
            name="role",
        ),
        CheckConstraint(
            "(role IN ('liaison','liaison_exec','liaison_contact')) = (entity_id IS NOT NULL)",
            name="liaison_entity",
        ),
        CheckConstraint("office_id IS NULL OR entity_id IS NOT NULL", name="office_entity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int | None] = mapped_column(ForeignKey("entities.id"))
    office_id: Mapped[int | None] = mapped_column(ForeignKey("entity_offices.id"))
    password_hash: Mapped[str] = mapped_column(String(200))
    phone_interface: Mapped[str | None] = mapped_column(String(80), unique=True)  # PJSIP/1001
    active: Mapped[bool] = mapped_column(default=True)
    email: Mapped[str | None] = mapped_column(String(200))  # escalation notices
    # Issue 11: a new or reset password must be changed at the next login.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default="false")
    totp_secret: Mapped[str | None] = mapped_column(String(64))  # base32, when 2FA is set up
    totp_last_step: Mapped[int | None]  # a TOTP code is accepted once (no replay)
    password_changed_at: Mapped[datetime | None]
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None]
