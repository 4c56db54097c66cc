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
    #: Set for an anonymous denuncia: the number is then erased and only this is kept.
    caller_hash: str | None = None
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
    if snapshot.caller_hash is not None:
        values["caller_number"] = None  # erased, also from an earlier snapshot of the row
        values["caller_hash"] = snapshot.caller_hash or None  # "" = no key configured
    async with uow_factory() as uow:
        if snapshot.agent_interface:
            values["agent_user_id"] = await uow.session.scalar(
                select(UserRow.id).where(UserRow.phone_interface == snapshot.agent_interface)
            )
        # A later snapshot never erases what an earlier one knew.
        keep = {k for k, v in values.items() if v is None or v == {}}
        if snapshot.caller_hash is not None:
            keep.discard("caller_number")
        row = insert(CallRow).values(**values)
        upsert = row.on_conflict_do_update(
            index_elements=[CallRow.server, CallRow.uniqueid],
            set_={k: row.excluded[k] for k in values if k not in keep | {"server", "uniqueid"}},
        ).returning(CallRow.id)
        call_id = (await uow.session.execute(upsert)).scalar_one()
        # Live views (the wallboard) listen for this to refresh within a second.
        await uow.session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CALLS_CHANNEL, "payload": str(call_id)},
        )
        await uow.commit()
        return call_id


async def reconcile_open_calls(
    uow_factory: UnitOfWorkFactory,
    *,
    server: str,
    live_uniqueids: set[str],
    requested_at: datetime,
    ended_at: datetime,
    asterisk_restarted: bool = False,
) -> list[str]:
    """Close the calls this database holds open that Asterisk no longer has (issue 15).

    Run with every ``CoreShowChannels`` snapshot (after each AMI login: at start and after a
    reconnect). An open row of ``server`` last touched before the snapshot was asked for and
    whose caller channel (or linked call) is not in it gets ``ended_at`` and ``end_unknown``;
    after an Asterisk restart every such row does. Returns the uniqueids closed (the caller
    closes their screen pops).
    """
    from sqlalchemy import and_, func, or_, update

    last_seen = func.coalesce(
        func.greatest(CallRow.started_at, CallRow.entered_at, CallRow.answered_at),
        CallRow.created_at,
    )
    gone = and_(CallRow.server == server, CallRow.ended_at.is_(None), last_seen < requested_at)
    if not asterisk_restarted and live_uniqueids:
        live = list(live_uniqueids)
        gone = and_(
            gone,
            CallRow.uniqueid.not_in(live),
            or_(CallRow.linkedid.is_(None), CallRow.linkedid.not_in(live)),
        )
    async with uow_factory() as uow:
        closed = list(
            await uow.session.scalars(
                update(CallRow)
                .where(gone)
                .values(ended_at=ended_at, end_unknown=True)
                .returning(CallRow.uniqueid)
            )
        )
        if closed:
            await uow.session.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CALLS_CHANNEL, "payload": "reconciled"},
            )
        await uow.commit()
    return closed
