"""Administration: login attempts and lockout, forced password change, TOTP, the append-only
admin audit, proposed directory changes, entity contacts, SLA templates, the knowledge base's
publishing state and search, announcement areas.

Revision ID: 0010_admin
Revises: 0009_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010_admin"
down_revision = "0009_search"
branch_labels = None
depends_on = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION admin_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'admin_audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER admin_audit_append_only
BEFORE UPDATE OR DELETE OR TRUNCATE ON admin_audit
FOR EACH STATEMENT EXECUTE FUNCTION admin_audit_append_only()
"""


def upgrade() -> None:
    tz = sa.DateTime(timezone=True)
    op.add_column(
        "users",
        sa.Column("must_change_password", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column("users", sa.Column("totp_secret", sa.String(64)))
    op.add_column("users", sa.Column("totp_last_step", sa.Integer()))
    op.add_column("users", sa.Column("password_changed_at", tz))
    op.add_column(
        "users", sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("users", sa.Column("locked_until", tz))

    op.add_column("services", sa.Column("who_answers", sa.String(200)))
    op.add_column("services", sa.Column("required_info", sa.Text()))
    op.add_column("services", sa.Column("reviewed_at", tz))

    op.add_column(
        "knowledge_articles", sa.Column("body_text", sa.Text(), server_default="", nullable=False)
    )
    op.add_column(
        "knowledge_articles",
        sa.Column("status", sa.String(12), server_default="publicado", nullable=False),
    )
    op.add_column("knowledge_articles", sa.Column("review_on", sa.Date()))
    op.add_column("knowledge_articles", sa.Column("updated_at", tz))
    op.create_check_constraint(
        op.f("ck_knowledge_articles_status"),
        "knowledge_articles",
        "status IN ('propuesto','publicado','retirado')",
    )
    op.execute(
        "UPDATE knowledge_articles SET body_text = regexp_replace(body, '<[^>]*>', ' ', 'g')"
    )
    op.execute(
        "CREATE INDEX ix_knowledge_articles_fold_title ON knowledge_articles "
        "USING gin (cac311_fold(title) gin_trgm_ops)"
    )
    op.execute(
        "CREATE INDEX ix_knowledge_articles_fold_body ON knowledge_articles "
        "USING gin (cac311_fold(body_text) gin_trgm_ops)"
    )

    op.add_column("announcements", sa.Column("province", sa.String(60)))
    op.add_column("announcements", sa.Column("district", sa.String(80)))
    op.add_column("announcements", sa.Column("corregimiento", sa.String(80)))
    op.add_column(
        "announcements",
        sa.Column("recorded", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "announcements",
        sa.Column(
            "created_by_user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name=op.f("fk_announcements_created_by_user_id_users")),
        ),
    )

    op.create_table(
        "login_attempts",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("at", tz, nullable=False),
        sa.Column("username", sa.String(60), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
    )
    op.create_index("ix_login_attempts_username_at", "login_attempts", ["username", "at"])
    op.create_index("ix_login_attempts_ip_at", "login_attempts", ["ip", "at"])

    op.create_table(
        "admin_audit",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("at", tz, nullable=False),
        sa.Column(
            "actor_user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name=op.f("fk_admin_audit_actor_user_id_users")),
        ),
        sa.Column("actor_username", sa.String(60), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("object_type", sa.String(40), nullable=False),
        sa.Column("object_id", sa.String(40)),
        sa.Column("before", postgresql.JSONB()),
        sa.Column("after", postgresql.JSONB()),
    )
    op.create_index(op.f("ix_admin_audit_at"), "admin_audit", ["at"])
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(APPEND_ONLY_TRIGGER)

    op.create_table(
        "directory_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column(
            "entity_id",
            sa.Integer(),
            sa.ForeignKey("entities.id", name=op.f("fk_directory_changes_entity_id_entities")),
            nullable=False,
        ),
        sa.Column("target_id", sa.Integer()),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("before", postgresql.JSONB()),
        sa.Column("after", postgresql.JSONB(), nullable=False),
        sa.Column(
            "proposed_by_user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name=op.f("fk_directory_changes_proposed_by_user_id_users")),
            nullable=False,
        ),
        sa.Column("proposed_at", tz, nullable=False),
        sa.Column(
            "decided_by_user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", name=op.f("fk_directory_changes_decided_by_user_id_users")),
        ),
        sa.Column("decided_at", tz),
        sa.Column("decision_note", sa.Text()),
        sa.Column("created_at", tz, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('service','article')", name=op.f("ck_directory_changes_kind")),
        sa.CheckConstraint(
            "status IN ('pendiente','aprobado','rechazado')",
            name=op.f("ck_directory_changes_status"),
        ),
    )
    op.create_index(op.f("ix_directory_changes_entity_id"), "directory_changes", ["entity_id"])
    op.create_index(op.f("ix_directory_changes_status"), "directory_changes", ["status"])

    op.create_table(
        "entity_contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "entity_id",
            sa.Integer(),
            sa.ForeignKey("entities.id", name=op.f("fk_entity_contacts_entity_id_entities")),
            nullable=False,
        ),
        sa.Column(
            "office_id",
            sa.Integer(),
            sa.ForeignKey(
                "entity_offices.id", name=op.f("fk_entity_contacts_office_id_entity_offices")
            ),
        ),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("position", sa.String(120)),
        sa.Column("phone", sa.String(40)),
        sa.Column("email", sa.String(200)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", tz, server_default=sa.func.now(), nullable=False),
    )
    op.create_index(op.f("ix_entity_contacts_entity_id"), "entity_contacts", ["entity_id"])


def downgrade() -> None:
    op.drop_table("entity_contacts")
    op.drop_table("directory_changes")
    op.execute("DROP TRIGGER IF EXISTS admin_audit_append_only ON admin_audit")
    op.execute("DROP FUNCTION IF EXISTS admin_audit_append_only()")
    op.drop_table("admin_audit")
    op.drop_table("login_attempts")
    for column in ("created_by_user_id", "recorded", "corregimiento", "district", "province"):
        op.drop_column("announcements", column)
    op.execute("DROP INDEX IF EXISTS ix_knowledge_articles_fold_body")
    op.execute("DROP INDEX IF EXISTS ix_knowledge_articles_fold_title")
    op.drop_constraint(op.f("ck_knowledge_articles_status"), "knowledge_articles", type_="check")
    for column in ("updated_at", "review_on", "status", "body_text"):
        op.drop_column("knowledge_articles", column)
    for column in ("reviewed_at", "required_info", "who_answers"):
        op.drop_column("services", column)
    for column in (
        "locked_until",
        "failed_logins",
        "password_changed_at",
        "totp_last_step",
        "totp_secret",
        "must_change_password",
    ):
        op.drop_column("users", column)
