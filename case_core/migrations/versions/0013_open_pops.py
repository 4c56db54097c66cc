"""Indexes on the open screen pops (issue 18).

A call's end closes its pops by ``call_uniqueid`` or ``linkedid``; with no index on
``linkedid`` that OR was a sequential scan of every pop ever shown (one row per answered
call, millions in a year) at every call's end. Partial indexes on the open pops stay as
small as the number of calls in progress.

Revision ID: 0013_open_pops
Revises: 0012_citizen_name_pairs
"""

from __future__ import annotations

from alembic import op

revision = "0013_open_pops"
down_revision = "0012_citizen_name_pairs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_screen_pops_open_call",
        "screen_pops",
        ["call_uniqueid"],
        postgresql_where="closed_at IS NULL",
    )
    op.create_index(
        "ix_screen_pops_open_linkedid",
        "screen_pops",
        ["linkedid"],
        postgresql_where="closed_at IS NULL",
    )


def downgrade() -> None:
    op.drop_index("ix_screen_pops_open_linkedid", table_name="screen_pops")
    op.drop_index("ix_screen_pops_open_call", table_name="screen_pops")
