"""Read models for Open311: services with their entity, and public cases.

Public means: neither confidential nor anonymous. Nothing personal is selected at all (no
citizen, phone, e-mail, declared identity, description), so it cannot leak by accident.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select

from case_core.db.models import CaseHistoryRow, CaseRow, EntityRow, ServiceRow
from case_core.db.uow import UnitOfWorkFactory


@dataclass(frozen=True)
class ServiceInfo:
    id: int
    name: str
    sla_days: int
    entity_code: str
    entity_name: str
    entity_short_name: str


@dataclass(frozen=True)
class PublicRequest:
    number: str
    status: str
    service_id: int | None
    service_name: str | None
    entity_name: str
    opened_at: datetime
    updated_at: datetime
    due_at: datetime
    address: str | None
    latitude: float | None
    longitude: float | None
    status_notes: str | None


async def services(
    uow_factory: UnitOfWorkFactory, *, service_id: int | None = None
) -> list[ServiceInfo]:
    stmt = (
        select(ServiceRow, EntityRow)
        .join(EntityRow, EntityRow.id == ServiceRow.entity_id)
        .where(ServiceRow.active, EntityRow.active)
        .order_by(EntityRow.name, ServiceRow.name)
    )
    if service_id is not None:
        stmt = stmt.where(ServiceRow.id == service_id)
    async with uow_factory() as uow:
        rows = (await uow.session.execute(stmt)).all()
    return [ServiceInfo(s.id, s.name, s.sla_days, e.code, e.name, e.short_name) for s, e in rows]


async def public_requests(
    uow_factory: UnitOfWorkFactory,
    *,
    numbers: Sequence[str] | None = None,
    service_ids: Sequence[int] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    statuses: Sequence[str] | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[PublicRequest]:
    """Public cases, newest first; ``numbers`` overrides every other filter (as the spec
    says of ``service_request_id``)."""
    latest_note = (
        select(CaseHistoryRow.note)
        .where(
            CaseHistoryRow.case_id == CaseRow.id,
            CaseHistoryRow.public,
            CaseHistoryRow.note.is_not(None),
        )
        .order_by(CaseHistoryRow.at.desc(), CaseHistoryRow.id.desc())
        .limit(1)
        .correlate(CaseRow)
        .scalar_subquery()
    )
    stmt = (
        select(
            CaseRow.number,
            CaseRow.status,
            CaseRow.service_id,
            ServiceRow.name,
            EntityRow.name,
            CaseRow.opened_at,
            func.coalesce(CaseRow.closed_at, CaseRow.updated_at, CaseRow.opened_at),
            CaseRow.due_at,
            CaseRow.address,
            CaseRow.corregimiento,
            CaseRow.district,
            CaseRow.province,
            CaseRow.latitude,
            CaseRow.longitude,
            latest_note,
        )
        .join(EntityRow, EntityRow.id == CaseRow.entity_id)
        .outerjoin(ServiceRow, ServiceRow.id == CaseRow.service_id)
        .where(and_(~CaseRow.confidential, ~CaseRow.anonymous))
    )
    if numbers is not None:
        stmt = stmt.where(CaseRow.number.in_(list(numbers)))
    else:
        if service_ids:
            stmt = stmt.where(CaseRow.service_id.in_(list(service_ids)))
        if start is not None:
            stmt = stmt.where(CaseRow.opened_at >= start)
        if end is not None:
            stmt = stmt.where(CaseRow.opened_at <= end)
        if statuses:
            stmt = stmt.where(CaseRow.status.in_(list(statuses)))
    stmt = stmt.order_by(CaseRow.opened_at.desc(), CaseRow.id.desc()).limit(limit).offset(offset)
    async with uow_factory() as uow:
        rows = (await uow.session.execute(stmt)).all()
    out = []
    for r in rows:
        address = ", ".join(p for p in (r[8], r[9], r[10], r[11]) if p) or None
        out.append(
            PublicRequest(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], address, r[12], r[13], r[14]
            )
        )
    return out
