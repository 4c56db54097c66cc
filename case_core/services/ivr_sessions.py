"""IVR session log: one row per AGI session and one per step, each written as it happens,
so a caller who hangs up at any step leaves a complete record up to that step."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, literal, select, text, update

from case_core.db.models import IvrSessionRow, IvrStepRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.privacy import caller_hash

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
        session_id = (
            await uow.session.execute(
                insert(IvrSessionRow)
                .values(
                    route=route,
                    uniqueid=uniqueid,
                    linkedid=linkedid,
                    caller_number=caller_number,
                    started_at=now,
                    callback_id=callback_id,
                )
                .returning(IvrSessionRow.id)
            )
        ).scalar_one()
        await uow.commit()
        return session_id


async def record_step(
    uow_factory: UnitOfWorkFactory,
    session_id: int,
    *,
    step: str,
    now: datetime,
    digits: str | None = None,
    result: str | None = None,
    caller_hash_key: bytes | None = None,
    **session_updates: Any,
) -> None:
    """Append a step and update the session's summary columns in one transaction.

    ``anonymous=True`` (an anonymous denuncia) erases the caller's number from the session
    and keeps only its keyed hash (``case_core.domain.privacy``).

    Two plain statements (the IVR writes one per caller action, so this is kept cheap); the
    steps of one session are written one after the other, so MAX(seq) + 1 cannot collide.
    """
    unknown = set(session_updates) - SESSION_FIELDS
    if unknown:
        raise ValueError(f"unknown IVR session fields: {sorted(unknown)}")
    next_seq = select(
        literal(session_id),
        func.coalesce(func.max(IvrStepRow.seq), 0) + 1,
        literal(now),
        literal(step),
        literal(digits),
        literal(result),
    ).where(IvrStepRow.session_id == session_id)
    async with uow_factory() as uow:
        if session_updates.get("anonymous"):
            number = await uow.session.scalar(
                select(IvrSessionRow.caller_number)
                .where(IvrSessionRow.id == session_id)
                .with_for_update()
            )
            session_updates["caller_number"] = None
            session_updates["caller_hash"] = caller_hash(number, caller_hash_key)
        updated = await uow.session.execute(
            update(IvrSessionRow)
            .where(IvrSessionRow.id == session_id)
            .values(**session_updates)
            .returning(IvrSessionRow.id)
            if session_updates
            else select(IvrSessionRow.id).where(IvrSessionRow.id == session_id)
        )
        if updated.scalar_one_or_none() is None:
            raise LookupError(f"IVR session {session_id} does not exist")
        await uow.session.execute(
            insert(IvrStepRow).from_select(
                ["session_id", "seq", "at", "step", "digits", "result"], next_seq
            )
        )
        await uow.commit()


async def end_session(
    uow_factory: UnitOfWorkFactory, session_id: int, *, outcome: str, now: datetime
) -> None:
    """Close the session with how it ended (agente, colgó, fin, ...)."""
    async with uow_factory() as uow:
        updated = await uow.session.execute(
            update(IvrSessionRow)
            .where(IvrSessionRow.id == session_id)
            .values(outcome=outcome, ended_at=now)
            .returning(IvrSessionRow.id)
        )
        if updated.scalar_one_or_none() is None:
            raise LookupError(f"IVR session {session_id} does not exist")
        await uow.commit()


# No IVR session lasts this long (the longest flow is a few minutes): one still open is dead.
STALE_AFTER = timedelta(hours=1)
# A session whose call row has ended this long ago will never be closed by its flow.
CALL_ENDED_GRACE = timedelta(minutes=2)
STALE_OUTCOME = "sin_cierre"


async def close_stale(
    uow_factory: UnitOfWorkFactory,
    *,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
    grace: timedelta = CALL_ENDED_GRACE,
) -> int:
    """Close sessions left open by a FastAGI process that died; returns how many.

    A session is closed when its call row (same uniqueid) ended more than ``grace`` ago, or
    when it started more than ``stale_after`` ago. It ends at its last step (the last moment
    the flow was seen alive), with outcome ``sin_cierre`` unless a step had set one.
    """
    async with uow_factory() as uow:
        result = await uow.session.execute(
            text(
                "UPDATE ivr_sessions AS s SET "
                " ended_at = COALESCE("
                "   (SELECT max(st.at) FROM ivr_steps AS st WHERE st.session_id = s.id),"
                "   s.started_at),"
                " outcome = COALESCE(s.outcome, :outcome) "
                "WHERE s.ended_at IS NULL AND ("
                " s.started_at < :stale_before"
                " OR EXISTS (SELECT 1 FROM calls AS c WHERE c.entered_at >= :recent"
                "            AND c.uniqueid = s.uniqueid"
                "            AND c.ended_at IS NOT NULL AND c.ended_at < :ended_before)) "
                "RETURNING s.id"
            ),
            {
                "outcome": STALE_OUTCOME,
                "stale_before": now - stale_after,
                "ended_before": now - grace,
                # Calls younger than the stale limit (ix_calls_entered_at): older sessions are
                # closed by the first rule anyway.
                "recent": now - stale_after - timedelta(hours=1),
            },
        )
        closed = len(result.all())
        await uow.commit()
    return closed
