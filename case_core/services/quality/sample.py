"""The weekly sample of closed cases per entity, the periodic job, the advisor's work list.

The draws are idempotent: ``INSERT ... ON CONFLICT (case_id) DO NOTHING`` on a table where a
case appears at most once, a deterministic draw from the same candidates, and an advisory
lock per week, so two processes running the weekly job at once produce the rows once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert

from case_core.db.models import CaseRow, EntityRow
from case_core.db.models.quality import (
    CaseAuditRow,
    PublishedAuditRow,
    QualityPublicationRow,
    QualitySampleRow,
)
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import quality as q
from case_core.domain.case import TYPE_LABELS, CaseStatus, CaseType
from case_core.domain.errors import DomainError
from case_core.domain.roles import Actor, can_see_case
from case_core.services.quality.access import (
    PANAMA,
    visible_entity_ids,
)
from case_core.services.quality.advisors import _advisors_on
from case_core.services.quality.calls import draw_weekly_call_sample

log = logging.getLogger(__name__)


# --- the weekly sample -----------------------------------------------------------------------


@dataclass(frozen=True)
class SampleReport:
    week: str
    drawn: dict[int, list[int]] = field(default_factory=dict)  # entity -> new case ids
    entities: int = 0

    @property
    def cases(self) -> int:
        return sum(len(v) for v in self.drawn.values())


async def draw_weekly_sample(
    uow_factory: UnitOfWorkFactory,
    *,
    week: str,
    now: datetime,
    per_entity: int = q.DEFAULT_SAMPLE_PER_ENTITY,
    tz: tzinfo = PANAMA,
) -> SampleReport:
    """Draw, per entity, ``per_entity`` of the cases closed in ``week`` (all when fewer).

    Stratified by case type, seeded by week and entity, skipping cases already sampled or
    audited. Running it again for the same week adds nothing (and shows the same sample).
    """
    if per_entity < 1:
        raise DomainError("La muestra debe tener al menos un caso por entidad.")
    start, end = q.week_bounds(week, tz)
    monday = q.parse_week(week)
    drawn: dict[int, list[int]] = {}
    async with uow_factory() as uow:
        s = uow.session
        # One drawer per week at a time: a second process then sees the first one's rows.
        await s.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('cac311-quality-sample'), hashtext(:w))"),
            {"w": week},
        )
        already = (
            await s.execute(
                select(QualitySampleRow.entity_id, func.count())
                .where(QualitySampleRow.week == week)
                .group_by(QualitySampleRow.entity_id)
            )
        ).all()
        have = {entity_id: int(n) for entity_id, n in already}
        candidates = (
            await s.execute(
                select(CaseRow.id, CaseRow.entity_id, CaseRow.type).where(
                    CaseRow.status == CaseStatus.CERRADO.value,
                    CaseRow.closed_at >= start,
                    CaseRow.closed_at < end,
                    # entities whose sample is complete need no candidates
                    CaseRow.entity_id.not_in([e for e, n in have.items() if n >= per_entity]),
                    ~select(QualitySampleRow.id)
                    .where(QualitySampleRow.case_id == CaseRow.id)
                    .exists(),
                    ~select(CaseAuditRow.id).where(CaseAuditRow.case_id == CaseRow.id).exists(),
                )
            )
        ).all()
        by_entity: dict[int, list[q.Candidate]] = {}
        for case_id, entity_id, case_type in candidates:
            by_entity.setdefault(entity_id, []).append(q.Candidate(case_id, case_type))
        entities = set(by_entity) | set(have)
        picks: list[tuple[int, q.Candidate]] = []
        for entity_id in sorted(by_entity):
            missing = per_entity - have.get(entity_id, 0)
            if missing > 0:
                seed = q.sample_seed(week, f"entidad:{entity_id}")
                picked = q.draw_sample(by_entity[entity_id], size=missing, seed=seed)
                picks += [(entity_id, c) for c in picked]
        if picks:
            advisors = await _advisors_on(s, {e for e, _ in picks}, monday)
            result = await s.execute(
                insert(QualitySampleRow)
                .values(
                    [
                        {
                            "week": week,
                            "entity_id": entity_id,
                            "case_id": c.id,
                            "advisor_user_id": advisors.get(entity_id),
                            "stratum": c.stratum,
                            "drawn_at": now,
                        }
                        for entity_id, c in picks
                    ]
                )
                .on_conflict_do_nothing(index_elements=["case_id"])
                .returning(QualitySampleRow.entity_id, QualitySampleRow.case_id)
            )
            for entity_id, case_id in result.all():
                drawn.setdefault(entity_id, []).append(case_id)
        await uow.commit()
    return SampleReport(week, drawn, len(entities))


async def run_weekly_quality_job(
    uow_factory: UnitOfWorkFactory,
    *,
    now: datetime,
    tz: tzinfo = PANAMA,
    per_entity: int = q.DEFAULT_SAMPLE_PER_ENTITY,
    per_agent: int = q.DEFAULT_CALLS_PER_AGENT,
) -> SampleReport:
    """The periodic job: sample last week's closed cases and agents' calls.

    Idempotent, so it is safe to run it more often than weekly or from several processes
    (the once-per-period helper only saves the work)."""
    week = q.previous_week(now, tz)
    report = await draw_weekly_sample(uow_factory, week=week, now=now, per_entity=per_entity, tz=tz)
    await draw_weekly_call_sample(uow_factory, week=week, now=now, per_agent=per_agent, tz=tz)
    if report.cases:
        log.info(
            "quality sample of %s: %d cases for %d entities", week, report.cases, len(report.drawn)
        )
    return report


# --- the advisor's work list -----------------------------------------------------------------


@dataclass(frozen=True)
class WorkItem:
    case_id: int
    number: str
    type_label: str
    closed_at: datetime
    confidential: bool
    audit_id: int | None
    result: str | None
    can_open: bool
    published: bool = False


@dataclass(frozen=True)
class EntityWork:
    entity_id: int
    entity_name: str
    items: list[WorkItem]
    published_at: datetime | None

    @property
    def done(self) -> int:
        return sum(1 for i in self.items if i.audit_id is not None)

    @property
    def unpublished(self) -> int:
        """Audits done but not yet sent to the entity."""
        return sum(1 for i in self.items if i.audit_id is not None and not i.published)


async def work_list(uow_factory: UnitOfWorkFactory, *, actor: Actor, week: str) -> list[EntityWork]:
    """The week's sampled cases of the actor's entities, grouped by entity."""
    monday = q.parse_week(week)
    async with uow_factory() as uow:
        s = uow.session
        allowed = await visible_entity_ids(s, actor, monday, monday + timedelta(days=6))
        stmt = (
            select(QualitySampleRow, CaseRow, EntityRow.name, CaseAuditRow.id, CaseAuditRow.result)
            .join(CaseRow, CaseRow.id == QualitySampleRow.case_id)
            .join(EntityRow, EntityRow.id == QualitySampleRow.entity_id)
            .outerjoin(CaseAuditRow, CaseAuditRow.case_id == CaseRow.id)
            .where(QualitySampleRow.week == week)
            .order_by(EntityRow.name, CaseRow.closed_at)
        )
        if allowed is not None:
            stmt = stmt.where(QualitySampleRow.entity_id.in_(allowed or {-1}))
        rows = (await s.execute(stmt)).all()
        published = dict(
            (
                await s.execute(
                    select(
                        QualityPublicationRow.entity_id,
                        func.max(QualityPublicationRow.published_at),
                    )
                    .where(QualityPublicationRow.week == week)
                    .group_by(QualityPublicationRow.entity_id)
                )
            ).all()
        )
        published_ids = set(
            (
                await s.scalars(
                    select(PublishedAuditRow.audit_id)
                    .join(CaseAuditRow, CaseAuditRow.id == PublishedAuditRow.audit_id)
                    .where(CaseAuditRow.week == week)
                )
            ).all()
        )
    groups: dict[int, EntityWork] = {}
    for sample, case, entity_name, audit_id, result in rows:
        group = groups.setdefault(
            sample.entity_id,
            EntityWork(sample.entity_id, entity_name, [], published.get(sample.entity_id)),
        )
        group.items.append(
            WorkItem(
                case.id,
                case.number,
                TYPE_LABELS[CaseType(case.type)],
                case.closed_at,  # type: ignore[arg-type]
                case.confidential,
                audit_id,
                result,
                can_see_case(actor, entity_id=case.entity_id, confidential=case.confidential),
                audit_id in published_ids,
            )
        )
    return list(groups.values())
