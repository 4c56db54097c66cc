"""Hardening (issue 15): callback leg authentication and hashed anonymous caller numbers.

- ``callbacks.leg_*``: the token, channel uniqueid and answer time of the attempt being
  dialled, so a FastAGI callback session is trusted only when it is that leg.
- ``calls.caller_hash`` / ``ivr_sessions.caller_hash``: the keyed hash that replaces the
  number of a caller who chose an anonymous denuncia (the clear number is erased).

Revision ID: 0010_hardening
Revises: 0009_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_hardening"
down_revision = "0009_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("callbacks", sa.Column("leg_token", sa.String(64)))
    op.add_column("callbacks", sa.Column("leg_uniqueid", sa.String(64)))
    op.add_column("callbacks", sa.Column("leg_answered_at", sa.DateTime(timezone=True)))
    op.add_column("callbacks", sa.Column("leg_used_at", sa.DateTime(timezone=True)))
    op.add_column("calls", sa.Column("caller_hash", sa.String(64)))
    op.add_column("ivr_sessions", sa.Column("caller_hash", sa.String(64)))


def downgrade() -> None:
    op.drop_column("ivr_sessions", "caller_hash")
    op.drop_column("calls", "caller_hash")
    for name in ("leg_used_at", "leg_answered_at", "leg_uniqueid", "leg_token"):
        op.drop_column("callbacks", name)
