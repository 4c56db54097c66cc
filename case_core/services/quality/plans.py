"""Action plans for entities below goal, and the weekly expired-cases report."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models import CaseRow, EntityRow
from case_core.db.models.quality import (
    ActionPlanRow,
    ActionPlanUpdateRow,
)
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import quality as q
from case_core.domain.case import TYPE_LABELS, CaseStatus, CaseType
from case_core.domain.errors import NotFound
from case_core.domain.roles import Actor, can_see_case
from case_core.services.quality.access import (
    PANAMA,
    actor_label,
    check_entity_access,
)

# --- action plans ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanView:
    plan: ActionPlanRow
    overdue: bool
    updates: list[ActionPlanUpdateRow]

    @property
    def status_label(self) -> str:
        return q.PLAN_STATUS_LABELS[q.PlanStatus(self.plan.status)]


async def create_action_plan(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    entity_id: int,
    month: str,
    problem: str,
    measures: str,
    owner: str,
    due_on: date,
    now: datetime,
    tz: tzinfo = PANAMA,
) -> int:
    """A plan for an entity below goal in ``month``'s scorecard, by its advisor."""
    from case_core.metrics.report import month_bounds
    from case_core.metrics.scorecards import scorecards

    if not (problem.strip() and measures.strip() and owner.strip()):
        raise q.PlanError("Escriba el problema, las medidas y el responsable del plan.")
    if due_on < now.astimezone(tz).date():
        raise q.PlanError("La fecha de cumplimiento no puede estar en el pasado.")
    try:
        start, end = month_bounds(month, tz)  # type: ignore[arg-type]
    except ValueError:
        raise q.PlanError("El mes debe tener la forma AAAA-MM.") from None
    async with uow_factory() as uow:
        await check_entity_access(uow.session, actor, entity_id, now.astimezone(tz).date())
    cards = await scorecards(uow_factory, start, end, tz, entity_id=entity_id, now=now)
    card = cards[0] if cards else None
    if card is None or not card.below_goal:
        raise q.PlanError(
            "La entidad no está bajo la meta en ese mes: el plan de acción es para entidades "
            "con menos de 70 % de casos cerrados en 30 días."
        )
    async with uow_factory() as uow:
        label = await actor_label(uow.session, actor)
        plan = ActionPlanRow(
            entity_id=entity_id,
            month=month,
            closed_30d_pct=card.closed_within_30d_percent,
            problem=problem.strip(),
            measures=measures.strip(),
            owner=owner.strip(),
            due_on=due_on,
            status=q.PlanStatus.ABIERTO.value,
            created_by_user_id=actor.user_id,
            updated_at=now,
        )
        uow.session.add(plan)
        await uow.session.flush()
        uow.session.add(
            ActionPlanUpdateRow(
                plan_id=plan.id,
                at=now,
                user_id=actor.user_id,
                actor_label=label,
                status=plan.status,
                note="Plan creado.",
            )
        )
        await uow.commit()
        return plan.id


async def update_action_plan(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    plan_id: int,
    status: str,
    note: str,
    now: datetime,
    tz: tzinfo = PANAMA,
) -> None:
    """Record progress on a plan: a note and possibly a new status."""
    try:
        target = q.PlanStatus(status)
    except ValueError:
        raise q.PlanError("Estado de plan desconocido.") from None
    async with uow_factory() as uow:
        s = uow.session
        plan = await s.get(ActionPlanRow, plan_id, with_for_update=True)
        if plan is None:
            raise NotFound("El plan no existe.")
        await check_entity_access(s, actor, plan.entity_id, now.astimezone(tz).date())
        current = q.PlanStatus(plan.status)
        if target is not current:
            q.check_plan_transition(current, target)
        elif not note.strip():
            raise q.PlanError("Escriba el avance o elija un nuevo estado.")
        plan.status = target.value
        plan.updated_at = now
        s.add(
            ActionPlanUpdateRow(
                plan_id=plan.id,
                at=now,
                user_id=actor.user_id,
                actor_label=await actor_label(s, actor),
                status=target.value,
                note=note.strip(),
            )
        )
        await uow.commit()


async def entity_action_plans(
    session: AsyncSession, entity_id: int, *, today: date
) -> list[PlanView]:
    """An entity's plans, newest first, with overdue flags and their progress."""
    plans = (
        await session.scalars(
            select(ActionPlanRow)
            .where(ActionPlanRow.entity_id == entity_id)
            .order_by(ActionPlanRow.id.desc())
        )
    ).all()
    updates: dict[int, list[ActionPlanUpdateRow]] = {}
    if plans:
        for u in (
            await session.scalars(
                select(ActionPlanUpdateRow)
                .where(ActionPlanUpdateRow.plan_id.in_([p.id for p in plans]))
                .order_by(ActionPlanUpdateRow.at, ActionPlanUpdateRow.id)
            )
        ).all():
            updates.setdefault(u.plan_id, []).append(u)
    return [
        PlanView(p, q.plan_overdue(q.PlanStatus(p.status), p.due_on, today), updates.get(p.id, []))
        for p in plans
    ]


async def open_action_plans(
    session: AsyncSession, *, today: date
) -> list[tuple[ActionPlanRow, str, bool]]:
    """Every open or in-progress plan with its entity's name and overdue flag."""
    rows = (
        await session.execute(
            select(ActionPlanRow, EntityRow.name)
            .join(EntityRow, EntityRow.id == ActionPlanRow.entity_id)
            .where(
                ActionPlanRow.status.in_([q.PlanStatus.ABIERTO.value, q.PlanStatus.EN_CURSO.value])
            )
            .order_by(ActionPlanRow.due_on)
        )
    ).all()
    return [(p, name, q.plan_overdue(q.PlanStatus(p.status), p.due_on, today)) for p, name in rows]


# --- the weekly expired-cases report ---------------------------------------------------------

EXPIRED_COLUMNS = (
    "caso",
    "tipo",
    "servicio",
    "estado",
    "registrado",
    "vencio",
    "dias_vencido",
    "antiguedad",
)


@dataclass(frozen=True)
class ExpiredCase:
    case_id: int
    number: str
    type_label: str
    service: str
    status: str
    opened_at: datetime
    due_at: datetime
    days_overdue: int
    band: str


async def expired_cases(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    entity_id: int,
    now: datetime,
    tz: tzinfo = PANAMA,
) -> list[ExpiredCase]:
    """The entity's open cases past due at ``now``, oldest due first."""
    from case_core.db.models import ServiceRow

    async with uow_factory() as uow:
        s = uow.session
        await check_entity_access(s, actor, entity_id, now.astimezone(tz).date())
        rows = (
            await s.execute(
                select(CaseRow, ServiceRow.name)
                .outerjoin(ServiceRow, ServiceRow.id == CaseRow.service_id)
                .where(
                    CaseRow.entity_id == entity_id,
                    CaseRow.status != CaseStatus.CERRADO.value,
                    CaseRow.due_at < now,
                )
                .order_by(CaseRow.due_at)
                .limit(5000)
            )
        ).all()
    today = now.astimezone(tz).date()
    result = []
    for case, service in rows:
        days = max(1, (today - case.due_at.astimezone(tz).date()).days)
        confidential = not can_see_case(actor, entity_id=entity_id, confidential=case.confidential)
        result.append(
            ExpiredCase(
                case.id,
                case.number,
                TYPE_LABELS[CaseType(case.type)],
                "(confidencial)" if confidential else (service or "—"),
                case.status,
                case.opened_at,
                case.due_at,
                days,
                q.age_band(days),
            )
        )
    return result


def safe_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    cell = "" if value is None else str(value)
    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def expired_csv(rows: list[ExpiredCase], tz: tzinfo = PANAMA) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPIRED_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                safe_cell(v)
                for v in (
                    r.number,
                    r.type_label,
                    r.service,
                    r.status,
                    r.opened_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                    r.due_at.astimezone(tz).strftime("%Y-%m-%d"),
                    r.days_overdue,
                    r.band,
                )
            ]
        )
    return out.getvalue()
