"""metrics: AMI link outages

Revision ID: 0005_metrics
Revises: 0001
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_metrics"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ami_link_outages",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("server", sa.String(length=40), nullable=False),
        sa.Column("down_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "up_at IS NULL OR up_at >= down_at", name=op.f("ck_ami_link_outages_order")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ami_link_outages")),
    )
    op.create_index("ix_ami_link_outages_down_at", "ami_link_outages", ["down_at"])
    op.create_index(
        "uq_ami_link_outages_open",
        "ami_link_outages",
        ["server"],
        unique=True,
        postgresql_where=sa.text("up_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_ami_link_outages_open", table_name="ami_link_outages")
    op.drop_index("ix_ami_link_outages_down_at", table_name="ami_link_outages")
    op.drop_table("ami_link_outages")
