"""Agent desk: service synonyms and accent-insensitive trigram search, idempotent case
submissions, call wrap-ups.

The service search compares ``cac311_fold(column) LIKE '%word%'`` on the service name, its
synonyms and the entity's names; the GIN trigram indexes below serve those LIKEs.

Revision ID: 0010_desk
Revises: 0009_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_desk"
down_revision = "0009_search"
branch_labels = None
depends_on = None

WRAPUP_CODES = (
    "('caso_registrado','solo_informacion','numero_equivocado','llamada_cortada',"
    "'broma','transferida','otro')"
)
TRGM_INDEXES = {
    "ix_services_name_fold_trgm": ("services", "name"),
    "ix_services_synonyms_fold_trgm": ("services", "synonyms"),
    "ix_entities_name_fold_trgm": ("entities", "name"),
    "ix_entities_short_name_fold_trgm": ("entities", "short_name"),
}


def upgrade() -> None:
    op.add_column(
        "services", sa.Column("synonyms", sa.Text(), server_default="", nullable=False)
    )
    for name, (table, column) in TRGM_INDEXES.items():
        op.execute(
            f"CREATE INDEX {name} ON {table} USING gin (cac311_fold({column}) gin_trgm_ops)"
        )
    op.create_table(
        "case_submissions",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE", name=op.f("fk_case_submissions_user_id_users")), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE", name=op.f("fk_case_submissions_case_id_cases"))),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_case_submissions")),
    )
    op.create_table(
        "call_wrapups",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE", name=op.f("fk_call_wrapups_user_id_users")), nullable=False),
        sa.Column("agent_interface", sa.String(80)),
        sa.Column("pop_id", sa.BigInteger(), sa.ForeignKey("screen_pops.id", ondelete="SET NULL", name=op.f("fk_call_wrapups_pop_id_screen_pops"))),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="SET NULL", name=op.f("fk_call_wrapups_case_id_cases"))),
        sa.Column("code", sa.String(24), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"code IN {WRAPUP_CODES}", name=op.f("ck_call_wrapups_code")),
        sa.UniqueConstraint("pop_id", name=op.f("uq_call_wrapups_pop_id")),
    )
    op.create_index("ix_call_wrapups_user_at", "call_wrapups", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_table("call_wrapups")
    op.drop_table("case_submissions")
    for name in TRGM_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_column("services", "synonyms")
