"""A partial index on IVR sessions still open, for the sweep that closes abandoned ones.

A FastAGI process that dies (or a connection that breaks) leaves its session with
``ended_at`` NULL; the periodic sweep (``case_core.services.ivr_sessions.close_stale``) finds
them through this index without scanning every session ever logged.

Revision ID: 0010_ivr_open
Revises: 0009_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_ivr_open"
down_revision = "0009_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_ivr_sessions_open",
        "ivr_sessions",
        ["started_at"],
        postgresql_where=sa.text("ended_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_ivr_sessions_open", table_name="ivr_sessions")
