"""Citizen channels: private tracking codes, contact e-mail and coordinates on cases, case
attachments, rate-limit events, Open311 API keys and their POST log.

Revision ID: 0010_citizen
Revises: 0009_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_citizen"
down_revision = "0009_search"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("cases", sa.Column("tracking_code_hash", sa.String(160)))
    op.add_column("cases", sa.Column("contact_email", sa.String(200)))
    op.add_column("cases", sa.Column("latitude", sa.Float()))
    op.add_column("cases", sa.Column("longitude", sa.Float()))
    op.add_column("cases", sa.Column("declared_name", sa.String(160)))
    op.add_column("cases", sa.Column("declared_cedula", sa.String(20)))

    op.create_table(
        "case_attachments",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", name=op.f("fk_case_attachments_case_id_cases")), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("filename", sa.String(120), nullable=False),
        sa.Column("content_type", sa.String(80), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("relative_path", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("source IN ('web','correo','app')", name=op.f("ck_case_attachments_source")),
    )
    op.create_index(op.f("ix_case_attachments_case_id"), "case_attachments", ["case_id"])

    op.create_table(
        "attachment_access_log",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("attachment_id", sa.BigInteger(), sa.ForeignKey("case_attachments.id", name=op.f("fk_attachment_access_log_attachment_id_case_attachments")), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", name=op.f("fk_attachment_access_log_user_id_users"))),
        sa.Column("username", sa.String(60), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
    )
    op.create_index(op.f("ix_attachment_access_log_at"), "attachment_access_log", ["at"])

    op.create_table(
        "rate_events",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("bucket", sa.String(24), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", name=op.f("fk_rate_events_case_id_cases"), ondelete="CASCADE")),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_index("ix_rate_events_bucket_source_at", "rate_events", ["bucket", "source", "at"])
    op.create_index("ix_rate_events_bucket_case_at", "rate_events", ["bucket", "case_id", "at"])

    op.create_table(
        "open311_api_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("prefix", sa.String(12), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("requests_per_hour", sa.Integer(), nullable=False),
        sa.Column("revoked_at", TZ),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("name", name=op.f("uq_open311_api_keys_name")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_api_keys_key_hash")),
    )
    op.create_table(
        "open311_post_log",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("api_key_id", sa.Integer(), sa.ForeignKey("open311_api_keys.id", name=op.f("fk_open311_post_log_api_key_id_open311_api_keys"))),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id", name=op.f("fk_open311_post_log_case_id_cases"))),
    )
    op.create_index(op.f("ix_open311_post_log_at"), "open311_post_log", ["at"])


def downgrade() -> None:
    op.drop_table("open311_post_log")
    op.drop_table("open311_api_keys")
    op.drop_table("rate_events")
    op.drop_table("attachment_access_log")
    op.drop_table("case_attachments")
    for column in ("declared_cedula", "declared_name", "longitude", "latitude", "contact_email", "tracking_code_hash"):
        op.drop_column("cases", column)
