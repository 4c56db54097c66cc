"""IVR session log: one row per AGI session and one per step, each written as it happens,
so a caller who hangs up at any step leaves a complete record up to that step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from case_core.db.models import IvrSessionRow, IvrStepRow
from case_core.db.uow import UnitOfWorkFactory

# Session columns a step may update along with it.
SESSION_FIELDS = frozenset(
    {"intent", "citizen_id", "cedula", "anonymous", "case_number", "callback_id", "outcome"}
)


async def start_session(
    uow_factory: UnitOfWorkFactory,
    *,
    route: str,
    uniqueid: str,
    linkedid: str | None,
    caller_number: str | None,
    now: datetime,
    callback_id: int | None = None,
) -> int:
    """Open the session row of an AGI call; returns its id."""
    async with uow_factory() as uow:
        row = IvrSessionRow(
            route=route,
            uniqueid=uniqueid,
            linkedid=linkedid,
            caller_number=caller_number,
            started_at=now,
            callback_id=callback_id,
        )
        await uow.ivr.add(row)
        await uow.commit()
        return row.id


async def record_step(
    uow_factory: UnitOfWorkFactory,
    session_id: int,
    *,
    step: str,
    now: datetime,
    digits: str | None = None,
    result: str | None = None,
    **session_updates: Any,
) -> None:
    """Append a step and update the session's summary columns in one transaction."""
    unknown = set(session_updates) - SESSION_FIELDS
    if unknown:
        raise ValueError(f"unknown IVR session fields: {sorted(unknown)}")
    async with uow_factory() as uow:
        session = await uow.ivr.get(session_id)
        if session is None:
            raise LookupError(f"IVR session {session_id} does not exist")
        seq = await uow.ivr.next_seq(session_id)
        await uow.ivr.add(
            IvrStepRow(
                session_id=session_id, seq=seq, at=now, step=step, digits=digits, result=result
            )
        )
        for name, value in session_updates.items():
            setattr(session, name, value)
        await uow.commit()


async def end_session(
    uow_factory: UnitOfWorkFactory, session_id: int, *, outcome: str, now: datetime
) -> None:
    """Close the session with how it ended (agente, colgó, fin, ...)."""
    async with uow_factory() as uow:
        session = await uow.ivr.get(session_id)
        if session is None:
            raise LookupError(f"IVR session {session_id} does not exist")
        session.outcome = outcome
        session.ended_at = now
        await uow.commit()
