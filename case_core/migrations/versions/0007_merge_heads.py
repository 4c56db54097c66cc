"""Join the branches that recordings, desktop, callbacks, metrics and escalations grew from
0001, so the schema has one head again (``alembic upgrade head`` works as well as ``heads``).

Revision ID: 0007_merge
Revises: 0002_recordings, 0003_desktop, 0004_callbacks, 0005_metrics, 0006_escalations
"""

from __future__ import annotations

revision = "0007_merge"
down_revision = (
    "0002_recordings",
    "0003_desktop",
    "0004_callbacks",
    "0005_metrics",
    "0006_escalations",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
