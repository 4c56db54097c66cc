"""Private case status: what a citizen may learn about a case, and only with its secret.

Every channel (IVR option 5, the citizen web) calls :func:`private_status` with the case
number, the secret the citizen gave (the tracking code, or the last four digits of the
cédula of an identified citizen) and where the request comes from (``ivr:<caller id>``,
``web:<ip>``). An unknown number and a wrong secret give the same answer (None), so a caller
cannot learn which numbers exist. Failures are counted per source and per case; beyond the
limits the lookup is refused (:class:`LookupLocked`) without checking the secret at all.

A confidential or anonymous case reveals its status and public notes only: no entity, and
no note that names one (the automatic "Asignado a ..." of an assignment).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from case_core.db.models import CaseHistoryRow, CaseRow, CitizenRow, EntityRow, ServiceRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import sla
from case_core.domain.case import (
    STATUS_LABELS,
    TYPE_LABELS,
    CaseAction,
    CaseStatus,
    CaseType,
    is_case_number,
)
from case_core.domain.errors import DomainError
from case_core.domain.tracking import (
    CEDULA_SUFFIX_LENGTH,
    matches_cedula_suffix,
    verify_tracking_code,
)
from case_core.services import rate_limit
from case_core.services.rate_limit import Limit

log = logging.getLogger(__name__)

FAILURES_PER_SOURCE = Limit("estado_fallido", 5, timedelta(minutes=15))
FAILURES_PER_CASE = Limit("estado_fallido", 10, timedelta(hours=24))
# Notes written by the system when routing name the entity: hidden on confidential cases.
_ROUTING_ACTIONS = {CaseAction.ASSIGN.value, CaseAction.REASSIGN.value}


class LookupLocked(DomainError):
    """Too many failed attempts from this source or on this case."""

    def __init__(self) -> None:
        super().__init__(
            "Demasiados intentos fallidos. Espere unos minutos o comuníquese con el 3-1-1."
        )


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # status | note
    status_label: str | None
    note: str | None
    automatic: bool = False  # a routing note written by the system, not an answer
    history_id: int | None = None  # the case_history row (names a note's rendered prompt)


@dataclass(frozen=True)
class PrivateStatus:
    case_id: int
    number: str
    type_label: str
    status: CaseStatus
    status_label: str
    confidential: bool
    entity_name: str | None  # None on a confidential case
    entity_code: str | None
    service_name: str | None
    opened_at: datetime
    due_at: datetime
    days_left: int | None  # None once closed; negative when overdue
    timeline: tuple[TimelineEntry, ...]

    @property
    def public_notes(self) -> list[TimelineEntry]:
        return [e for e in self.timeline if e.note and not e.automatic]

    @property
    def latest_public_note(self) -> TimelineEntry | None:
        """The note IVR option 5 reads aloud (once rendered): the last of ``public_notes``."""
        notes = self.public_notes
        return notes[-1] if notes else None


async def private_status(
    uow_factory: UnitOfWorkFactory,
    *,
    number: str,
    secret: str,
    source: str,
    now: datetime,
    tz: ZoneInfo,
) -> PrivateStatus | None:
    """The case's public status when ``secret`` matches; None for an unknown number or a
    wrong secret alike. Raises LookupLocked beyond the failure limits."""
    number = (number or "").strip()
    secret = (secret or "").strip()
    if not is_case_number(number):
        return None  # no number of ours has this shape: nothing to learn, nothing to count
    async with uow_factory() as uow:
        session = uow.session
        if await rate_limit.exceeded(session, FAILURES_PER_SOURCE, now=now, source=source):
            log.warning("case status refused: too many failures from this source")
            raise LookupLocked()
        row, cedula = None, None
        found = (
            await session.execute(
                select(CaseRow, CitizenRow.cedula)
                .outerjoin(CitizenRow, CitizenRow.id == CaseRow.citizen_id)
                .where(CaseRow.number == number)
            )
        ).first()
        if found is not None:
            row, cedula = found
        if row is not None and await rate_limit.exceeded(
            session, FAILURES_PER_CASE, now=now, case_id=row.id
        ):
            log.warning("case status refused: too many failures on one case")
            raise LookupLocked()
        if row is None or not await _secret_matches(row, cedula, secret):
            await rate_limit.record_event(
                session,
                FAILURES_PER_SOURCE,
                now=now,
                source=source,
                case_id=row.id if row is not None else None,
            )
            await rate_limit.purge_events(session, before=now - timedelta(days=2))
            await uow.commit()
            # Neither the number nor the secret is logged: both are keys to a case.
            log.info("case status lookup failed (%s)", source.split(":", 1)[0])
            return None
        return await _status_view(uow, row, now=now, tz=tz)


async def _secret_matches(row: CaseRow, cedula: str | None, secret: str) -> bool:
    if len(secret) == CEDULA_SUFFIX_LENGTH:
        return not row.anonymous and matches_cedula_suffix(secret, cedula)
    # scrypt costs about 12 ms of CPU and releases the GIL: in a thread, the event loop
    # (every other call of the FastAGI process, every web request) goes on meanwhile.
    return await asyncio.to_thread(verify_tracking_code, secret, row.tracking_code_hash)


async def status_by_id(
    uow_factory: UnitOfWorkFactory, case_id: int, *, now: datetime, tz: ZoneInfo
) -> PrivateStatus | None:
    """The same public view for a case already authorised (e.g. right after filing it)."""
    async with uow_factory() as uow:
        row = await uow.cases.get(case_id)
        return None if row is None else await _status_view(uow, row, now=now, tz=tz)


async def _status_view(uow, row: CaseRow, *, now: datetime, tz: ZoneInfo) -> PrivateStatus:  # type: ignore[no-untyped-def]
    entity = await uow.session.get(EntityRow, row.entity_id)
    service = await uow.session.get(ServiceRow, row.service_id) if row.service_id else None
    history = (
        await uow.session.scalars(
            select(CaseHistoryRow)
            .where(CaseHistoryRow.case_id == row.id, CaseHistoryRow.public)
            .order_by(CaseHistoryRow.at, CaseHistoryRow.id)
        )
    ).all()
    status = CaseStatus(row.status)
    return PrivateStatus(
        case_id=row.id,
        number=row.number,
        type_label=TYPE_LABELS[CaseType(row.type)],
        status=status,
        status_label=STATUS_LABELS[status],
        confidential=row.confidential,
        entity_name=None if row.confidential else entity.name,
        entity_code=None if row.confidential else entity.code,
        service_name=None if row.confidential or service is None else service.name,
        opened_at=row.opened_at,
        due_at=row.due_at,
        days_left=None if status is CaseStatus.CERRADO else sla.days_left(row.due_at, now, tz),
        timeline=tuple(public_timeline(history, confidential=row.confidential)),
    )


def public_timeline(
    history: list[CaseHistoryRow] | tuple[CaseHistoryRow, ...], *, confidential: bool
) -> list[TimelineEntry]:
    """Public history entries as the citizen sees them: no author, no internal note."""
    entries = []
    for h in history:
        if not h.public:
            continue
        note = h.note
        if confidential and h.kind == "status" and h.action in _ROUTING_ACTIONS:
            note = None
        if confidential and h.kind == "assignment":
            continue
        label = STATUS_LABELS[CaseStatus(h.to_status)] if h.to_status else None
        if label is None and not note:
            continue
        automatic = h.kind == "status" and h.action in _ROUTING_ACTIONS
        entries.append(
            TimelineEntry(h.at, "status" if label else "note", label, note, automatic, h.id)
        )
    return entries
