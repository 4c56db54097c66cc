"""Escalation of cases at SLA risk: a periodic job (``cac311 cases escalate``).

Three levels, each recorded at most once per case (unique ``(case_id, level)`` in
``case_escalations``):

- ``primera_accion``: the entity took no first action within 24 hours of receiving the case
  (``assigned_at``: the registration or the latest reassignment; only while the entity holds
  the case: ``asignado`` or ``en_proceso``);
- ``riesgo_sla``: the case is open and in the at-risk part of its SLA (``sla.RiskPolicy``:
  the last 20 % of it, at least one day, by default);
- ``vencido``: the case is open and past its due moment. An overdue case is escalated as
  ``vencido`` only; it is not also recorded as ``riesgo_sla`` after the fact.

Each new escalation appends an internal (non-public) note "Escalado: ..." by ``sistema`` to
the case history. The insert uses ``ON CONFLICT DO NOTHING`` so two runs at once still write
one row and one note per case and level.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models import CaseHistoryRow, CaseRow, EntityRow
from case_core.db.models.escalations import CaseEscalationRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import sla
from case_core.domain.case import OPEN_STATUSES, STATUS_LABELS, CaseStatus
from case_core.domain.roles import SYSTEM

# Statuses in which the responsible entity holds the case (its first action is awaited).
ENTITY_HOLDS = frozenset({CaseStatus.ASIGNADO, CaseStatus.EN_PROCESO})


class EscalationLevel(StrEnum):
    """The chain of Res. 12/2017: each level is told to the next person up (see
    ``escalation_mail``): no first action → Enlace Operativo, at risk → Enlace Ejecutivo,
    overdue → 3-1-1 supervisors."""

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
    assigned_at: datetime,
    due_at: datetime,
    sla_days: int,
    first_action_at: datetime | None,
    now: datetime,
    risk: sla.RiskPolicy = sla.DEFAULT_RISK,
) -> list[EscalationLevel]:
    """The escalation levels a case has reached at ``now`` (pure); ``assigned_at`` is when the
    entity holding it received it."""
    status = CaseStatus(status)
    if status not in OPEN_STATUSES:
        return []
    levels = []
    if (
        status in ENTITY_HOLDS
        and first_action_at is None
        and now >= sla.first_action_due_at(assigned_at)
    ):
        levels.append(EscalationLevel.PRIMERA_ACCION)
    if now > due_at:
        levels.append(EscalationLevel.VENCIDO)
    elif sla.at_risk(due_at, now, sla_days, policy=risk):
        levels.append(EscalationLevel.RIESGO_SLA)
    return levels


def escalation_note(
    level: EscalationLevel, *, assigned_at: datetime, due_at: datetime, now: datetime, tz: tzinfo
) -> str:
    """The internal history note of an escalation (Spanish, local times)."""
    due_day = due_at.astimezone(tz).strftime("%d/%m/%Y")
    if level is EscalationLevel.PRIMERA_ACCION:
        limit = sla.first_action_due_at(assigned_at).astimezone(tz).strftime("%d/%m/%Y %H:%M")
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


# (session, case, level, internal note, now): queue whatever the level must tell people.
EscalationNotifier = Callable[
    [AsyncSession, CaseRow, EscalationLevel, str, datetime], Awaitable[None]
]


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
    risk: sla.RiskPolicy = sla.DEFAULT_RISK,
    notify: EscalationNotifier | None = None,
) -> EscalationReport:
    """Escalate open cases at SLA risk, overdue or without first action; idempotent.

    ``notify`` is called in the same transaction for each new escalation (it queues the
    e-mails of the level in the mail outbox, so a mail server that is down blocks nothing).
    """
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
                    CaseRow.due_at <= now + risk.widest_margin,
                    and_(
                        CaseRow.first_action_at.is_(None),
                        CaseRow.status.in_(held_values),
                        func.coalesce(CaseRow.assigned_at, CaseRow.opened_at)
                        <= first_action_cutoff,
                    ),
                ),
            )
            .order_by(CaseRow.due_at, CaseRow.id)
        )
        cases = (await uow.session.scalars(stmt)).all()
        existing = await _levels_of(uow.session, [c.id for c in cases])
        for case in cases:
            assigned_at = case.assigned_at or case.opened_at
            levels = due_levels(
                status=CaseStatus(case.status),
                assigned_at=assigned_at,
                due_at=case.due_at,
                sla_days=case.sla_days,
                first_action_at=case.first_action_at,
                now=now,
                risk=risk,
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
                    level, assigned_at=assigned_at, due_at=case.due_at, now=now, tz=tz
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
                if notify is not None:
                    await notify(uow.session, case, level, note, now)
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
