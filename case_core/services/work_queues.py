"""The 3-1-1 work queues: returned by the entity (with its reason, oldest first), flagged by
a negative survey, escalated, without first action after 24 hours, overdue. One query each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import func, select

from case_core.db.models import CaseHistoryRow, CaseRow, EntityRow
from case_core.db.models.escalations import CaseEscalationRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import sla
from case_core.domain.case import (
    OPEN_STATUSES,
    STATUS_LABELS,
    TYPE_LABELS,
    CaseAction,
    CaseStatus,
    CaseType,
)
from case_core.services.case_workspace import local_time


@dataclass(frozen=True)
class QueueRow:
    number: str
    entity_name: str
    type_label: str
    status_label: str
    since: str  # the moment that put the case in the queue, local
    due: str
    days_left: int
    reason: str
    confidential: bool


@dataclass(frozen=True)
class WorkQueue:
    key: str
    title: str
    rows: list[QueueRow]  # the oldest ``limit`` ones
    count: int  # all of them


QUEUE_TITLES = {
    "devueltos": "Devueltos por la entidad, por reasignar",
    "revision": "Marcados por una encuesta negativa",
    "escalados": "Escalados",
    "sin_primera_accion": "Sin primera acción después de 24 horas",
    "vencidos": "Vencidos",
}


async def work_queues(
    uow_factory: UnitOfWorkFactory, *, now: datetime, tz: tzinfo, limit: int = 200
) -> list[WorkQueue]:
    """The 3-1-1 work queues, oldest first: a count and (``limit`` > 0) the first rows."""
    open_values = [s.value for s in OPEN_STATUSES]
    held = [CaseStatus.ASIGNADO.value, CaseStatus.EN_PROCESO.value]
    cutoff = now - timedelta(hours=sla.FIRST_ACTION_HOURS)
    base = select(CaseRow, EntityRow.name).join(EntityRow, EntityRow.id == CaseRow.entity_id)
    queues: list[WorkQueue] = []
    async with uow_factory() as uow:
        s = uow.session

        async def rows(stmt, since, reason):  # type: ignore[no-untyped-def]
            count = await s.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
            found = []
            if limit <= 0:
                return found, int(count or 0)
            for case, entity_name, *extra in (await s.execute(stmt.limit(limit))).all():
                found.append(
                    QueueRow(
                        number=case.number,
                        entity_name=entity_name,
                        type_label=TYPE_LABELS[CaseType(case.type)],
                        status_label=STATUS_LABELS[CaseStatus(case.status)],
                        since=local_time(since(case, *extra), tz),
                        due=local_time(case.due_at, tz, "%d/%m/%Y"),
                        days_left=sla.days_left(case.due_at, now, tz),
                        reason=reason(case, *extra),
                        confidential=case.confidential or case.sensitive,
                    )
                )
            return found, int(count or 0)

        # Returned: with the entity's reason (the note of the latest return), oldest first.
        latest_return = (
            select(
                CaseHistoryRow.case_id,
                func.max(CaseHistoryRow.id).label("history_id"),
            )
            .where(CaseHistoryRow.action == CaseAction.RETURN_TO_311.value)
            .group_by(CaseHistoryRow.case_id)
            .subquery()
        )
        returned = (
            base.add_columns(CaseHistoryRow.note, CaseHistoryRow.at)
            .join(latest_return, latest_return.c.case_id == CaseRow.id)
            .join(CaseHistoryRow, CaseHistoryRow.id == latest_return.c.history_id)
            .where(CaseRow.status == CaseStatus.DEVUELTO_311.value)
            .order_by(CaseHistoryRow.at, CaseRow.id)
        )
        queues.append(
            WorkQueue(
                "devueltos",
                QUEUE_TITLES["devueltos"],
                *await rows(returned, lambda c, note, at: at, lambda c, note, at: note or ""),
            )
        )
        review = base.where(CaseRow.needs_review).order_by(CaseRow.updated_at, CaseRow.id)
        queues.append(
            WorkQueue(
                "revision",
                QUEUE_TITLES["revision"],
                *await rows(
                    review,
                    lambda c: c.updated_at or c.closed_at,
                    lambda c: "El ciudadano respondió que su caso no se resolvió.",
                ),
            )
        )
        escalated_at = (
            select(CaseEscalationRow.case_id, func.max(CaseEscalationRow.at).label("at"))
            .group_by(CaseEscalationRow.case_id)
            .subquery()
        )
        escalated = (
            base.add_columns(escalated_at.c.at)
            .join(escalated_at, escalated_at.c.case_id == CaseRow.id)
            .where(CaseRow.status.in_(open_values))
            .order_by(escalated_at.c.at, CaseRow.id)
        )
        queues.append(
            WorkQueue(
                "escalados",
                QUEUE_TITLES["escalados"],
                *await rows(escalated, lambda c, at: at, lambda c, at: "Escalado por el plazo."),
            )
        )
        received = func.coalesce(CaseRow.assigned_at, CaseRow.opened_at)
        no_action = base.where(
            CaseRow.status.in_(held),
            CaseRow.first_action_at.is_(None),
            received <= cutoff,
        ).order_by(received, CaseRow.id)
        queues.append(
            WorkQueue(
                "sin_primera_accion",
                QUEUE_TITLES["sin_primera_accion"],
                *await rows(
                    no_action,
                    lambda c: c.assigned_at or c.opened_at,
                    lambda c: "La entidad no ha registrado su primera acción.",
                ),
            )
        )
        overdue = base.where(CaseRow.status.in_(open_values), CaseRow.due_at < now).order_by(
            CaseRow.due_at, CaseRow.id
        )
        queues.append(
            WorkQueue(
                "vencidos",
                QUEUE_TITLES["vencidos"],
                *await rows(overdue, lambda c: c.due_at, lambda c: "Plazo vencido."),
            )
        )
    return queues
