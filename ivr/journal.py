"""Write-behind journal of IVR sessions: the flow never waits on the database to log.

A call's session id comes from a block of ids reserved in advance from the ``ivr_sessions``
id sequence (one ``SELECT nextval(...) FROM generate_series(1, n)`` per block, refilled in the
background when it runs low), so ``CAC311_IVR_SESSION`` is set at once: only the very first
call of a process, or one arriving when the block is exhausted, waits for a reservation.

Session inserts, steps (numbered in memory, in order, per session), summary updates (intent,
identity, anonymous, case number, outcome) and session ends are queued in memory and written
by ONE writer task, in batches (every ``flush_every`` seconds or ``batch_max`` items): one
transaction per batch, three statements at most (``unnest`` arrays), sessions before their
steps. A session that starts and ends within one batch is a single INSERT.

An anonymous denuncia erases the caller's number: the journal holds the number of an open
session in memory, computes the keyed hash (``case_core.domain.privacy``) when the caller
chooses anonymity, and writes ``caller_number = NULL`` with the hash; a session started and
made anonymous in the same batch never has its number written at all.

Failures. A database that refuses or times out keeps the batch, which is retried with a
backoff (``retry_min`` doubling up to ``retry_max``), so an outage loses no step as long as
the queue has room; the statements are idempotent (``ON CONFLICT DO NOTHING``; summary
columns are only set, never cleared), so a batch whose commit was lost in flight may be
written again. A batch the database rejects (a constraint or a value) is written again one
session at a time, and only the sessions it rejects are dropped (logged and counted). The
queue is bounded (``max_pending`` items): beyond it an item is dropped with a warning and a
counter (``dropped``), never blocking the call; a session whose start was dropped is not
opened (``start`` raises :class:`JournalFull`) so no step refers to a missing session.

What a crash loses. Items are in memory until their batch commits: a process that dies loses
at most the items not flushed yet (normally a few milliseconds of them; during an outage,
everything queued since). A session whose row was written but whose end was lost stays open
in the database and is closed by the periodic sweep (``ivr_sessions.close_stale``: at its
last step, ``sin_cierre``); a session whose start was lost never reaches the database, though
its id may already be on the channel (``CAC311_IVR_SESSION``) - the screen pop then finds no
IVR session and falls back to the channel variables. If the sweep closes a session of a live
process (an outage longer than its grace), the journal's late end still overwrites the
sweep's ``sin_cierre`` with the true outcome and time.

Logs never carry personal data: only counts and exception class names.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError

from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.privacy import caller_hash

log = logging.getLogger(__name__)

# Session columns a step may set along with it.
SESSION_FIELDS = frozenset(
    {"intent", "citizen_id", "cedula", "anonymous", "case_number", "callback_id", "outcome"}
)


class JournalFull(Exception):
    """The queue is full (the database has been away for a while): no new session."""


@dataclass
class _Open:
    """An open session as the journal sees it: the next step number and the caller's number
    (kept only until the session ends, to hash it if the caller chooses anonymity)."""

    next_seq: int = 1
    number: str | None = None


@dataclass
class _Item:
    kind: str  # start | step | end
    session_id: int
    values: dict[str, Any] = field(default_factory=dict)


_INSERT_SESSIONS = text(
    "INSERT INTO ivr_sessions (id, route, uniqueid, linkedid, caller_number, caller_hash,"
    " started_at, ended_at, outcome, intent, citizen_id, cedula, anonymous, case_number,"
    " callback_id) "
    "SELECT * FROM unnest(CAST(:id AS bigint[]), CAST(:route AS text[]),"
    " CAST(:uniqueid AS text[]), CAST(:linkedid AS text[]), CAST(:caller_number AS text[]),"
    " CAST(:caller_hash AS text[]), CAST(:started_at AS timestamptz[]),"
    " CAST(:ended_at AS timestamptz[]), CAST(:outcome AS text[]), CAST(:intent AS text[]),"
    " CAST(:citizen_id AS int[]), CAST(:cedula AS text[]), CAST(:anonymous AS boolean[]),"
    " CAST(:case_number AS text[]), CAST(:callback_id AS bigint[])) "
    "ON CONFLICT (id) DO NOTHING"
)
_SESSION_COLUMNS = (
    "id route uniqueid linkedid caller_number caller_hash started_at ended_at outcome intent"
    " citizen_id cedula anonymous case_number callback_id"
).split()

# Summary columns are only ever set (COALESCE), so writing a batch twice changes nothing.
_UPDATE_SESSIONS = text(
    "UPDATE ivr_sessions AS s SET"
    " intent = COALESCE(v.intent, s.intent),"
    " citizen_id = COALESCE(v.citizen_id, s.citizen_id),"
    " cedula = COALESCE(v.cedula, s.cedula),"
    " anonymous = s.anonymous OR v.anonymous,"
    " caller_number = CASE WHEN v.anonymous THEN NULL ELSE s.caller_number END,"
    " caller_hash = COALESCE(v.caller_hash, s.caller_hash),"
    " case_number = COALESCE(v.case_number, s.case_number),"
    " callback_id = COALESCE(v.callback_id, s.callback_id),"
    " outcome = COALESCE(v.outcome, s.outcome),"
    " ended_at = COALESCE(v.ended_at, s.ended_at) "
    "FROM unnest(CAST(:id AS bigint[]), CAST(:intent AS text[]), CAST(:citizen_id AS int[]),"
    " CAST(:cedula AS text[]), CAST(:anonymous AS boolean[]), CAST(:caller_hash AS text[]),"
    " CAST(:case_number AS text[]), CAST(:callback_id AS bigint[]),"
    " CAST(:outcome AS text[]), CAST(:ended_at AS timestamptz[]))"
    " AS v(id, intent, citizen_id, cedula, anonymous, caller_hash, case_number, callback_id,"
    " outcome, ended_at) "
    "WHERE s.id = v.id"
)
_UPDATE_COLUMNS = (
    "id intent citizen_id cedula anonymous caller_hash case_number callback_id outcome ended_at"
).split()

_INSERT_STEPS = text(
    "INSERT INTO ivr_steps (session_id, seq, at, step, digits, result) "
    "SELECT * FROM unnest(CAST(:session_id AS bigint[]), CAST(:seq AS int[]),"
    " CAST(:at AS timestamptz[]), CAST(:step AS text[]), CAST(:digits AS text[]),"
    " CAST(:result AS text[])) "
    "ON CONFLICT (session_id, seq) DO NOTHING"
)
_STEP_COLUMNS = "session_id seq at step digits result".split()

_RESERVE_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('ivr_sessions', 'id')) FROM generate_series(1, :n)"
)


class SessionJournal:
    """Queue IVR session facts in memory; one writer task writes them in batches."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        caller_hash_key: bytes | None = None,
        id_block: int = 1000,
        max_pending: int = 50_000,
        batch_max: int = 2_000,
        flush_every: float = 0.005,
        retry_min: float = 0.1,
        retry_max: float = 5.0,
        write_timeout: float = 10.0,
        guard: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]] | None = None,
    ) -> None:
        """``guard(what, make)``: how an id reservation is run on the caller's path (the
        backend's timeout and circuit breaker); the writer itself has its own timeout."""
        self._uow_factory = uow_factory
        self._caller_hash_key = caller_hash_key
        self._id_block = id_block
        self.max_pending = max_pending
        self._batch_max = batch_max
        self._flush_every = flush_every
        self._retry_min = retry_min
        self._retry_max = retry_max
        self._write_timeout = write_timeout
        self._guard = guard
        self._ids: deque[int] = deque()
        self._reserving: asyncio.Task[None] | None = None
        self._open: dict[int, _Open] = {}
        self._pending: deque[_Item] = deque()
        self._in_flight = 0  # items of the batch being written
        self._wake: asyncio.Event | None = None
        self._written_cond: asyncio.Condition | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closing = False
        self._enqueued = 0  # items accepted so far
        self._settled = 0  # items written or dropped so far
        self.written = 0
        self.dropped = 0
        self.retries = 0

    # ---- the flow's side: never waits on the database (except for a first id block) --------

    @property
    def pending(self) -> int:
        """Items accepted and not written yet."""
        return len(self._pending) + self._in_flight

    async def start(
        self,
        *,
        route: str,
        uniqueid: str,
        linkedid: str | None,
        caller_number: str | None,
        now: datetime,
        callback_id: int | None = None,
    ) -> int:
        """A new session's id, its row queued. Waits only when no id is reserved."""
        if self._closing:
            raise JournalFull("journal closed")
        if self.pending >= self.max_pending:
            self._drop("start")
            raise JournalFull("journal full")
        while not self._ids:
            await self._reserve_now()
        session_id = self._ids.popleft()
        if len(self._ids) < self._id_block // 2:
            self._reserve_in_background()
        self._open[session_id] = _Open(number=caller_number)
        self._put(
            _Item(
                "start",
                session_id,
                {
                    "route": route,
                    "uniqueid": uniqueid,
                    "linkedid": linkedid,
                    "caller_number": caller_number,
                    "started_at": now,
                    "callback_id": callback_id,
                },
            )
        )
        return session_id

    def step(
        self,
        session_id: int,
        *,
        step: str,
        now: datetime,
        digits: str | None = None,
        result: str | None = None,
        **session_updates: Any,
    ) -> None:
        """Queue a step (numbered now, in order) and the summary columns it sets."""
        unknown = set(session_updates) - SESSION_FIELDS
        if unknown:
            raise ValueError(f"unknown IVR session fields: {sorted(unknown)}")
        state = self._open.get(session_id)
        if state is None:
            return  # not opened by this journal, ended, or its start was dropped
        seq = state.next_seq
        state.next_seq += 1
        updates = {k: v for k, v in session_updates.items() if v is not None}
        if updates.get("anonymous"):
            # The number goes; only its keyed hash stays (also in memory: forget it now).
            updates["caller_hash"] = caller_hash(state.number, self._caller_hash_key)
            state.number = None
        elif "anonymous" in updates:
            del updates["anonymous"]  # anonymous=False sets nothing
        self._put(
            _Item(
                "step",
                session_id,
                {"seq": seq, "at": now, "step": step, "digits": digits, "result": result}
                | {"updates": updates},
            )
        )

    def end(self, session_id: int, *, outcome: str, now: datetime) -> None:
        """Queue the session's end; later steps of it are ignored."""
        if self._open.pop(session_id, None) is None:
            return
        self._put(_Item("end", session_id, {"outcome": outcome, "ended_at": now}))

    def _put(self, item: _Item) -> None:
        if self.pending >= self.max_pending:
            self._drop(item.kind)
            if item.kind == "start":
                self._open.pop(item.session_id, None)
            return
        self._pending.append(item)
        self._enqueued += 1
        self._ensure_writer()
        assert self._wake is not None
        self._wake.set()

    def _drop(self, kind: str) -> None:
        self.dropped += 1
        log.warning(
            "IVR session journal full (%d pending): %s dropped (%d dropped so far)",
            self.pending,
            kind,
            self.dropped,
        )

    # ---- ids ---------------------------------------------------------------------------------

    async def _fetch_ids(self) -> None:
        async with self._uow_factory() as uow:
            rows = await uow.session.execute(_RESERVE_IDS, {"n": self._id_block})
            self._ids.extend(r[0] for r in rows)

    def _reservation(self) -> asyncio.Task[None]:
        """The reservation under way, or a new one (one at a time)."""
        if self._reserving is None or self._reserving.done():
            self._reserving = asyncio.get_running_loop().create_task(
                self._fetch_ids(), name="ivr-journal-ids"
            )
            self._reserving.add_done_callback(_retrieve("reserving IVR session ids"))
        return self._reserving

    def _reserve_in_background(self) -> None:
        self._reservation()

    async def _reserve_now(self) -> None:
        """Wait for a block of ids (one reservation at a time, however many callers wait)."""
        task = self._reservation()

        async def wait() -> None:
            await asyncio.shield(task)

        if self._guard is not None:
            await self._guard("start_session", wait)
        else:
            await wait()

    # ---- the writer --------------------------------------------------------------------------

    def _ensure_writer(self) -> None:
        if self._writer is None or self._writer.done():
            loop = asyncio.get_running_loop()
            self._wake = self._wake or asyncio.Event()
            self._written_cond = self._written_cond or asyncio.Condition()
            self._writer = loop.create_task(self._write_loop(), name="ivr-journal-writer")
            self._writer.add_done_callback(_retrieve("the IVR journal writer"))

    async def _write_loop(self) -> None:
        assert self._wake is not None
        delay = self._retry_min
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if len(self._pending) < self._batch_max and not self._closing:
                await asyncio.sleep(self._flush_every)  # let a batch gather
            n = min(len(self._pending), self._batch_max)
            batch = [self._pending.popleft() for _ in range(n)]
            self._in_flight = n
            try:
                try:
                    await asyncio.wait_for(self._write(batch), self._write_timeout)
                except (IntegrityError, DataError):
                    # Sessions already written by this fallback are no-ops when the batch
                    # is retried (ON CONFLICT DO NOTHING; summary columns only set).
                    await self._write_one_session_at_a_time(batch)
                    n = 0  # counted there, written or dropped
            except asyncio.CancelledError:
                self._pending.extendleft(reversed(batch))
                self._in_flight = 0
                raise
            except Exception as err:  # the database is away: keep the batch, retry later
                self._pending.extendleft(reversed(batch))
                self._in_flight = 0
                self.retries += 1
                log.warning(
                    "IVR session journal: write failed (%s), %d items kept, retry in %.1f s",
                    type(err).__name__,
                    self.pending,
                    delay,
                )
                if self._closing and self._close_deadline < time.monotonic():
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            self.written += n
            delay = self._retry_min
            await self._settle(len(batch))

    async def _settle(self, n: int) -> None:
        self._in_flight = 0
        self._settled += n
        assert self._written_cond is not None
        async with self._written_cond:
            self._written_cond.notify_all()

    async def _write_one_session_at_a_time(self, batch: list[_Item]) -> None:
        by_session: dict[int, list[_Item]] = {}
        for item in batch:
            by_session.setdefault(item.session_id, []).append(item)
        for session_id, items in by_session.items():
            try:
                await asyncio.wait_for(self._write(items), self._write_timeout)
                self.written += len(items)
            except (IntegrityError, DataError) as err:
                self.dropped += len(items)
                self._open.pop(session_id, None)  # its later steps would be refused too
                log.error(
                    "IVR session journal: the database refused a session's items (%s);"
                    " %d items dropped",
                    type(err).__name__,
                    len(items),
                )
            # Any other error (the database went away now) propagates: the caller keeps
            # the whole batch; items already written are written again as no-ops.

    async def _write(self, batch: list[_Item]) -> None:
        sessions: dict[int, dict[str, Any]] = {}  # started in this batch
        updates: dict[int, dict[str, Any]] = {}  # started before
        steps: list[dict[str, Any]] = []
        for item in batch:
            if item.kind == "start":
                sessions[item.session_id] = dict(item.values, anonymous=False)
                continue
            values = dict(item.values)
            if item.kind == "step":
                changes = values.pop("updates")
                steps.append({"session_id": item.session_id, **values})
            else:
                changes = values
            target = sessions.get(item.session_id)
            if target is None:
                target = updates.setdefault(item.session_id, {})
            elif changes.get("anonymous"):
                target["caller_number"] = None
            target.update(changes)
        async with self._uow_factory() as uow:
            if sessions:
                await uow.session.execute(_INSERT_SESSIONS, _columns(_SESSION_COLUMNS, sessions))
            if updates:
                await uow.session.execute(_UPDATE_SESSIONS, _columns(_UPDATE_COLUMNS, updates))
            if steps:
                await uow.session.execute(
                    _INSERT_STEPS, {c: [s[c] for s in steps] for c in _STEP_COLUMNS}
                )
            await uow.commit()

    # ---- flushing and closing ----------------------------------------------------------------

    async def flush(self) -> None:
        """Wait until every item queued before this call is written (or dropped)."""
        target = self._enqueued
        if self._settled >= target or self._written_cond is None:
            return
        self._ensure_writer()
        async with self._written_cond:
            await self._written_cond.wait_for(
                lambda: self._settled >= target or self._writer is None or self._writer.done()
            )

    _close_deadline = float("inf")

    async def close(self, grace: float = 10.0) -> None:
        """Write what is queued (retrying for up to ``grace`` seconds), then stop."""
        self._closing = True
        self._close_deadline = time.monotonic() + grace
        if self._reserving is not None and not self._reserving.done():
            self._reserving.cancel()
        writer = self._writer
        if writer is None:
            return
        assert self._wake is not None
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(writer), grace)
        except TimeoutError:
            writer.cancel()
        if self.pending:
            log.error(
                "IVR session journal closed with %d items not written (database away)",
                self.pending,
            )


def _columns(names: list[str], rows: dict[int, dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows keyed by session id → one array per column (``unnest``)."""
    out: dict[str, list[Any]] = {name: [] for name in names}
    for session_id, row in rows.items():
        out["id"].append(session_id)
        for name in names[1:]:
            value = row.get(name)
            if name == "anonymous":
                value = bool(value)
            out[name].append(value)
    return out


def _retrieve(what: str) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and (err := task.exception()) is not None:
            log.warning("IVR session journal: %s failed (%s)", what, type(err).__name__)

    return done
