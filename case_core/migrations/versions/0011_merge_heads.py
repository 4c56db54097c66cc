"""Merge the migrations of the December 2026 work (administration, citizen channels, quality,
case workspace, hardening, desk, telephony, performance) into one head.

Revision ID: 0011_merge
Revises: the 0010 revisions
"""

from __future__ import annotations

revision = "0011_merge"
down_revision = (
    "0010_admin",
    "0010_case_workspace",
    "0010_citizen",
    "0010_citizen_search",
    "0010_desk",
    "0010_hardening",
    "0010_ivr_open",
    "0010_quality",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
