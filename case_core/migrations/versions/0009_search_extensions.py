"""Roles inside an entity, entity offices, and accent- and case-insensitive search.

Roles: the three liaison roles of Res. 12/2017 (Enlace Ejecutivo, Operativo, de Contacto) and
the Centro de Contactos; an Enlace de Contacto belongs to one office of the entity.

Mail: the outbox of every message cac311 sends (notifications, escalations, audit results),
queued in the same transaction as what caused it and retried until delivered.

Search: the unaccent and pg_trgm extensions and an
IMMUTABLE wrapper of unaccent, so expression and trigram indexes can use it.

``unaccent(text)`` itself is only STABLE (it reads its dictionary from the search path), so
it cannot appear in an index. ``cac311_fold(text)`` pins the dictionary and lower-cases:
every search in cac311 compares ``cac311_fold(column)`` with ``cac311_fold(query)``.

Revision ID: 0009_search
Revises: 0008_phone
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_search"
down_revision = "0008_phone"
branch_labels = None
depends_on = None


LIAISONS = "('liaison','liaison_exec','liaison_contact')"
ROLES = "('agent','supervisor','liaison','liaison_exec','liaison_contact','auditor','contact_center','admin')"


def upgrade() -> None:
    op.create_table(
        "entity_offices",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entity_id", sa.Integer(), sa.ForeignKey("entities.id", name=op.f("fk_entity_offices_entity_id_entities")), nullable=False),
        sa.Column("name", sa.String(160), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("province", sa.String(60)),
        sa.Column("district", sa.String(80)),
        sa.Column("address", sa.Text()),
        sa.Column("hours", sa.String(200)),
        sa.Column("phones", sa.String(200)),
        sa.Column("email", sa.String(200)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('sede','regional','departamento')", name=op.f("ck_entity_offices_kind")),
        sa.UniqueConstraint("entity_id", "name", name=op.f("uq_entity_offices_entity_id")),
    )
    op.create_index(op.f("ix_entity_offices_entity_id"), "entity_offices", ["entity_id"])
    op.alter_column("users", "role", type_=sa.String(20), existing_nullable=False)
    op.add_column("users", sa.Column("office_id", sa.Integer(), sa.ForeignKey("entity_offices.id", name=op.f("fk_users_office_id_entity_offices"))))
    op.drop_constraint(op.f("ck_users_role"), "users", type_="check")
    op.drop_constraint(op.f("ck_users_liaison_entity"), "users", type_="check")
    op.create_check_constraint(op.f("ck_users_role"), "users", f"role IN {ROLES}")
    op.create_check_constraint(op.f("ck_users_liaison_entity"), "users", f"(role IN {LIAISONS}) = (entity_id IS NOT NULL)")
    op.create_check_constraint(op.f("ck_users_office_entity"), "users", "office_id IS NULL OR entity_id IS NOT NULL")

    op.create_table(
        "outbound_mail",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("to_address", sa.String(254), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", name=op.f("fk_outbound_mail_case_id_cases"))),
        sa.Column("dedupe_key", sa.String(200)),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(300)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("status IN ('pendiente','enviado','fallido')", name=op.f("ck_outbound_mail_status")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbound_mail_dedupe_key")),
    )
    op.create_index(op.f("ix_outbound_mail_case_id"), "outbound_mail", ["case_id"])
    op.create_index("ix_outbound_mail_due", "outbound_mail", ["next_attempt_at"], postgresql_where=sa.text("status = 'pendiente'"))
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION cac311_fold(value text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, value)) $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cac311_fold(text)")
    op.drop_table("outbound_mail")
    op.drop_constraint(op.f("ck_users_office_entity"), "users", type_="check")
    op.drop_constraint(op.f("ck_users_liaison_entity"), "users", type_="check")
    op.drop_constraint(op.f("ck_users_role"), "users", type_="check")
    op.create_check_constraint(op.f("ck_users_role"), "users", "role IN ('agent','supervisor','liaison','auditor','admin')")
    op.create_check_constraint(op.f("ck_users_liaison_entity"), "users", "(role = 'liaison') = (entity_id IS NOT NULL)")
    op.drop_column("users", "office_id")
    op.alter_column("users", "role", type_=sa.String(12), existing_nullable=False)
    op.drop_table("entity_offices")

