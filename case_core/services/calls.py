"""Call records from the telephony side, stored one row per (server, uniqueid)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from case_core.db.models import CallRow, UserRow
from case_core.db.uow import UnitOfWorkFactory

CALLS_CHANNEL = "cac311_calls"


@dataclass(frozen=True, kw_only=True)
class CallSnapshot:
    """Everything known about a call at one moment (None: not known yet)."""

    server: str
    uniqueid: str
    linkedid: str | None
    direction: str = "inbound"
    caller_number: str | None = None
    queue: str | None = None
    entered_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    hold_seconds: int | None = None
    talk_seconds: int | None = None
    ring_seconds: int | None = None
    agent_interface: str | None = None
    agent_name: str | None = None
    abandoned: bool = False
    end_unknown: bool = False
    hangup_cause: int | None = None
    recording_path: str | None = None
    ivr_variables: dict[str, str] = field(default_factory=dict)
    callback_id: int | None = None


async def save_call(uow_factory: UnitOfWorkFactory, snapshot: CallSnapshot) -> int:
    """Insert or update the call row; the agent's user is found by phone interface."""
    values = {
        "server": snapshot.server,
        "uniqueid": snapshot.uniqueid,
        "linkedid": snapshot.linkedid,
        "direction": snapshot.direction,
        "caller_number": snapshot.caller_number,
        "queue": snapshot.queue,
        "entered_at": snapshot.entered_at,
        "answered_at": snapshot.answered_at,
        "ended_at": snapshot.ended_at,
        "hold_seconds": snapshot.hold_seconds,
        "talk_seconds": snapshot.talk_seconds,
        "ring_seconds": snapshot.ring_seconds,
        "agent_interface": snapshot.agent_interface,
        "agent_name": snapshot.agent_name,
        "abandoned": snapshot.abandoned,
        "end_unknown": snapshot.end_unknown,
        "hangup_cause": snapshot.hangup_cause,
        "recording_path": snapshot.recording_path,
        "ivr_variables": snapshot.ivr_variables,
        "callback_id": snapshot.callback_id,
    }
    async with uow_factory() as uow:
        if snapshot.agent_interface:
            values["agent_user_id"] = await uow.session.scalar(
                select(UserRow.id).where(UserRow.phone_interface == snapshot.agent_interface)
            )
        # A later snapshot never erases what an earlier one knew.
        keep = {k for k, v in values.items() if v is None or v == {}}
        row = insert(CallRow).values(**values)
        upsert = row.on_conflict_do_update(
            index_elements=[CallRow.server, CallRow.uniqueid],
            set_={k: row.excluded[k] for k in values if k not in keep | {"server", "uniqueid"}},
        ).returning(CallRow.id)
        call_id = (await uow.session.execute(upsert)).scalar_one()
        if snapshot.direction == "inbound" and snapshot.entered_at is not None:
            from case_core.metrics.rollup import mark_dirty

            await mark_dirty(uow.session, snapshot.entered_at)
        # Live views (the wallboard) listen for this to refresh within a second.
        await uow.session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CALLS_CHANNEL, "payload": str(call_id)},
        )
        await uow.commit()
        return call_id
