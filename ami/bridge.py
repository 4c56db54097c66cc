"""AmiBridge: where typed AMI events become rows, pops and agent states.

It subscribes to one AmiClient per Asterisk server and, in event order:

- feeds the pure :class:`ami.tracker.CallTracker` and saves every call update
  (``case_core.services.calls.save_calls``, in batches);
- on an answered call (AgentConnect) builds the screen pop and publishes it through
  PostgreSQL (``agent_desktop.pop_bus.publish_pop``: NOTIFY reaches the web processes);
  when the call ends, closes it;
- turns queue-member events and the member list of every Resync into agent states
  (``case_core.services.agents.record_agent_state``);
- records when the AMI link goes down and up, so metrics flag incomplete intervals.

Pops go first: the caller's side of the pop (identity, IVR choices, history) is gathered
while the caller waits in the queue (``gather_caller``, from the queue join), so an
AgentConnect starts a task that only adds the agent and publishes the pop (a few at once);
the next events do not wait for its queries. Call rows are written behind, by one
writer task that keeps only the latest snapshot of each call (a snapshot is the whole row, so
coalescing loses nothing) and stores up to ``write_batch`` calls per statement. Agent states
are written behind too, in event order, by one state writer. Under a burst of events the
agent's pop is not queued behind dozens of row updates. If the database is down, unwritten
snapshots stay queued and are retried with a growing delay; ``drain()`` flushes them.

A database outage loses neither pops nor agent states (issue 15, finding 4): a pop that
cannot be built or published goes into a bounded backlog that the call writer delivers, in
order and before the call rows, once the database answers again; a state write that fails
stays at the head of the state queue and is retried. A pop delivered late says so (``late`` and
``late_seconds`` in its payload: the desktop shows it), rather than never arriving.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ami.client import AmiClient
from ami.events import (
    AmiEvent,
    QueueMember,
    QueueMemberAdded,
    QueueMemberEvent,
    QueueMemberRemoved,
    Resync,
)
from ami.tracker import CallRecord, CallTracker, CallUpdate
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.phone import caller_id_candidates
from case_core.domain.privacy import caller_hash
from case_core.services.agents import AgentState, ReportedState, state_from_member
from case_core.services.calls import CallSnapshot, save_calls
from case_core.services.screen_pop import CallerFacts

log = logging.getLogger(__name__)

#: Most pops and agent-state writes kept while the database is down (oldest dropped first).
MAX_BACKLOG = 10_000
#: Caller facts gathered at the queue join are used for the pop when at most this old (a
#: citizen's history rarely changes while they wait; a longer wait gathers them again).
PREFETCH_MAX_AGE = 60.0
#: Calls waiting in the queue whose caller facts are kept (oldest dropped first).
MAX_PREFETCHED = 5_000


def snapshot_of(record: CallRecord, caller_hash_key: bytes | None = None) -> CallSnapshot:
    """The persistence view of a tracked call. A callback leg that the survey put through to
    the queue (it carries CAC311_CALLBACK_ID) is an outbound call: it is linked to its
    callback and kept out of the inbound service level. A caller who chose an anonymous
    denuncia (CAC311_ANONYMOUS) keeps no number, only its keyed hash."""
    callback_id = record.ivr.get("CAC311_CALLBACK_ID", "")
    anonymous = record.ivr.get("CAC311_ANONYMOUS", "").strip().lower() in ("1", "true", "yes")
    number = _stored_number(record.caller_number)
    hashed = (caller_hash(number, caller_hash_key) or "") if anonymous else None
    return CallSnapshot(
        caller_hash=hashed,
        direction="outbound" if callback_id.isdigit() else "inbound",
        callback_id=int(callback_id) if callback_id.isdigit() else None,
        server=record.server,
        uniqueid=record.uniqueid,
        linkedid=record.linkedid,
        caller_number=None if anonymous else number,
        queue=record.queue,
        entered_at=record.entered_at,
        answered_at=record.answered_at,
        ended_at=record.ended_at,
        hold_seconds=record.hold_seconds,
        talk_seconds=record.talk_seconds,
        ring_seconds=record.ring_seconds,
        agent_interface=record.agent_interface,
        agent_name=record.agent_member_name,
        abandoned=record.abandoned,
        end_unknown=record.unknown_end,
        hangup_cause=record.hangup_cause,
        recording_path=record.recording_path,
        ivr_variables=record.ivr,
    )


def _reported_state(event: QueueMemberEvent) -> ReportedState:
    """The agent state a queue-member event reports."""
    if isinstance(event, QueueMemberRemoved):
        state = AgentState.LOGGED_OUT
    else:
        state = state_from_member(status=event.status, paused=event.paused, in_call=event.in_call)
    source = "QueueMemberAdded" if isinstance(event, QueueMemberAdded) else type(event).__name__
    return ReportedState(
        event.interface, state, event.paused_reason or None, event.received_at, source
    )


def _member_state(member: QueueMember, at: datetime) -> ReportedState:
    """The agent state of a member listed by a Resync's QueueStatus."""
    state = state_from_member(status=member.status, paused=member.paused, in_call=member.in_call)
    return ReportedState(member.interface, state, member.paused_reason or None, at, "resync")


def _ivr_key(record: CallRecord) -> tuple[tuple[str, str], ...]:
    """The IVR variables a pop depends on, comparable between the queue join and the
    answer."""
    return tuple(sorted(record.ivr_vars))


def _stored_number(caller_id: str | None) -> str | None:
    """The caller ID as calls store it: E.164 when it is a phone number (so a citizen's calls
    are found by their phones), else as sent, cut to its column (it comes from the trunk)."""
    if not caller_id:
        return None
    candidates = caller_id_candidates(caller_id)
    return candidates[0] if candidates else caller_id[:40]


class _LatePopsFirst(Exception):
    """Pops wait for the database: they are delivered before more call rows are written."""


class AmiBridge:
    """Connects AMI clients to the database, the pop bus and the agent states."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        tz: ZoneInfo,
        tracker: CallTracker | None = None,
        caller_hash_key: bytes | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._caller_hash_key = caller_hash_key
        self._tz = tz
        self.tracker = tracker or CallTracker()
        # Called with (server, uniqueid) once a call row has its end (e.g. to link the
        # recording, which is complete at the caller's Hangup).
        self.on_call_ended: list[Callable[[str, str], Awaitable[None]]] = []
        self._background: set[asyncio.Task[None]] = set()
        self.errors = 0
        # Latest unwritten snapshot per call, and whether the call ended in any of them.
        self._dirty: dict[tuple[str, str], tuple[CallRecord, bool]] = {}
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.retry_delay_max = 10.0
        self.write_batch = 100
        # How long the call writer lets updates gather before a write: a call's events come
        # in bursts (a real answered call updates its row dozens of times), and one write
        # of the latest snapshot replaces them all (issue 18). Rows stay behind by this much.
        self.write_linger = 0.05
        # Pops being built and published, by call; at most 8 at once.
        self._pops: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._pop_slots = asyncio.Semaphore(8)
        # Caller facts gathered while the caller waits, by call: (when, IVR variables, task).
        self._facts: dict[
            tuple[str, str], tuple[float, tuple[tuple[str, str], ...], asyncio.Task[CallerFacts]]
        ] = {}
        self._facts_slots = asyncio.Semaphore(4)  # fewer than the pops': pops come first
        self.prefetch_used = 0
        # Pops that failed while the database was down, delivered late, in order, by the writer.
        self._late: deque[CallRecord] = deque(maxlen=MAX_BACKLOG)
        self.late_pops = 0
        # Agent-state writes in event order (queue-member events, Resync), by one task.
        self._states: deque[Callable[[], Awaitable[None]]] = deque(maxlen=MAX_BACKLOG)
        self._state_writer: asyncio.Task[None] | None = None

    def attach(self, client: AmiClient) -> Callable[[], None]:
        """Subscribe to a client's events and link state; returns the detach function."""
        server = client.config.server

        def on_state(state: str, at: datetime) -> None:
            self._spawn(self._link_state(server, state, at))

        client.state_listeners.append(on_state)
        unsubscribe = client.subscribe(self.handle)
        if client.state == "up":
            # Attached to a client that is already logged in (the composition root starts the
            # clients first): the "up" transition was missed, so close the outage the last
            # process left open now, or it stays open forever.
            self._spawn(self._link_state(server, "up", client.last_change))

        def detach() -> None:
            unsubscribe()
            if on_state in client.state_listeners:
                client.state_listeners.remove(on_state)

        return detach

    async def handle(self, event: AmiEvent) -> None:
        """Process one event completely before the next (the client awaits this)."""
        try:
            if isinstance(event, Resync):
                for member in event.members:
                    self._state_write(_member_state(member, event.received_at))
                self._state_write(lambda: self._reconcile(event))
                self._state_write(lambda: self._absent_members(event))
            elif isinstance(event, QueueMemberEvent):
                self._state_write(_reported_state(event))
            for update in self.tracker.handle(event):
                await self._call_update(update)
        except Exception:
            self.errors += 1
            log.exception("AMI bridge could not store %s", type(event).__name__)

    async def _call_update(self, update: CallUpdate) -> None:
        record = update.record
        ended_now = record.ended_at is not None and update.change in ("ended", "abandoned")
        previous = self._dirty.get(record.key)
        self._dirty[record.key] = (record, ended_now or (previous is not None and previous[1]))
        self._idle.clear()
        self._wake.set()
        self._ensure_writer()
        if update.change == "queued" and record.ended_at is None:
            self._prefetch(record)
        elif record.ended_at is not None:
            self._forget_facts(record.key)
        if update.change == "answered" and record.agent_interface and record.ended_at is None:
            if self._late:  # older pops wait for the database: keep the order
                self._late.append(record)
                return
            # Built and published by its own task: the next events do not wait for this pop's
            # queries, and pops of different calls proceed side by side.
            await self._pop_slots.acquire()
            task = asyncio.get_running_loop().create_task(
                self._pop(record), name=f"pop-{record.uniqueid}"
            )
            self._pops[record.key] = task
            task.add_done_callback(lambda t, key=record.key: self._pop_done(key, t))

    async def _pop(self, record: CallRecord) -> None:
        try:
            await self._publish(record)
        except Exception as exc:
            log.warning("screen pop queued, database unavailable (%s)", type(exc).__name__)
            self._late.append(record)
            self._idle.clear()
            self._wake.set()
            self._ensure_writer()
        finally:
            self._pop_slots.release()

    def _prefetch(self, record: CallRecord) -> None:
        """Start gathering the caller's facts for the pop while they wait in the queue."""
        self._forget_facts(record.key)  # a re-queued call gathers them again
        while len(self._facts) >= MAX_PREFETCHED:
            self._forget_facts(next(iter(self._facts)))
        task = asyncio.get_running_loop().create_task(
            self._gather(record), name=f"pop-facts-{record.uniqueid}"
        )
        # A failure is seen (and the facts gathered again) by the pop that awaits it.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._facts[record.key] = (time.monotonic(), _ivr_key(record), task)

    async def _gather(self, record: CallRecord) -> CallerFacts:
        from case_core.services.screen_pop import gather_caller

        async with self._facts_slots:
            return await gather_caller(
                self._uow_factory,
                call_uniqueid=record.uniqueid,
                linkedid=record.linkedid,
                caller_number=record.caller_number,
                ivr_variables=dict(record.ivr),
            )

    def _forget_facts(self, key: tuple[str, str]) -> None:
        entry = self._facts.pop(key, None)
        if entry is not None:
            entry[2].cancel()

    async def _caller_facts(self, record: CallRecord) -> CallerFacts:
        """The facts gathered at the queue join when still fresh and for the same IVR
        choices; else gathered now."""
        entry = self._facts.pop(record.key, None)
        if entry is not None:
            at, ivr, task = entry
            if ivr == _ivr_key(record) and time.monotonic() - at <= PREFETCH_MAX_AGE:
                await asyncio.wait({task})  # its failure is not this pop's: gather again
                if not task.cancelled() and task.exception() is None:
                    self.prefetch_used += 1
                    return task.result()
            else:
                task.cancel()
        return await self._gather(record)

    def _pop_done(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        if self._pops.get(key) is task:
            del self._pops[key]

    async def _publish(self, record: CallRecord, *, late: bool = False) -> None:
        from agent_desktop.pop_bus import publish_pop
        from case_core.services.screen_pop import agent_actor, assemble_pop

        connected_at = record.answered_at or record.last_event_at
        facts = await self._caller_facts(record)
        pop = assemble_pop(
            facts,
            await agent_actor(self._uow_factory, record.agent_interface),  # type: ignore[arg-type]
            call_uniqueid=record.uniqueid,
            linkedid=record.linkedid,
            caller_number=record.caller_number,
            agent_interface=record.agent_interface,  # type: ignore[arg-type]
            connected_at=connected_at,  # type: ignore[arg-type]
            caller_channel=record.channel,
            server=record.server,
            tz=self._tz,
            agent_channel=record.agent_channel,
        )
        if late:
            now = datetime.now(UTC)
            pop["late"] = True
            pop["late_seconds"] = (
                round((now - connected_at).total_seconds()) if connected_at is not None else None
            )
            await publish_pop(self._uow_factory, pop, now=now)
            self.late_pops += 1
            return
        await publish_pop(self._uow_factory, pop, now=record.answered_at)

    def _state_write(self, write: ReportedState | Callable[[], Awaitable[None]]) -> None:
        """Queue an agent-state write behind the earlier ones (written by one task, in order):
        a reported state, or a write to run (a Resync's reconciliations)."""
        self._states.append(write)
        if self._state_writer is None or self._state_writer.done():
            self._state_writer = asyncio.get_running_loop().create_task(
                self._write_states(), name="ami-bridge-agent-states"
            )

    async def _write_states(self) -> None:
        """Write queued agent states oldest first; one that fails (the database is down)
        stays at the head and is retried with a growing delay, so none is lost."""
        from case_core.services.agents import record_agent_states

        delay = 0.0
        while self._states:
            head = self._states[0]
            # Consecutive reported states go in one transaction (a call moves its agent
            # through several); other writes run one at a time.
            batch = list(
                itertools.takewhile(
                    lambda w: isinstance(w, ReportedState),
                    itertools.islice(self._states, self.write_batch),
                )
            )
            try:
                if batch:
                    await record_agent_states(self._uow_factory, batch)  # type: ignore[arg-type]
                else:
                    await head()  # type: ignore[operator]
            except Exception as exc:
                self.errors += 1
                log.warning("agent state queued, database unavailable (%s)", type(exc).__name__)
                delay = min(self.retry_delay_max, max(0.1, delay * 2))
                await asyncio.sleep(delay)
                continue
            delay = 0.0
            for _ in range(max(1, len(batch))):
                self._states.popleft()

    def _ensure_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._write_loop(), name="ami-bridge-writer"
            )

    async def _write_loop(self) -> None:
        delay = 0.0
        lingered = False
        while True:
            if not (self._dirty or self._late):
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            if not lingered and self.write_linger > 0 and len(self._dirty) < self.write_batch:
                lingered = True
                await asyncio.sleep(self.write_linger)
                continue  # look again: a pop may have failed meanwhile (late pops go first)
            lingered = False
            if self._late:
                try:
                    await self._flush_late_pops()
                except Exception:
                    self.errors += 1
                    delay = min(self.retry_delay_max, max(0.1, delay * 2))
                    await asyncio.sleep(delay)
                    continue
                delay = 0.0
                if not self._dirty:
                    continue
            # Up to write_batch calls in one transaction (save_calls).
            batch = list(itertools.islice(self._dirty.items(), self.write_batch))
            failed = await self._write_batch(batch)
            for key, (record, _) in batch:
                if key not in failed and self._dirty.get(key, (None,))[0] is record:
                    del self._dirty[key]
            if failed:
                # To the back of the line: rows that keep failing must not hold back the rest.
                for key in failed:
                    if key in self._dirty:
                        self._dirty[key] = self._dirty.pop(key)
                delay = min(self.retry_delay_max, max(0.1, delay * 2))
                await asyncio.sleep(delay)
                continue
            delay = 0.0

    async def _flush_late_pops(self) -> None:
        """Deliver the pops that waited for the database, oldest first."""
        while self._late:
            await self._publish(self._late[0], late=True)
            self._late.popleft()

    async def _write_batch(
        self, batch: list[tuple[tuple[str, str], tuple[CallRecord, bool]]]
    ) -> set[tuple[str, str]]:
        """Write the batch; if that fails, each call on its own. Returns the keys not written."""
        try:
            await self._write(batch)
            return set()
        except _LatePopsFirst:
            return {key for key, _ in batch}
        except Exception:
            self.errors += 1
            if len(batch) == 1:
                log.exception("AMI bridge could not store a call; retrying")
                return {batch[0][0]}
            log.warning("AMI bridge could not store %d calls at once; one by one", len(batch))
        failed = set()
        for item in batch:
            try:
                await self._write([item])
            except Exception:
                log.exception("AMI bridge could not store a call; retrying")
                failed.add(item[0])
        return failed

    async def _write(self, batch: list[tuple[tuple[str, str], tuple[CallRecord, bool]]]) -> None:
        from agent_desktop.pop_bus import close_pops

        # A call's end is stored only after its pop was published and closed: whoever sees
        # the ended row sees the closed pop (closing is idempotent, so a retry is harmless).
        ended = [(key, record) for key, (record, _) in batch if record.ended_at is not None]
        pops = [self._pops[key] for key, _ in ended if key in self._pops]
        if pops:
            await asyncio.gather(*pops, return_exceptions=True)
        if self._late:  # a pop failed meanwhile: it must be stored before its call's end
            raise _LatePopsFirst()
        await close_pops(self._uow_factory, [(r.uniqueid, r.ended_at) for _, r in ended])  # type: ignore[misc]
        await save_calls(
            self._uow_factory,
            [snapshot_of(record, self._caller_hash_key) for _, (record, _) in batch],
        )
        for _, (record, just_ended) in batch:
            if just_ended:
                for hook in self.on_call_ended:
                    await hook(record.server, record.uniqueid)

    async def _reconcile(self, snapshot: Resync) -> None:
        """Close the open call rows Asterisk no longer has (after a restart of ours or its)."""
        from agent_desktop.pop_bus import close_pops
        from case_core.services.calls import reconcile_open_calls

        live = {c.uniqueid for c in snapshot.channels} | {c.linkedid for c in snapshot.channels}
        live |= {e.uniqueid for e in snapshot.entries}
        closed = await reconcile_open_calls(
            self._uow_factory,
            server=snapshot.server,
            live_uniqueids=live,
            requested_at=snapshot.requested_at,
            ended_at=snapshot.received_at,
            asterisk_restarted=snapshot.asterisk_restarted,
        )
        await close_pops(self._uow_factory, [(u, snapshot.received_at) for u in closed])
        if closed:
            log.info("AMI %s: %d open calls closed as end_unknown", snapshot.server, len(closed))

    async def _absent_members(self, event: Resync) -> None:
        from case_core.services.agents import mark_absent_members_logged_out

        await mark_absent_members_logged_out(
            self._uow_factory,
            {m.interface for m in event.members},
            queues={p.queue for p in event.params},
            requested_at=event.requested_at,
            at=event.received_at,
        )

    async def _link_state(self, server: str, state: str, at: datetime) -> None:
        from case_core.metrics.outages import record_link_down, record_link_up

        try:
            if state == "up":
                await record_link_up(self._uow_factory, server, at)
            elif state in ("down", "auth_failed"):
                await record_link_down(self._uow_factory, server, at)
        except Exception:
            log.exception("could not record AMI link state %s for %s", state, server)

    def _spawn(self, coro) -> None:  # type: ignore[no-untyped-def]
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, within: float = 10.0) -> None:
        """Write what is queued and wait for link-state writes (shutdown and tests)."""
        if self._pops:
            await asyncio.wait(list(self._pops.values()), timeout=within)
        busy = self._dirty or self._late
        if busy and self._writer is not None and not self._writer.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), within)
        if self._state_writer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._state_writer), within)
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        for key in list(self._facts):  # gathered for calls still waiting: not needed now
            self._forget_facts(key)
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)
