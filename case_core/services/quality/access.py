"""Who may work which entity in quality, and the labels written on quality records.

A quality advisor (role ``auditor``) works only the entities assigned to them during the
period in question; supervisors and admins every entity. Confidential cases follow
``roles.can_see_case`` (an auditor does not open them; a supervisor does).
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models import UserRow
from case_core.db.models.quality import (
    QualityAssignmentRow,
)
from case_core.domain import quality as q
from case_core.domain.errors import AccessDenied
from case_core.domain.roles import Actor

PANAMA = ZoneInfo("America/Panama")
NOT_YOURS = "Esta entidad no está asignada a usted."
CASE_NOT_FOUND = "El caso no existe."


async def assigned_entity_ids(
    session: AsyncSession, advisor_user_id: int, first: date, last: date | None = None
) -> set[int]:
    """Entities assigned to the advisor at any day of [first, last] (last None = open)."""
    stmt = select(QualityAssignmentRow.entity_id).where(
        QualityAssignmentRow.advisor_user_id == advisor_user_id,
        (QualityAssignmentRow.ends_on.is_(None)) | (QualityAssignmentRow.ends_on >= first),
    )
    if last is not None:
        stmt = stmt.where(QualityAssignmentRow.starts_on <= last)
    return set((await session.scalars(stmt)).all())


async def visible_entity_ids(
    session: AsyncSession, actor: Actor, first: date, last: date | None = None
) -> set[int] | None:
    """The entities the actor may work in quality between two days; None = every entity."""
    if not q.can_do_quality(actor):
        raise AccessDenied("Su rol no tiene acceso a las auditorías de calidad.")
    if q.sees_all_entities(actor):
        return None
    assert actor.user_id is not None
    return await assigned_entity_ids(session, actor.user_id, first, last or first)


async def actor_label(session: AsyncSession, actor: Actor) -> str:
    if actor.user_id is None:
        return actor.username
    user = await session.get(UserRow, actor.user_id)
    return user.full_name if user else actor.username


async def check_entity_access(
    session: AsyncSession, actor: Actor, entity_id: int, day: date
) -> None:
    allowed = await visible_entity_ids(session, actor, day)
    if allowed is not None and entity_id not in allowed:
        raise AccessDenied(NOT_YOURS)
