"""Case workspace: assignment clock, reopen count, merges, sensitive cases, entity offices.

- ``cases.assigned_at``: when the entity that holds the case received it (registration or the
  latest reassignment). The entity's 24-hour first action and its due date run from it.
  Existing routed cases get their opening time; consultas resolved at first contact (never
  routed) stay NULL.
- ``cases.reopened_count``: how many times 3-1-1 reopened the case.
- ``cases.merged_into_case_id``: a duplicate closed into another case of the same citizen.
- ``cases.sensitive``: "temas de carácter confidencial o sensible" (Res. 12/2017) beyond
  denuncias; shown only to those who may see confidential cases.
- ``cases.office_id``: the department or regional office of the entity working the case.
- ``users.email``: where escalation notices go.

Revision ID: 0010_case_workspace
Revises: 0009_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_case_workspace"
down_revision = "0009_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "cases",
        sa.Column("reopened_count", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("cases", sa.Column("merged_into_case_id", sa.Integer(), nullable=True))
    op.add_column(
        "cases", sa.Column("sensitive", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("cases", sa.Column("office_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_cases_merged_into_case_id_cases"), "cases", "cases", ["merged_into_case_id"], ["id"]
    )
    op.create_foreign_key(
        op.f("fk_cases_office_id_entity_offices"), "cases", "entity_offices", ["office_id"], ["id"]
    )
    op.create_index(op.f("ix_cases_office_id"), "cases", ["office_id"], unique=False)
    op.execute("UPDATE cases SET assigned_at = opened_at WHERE NOT resolved_at_first_contact")
    op.add_column("users", sa.Column("email", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "email")
    op.drop_index(op.f("ix_cases_office_id"), table_name="cases")
    op.drop_constraint(op.f("fk_cases_office_id_entity_offices"), "cases", type_="foreignkey")
    op.drop_constraint(op.f("fk_cases_merged_into_case_id_cases"), "cases", type_="foreignkey")
    for column in ("office_id", "sensitive", "merged_into_case_id", "reopened_count", "assigned_at"):
        op.drop_column("cases", column)
