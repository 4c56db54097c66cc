"""One user per agent phone: the screen pop finds the agent by the phone Asterisk connects.

Revision ID: 0008_phone
Revises: 0007_merge
"""

from __future__ import annotations

from alembic import op

revision = "0008_phone"
down_revision = "0007_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_unique_constraint(op.f("uq_users_phone_interface"), "users", ["phone_interface"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_users_phone_interface"), "users", type_="unique")
