"""The admin audit: every administrative change, appended in the transaction of the change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models.admin import AdminAuditRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.roles import Actor


def _plain(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in value.items()}


async def record_change(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> None:
    """Append one audit row (who, when, what, before, after) in ``session``'s transaction.
    Never pass password hashes or secrets in ``before``/``after``."""
    session.add(
        AdminAuditRow(
            at=now,
            actor_user_id=actor.user_id,
            actor_username=actor.username,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            before=_plain(before),
            after=_plain(after),
        )
    )


async def recent_changes(
    uow_factory: UnitOfWorkFactory, *, limit: int = 200
) -> Sequence[AdminAuditRow]:
    """The latest audit rows, newest first."""
    async with uow_factory() as uow:
        stmt = select(AdminAuditRow).order_by(AdminAuditRow.at.desc(), AdminAuditRow.id.desc())
        return (await uow.session.scalars(stmt.limit(limit))).all()
