"""Word-pair index for citizen name search (issue 18).

A two-word name search ("maria gonzalez") with the word index of 0010_citizen_search ANDs two
large posting lists (every María, every González: tens of thousands of entries each over 2 M
citizens) before it can stop at its limit. ``cac311_name_pairs(first_name, last_name)``
returns, for the distinct words of the folded name (as the ``simple`` text-search parser splits
them: the lexemes of ``ix_citizens_name_words``), one ``a>b`` for each ordered pair of distinct
words ("maria>gonzalez" and "gonzalez>maria"); its GIN index over ``array_to_tsvector`` reads a
single short posting list for a pair, and a prefix on the second word ("maria>gonz":*) is a
range of that index. See ``case_core.db.citizen_search`` for how the search uses it.

A word typed alone ("samudio", "maria": 25 k and 33 k people over 2 M) is first answered by
btrees on the folded last name and first name, ``ix_citizens_last_name_fold`` and
``ix_citizens_first_name_fold`` (``text_pattern_ops``, for a range of prefixes), which read
only as many entries as the search keeps.

The body names its functions with their schema: pg_restore (and the maintenance commands of
PostgreSQL 17) evaluate index expressions with a restricted search path.

Revision ID: 0012_citizen_name_pairs
Revises: 0011_merge
"""

from __future__ import annotations

from alembic import op

revision = "0012_citizen_name_pairs"
down_revision = "0011_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION cac311_name_pairs(first_name text, last_name text)
        RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$
            SELECT coalesce(pg_catalog.array_agg(a.w || '>' || b.w), '{}')
            FROM (
                SELECT pg_catalog.tsvector_to_array(pg_catalog.to_tsvector(
                    'pg_catalog.simple', public.cac311_fold(first_name || ' ' || last_name)
                )) AS words
            ) n, pg_catalog.unnest(n.words) a(w), pg_catalog.unnest(n.words) b(w)
            WHERE a.w <> b.w
        $$
        """
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_citizens_name_pairs ON citizens "
        "USING gin (array_to_tsvector(cac311_name_pairs(first_name, last_name)))"
    )
    for column in ("last_name", "first_name"):
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_citizens_{column}_fold ON citizens "
            f"(cac311_fold({column}) text_pattern_ops)"
        )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_citizens_first_name_fold")
    op.execute("DROP INDEX IF EXISTS ix_citizens_last_name_fold")
    op.execute("DROP INDEX IF EXISTS ix_citizens_name_pairs")
    op.execute("DROP FUNCTION IF EXISTS cac311_name_pairs(text, text)")
