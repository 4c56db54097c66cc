"""callback opt-outs

Revision ID: 0004_callbacks
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_callbacks"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_opt_outs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("citizen_id", sa.Integer(), nullable=True),
        sa.Column("callback_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "case_id IS NOT NULL OR citizen_id IS NOT NULL",
            name=op.f("ck_callback_opt_outs_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_callback_opt_outs_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_callback_opt_outs_citizen_id_citizens")
        ),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callbacks.id"],
            name=op.f("fk_callback_opt_outs_callback_id_callbacks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_opt_outs")),
    )
    op.create_index(
        op.f("ix_callback_opt_outs_case_id"), "callback_opt_outs", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_callback_opt_outs_citizen_id"), "callback_opt_outs", ["citizen_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_callback_opt_outs_citizen_id"), table_name="callback_opt_outs")
    op.drop_index(op.f("ix_callback_opt_outs_case_id"), table_name="callback_opt_outs")
    op.drop_table("callback_opt_outs")
