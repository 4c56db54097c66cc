"""CallTracker: typed AMI events in, immutable call-record updates out. Pure, no I/O.

One record per queued call, keyed by ``(server, uniqueid)`` of the caller channel (the
channel that ran ``Queue()``: with Local channels the ``;2`` half). Ordering facts from the
Asterisk 22 transcripts that shape this code:

- VarSet ``MIXMONITOR_FILENAME`` and ``CAC311_*`` arrive on the caller channel BEFORE it
  joins the queue, so they are buffered per channel until QueueCallerJoin (and dropped at
  that channel's Hangup if it never queues).
- QueueCallerLeave comes BEFORE AgentConnect for an answered call: leaving the queue is not
  an outcome by itself.
- QueueCallerAbandon is sent both when the caller hangs up and when the queue timeout fires
  (queue_log ``EXITWITHTIMEOUT``); app_queue counts both as abandoned, so do we, unless the
  caller joins again (the dialplan's queue loop): then it is one call whose wait goes on.
- After a Redirect out of the queue, AgentComplete comes AFTER the caller's Hangup and
  without channel keys (also when the caller was hung up by AMI: 2026-12-01
  ami-queue-member-lifecycle): it is matched by the agent leg (``DestUniqueid``, then
  ``DestLinkedid``) and else by server + queue + member interface to the answered call still
  waiting for its talk time.
- The read-back that keeps the agent (2026-12-01 ami-redirect-both-legs-readback): the desktop
  sets ``CAC311_AGENT_CHANNEL`` on the caller (a VarSet), then one Redirect moves the caller to
  the read-back and the agent to a wait (``ExtraChannel``); the dialplan bridges them again.
  app_queue then NEVER sends AgentComplete for that call, so such a call ends at the caller's
  Hangup, its talk time measured from AgentConnect to that Hangup.
- Timings come from Asterisk's own counters (``HoldTime``, ``TalkTime``, ``RingTime``); the
  timestamps (``entered_at``...) are the ``received_at`` of the events.

After a Resync (re-read after reconnect), open calls of that server that are in neither
``QueueEntry`` nor ``CoreShowChannels`` and were last seen before the snapshot was requested
are closed with ``unknown_end=True``; all are closed if Asterisk restarted. Queued callers we
did not know are recovered from ``QueueEntry`` (``entered_at`` = now - ``Wait``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from ami.events import (
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentRingNoAnswer,
    AmiEvent,
    Hangup,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    Resync,
    VarSet,
)

IVR_PREFIX = "CAC311_"
RECORDING_VAR = "MIXMONITOR_FILENAME"
# Set on the caller's channel by the desktop just before the dual Redirect of the read-back.
READBACK_AGENT_VAR = "CAC311_AGENT_CHANNEL"

Change = Literal["queued", "answered", "abandoned", "ended", "updated", "recovered"]


@dataclass(frozen=True)
class CallRecord:
    """Everything known about one queued call at one moment."""

    server: str
    uniqueid: str
    linkedid: str
    channel: str
    caller_number: str | None
    queue: str | None
    entered_at: datetime | None
    left_queue_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    hold_seconds: int | None = None
    talk_seconds: int | None = None
    ring_seconds: int | None = None
    ring_no_answer_count: int = 0
    agent_interface: str | None = None
    agent_member_name: str | None = None
    agent_uniqueid: str | None = None
    agent_channel: str | None = None
    abandoned: bool = False
    end_reason: str | None = None
    hangup_cause: int | None = None
    unknown_end: bool = False
    recovered: bool = False
    recording_path: str | None = None
    ivr_vars: tuple[tuple[str, str], ...] = ()
    last_event_at: datetime | None = None
    # Seconds already waited in earlier Queue() passes (the dialplan re-queues on timeout).
    prior_hold_seconds: int = 0

    @property
    def key(self) -> tuple[str, str]:
        """``(server, uniqueid)`` of the caller channel."""
        return (self.server, self.uniqueid)

    @property
    def recording_filename(self) -> str | None:
        """Base name of the MixMonitor file, e.g. ``1795475111.1.wav``."""
        if not self.recording_path:
            return None
        return self.recording_path.rsplit("/", 1)[-1]

    @property
    def ivr(self) -> dict[str, str]:
        """IVR variables (``CAC311_*``) as a dict."""
        return dict(self.ivr_vars)

    @property
    def finished(self) -> bool:
        """True when no further update is expected."""
        if self.ended_at is None:
            return False
        return self.unknown_end or self.answered_at is None or self.talk_seconds is not None


@dataclass(frozen=True)
class CallUpdate:
    """A changed record and what changed."""

    change: Change
    record: CallRecord


@dataclass
class _Pending:
    recording_path: str | None = None
    ivr_vars: dict[str, str] = field(default_factory=dict)


def _with_var(record: CallRecord, name: str, value: str) -> CallRecord:
    items = dict(record.ivr_vars)
    items[name] = value
    return replace(record, ivr_vars=tuple(items.items()))


def _answered_key(record: CallRecord) -> datetime:
    assert record.answered_at is not None
    return record.answered_at


class CallTracker:
    """Consumes typed AMI events and Resync snapshots; returns CallUpdate lists."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], CallRecord] = {}
        self._pending: dict[tuple[str, str], _Pending] = {}

    def calls(self) -> list[CallRecord]:
        """Records still tracked (open, or ended and awaiting AgentComplete)."""
        return list(self._calls.values())

    def get(self, server: str, uniqueid: str) -> CallRecord | None:
        """The tracked record for a caller channel, if any."""
        return self._calls.get((server, uniqueid))

    def handle(self, event: AmiEvent) -> list[CallUpdate]:
        """Apply one event or Resync; return the records it changed."""
        if isinstance(event, Resync):
            return self._resync(event)
        if isinstance(event, VarSet):
            return self._varset(event)
        if isinstance(event, QueueCallerJoin):
            return self._join(event)
        if isinstance(event, AgentComplete):
            return self._complete(event)
        uniqueid = getattr(event, "uniqueid", None)
        if uniqueid is None:
            return []
        key = (event.server, uniqueid)
        if isinstance(event, Hangup):
            self._pending.pop(key, None)
        record = self._calls.get(key)
        if record is None:
            return []
        record = replace(record, last_event_at=event.received_at)
        change: Change = "updated"
        if isinstance(event, AgentCalled):
            self._calls[key] = record
            return []
        if isinstance(event, AgentRingNoAnswer):
            record = replace(
                record,
                ring_no_answer_count=record.ring_no_answer_count + 1,
                ring_seconds=(record.ring_seconds or 0) + event.ring_time_ms // 1000,
            )
        elif isinstance(event, QueueCallerLeave):
            record = replace(record, left_queue_at=event.received_at)
        elif isinstance(event, AgentConnect):
            record = replace(
                record,
                answered_at=event.received_at,
                left_queue_at=record.left_queue_at or event.received_at,
                hold_seconds=record.prior_hold_seconds + event.hold_time,
                ring_seconds=(record.ring_seconds or 0) + event.ring_time,
                agent_interface=event.interface,
                agent_member_name=event.member_name,
                agent_uniqueid=event.dest_uniqueid,
                agent_channel=event.dest_channel,
            )
            change = "answered"
        elif isinstance(event, QueueCallerAbandon):
            record = replace(
                record,
                abandoned=True,
                hold_seconds=record.prior_hold_seconds + event.hold_time,
                end_reason="abandon",
                left_queue_at=record.left_queue_at or event.received_at,
            )
            change = "abandoned"
        elif isinstance(event, Hangup):
            record = replace(record, ended_at=event.received_at, hangup_cause=event.cause)
            if record.end_reason is None and record.answered_at is None:
                record = replace(record, end_reason="left_queue" if record.left_queue_at else None)
            if (
                record.answered_at is not None
                and record.talk_seconds is None
                and READBACK_AGENT_VAR in record.ivr
            ):
                # Kept with the agent over the read-back: no AgentComplete will ever come.
                talk = int((event.received_at - record.answered_at).total_seconds())
                record = replace(
                    record, talk_seconds=max(talk, 0), end_reason=record.end_reason or "readback"
                )
            change = "ended"
        else:
            return []
        return [self._store(record, change)]

    def _store(self, record: CallRecord, change: Change) -> CallUpdate:
        if record.finished:
            self._calls.pop(record.key, None)
        else:
            self._calls[record.key] = record
        return CallUpdate(change, record)

    def _varset(self, event: VarSet) -> list[CallUpdate]:
        name = event.variable
        if name != RECORDING_VAR and not name.startswith(IVR_PREFIX):
            return []
        key = (event.server, event.uniqueid)
        record = self._calls.get(key)
        if record is None:
            pending = self._pending.setdefault(key, _Pending())
            if name == RECORDING_VAR:
                pending.recording_path = event.value
            else:
                pending.ivr_vars[name] = event.value
            return []
        if name == RECORDING_VAR:
            record = replace(record, recording_path=event.value)
        else:
            record = _with_var(record, name, event.value)
        return [self._store(replace(record, last_event_at=event.received_at), "updated")]

    def _join(self, event: QueueCallerJoin) -> list[CallUpdate]:
        key = (event.server, event.uniqueid)
        pending = self._pending.pop(key, None) or _Pending()
        existing = self._calls.get(key)
        if existing is not None:
            record = replace(existing, queue=event.queue, last_event_at=event.received_at)
            if existing.answered_at is None and existing.entered_at is not None:
                # Back in after Queue()'s timeout (reported as QueueCallerAbandon): still one
                # call, still waiting; HoldTime restarts at 0 in each pass.
                waited = int((event.received_at - existing.entered_at).total_seconds())
                record = replace(
                    record, abandoned=False, end_reason=None, prior_hold_seconds=waited
                )
            return [self._store(record, "updated")]
        record = CallRecord(
            server=event.server,
            uniqueid=event.uniqueid,
            linkedid=event.linkedid,
            channel=event.channel,
            caller_number=event.caller_id_num,
            queue=event.queue,
            entered_at=event.received_at,
            recording_path=pending.recording_path,
            ivr_vars=tuple(pending.ivr_vars.items()),
            last_event_at=event.received_at,
        )
        return [self._store(record, "queued")]

    def _complete(self, event: AgentComplete) -> list[CallUpdate]:
        record = None
        if event.uniqueid is not None:
            record = self._calls.get((event.server, event.uniqueid))
        if record is None:
            candidates = [
                r
                for r in self._calls.values()
                if r.server == event.server
                and r.queue == event.queue
                and r.agent_interface == event.interface
                and r.answered_at is not None
                and r.talk_seconds is None
            ]
            # Without the caller's keys, the agent leg names the call (Dest* fields).
            by_leg = [
                r
                for r in candidates
                if (event.dest_uniqueid and r.agent_uniqueid == event.dest_uniqueid)
                or (event.dest_linkedid and r.linkedid == event.dest_linkedid)
            ]
            candidates = by_leg or candidates
            if not candidates:
                return []
            record = max(candidates, key=_answered_key)
        record = replace(
            record,
            talk_seconds=event.talk_time,
            hold_seconds=record.prior_hold_seconds + event.hold_time,
            end_reason=event.reason or record.end_reason,
            last_event_at=event.received_at,
        )
        return [self._store(record, "ended" if record.ended_at else "updated")]

    def _resync(self, snapshot: Resync) -> list[CallUpdate]:
        live = {e.uniqueid for e in snapshot.entries} | {c.uniqueid for c in snapshot.channels}
        updates: list[CallUpdate] = []
        for record in list(self._calls.values()):
            if record.server != snapshot.server:
                continue
            seen = record.last_event_at or record.entered_at
            stale = seen is not None and seen < snapshot.requested_at
            if snapshot.asterisk_restarted or (record.uniqueid not in live and stale):
                closed = replace(
                    record,
                    ended_at=record.ended_at or snapshot.received_at,
                    unknown_end=True,
                    last_event_at=snapshot.received_at,
                )
                updates.append(self._store(closed, "ended"))
        for key in [k for k in self._pending if k[0] == snapshot.server]:
            if snapshot.asterisk_restarted or key[1] not in live:
                del self._pending[key]
        if snapshot.asterisk_restarted:
            return updates
        channels = {c.uniqueid: c for c in snapshot.channels}
        for entry in snapshot.entries:
            key = (snapshot.server, entry.uniqueid)
            if key in self._calls:
                continue
            channel = channels.get(entry.uniqueid)
            pending = self._pending.pop(key, None) or _Pending()
            record = CallRecord(
                server=snapshot.server,
                uniqueid=entry.uniqueid,
                linkedid=channel.linkedid if channel else entry.uniqueid,
                channel=entry.channel,
                caller_number=entry.caller_id_num,
                queue=entry.queue,
                entered_at=entry.received_at - timedelta(seconds=entry.wait),
                recovered=True,
                recording_path=pending.recording_path,
                ivr_vars=tuple(pending.ivr_vars.items()),
                last_event_at=snapshot.received_at,
            )
            updates.append(self._store(record, "recovered"))
        return updates
