"""escalations: cases escalated at SLA risk, once per case and level

Revision ID: 0006_escalations
Revises: 0001
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_escalations"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_escalations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "level IN ('primera_accion','riesgo_sla','vencido')",
            name=op.f("ck_case_escalations_level"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_escalations_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_escalations")),
        sa.UniqueConstraint("case_id", "level", name="uq_case_escalations_case_id_level"),
    )
    op.create_index(op.f("ix_case_escalations_at"), "case_escalations", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_case_escalations_at"), table_name="case_escalations")
    op.drop_table("case_escalations")
