"""The global search of the desktop: a case number (with or without spaces), a cédula, a
phone or a name (accent- and case-insensitive, through ``citizens.search_citizens``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo

from sqlalchemy import and_, or_, select

from case_core.db.models import (
    CaseRow,
    CitizenRow,
    EntityRow,
)
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.case import (
    STATUS_LABELS,
    TYPE_LABELS,
    CaseStatus,
    CaseType,
    parse_case_number,
)
from case_core.domain.case_access import (
    may_open_case,
)
from case_core.domain.cedula import parse_cedula
from case_core.domain.errors import DomainError
from case_core.domain.phone import normalise_phone
from case_core.domain.roles import Actor
from case_core.services.case_workspace import facts, local_time
from case_core.services.citizens import search_citizens


@dataclass(frozen=True)
class CaseHit:
    number: str
    type_label: str
    status_label: str
    entity_name: str
    opened: str
    citizen_name: str | None


@dataclass(frozen=True)
class CitizenHit:
    id: int
    full_name: str
    cedula: str | None


@dataclass(frozen=True)
class SearchResult:
    """What the global search found: one exact case, or lists of cases and citizens."""

    exact: str | None = None
    cases: list[CaseHit] = field(default_factory=list)
    citizens: list[CitizenHit] = field(default_factory=list)


async def find(
    uow_factory: UnitOfWorkFactory, query: str, *, actor: Actor, tz: tzinfo, limit: int = 50
) -> SearchResult:
    """The global search: a case number (with or without spaces), a cédula, a phone or a
    name (accent- and case-insensitive, through ``citizens.search_citizens``)."""
    query = (query or "").strip()[:80]
    if not query:
        return SearchResult()
    number = parse_case_number(query)
    if number is not None:
        async with uow_factory() as uow:
            row = await uow.cases.by_number(number)
        if row is not None and may_open_case(actor, facts(row)):
            return SearchResult(exact=row.number)
        return SearchResult()
    citizen_ids: list[int] = []
    phone: str | None = None
    citizens: list[CitizenHit] = []
    try:
        cedula = str(parse_cedula(query))
    except DomainError:
        cedula = None
    if cedula is None and sum(c.isdigit() for c in query) >= 7:
        try:
            phone = normalise_phone(query)
        except DomainError:
            phone = None
    async with uow_factory() as uow:
        if cedula is not None:
            row = await uow.citizens.by_cedula(cedula)
            if row is not None:
                citizens = [CitizenHit(row.id, row.full_name, row.cedula)]
        elif phone is not None:
            citizens = [
                CitizenHit(r.id, r.full_name, r.cedula) for r in await uow.citizens.by_phone(phone)
            ]
    if cedula is None and phone is None:
        citizens = [
            CitizenHit(v.id, v.full_name, v.cedula)
            for v in await search_citizens(uow_factory, query)
        ]
    citizen_ids = [c.id for c in citizens]
    conditions = []
    if citizen_ids:
        conditions.append(and_(CaseRow.citizen_id.in_(citizen_ids), ~CaseRow.anonymous))
    if phone is not None:
        conditions.append(and_(CaseRow.contact_phone == phone, ~CaseRow.anonymous))
    hits: list[CaseHit] = []
    if conditions:
        async with uow_factory() as uow:
            rows = await uow.session.execute(
                select(CaseRow, EntityRow.name, CitizenRow)
                .join(EntityRow, EntityRow.id == CaseRow.entity_id)
                .outerjoin(CitizenRow, CitizenRow.id == CaseRow.citizen_id)
                .where(or_(*conditions))
                .order_by(CaseRow.opened_at.desc())
                .limit(limit)
            )
            for case, entity_name, citizen in rows.all():
                if not may_open_case(actor, facts(case)):
                    continue
                status = CaseStatus(case.status)
                hits.append(
                    CaseHit(
                        case.number,
                        TYPE_LABELS[CaseType(case.type)],
                        STATUS_LABELS[status],
                        entity_name,
                        local_time(case.opened_at, tz),
                        citizen.full_name if citizen else None,
                    )
                )
    return SearchResult(cases=hits, citizens=citizens)
