"""Agent (queue member) states as Asterisk reports them.

The desktop never shows what the agent *asked* for (join, pause...), only what Asterisk
reported back through AMI (QueueMemberAdded, QueueMemberPause, QueueMemberRemoved,
QueueMemberStatus, or a QueueStatus re-read after a reconnect). The AMI listener calls
:func:`record_agent_state`; the row insert and a ``pg_notify('cac311_agent_state', …)``
share one transaction, so a web server in another process pushes the change to the browser.
The notification carries the event's id and its display form (:class:`AgentStateNotice`), so
the web side does not read it back for every change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from sqlalchemy import func, select

from case_core.db.models.desktop import AgentStateEventRow
from case_core.db.notify import notify_all
from case_core.db.uow import UnitOfWorkFactory

AGENT_STATE_CHANNEL = "cac311_agent_state"


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"  # not a member of the queue
    AVAILABLE = "available"  # member, not paused, phone idle
    RINGING = "ringing"
    IN_CALL = "in_call"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"  # member whose phone is unregistered/invalid


STATE_LABELS: dict[AgentState, str] = {
    AgentState.LOGGED_OUT: "Desconectado de la cola",
    AgentState.AVAILABLE: "Disponible",
    AgentState.RINGING: "Timbrando",
    AgentState.IN_CALL: "En llamada",
    AgentState.PAUSED: "En pausa",
    AgentState.UNAVAILABLE: "Teléfono no disponible",
}

# Pause reasons: the code goes to Asterisk (QueuePause Reason, queue_log), the label to people.
PAUSE_REASONS: dict[str, str] = {
    "almuerzo": "Almuerzo",
    "bano": "Baño",
    "capacitacion": "Capacitación",
    "tarea_administrativa": "Tarea administrativa",
    "retroalimentacion": "Retroalimentación",
}

# Pauses the system applies (agent_desktop.presence), not offered to agents.
SYSTEM_PAUSE_LABELS: dict[str, str] = {
    "desk_closed": "escritorio cerrado",
    "trabajo_posterior": "trabajo posterior",
}

# app_queue member Status values (Asterisk's AST_DEVICE_* device states).
_DEVICE_STATES: dict[int, AgentState] = {
    0: AgentState.AVAILABLE,  # unknown: app_queue still rings it
    1: AgentState.AVAILABLE,  # not in use
    2: AgentState.IN_CALL,  # in use
    3: AgentState.IN_CALL,  # busy
    4: AgentState.UNAVAILABLE,  # invalid
    5: AgentState.UNAVAILABLE,  # unavailable
    6: AgentState.RINGING,
    7: AgentState.RINGING,  # ring in use
    8: AgentState.IN_CALL,  # on hold
}


def state_from_member(*, status: int | None, paused: bool, in_call: bool = False) -> AgentState:
    """Map a queue member's ``Status``/``Paused``/``InCall`` fields to one desktop state."""
    if paused:
        return AgentState.PAUSED
    if in_call:
        return AgentState.IN_CALL
    return _DEVICE_STATES.get(status if status is not None else 1, AgentState.AVAILABLE)


@dataclass(frozen=True)
class AgentStateView:
    interface: str
    state: AgentState
    label: str
    reason: str | None
    reason_label: str | None
    at: datetime
    source: str

    def to_json(self) -> dict:
        return {
            "interface": self.interface,
            "state": self.state.value,
            "label": self.label,
            "reason": self.reason,
            "reason_label": self.reason_label,
            "at": self.at.isoformat(),
        }


def view_of(row: AgentStateEventRow) -> AgentStateView:
    """The display form of a stored state event."""
    state = AgentState(row.state)
    reason_label = (
        PAUSE_REASONS.get(row.reason, SYSTEM_PAUSE_LABELS.get(row.reason, row.reason))
        if row.reason
        else None
    )
    label = STATE_LABELS[state]
    if state is AgentState.PAUSED and reason_label:
        label = f"{label}: {reason_label}"
    return AgentStateView(row.interface, state, label, row.reason, reason_label, row.at, row.source)


class ReportedState(NamedTuple):
    """One state Asterisk reported for a queue member, to store."""

    interface: str
    state: AgentState
    reason: str | None
    at: datetime
    source: str


async def record_agent_state(
    uow_factory: UnitOfWorkFactory,
    interface: str,
    state: AgentState | str,
    reason: str | None,
    at: datetime,
    source: str,
) -> int:
    """Store a state Asterisk reported for ``interface`` and notify web servers; returns its id."""
    reported = ReportedState(interface, AgentState(state), reason, at, source)
    return (await record_agent_states(uow_factory, [reported]))[0]


async def record_agent_states(
    uow_factory: UnitOfWorkFactory, states: list[ReportedState]
) -> list[int]:
    """Store several reported states in order, in one transaction, with one notification
    each (the AMI bridge writes a burst of member events at once); returns their ids."""
    if not states:
        return []
    rows = [
        AgentStateEventRow(
            interface=s.interface,
            state=s.state.value,
            reason=(s.reason or None) if s.state is AgentState.PAUSED else None,
            at=s.at,
            source=s.source[:40],
        )
        for s in states
    ]
    async with uow_factory() as uow:
        # One INSERT for the batch; ids come back in the rows' order.
        uow.session.add_all(rows)
        await uow.session.flush()
        payloads = [
            json.dumps({"id": row.id, "state": view_of(row).to_json()}, ensure_ascii=False)
            for row in rows
        ]
        await notify_all(uow.session, AGENT_STATE_CHANNEL, payloads)
        await uow.commit()
        return [row.id for row in rows]


@dataclass(frozen=True)
class AgentStateNotice:
    """A ``cac311_agent_state`` notification: the event's id and, from this version on, the
    state itself (``AgentStateView.to_json()``), so web processes need not read it back."""

    event_id: int
    state: dict | None = None

    @property
    def at(self) -> datetime | None:
        return datetime.fromisoformat(self.state["at"]) if self.state else None


def parse_agent_state_notice(payload: str) -> AgentStateNotice:
    """Read a notification payload (JSON, or the bare id older writers send)."""
    if not payload.startswith("{"):
        return AgentStateNotice(int(payload))
    data = json.loads(payload)
    event_id, state = data.get("id"), data.get("state")
    if not isinstance(event_id, int) or not isinstance(state, dict):
        raise ValueError("agent state notification without id or state")
    if not isinstance(state.get("interface"), str) or not isinstance(state.get("at"), str):
        raise ValueError("agent state notification without interface or time")
    datetime.fromisoformat(state["at"])  # a malformed time is a malformed notification
    return AgentStateNotice(event_id, state)


async def latest_agent_state(
    uow_factory: UnitOfWorkFactory, interface: str
) -> AgentStateView | None:
    """The last state Asterisk reported for ``interface``, or None when it never did."""
    async with uow_factory() as uow:
        row = await uow.session.scalar(
            select(AgentStateEventRow)
            .where(AgentStateEventRow.interface == interface)
            .order_by(AgentStateEventRow.at.desc(), AgentStateEventRow.id.desc())
            .limit(1)
        )
        return None if row is None else view_of(row)


async def agent_state_by_id(uow_factory: UnitOfWorkFactory, event_id: int) -> AgentStateView | None:
    """One stored state event (what a notification names)."""
    async with uow_factory() as uow:
        row = await uow.session.get(AgentStateEventRow, event_id)
        return None if row is None else view_of(row)


async def mark_absent_members_logged_out(
    uow_factory: UnitOfWorkFactory,
    present: set[str],
    *,
    queues: set[str],
    requested_at: datetime,
    at: datetime,
) -> list[str]:
    """After a QueueStatus re-read (start, reconnect, Asterisk restart): every interface we
    last saw as a member, absent from the snapshot and unchanged since it was asked for, is
    no longer a member. Without this, agents removed while the link was down (or by an
    Asterisk restart) keep showing "En llamada" forever. Returns the interfaces changed.

    ``queues`` are the queues the snapshot covered; nothing is changed when it covered none
    (a PBX without our queue says nothing about our agents)."""
    if not queues:
        return []
    async with uow_factory() as uow:
        ranked = select(
            AgentStateEventRow.interface,
            AgentStateEventRow.state,
            AgentStateEventRow.at,
            func.row_number()
            .over(
                partition_by=AgentStateEventRow.interface,
                order_by=(AgentStateEventRow.at.desc(), AgentStateEventRow.id.desc()),
            )
            .label("rn"),
        ).subquery()
        latest = select(ranked.c.interface, ranked.c.state, ranked.c.at).where(ranked.c.rn == 1)
        rows = (await uow.session.execute(latest)).all()
    gone = [
        interface
        for interface, state, seen_at in rows
        if state != AgentState.LOGGED_OUT.value
        and interface not in present
        and seen_at <= requested_at
    ]
    for interface in gone:
        await record_agent_state(
            uow_factory, interface, AgentState.LOGGED_OUT, None, at, "resync-absent"
        )
    return gone
