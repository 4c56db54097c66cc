"""Trigram indexes for citizen search at national scale (issue 18).

Every search compares ``cac311_fold(column)`` with ``cac311_fold(query)`` (0009): names
(first and last name together: word prefixes with a full-text index, substrings with a
trigram index), partial cédulas and partial phone numbers (trigram indexes), so a search
over 2 M citizens is an index scan.

Revision ID: 0010_citizen_search
Revises: 0010_rollup
"""

from __future__ import annotations

from alembic import op

revision = "0010_citizen_search"
down_revision = "0010_rollup"
branch_labels = None
depends_on = None

INDEXES = {
    # Name words by prefix ("maria gonz"): one posting list per word, far cheaper than the
    # trigrams of a common name; the trigram index below serves substrings when it finds none.
    "ix_citizens_name_words": "citizens USING gin "
    "(to_tsvector('simple', cac311_fold(first_name || ' ' || last_name)))",
    "ix_citizens_name_trgm": "citizens USING gin "
    "(cac311_fold(first_name || ' ' || last_name) gin_trgm_ops)",
    "ix_citizens_cedula_trgm": "citizens USING gin (cac311_fold(cedula) gin_trgm_ops)",
    "ix_citizen_phones_e164_trgm": "citizen_phones USING gin (cac311_fold(e164) gin_trgm_ops)",
}


def upgrade() -> None:
    for name, target in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
