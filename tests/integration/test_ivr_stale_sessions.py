"""IVR sessions whose FastAGI process died are closed by the periodic sweep (issue 17 #6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from case_core.db.models import CallRow, IvrSessionRow
from case_core.services.ivr_sessions import close_stale
from ivr.journal import SessionJournal

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


async def _open(journal: SessionJournal, uniqueid: str, started: datetime) -> int:
    """A session as a FastAGI process opens it, written to the database."""
    session_id = await journal.start(
        route="inbound",
        uniqueid=uniqueid,
        linkedid=uniqueid,
        caller_number="+50761234567",
        now=started,
    )
    await journal.flush()
    return session_id


async def _row(uow_factory, session_id: int) -> IvrSessionRow:
    async with uow_factory() as uow:
        return await uow.session.scalar(select(IvrSessionRow).where(IvrSessionRow.id == session_id))


async def test_sessions_of_ended_calls_and_very_old_ones_are_closed_at_their_last_step(seeded):
    journal = SessionJournal(seeded)
    # 1. The FastAGI process died mid-call; the call itself was queued and has ended.
    died = await _open(journal, "1796140000.1", NOW - timedelta(minutes=10))
    journal.step(died, step="menu", now=NOW - timedelta(minutes=9), digits="1")
    await journal.flush()
    async with seeded() as uow:
        uow.session.add(
            CallRow(server="pbx1", uniqueid="1796140000.1", linkedid="1796140000.0",
                    entered_at=NOW - timedelta(minutes=8), ended_at=NOW - timedelta(minutes=5))
        )  # fmt: skip
        await uow.commit()
    # 2. Open for two hours with no call row (the caller hung up in the IVR, process gone).
    ancient = await _open(journal, "1796130000.1", NOW - timedelta(hours=2))
    # 3. A live session (its call is still going) and 4. one whose call ended just now.
    live = await _open(journal, "1796140500.1", NOW - timedelta(minutes=1))
    fresh = await _open(journal, "1796140600.1", NOW - timedelta(minutes=3))
    async with seeded() as uow:
        uow.session.add(
            CallRow(server="pbx1", uniqueid="1796140600.1", linkedid="1796140600.1",
                    entered_at=NOW - timedelta(minutes=2), ended_at=NOW - timedelta(seconds=30))
        )  # fmt: skip
        await uow.commit()

    assert await close_stale(seeded, now=NOW) == 2

    row = await _row(seeded, died)
    assert row.ended_at == NOW - timedelta(minutes=9) and row.outcome == "sin_cierre"
    row = await _row(seeded, ancient)
    assert row.ended_at == NOW - timedelta(hours=2) and row.outcome == "sin_cierre"
    assert (await _row(seeded, live)).ended_at is None
    assert (await _row(seeded, fresh)).ended_at is None  # its flow may still be closing it
    assert await close_stale(seeded, now=NOW) == 0  # idempotent
    await journal.close()


async def test_a_session_closed_by_its_flow_is_left_alone(seeded):
    journal = SessionJournal(seeded)
    done = await _open(journal, "1796150000.1", NOW - timedelta(hours=3))
    journal.end(done, outcome="cola", now=NOW - timedelta(hours=3))
    await journal.close()
    assert await close_stale(seeded, now=NOW) == 0
    assert (await _row(seeded, done)).outcome == "cola"
