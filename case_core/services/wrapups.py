"""Wrap-ups: the code an agent gives each call after it ends, and their counts per agent."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from case_core.db.models import CaseRow
from case_core.db.models.desk import CallWrapupRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.errors import DomainError
from case_core.domain.wrapup import WrapupCode


@dataclass(frozen=True, kw_only=True)
class SaveWrapup:
    user_id: int
    agent_interface: str | None
    pop_id: int
    call_id: int | None
    code: WrapupCode
    note: str | None = None
    # The case the desktop registered during this call, when the call row is not known
    # (yet): accepted only if this agent registered it after the pop appeared.
    case_hint: int | None = None
    pop_shown_at: datetime | None = None


async def save_wrapup(uow_factory: UnitOfWorkFactory, command: SaveWrapup, *, now: datetime) -> int:
    """Store (or correct) the wrap-up of one pop; a "case registered" code needs a case on
    this call. Returns the wrap-up id."""
    note = (command.note or "").strip() or None
    if command.code is WrapupCode.OTHER and not note:
        raise DomainError("Explique en la nota qué pasó en la llamada.")
    async with uow_factory() as uow:
        case_id = None
        if command.call_id is not None:
            case_id = await uow.session.scalar(
                select(CaseRow.id)
                .where(CaseRow.call_id == command.call_id)
                .order_by(CaseRow.id.desc())
                .limit(1)
            )
        if case_id is None and command.case_hint is not None and command.pop_shown_at:
            case_id = await uow.session.scalar(
                select(CaseRow.id).where(
                    CaseRow.id == command.case_hint,
                    CaseRow.registered_by_user_id == command.user_id,
                    CaseRow.opened_at >= command.pop_shown_at,
                )
            )
        if command.code is WrapupCode.CASE_REGISTERED and case_id is None:
            raise DomainError("No hay un caso registrado en esta llamada: elija otro cierre.")
        values = dict(
            user_id=command.user_id,
            agent_interface=command.agent_interface,
            pop_id=command.pop_id,
            case_id=case_id,
            code=command.code.value,
            note=note,
            created_at=now,
        )
        stmt = insert(CallWrapupRow).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[CallWrapupRow.pop_id],
            set_={
                "code": stmt.excluded.code,
                "note": stmt.excluded.note,
                "case_id": stmt.excluded.case_id,
            },
        ).returning(CallWrapupRow.id)
        wrapup_id = int(await uow.session.scalar(stmt) or 0)
        await uow.commit()
        return wrapup_id


async def wrapup_counts(
    uow_factory: UnitOfWorkFactory, start: datetime, end: datetime
) -> dict[int, dict[str, int]]:
    """Wrap-ups per agent (user id) and code in [start, end)."""
    async with uow_factory() as uow:
        rows = (
            await uow.session.execute(
                select(CallWrapupRow.user_id, CallWrapupRow.code, func.count())
                .where(CallWrapupRow.created_at >= start, CallWrapupRow.created_at < end)
                .group_by(CallWrapupRow.user_id, CallWrapupRow.code)
            )
        ).all()
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for user_id, code, n in rows:
        counts[user_id][code] = int(n)
    return dict(counts)
