"""SQL for the recordings tables, on the session of a unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models import CallRow, CaseRow, UserRow
from case_core.db.models.recordings import RecordingAccessRow, RecordingRow

CLOSED = "cerrado"


def _call_time():  # type: ignore[no-untyped-def]
    return func.coalesce(CallRow.started_at, CallRow.entered_at, CallRow.created_at)


def _held(hold_since: datetime):  # type: ignore[no-untyped-def]
    """A case linked to the call that is open, or closed at or after ``hold_since``."""
    return exists().where(
        CaseRow.call_id == CallRow.id,
        or_(CaseRow.status != CLOSED, CaseRow.closed_at >= hold_since),
    )


class RecordingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def call(self, call_id: int, *, for_update: bool = False) -> CallRow | None:
        stmt = select(CallRow).where(CallRow.id == call_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def for_call(self, call_id: int) -> RecordingRow | None:
        stmt = select(RecordingRow).where(RecordingRow.call_id == call_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def for_call_locked(self, call_id: int, *, now: datetime) -> RecordingRow:
        """The metadata row of the call, created if absent, locked for this transaction
        (concurrent first requests for the same call do not collide on the unique key)."""
        await self.session.execute(
            insert(RecordingRow)
            .values(call_id=call_id, checked_at=now, missing=False)
            .on_conflict_do_nothing(index_elements=[RecordingRow.call_id])
        )
        stmt = (
            select(RecordingRow)
            .where(RecordingRow.call_id == call_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one()

    async def add(self, row: object) -> None:
        self.session.add(row)
        await self.session.flush()

    async def case_confidential(self, call_id: int) -> bool:
        """Whether the call belongs to a confidential case: a confidential case is linked to
        it (``cases.call_id``), or the caller chose "denuncia" in the IVR (the case may not
        be linked yet, or never be)."""
        linked = exists().where(
            CaseRow.call_id == call_id, CaseRow.confidential | CaseRow.sensitive
        )
        denuncia = exists().where(
            CallRow.id == call_id, CallRow.ivr_variables["CAC311_INTENT"].astext == "denuncia"
        )
        stmt = select(linked | denuncia)
        return bool((await self.session.execute(stmt)).scalar_one())

    async def case_numbers(self, call_id: int) -> list[str]:
        stmt = select(CaseRow.number).where(CaseRow.call_id == call_id).order_by(CaseRow.id)
        return list((await self.session.scalars(stmt)).all())

    async def agent_name(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        return await self.session.scalar(select(UserRow.full_name).where(UserRow.id == user_id))

    async def calls_to_scan(
        self, *, after_id: int, limit: int, recheck_all: bool
    ) -> Sequence[tuple[CallRow, RecordingRow | None]]:
        """Calls with a reported recording that was never checked (or was missing, or every
        one that is not purged when ``recheck_all``), in id order after ``after_id``."""
        stmt = (
            select(CallRow, RecordingRow)
            .outerjoin(RecordingRow, RecordingRow.call_id == CallRow.id)
            .where(CallRow.recording_path.is_not(None), CallRow.id > after_id)
            .where(RecordingRow.purged_at.is_(None))
        )
        if not recheck_all:
            stmt = stmt.where(or_(RecordingRow.id.is_(None), RecordingRow.missing))
        stmt = stmt.order_by(CallRow.id).limit(limit)
        return [(c, r) for c, r in (await self.session.execute(stmt)).all()]

    async def purge_candidates(
        self, *, older_than: datetime, hold_since: datetime, held: bool
    ) -> Sequence[int]:
        """Ids of calls recorded before ``older_than`` and not yet purged, that are (``held``)
        or are not held for a case."""
        hold = _held(hold_since)
        stmt = (
            select(CallRow.id)
            .outerjoin(RecordingRow, RecordingRow.call_id == CallRow.id)
            .where(
                CallRow.recording_path.is_not(None),
                RecordingRow.purged_at.is_(None),
                _call_time() < older_than,
                hold if held else ~hold,
            )
            .order_by(CallRow.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def is_held(self, call_id: int, *, hold_since: datetime) -> bool:
        stmt = select(
            exists().where(
                and_(
                    CaseRow.call_id == call_id,
                    or_(CaseRow.status != CLOSED, CaseRow.closed_at >= hold_since),
                )
            )
        )
        return bool((await self.session.execute(stmt)).scalar_one())

    async def has_play_since(
        self, *, user_id: int | None, username: str, call_id: int, since: datetime
    ) -> bool:
        who = (
            RecordingAccessRow.user_id == user_id
            if user_id is not None
            else RecordingAccessRow.username == username
        )
        stmt = select(
            exists().where(
                who,
                RecordingAccessRow.call_id == call_id,
                RecordingAccessRow.action == "play",
                RecordingAccessRow.at >= since,
            )
        )
        return bool((await self.session.execute(stmt)).scalar_one())

    async def access_log(
        self, *, limit: int, call_id: int | None = None
    ) -> Sequence[RecordingAccessRow]:
        stmt = select(RecordingAccessRow)
        if call_id is not None:
            stmt = stmt.where(RecordingAccessRow.call_id == call_id)
        stmt = stmt.order_by(RecordingAccessRow.at.desc(), RecordingAccessRow.id.desc())
        return (await self.session.scalars(stmt.limit(limit))).all()
