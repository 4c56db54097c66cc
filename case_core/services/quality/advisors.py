"""Advisors and their entities: assignments with start and end (yearly rotation keeps
history), at most 25 entities per advisor, one advisor per entity at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models import EntityRow, UserRow
from case_core.db.models.quality import (
    QualityAssignmentRow,
)
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import quality as q
from case_core.domain.errors import DomainError, NotFound
from case_core.domain.roles import Role
from case_core.services.quality.access import (
    assigned_entity_ids,
)

# --- advisors and their entities -------------------------------------------------------------


async def assign_entity(
    uow_factory: UnitOfWorkFactory,
    *,
    advisor_user_id: int,
    entity_id: int,
    starts_on: date,
    ends_on: date | None = None,
    limit: int = q.MAX_ENTITIES_PER_ADVISOR,
) -> int:
    """Put an entity in a quality advisor's charge from ``starts_on`` (to ``ends_on``)."""
    async with uow_factory() as uow:
        advisor = await uow.users.get(advisor_user_id)
        if advisor is None or advisor.role != Role.AUDITOR or not advisor.active:
            raise DomainError("Solo un asesor de calidad activo puede tener entidades.")
        if await uow.directory.entity(entity_id) is None:
            raise NotFound("La entidad no existe.")
        # Serialise assignments so two at once cannot pass the limit or share an entity.
        await uow.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('cac311-quality-assign'), 0)")
        )
        overlapping = select(QualityAssignmentRow.id).where(
            QualityAssignmentRow.entity_id == entity_id,
            QualityAssignmentRow.advisor_user_id != advisor_user_id,
            (QualityAssignmentRow.ends_on.is_(None)) | (QualityAssignmentRow.ends_on >= starts_on),
        )
        if ends_on is not None:
            overlapping = overlapping.where(QualityAssignmentRow.starts_on <= ends_on)
        if (await uow.session.scalars(overlapping.limit(1))).first() is not None:
            raise q.AssignmentError(
                "La entidad ya tiene otro asesor en esas fechas: termine primero esa asignación."
            )
        active = await assigned_entity_ids(uow.session, advisor_user_id, starts_on, ends_on)
        q.check_assignment(
            active_entity_ids=active,
            entity_id=entity_id,
            starts_on=starts_on,
            ends_on=ends_on,
            limit=limit,
        )
        row = QualityAssignmentRow(
            advisor_user_id=advisor_user_id,
            entity_id=entity_id,
            starts_on=starts_on,
            ends_on=ends_on,
        )
        uow.session.add(row)
        await uow.session.flush()
        await uow.commit()
        return row.id


async def end_assignment(
    uow_factory: UnitOfWorkFactory, *, assignment_id: int, ends_on: date
) -> None:
    """End an assignment (yearly rotation); the row stays as history."""
    async with uow_factory() as uow:
        row = await uow.session.get(QualityAssignmentRow, assignment_id, with_for_update=True)
        if row is None:
            raise NotFound("La asignación no existe.")
        if ends_on < row.starts_on:
            raise q.AssignmentError("La fecha de fin no puede ser anterior a la de inicio.")
        row.ends_on = ends_on
        await uow.commit()


async def _advisors_on(session: AsyncSession, entity_ids: set[int], day: date) -> dict[int, int]:
    """The advisor of each entity on ``day`` (the latest assignment when several)."""
    rows = (
        await session.execute(
            select(QualityAssignmentRow.entity_id, QualityAssignmentRow.advisor_user_id)
            .where(
                QualityAssignmentRow.entity_id.in_(entity_ids),
                QualityAssignmentRow.starts_on <= day,
                (QualityAssignmentRow.ends_on.is_(None)) | (QualityAssignmentRow.ends_on >= day),
            )
            .order_by(QualityAssignmentRow.entity_id, QualityAssignmentRow.starts_on)
        )
    ).all()
    return dict(rows)  # later starts overwrite earlier ones


@dataclass(frozen=True)
class AssignedEntity:
    assignment_id: int
    entity_id: int
    entity_name: str
    starts_on: date
    ends_on: date | None


async def advisor_entities(
    uow_factory: UnitOfWorkFactory, *, advisor_user_id: int, day: date
) -> list[AssignedEntity]:
    """The advisor's entities on ``day``, by name."""
    async with uow_factory() as uow:
        stmt = (
            select(QualityAssignmentRow, EntityRow.name)
            .join(EntityRow, EntityRow.id == QualityAssignmentRow.entity_id)
            .where(
                QualityAssignmentRow.advisor_user_id == advisor_user_id,
                QualityAssignmentRow.starts_on <= day,
                (QualityAssignmentRow.ends_on.is_(None)) | (QualityAssignmentRow.ends_on >= day),
            )
            .order_by(EntityRow.name)
        )
        rows = (await uow.session.execute(stmt)).all()
    return [AssignedEntity(a.id, a.entity_id, name, a.starts_on, a.ends_on) for a, name in rows]


@dataclass(frozen=True)
class AssignmentLine:
    assignment_id: int
    advisor_user_id: int
    advisor_name: str
    entity_id: int
    entity_name: str
    starts_on: date
    ends_on: date | None
    active: bool


async def assignments(uow_factory: UnitOfWorkFactory, *, today: date) -> list[AssignmentLine]:
    """Every assignment, current ones first, by advisor and entity (the rotation history)."""
    async with uow_factory() as uow:
        rows = (
            await uow.session.execute(
                select(QualityAssignmentRow, UserRow.full_name, EntityRow.name)
                .join(UserRow, UserRow.id == QualityAssignmentRow.advisor_user_id)
                .join(EntityRow, EntityRow.id == QualityAssignmentRow.entity_id)
                .order_by(UserRow.full_name, EntityRow.name, QualityAssignmentRow.starts_on)
            )
        ).all()
    lines = [
        AssignmentLine(
            a.id,
            a.advisor_user_id,
            advisor,
            a.entity_id,
            entity,
            a.starts_on,
            a.ends_on,
            q.assignment_active(a.starts_on, a.ends_on, today),
        )
        for a, advisor, entity in rows
    ]
    return sorted(lines, key=lambda line: not line.active)
