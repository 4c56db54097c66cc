"""The 15-minute roll-up of inbound calls (issue 18).

Revision ID: 0010_rollup
Revises: 0010_coordination
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_rollup"
down_revision = "0010_coordination"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "call_rollup_buckets",
        sa.Column("bucket_start", TS, nullable=False),
        sa.Column("service_level_seconds", sa.Integer(), nullable=False),
        sa.Column("short_abandon_seconds", sa.Integer(), nullable=False),
        sa.Column("open_calls", sa.Integer(), nullable=False),
        sa.Column("settled_at", TS),
        sa.Column("computed_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("bucket_start", name=op.f("pk_call_rollup_buckets")),
    )
    op.create_table(
        "call_rollup_15m",
        sa.Column("bucket_start", TS, nullable=False),
        sa.Column("queue", sa.String(40), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "offered",
                "answered",
                "abandoned",
                "short_abandons",
                "answered_in_threshold",
                "abandoned_in_threshold",
                "waiting",
                "other",
            )
        ),
        sa.Column("wait_answered_sum", sa.Float(53), nullable=False),
        sa.Column("talk_sum", sa.Float(53), nullable=False),
        sa.Column("talk_count", sa.BigInteger(), nullable=False),
        sa.Column("longest_wait", sa.Float(53)),
        sa.PrimaryKeyConstraint("bucket_start", "queue", name=op.f("pk_call_rollup_15m")),
    )
    op.create_table(
        "call_rollup_dirty",
        sa.Column("bucket_start", TS, nullable=False),
        sa.Column("marked_at", TS, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("bucket_start", name=op.f("pk_call_rollup_dirty")),
    )


def downgrade() -> None:
    op.drop_table("call_rollup_dirty")
    op.drop_table("call_rollup_15m")
    op.drop_table("call_rollup_buckets")
