"""Coordination of several serve processes: periodic job runs and leases (issue 18).

Revision ID: 0010_coordination
Revises: 0009_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_coordination"
down_revision = "0009_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "periodic_job_runs",
        sa.Column("job", sa.String(60), nullable=False),
        sa.Column("period_key", sa.String(40), nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "finished_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("job", "period_key", name=op.f("pk_periodic_job_runs")),
    )
    op.create_table(
        "leases",
        sa.Column("resource", sa.String(80), nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("resource", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("periodic_job_runs")
