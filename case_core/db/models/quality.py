"""Quality assurance: advisors' entities, weekly samples, audits (append-only), replies,
publications to the entities, action plans and agents' call evaluations (append-only).

``case_audits``, ``case_audit_replies``, ``call_evaluations`` and ``action_plan_updates`` are
append-only: a trigger in migration 0010_quality refuses UPDATE, DELETE and TRUNCATE.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from case_core.db.models.base import Base, CreatedAt
from case_core.db.models.cases import CaseRow

# The weekly sample reads the cases closed in a week (declared here, not in cases.py, as it
# exists for the quality audits).
_cases = CaseRow.__table__
Index(
    "ix_cases_closed_at",
    _cases.c.closed_at,
    postgresql_where=_cases.c.status == "cerrado",
)


class QualityAssignmentRow(CreatedAt, Base):
    """An advisor (role auditor) in charge of an entity from ``starts_on`` to ``ends_on``."""

    __tablename__ = "quality_assignments"
    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="dates"),
        Index("ix_quality_assignments_advisor", "advisor_user_id", "starts_on"),
        Index("ix_quality_assignments_entity", "entity_id", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    advisor_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]


class QualitySampleRow(Base):
    """A closed case drawn for a week's audit; a case is drawn at most once, ever."""

    __tablename__ = "quality_samples"
    __table_args__ = (Index("ix_quality_samples_week_entity", "week", "entity_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    week: Mapped[str] = mapped_column(String(8))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    advisor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    stratum: Mapped[str] = mapped_column(String(12))
    drawn_at: Mapped[datetime]


class CaseAuditRow(Base):
    """One audit of a closed case: the checklist, a comment and the overall result."""

    __tablename__ = "case_audits"
    __table_args__ = (
        CheckConstraint(
            "result IN ('satisfactorio','con_observaciones','no_satisfactorio')", name="result"
        ),
        CheckConstraint("criteria_met BETWEEN 0 AND criteria_scored", name="criteria"),
        Index("ix_case_audits_entity_week", "entity_id", "week"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("quality_samples.id"))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    week: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime]
    auditor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    auditor_label: Mapped[str] = mapped_column(String(120))
    scores: Mapped[dict] = mapped_column(JSONB)
    criteria_met: Mapped[int]
    criteria_scored: Mapped[int]
    result: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")


class CaseAuditReplyRow(Base):
    """The entity's answer to an audit's findings."""

    __tablename__ = "case_audit_replies"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("case_audits.id"), index=True)
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)


class QualityPublicationRow(Base):
    """A batch of an entity's audits of a week published to its liaisons (portal and
    e-mail); a week may have several batches when audits are finished after a first one."""

    __tablename__ = "quality_publications"
    __table_args__ = (Index("ix_quality_publications_entity_week", "entity_id", "week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    week: Mapped[str] = mapped_column(String(8))
    published_at: Mapped[datetime]
    published_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PublishedAuditRow(Base):
    """An audit in a publication: from then on its entity's liaisons read and answer it."""

    __tablename__ = "quality_published_audits"

    audit_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("case_audits.id"), primary_key=True, autoincrement=False
    )
    publication_id: Mapped[int] = mapped_column(ForeignKey("quality_publications.id"), index=True)


class ActionPlanRow(CreatedAt, Base):
    """An improvement plan for an entity below goal in a month's scorecard."""

    __tablename__ = "action_plans"
    __table_args__ = (
        CheckConstraint("status IN ('abierto','en_curso','cumplido','cancelado')", name="status"),
        Index("ix_action_plans_entity", "entity_id", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    month: Mapped[str] = mapped_column(String(7))  # the scorecard month, YYYY-MM
    closed_30d_pct: Mapped[float | None]  # the figure that triggered the plan
    problem: Mapped[str] = mapped_column(Text)
    measures: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(160))
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(12), default="abierto")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime | None]


class ActionPlanUpdateRow(Base):
    """Progress on a plan: a status change and/or a note (append-only)."""

    __tablename__ = "action_plan_updates"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("action_plans.id"), index=True)
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(12))
    note: Mapped[str] = mapped_column(Text, default="")


class CallEvaluationSampleRow(Base):
    """A call of an agent drawn for a week's evaluation; a call is drawn at most once."""

    __tablename__ = "call_evaluation_samples"
    __table_args__ = (Index("ix_call_evaluation_samples_week", "week", "agent_user_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    week: Mapped[str] = mapped_column(String(8))
    agent_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    drawn_at: Mapped[datetime]


class CallEvaluationRow(Base):
    """One evaluation of an agent's call on the call-handling form."""

    __tablename__ = "call_evaluations"
    __table_args__ = (
        CheckConstraint("criteria_met BETWEEN 0 AND criteria_scored", name="criteria"),
        Index("ix_call_evaluations_agent_week", "agent_user_id", "week"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    agent_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    week: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime]
    evaluator_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    evaluator_label: Mapped[str] = mapped_column(String(120))
    scores: Mapped[dict] = mapped_column(JSONB)
    criteria_met: Mapped[int]
    criteria_scored: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
