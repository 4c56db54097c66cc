"""agent desktop: web sessions, screen pops, agent state events

Revision ID: 0003_desktop
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_desktop"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"], unique=False)
    op.create_table(
        "screen_pops",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("agent_interface", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("call_uniqueid", sa.String(length=64), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=True),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_screen_pops_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screen_pops")),
    )
    op.create_index(
        "ix_screen_pops_agent_open", "screen_pops", ["agent_interface", "closed_at"], unique=False
    )
    op.create_index("ix_screen_pops_call", "screen_pops", ["call_uniqueid"], unique=False)
    op.create_table(
        "agent_state_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("interface", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=80), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_state_events")),
    )
    op.create_index(
        "ix_agent_state_events_interface_at",
        "agent_state_events",
        ["interface", "at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_agent_state_events_interface_at", table_name="agent_state_events")
    op.drop_table("agent_state_events")
    op.drop_index("ix_screen_pops_call", table_name="screen_pops")
    op.drop_index("ix_screen_pops_agent_open", table_name="screen_pops")
    op.drop_table("screen_pops")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
