"""Quality figures: audits done vs due per advisor and week, % criteria met per entity,
the weekly trend, the team's call-evaluation averages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from case_core.db.models import EntityRow, UserRow
from case_core.db.models.quality import (
    CallEvaluationRow,
    CaseAuditRow,
    QualitySampleRow,
)
from case_core.db.uow import UnitOfWorkFactory

# --- quality figures -------------------------------------------------------------------------


@dataclass(frozen=True)
class AdvisorWeek:
    advisor: str
    week: str
    due: int
    done: int


@dataclass(frozen=True)
class EntityCriteria:
    entity_id: int
    entity_name: str
    week: str
    met: int
    scored: int

    @property
    def percent(self) -> float | None:
        return None if not self.scored else 100.0 * self.met / self.scored


@dataclass(frozen=True)
class AgentAverage:
    agent_user_id: int
    agent_name: str
    evaluations: int
    percent: float | None


@dataclass(frozen=True)
class QualityFigures:
    weeks: list[str]
    advisors: list[AdvisorWeek]
    entities: list[EntityCriteria]
    trend: list[tuple[str, float | None]]  # % of criteria met, all entities, per week
    agents: list[AgentAverage]


async def quality_figures(
    uow_factory: UnitOfWorkFactory, *, weeks: Sequence[str]
) -> QualityFigures:
    """Audits done vs due per advisor and week, % criteria met per entity, the trend."""
    weeks = list(weeks)
    async with uow_factory() as uow:
        s = uow.session
        advisor_rows = (
            await s.execute(
                select(
                    func.coalesce(UserRow.full_name, "Sin asesor asignado"),
                    QualitySampleRow.week,
                    func.count(QualitySampleRow.id),
                    func.count(CaseAuditRow.id),
                )
                .outerjoin(UserRow, UserRow.id == QualitySampleRow.advisor_user_id)
                .outerjoin(CaseAuditRow, CaseAuditRow.case_id == QualitySampleRow.case_id)
                .where(QualitySampleRow.week.in_(weeks))
                .group_by(UserRow.full_name, QualitySampleRow.week)
                .order_by(QualitySampleRow.week, UserRow.full_name)
            )
        ).all()
        entity_rows = (
            await s.execute(
                select(
                    CaseAuditRow.entity_id,
                    EntityRow.name,
                    CaseAuditRow.week,
                    func.sum(CaseAuditRow.criteria_met),
                    func.sum(CaseAuditRow.criteria_scored),
                )
                .join(EntityRow, EntityRow.id == CaseAuditRow.entity_id)
                .where(CaseAuditRow.week.in_(weeks))
                .group_by(CaseAuditRow.entity_id, EntityRow.name, CaseAuditRow.week)
                .order_by(EntityRow.name, CaseAuditRow.week)
            )
        ).all()
        agent_rows = (
            await s.execute(
                select(
                    CallEvaluationRow.agent_user_id,
                    UserRow.full_name,
                    func.count(),
                    func.sum(CallEvaluationRow.criteria_met),
                    func.sum(CallEvaluationRow.criteria_scored),
                )
                .join(UserRow, UserRow.id == CallEvaluationRow.agent_user_id)
                .where(CallEvaluationRow.week.in_(weeks))
                .group_by(CallEvaluationRow.agent_user_id, UserRow.full_name)
                .order_by(UserRow.full_name)
            )
        ).all()
    entities = [
        EntityCriteria(eid, name, week, int(met or 0), int(scored or 0))
        for eid, name, week, met, scored in entity_rows
    ]
    trend: list[tuple[str, float | None]] = []
    for week in weeks:
        met = sum(e.met for e in entities if e.week == week)
        scored = sum(e.scored for e in entities if e.week == week)
        trend.append((week, 100.0 * met / scored if scored else None))
    return QualityFigures(
        weeks,
        [AdvisorWeek(name, week, int(due), int(done)) for name, week, due, done in advisor_rows],
        entities,
        trend,
        [
            AgentAverage(aid, name, int(n), 100.0 * int(met or 0) / int(sc) if sc else None)
            for aid, name, n, met, sc in agent_rows
        ],
    )
