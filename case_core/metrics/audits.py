"""The entity-level quality audit score published in the monthly open data.

``audit_scores``: per entity, the share of checklist criteria met (criteria marked "no
aplica" excluded) over the quality audits, made by ``as_of``, of the entity's cases closed in
[start, end). Entities without audits are absent (published as no data).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from case_core.db.models import CaseRow
from case_core.db.models.quality import CaseAuditRow
from case_core.db.uow import UnitOfWorkFactory


async def audit_scores(
    uow_factory: UnitOfWorkFactory, start: datetime, end: datetime, *, as_of: datetime
) -> dict[int, float]:
    """entity id -> % of audit criteria met (0-100) for cases closed in [start, end)."""
    stmt = (
        select(
            CaseAuditRow.entity_id,
            func.sum(CaseAuditRow.criteria_met),
            func.sum(CaseAuditRow.criteria_scored),
        )
        .join(CaseRow, CaseRow.id == CaseAuditRow.case_id)
        .where(
            CaseRow.closed_at >= start.astimezone(UTC),
            CaseRow.closed_at < end.astimezone(UTC),
            CaseAuditRow.at <= as_of.astimezone(UTC),
        )
        .group_by(CaseAuditRow.entity_id)
    )
    async with uow_factory() as uow:
        rows = (await uow.session.execute(stmt)).all()
    return {entity_id: 100.0 * int(met) / int(scored) for entity_id, met, scored in rows if scored}
