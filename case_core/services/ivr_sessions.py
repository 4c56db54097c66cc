"""IVR sessions left open: the log is written by the FastAGI process's session journal
(``ivr.journal``); a process that dies leaves its open sessions to the periodic sweep here."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text

from case_core.db.uow import UnitOfWorkFactory

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
