"""Escalation of cases at SLA risk: a periodic job (``cac311 cases escalate``).

Three levels, each recorded at most once per case (unique ``(case_id, level)`` in
``case_escalations``):

- ``primera_accion``: the entity took no first action within 24 hours of opening (only while
  the entity holds the case: ``asignado`` or ``en_proceso``);
- ``riesgo_sla``: the case is open and within ``margin`` of its due moment;
- ``vencido``: the case is open and past its due moment. An overdue case is escalated as
  ``vencido`` only; it is not also recorded as ``riesgo_sla`` after the fact.

Each new escalation appends an internal (non-public) note "Escalado: ..." by ``sistema`` to
the case history. The insert uses ``ON CONFLICT DO NOTHING`` so two runs at once still write
one row and one note per case and level.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models import CaseHistoryRow, CaseRow, EntityRow
from case_core.db.models.escalations import CaseEscalationRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import sla
from case_core.domain.case import OPEN_STATUSES, STATUS_LABELS, CaseStatus
from case_core.domain.roles import SYSTEM

DEFAULT_MARGIN = timedelta(days=3)
# Statuses in which the responsible entity holds the case (its first action is awaited).
ENTITY_HOLDS = frozenset({CaseStatus.ASIGNADO, CaseStatus.EN_PROCESO})


class EscalationLevel(StrEnum):
    PRIMERA_ACCION = "primera_accion"
    RIESGO_SLA = "riesgo_sla"
    VENCIDO = "vencido"


LEVEL_LABELS: dict[EscalationLevel, str] = {
    EscalationLevel.PRIMERA_ACCION: "Sin primera acción",
    EscalationLevel.RIESGO_SLA: "En riesgo de vencer",
    EscalationLevel.VENCIDO: "Vencido",
}


def due_levels(
    *,
    status: CaseStatus,
    opened_at: datetime,
    due_at: datetime,
    first_action_at: datetime | None,
    now: datetime,
    margin: timedelta = DEFAULT_MARGIN,
) -> list[EscalationLevel]:
    """The escalation levels a case has reached at ``now`` (pure)."""
    status = CaseStatus(status)
    if status not in OPEN_STATUSES:
        return []
    levels = []
    if (
        status in ENTITY_HOLDS
        and first_action_at is None
        and now >= sla.first_action_due_at(opened_at)
    ):
        levels.append(EscalationLevel.PRIMERA_ACCION)
    if now > due_at:
        levels.append(EscalationLevel.VENCIDO)
    elif sla.at_risk(due_at, now, margin=margin):
        levels.append(EscalationLevel.RIESGO_SLA)
    return levels


def escalation_note(
    level: EscalationLevel, *, opened_at: datetime, due_at: datetime, now: datetime, tz: tzinfo
) -> str:
    """The internal history note of an escalation (Spanish, local times)."""
    due_day = due_at.astimezone(tz).strftime("%d/%m/%Y")
    if level is EscalationLevel.PRIMERA_ACCION:
        limit = sla.first_action_due_at(opened_at).astimezone(tz).strftime("%d/%m/%Y %H:%M")
        return (
            "Escalado: la entidad no registró su primera acción dentro de las "
            f"{sla.FIRST_ACTION_HOURS} horas (límite {limit})."
        )
    left = sla.days_left(due_at, now, tz)
    if level is EscalationLevel.VENCIDO:
        late = -left
        late_text = "hoy" if late <= 0 else f"hace {late} día{'s' if late != 1 else ''}"
        return f"Escalado: el plazo venció el {due_day} ({late_text})."
    when = "vence hoy" if left <= 0 else f"vence en {left} día{'s' if left != 1 else ''}"
    return f"Escalado: el plazo {when} ({due_day}) y el caso sigue abierto."


@dataclass(frozen=True)
class Escalation:
    case_id: int
    case_number: str
    level: EscalationLevel


@dataclass(frozen=True)
class EscalationReport:
    """What one run escalated (only new escalations; earlier ones are not counted again)."""

    escalations: tuple[Escalation, ...] = ()

    def count(self, level: EscalationLevel) -> int:
        return sum(1 for e in self.escalations if e.level is level)

    @property
    def first_action(self) -> int:
        return self.count(EscalationLevel.PRIMERA_ACCION)

    @property
    def at_risk(self) -> int:
        return self.count(EscalationLevel.RIESGO_SLA)

    @property
    def overdue(self) -> int:
        return self.count(EscalationLevel.VENCIDO)

    @property
    def total(self) -> int:
        return len(self.escalations)


async def escalate(
    uow_factory: UnitOfWorkFactory,
    now: datetime,
    tz: tzinfo,
    *,
    margin: timedelta = DEFAULT_MARGIN,
) -> EscalationReport:
    """Escalate open cases at SLA risk, overdue or without first action; idempotent."""
    open_values = [s.value for s in OPEN_STATUSES]
    held_values = [s.value for s in ENTITY_HOLDS]
    first_action_cutoff = now - timedelta(hours=sla.FIRST_ACTION_HOURS)
    done: list[Escalation] = []
    async with uow_factory() as uow:
        stmt = (
            select(CaseRow)
            .where(
                CaseRow.status.in_(open_values),
                or_(
                    CaseRow.due_at <= now + margin,
                    and_(
                        CaseRow.first_action_at.is_(None),
                        CaseRow.status.in_(held_values),
                        CaseRow.opened_at <= first_action_cutoff,
                    ),
                ),
            )
            .order_by(CaseRow.due_at, CaseRow.id)
        )
        cases = (await uow.session.scalars(stmt)).all()
        existing = await _levels_of(uow.session, [c.id for c in cases])
        for case in cases:
            levels = due_levels(
                status=CaseStatus(case.status),
                opened_at=case.opened_at,
                due_at=case.due_at,
                first_action_at=case.first_action_at,
                now=now,
                margin=margin,
            )
            for level in levels:
                if level in existing.get(case.id, ()):
                    continue
                inserted = await uow.session.scalar(
                    insert(CaseEscalationRow)
                    .values(case_id=case.id, level=level.value, at=now)
                    .on_conflict_do_nothing(index_elements=["case_id", "level"])
                    .returning(CaseEscalationRow.id)
                )
                if inserted is None:
                    continue  # another run got there first
                note = escalation_note(
                    level, opened_at=case.opened_at, due_at=case.due_at, now=now, tz=tz
                )
                await uow.cases.append_history(
                    CaseHistoryRow(
                        case_id=case.id,
                        at=now,
                        kind="note",
                        note=note,
                        public=False,
                        actor_user_id=SYSTEM.user_id,
                        actor_label=SYSTEM.username,
                    )
                )
                done.append(Escalation(case.id, case.number, level))
        await uow.commit()
    return EscalationReport(tuple(done))


async def escalation_levels(
    uow_factory: UnitOfWorkFactory, case_ids: Iterable[int]
) -> dict[int, list[EscalationLevel]]:
    """The levels each of ``case_ids`` has been escalated to (cases without any are absent)."""
    async with uow_factory() as uow:
        found = await _levels_of(uow.session, list(case_ids))
    return {case_id: sorted(levels, key=_LEVEL_ORDER.index) for case_id, levels in found.items()}


@dataclass(frozen=True)
class EscalatedCase:
    """A row of the supervisors' escalation list."""

    case_id: int
    number: str
    entity_name: str
    status: CaseStatus
    status_label: str
    due_at: datetime
    days_left: int
    levels: tuple[EscalationLevel, ...]
    last_escalated_at: datetime
    confidential: bool
    level_labels: tuple[str, ...] = field(default=())


async def escalated_cases(
    uow_factory: UnitOfWorkFactory,
    *,
    now: datetime,
    tz: tzinfo,
    include_closed: bool = False,
    limit: int = 500,
) -> list[EscalatedCase]:
    """Escalated cases for supervisors, most urgent (earliest due) first."""
    stmt = (
        select(CaseRow, EntityRow, CaseEscalationRow)
        .join(CaseEscalationRow, CaseEscalationRow.case_id == CaseRow.id)
        .join(EntityRow, EntityRow.id == CaseRow.entity_id)
        .order_by(CaseRow.due_at, CaseRow.id)
    )
    if not include_closed:
        stmt = stmt.where(CaseRow.status.in_([s.value for s in OPEN_STATUSES]))
    grouped: dict[int, tuple[CaseRow, EntityRow, list[CaseEscalationRow]]] = {}
    async with uow_factory() as uow:
        for case, entity, esc in (await uow.session.execute(stmt)).all():
            grouped.setdefault(case.id, (case, entity, []))[2].append(esc)
    result = []
    for case, entity, escs in list(grouped.values())[:limit]:
        levels = tuple(sorted((EscalationLevel(e.level) for e in escs), key=_LEVEL_ORDER.index))
        status = CaseStatus(case.status)
        result.append(
            EscalatedCase(
                case_id=case.id,
                number=case.number,
                entity_name=entity.name,
                status=status,
                status_label=STATUS_LABELS[status],
                due_at=case.due_at,
                days_left=sla.days_left(case.due_at, now, tz),
                levels=levels,
                last_escalated_at=max(e.at for e in escs),
                confidential=case.confidential,
                level_labels=tuple(LEVEL_LABELS[level] for level in levels),
            )
        )
    return result


_LEVEL_ORDER = list(EscalationLevel)


async def _levels_of(
    session: AsyncSession, case_ids: Sequence[int]
) -> dict[int, set[EscalationLevel]]:
    found: dict[int, set[EscalationLevel]] = defaultdict(set)
    if not case_ids:
        return found
    rows = await session.execute(
        select(CaseEscalationRow.case_id, CaseEscalationRow.level).where(
            CaseEscalationRow.case_id.in_(case_ids)
        )
    )
    for case_id, level in rows.all():
        found[case_id].add(EscalationLevel(level))
    return found
