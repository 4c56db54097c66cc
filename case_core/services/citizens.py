"""Citizen services: register or update a citizen, identify a caller, read their history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert

from case_core.db.citizen_search import search_citizen_ids
from case_core.db.models import CitizenPhoneRow, CitizenRow
from case_core.db.models.citizens import full_name
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.case import STATUS_LABELS, TYPE_LABELS, CaseStatus, CaseType
from case_core.domain.cedula import parse_cedula
from case_core.domain.errors import DomainError, NotFound
from case_core.domain.geography import canonical_location
from case_core.domain.phone import caller_id_candidates, is_mobile, normalise_phone


@dataclass(frozen=True, kw_only=True)
class CitizenData:
    cedula: str | None
    first_name: str
    last_name: str
    phone: str | None = None
    email: str | None = None
    province: str | None = None
    district: str | None = None
    corregimiento: str | None = None


@dataclass(frozen=True)
class CaseSummary:
    id: int
    number: str
    type_label: str
    status: str
    status_label: str
    entity_name: str
    opened_at: datetime
    due_at: datetime
    closed_at: datetime | None
    confidential: bool


@dataclass(frozen=True)
class CitizenView:
    id: int
    cedula: str | None
    full_name: str
    phones: list[str]
    province: str | None
    district: str | None
    corregimiento: str | None
    cases: list[CaseSummary] = field(default_factory=list)


async def save_citizen(uow_factory: UnitOfWorkFactory, data: CitizenData) -> int:
    """Create the citizen, or update the one with the same cédula; returns its id."""
    cedula = str(parse_cedula(data.cedula)) if data.cedula else None
    if not (data.first_name or "").strip() and not cedula:
        raise DomainError("Indique al menos el nombre o la cédula del ciudadano.")
    phone = normalise_phone(data.phone) if data.phone else None
    province, district, corregimiento = canonical_location(
        data.province, data.district, data.corregimiento
    )
    place = {"province": province, "district": district, "corregimiento": corregimiento}
    async with uow_factory() as uow:
        row = None
        if cedula:
            # Two agents saving the same new cédula at once: the second one updates.
            await uow.session.execute(
                insert(CitizenRow)
                .values(cedula=cedula, first_name="", last_name="")
                .on_conflict_do_nothing(index_elements=[CitizenRow.cedula])
            )
            row = await uow.citizens.by_cedula(cedula)
        if row is None:
            row = CitizenRow(cedula=cedula)
            await uow.citizens.add(row)
        row.first_name = (data.first_name or "").strip()
        row.last_name = (data.last_name or "").strip()
        email = (data.email or "").strip()
        if email:
            row.email = email
        for attr, value in place.items():  # official spellings (case_core.domain.geography)
            if value:
                setattr(row, attr, value)
        if phone:
            await uow.citizens.add_phone(row, phone, "movil" if is_mobile(phone) else "fijo")
        await uow.commit()
        return row.id


async def identify_by_cedula(uow_factory: UnitOfWorkFactory, cedula: str) -> CitizenView | None:
    """The citizen with this cédula, with their recent cases."""
    canonical = str(parse_cedula(cedula))
    async with uow_factory() as uow:
        row = await uow.citizens.by_cedula(canonical)
        return None if row is None else await _view(uow, row)


async def identify_by_caller_id(
    uow_factory: UnitOfWorkFactory, caller_number: str
) -> list[CitizenView]:
    """Citizens who gave this phone number (several people may share a home phone)."""
    candidates = caller_id_candidates(caller_number)
    if not candidates:
        return []
    async with uow_factory() as uow:
        rows = await uow.citizens.by_phone(candidates[0])
        return [await _view(uow, row, with_cases=False) for row in rows]


# One SELECT needs no transaction: in autocommit no BEGIN and no ROLLBACK go to the server, so
# the lookup is one round trip (plus the pool's pre-ping) instead of three.
_READ_ONLY_ROUND_TRIP = {"isolation_level": "AUTOCOMMIT"}


async def identity_by_cedula(
    uow_factory: UnitOfWorkFactory, cedula: str
) -> tuple[int, str | None] | None:
    """``(id, cédula)`` of the citizen with this cédula: one statement (the IVR's lookup,
    which needs neither the phones nor the cases of :func:`identify_by_cedula`)."""
    canonical = str(parse_cedula(cedula))
    async with uow_factory() as uow:
        conn = await uow.session.connection(execution_options=_READ_ONLY_ROUND_TRIP)
        row = (
            await conn.execute(
                select(CitizenRow.id, CitizenRow.cedula).where(CitizenRow.cedula == canonical)
            )
        ).first()
    return None if row is None else (row[0], row[1])


async def identities_by_caller_id(
    uow_factory: UnitOfWorkFactory, caller_number: str
) -> list[tuple[int, str | None]]:
    """``(id, cédula)`` of the citizens who gave this phone number, by id: one statement
    (the IVR's lookup; see :func:`identify_by_caller_id`)."""
    candidates = caller_id_candidates(caller_number)
    if not candidates:
        return []
    async with uow_factory() as uow:
        conn = await uow.session.connection(execution_options=_READ_ONLY_ROUND_TRIP)
        rows = await conn.execute(
            select(CitizenRow.id, CitizenRow.cedula)
            .join(CitizenPhoneRow, CitizenPhoneRow.citizen_id == CitizenRow.id)
            .where(CitizenPhoneRow.e164 == candidates[0])
            .distinct()
            .order_by(CitizenRow.id)
        )
        return [(r[0], r[1]) for r in rows]


async def citizen_view(uow_factory: UnitOfWorkFactory, citizen_id: int) -> CitizenView:
    async with uow_factory() as uow:
        row = await uow.citizens.get(citizen_id)
        if row is None:
            raise NotFound("El ciudadano no existe.")
        return await _view(uow, row)


async def search_citizens(uow_factory: UnitOfWorkFactory, query: str) -> list[CitizenView]:
    """Citizens whose name, cédula or phone contains ``query`` (accents and case ignored;
    see ``case_core.db.citizen_search``), by last name; at most 20."""
    query = (query or "").strip()[:100]
    if len(query) < 3:
        return []
    async with uow_factory() as uow:
        ids = await search_citizen_ids(uow.session, query)
        if not ids:
            return []
        # One statement for the citizens and their phones, plain rows rather than ORM
        # objects: the search runs on every keystroke pause of the agent desktop.
        phones = (
            select(func.array_agg(aggregate_order_by(CitizenPhoneRow.e164, CitizenPhoneRow.id)))
            .where(CitizenPhoneRow.citizen_id == CitizenRow.id)
            .scalar_subquery()
        )
        found = {
            r.id: r
            for r in await uow.session.execute(
                select(
                    CitizenRow.id,
                    CitizenRow.cedula,
                    CitizenRow.first_name,
                    CitizenRow.last_name,
                    CitizenRow.province,
                    CitizenRow.district,
                    CitizenRow.corregimiento,
                    phones.label("phones"),
                ).where(CitizenRow.id.in_(ids))
            )
        }
        return [
            CitizenView(
                r.id,
                r.cedula,
                full_name(r.first_name, r.last_name),
                list(r.phones or []),
                r.province,
                r.district,
                r.corregimiento,
            )
            for r in (found[i] for i in ids if i in found)
        ]


async def _view(uow, row: CitizenRow, *, with_cases: bool = True) -> CitizenView:  # type: ignore[no-untyped-def]
    cases = []
    if with_cases:
        for case, entity in await uow.cases.for_citizen(row.id):
            status = CaseStatus(case.status)
            cases.append(
                CaseSummary(
                    case.id,
                    case.number,
                    TYPE_LABELS[CaseType(case.type)],
                    status.value,
                    STATUS_LABELS[status],
                    entity.name,
                    case.opened_at,
                    case.due_at,
                    case.closed_at,
                    case.confidential,
                )
            )
    return CitizenView(
        row.id,
        row.cedula,
        row.full_name,
        [p.e164 for p in row.phones],
        row.province,
        row.district,
        row.corregimiento,
        cases,
    )
