"""Call records from the telephony side, stored one row per (server, uniqueid)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, cast, func, select, text
from sqlalchemy.dialects.postgresql import JSONB, insert

from case_core.db.models import CallRow, UserRow
from case_core.db.notify import notify_all
from case_core.db.uow import UnitOfWork, UnitOfWorkFactory

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


# Columns a snapshot always states; every other one keeps its stored value when the
# snapshot does not know it (None, or {} for the IVR variables).
_ALWAYS = ("direction", "abandoned", "end_unknown")


def _values(snapshot: CallSnapshot) -> dict[str, object]:
    return {
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


async def save_call(uow_factory: UnitOfWorkFactory, snapshot: CallSnapshot) -> int:
    """Insert or update the call row; the agent's user is found by phone interface."""
    return (await save_calls(uow_factory, [snapshot]))[0]


async def save_calls(uow_factory: UnitOfWorkFactory, snapshots: list[CallSnapshot]) -> list[int]:
    """Insert or update several call rows in one transaction (the AMI bridge writes its queued
    snapshots this way); returns their ids in order.

    A later snapshot never erases what an earlier one knew: a column the snapshot leaves
    unknown (None; ``{}`` for the IVR variables) keeps its stored value. The one exception is
    an anonymous denuncia's snapshot (``caller_hash`` set): it erases the caller's number, also
    one an earlier snapshot stored, and keeps only the keyed hash.
    """
    if not snapshots:
        return []
    latest = {(s.server, s.uniqueid): s for s in snapshots}  # one row per call per statement
    async with uow_factory() as uow:
        interfaces = {s.agent_interface for s in latest.values() if s.agent_interface}
        users: dict[str, int] = {}
        if interfaces:
            users = {
                interface: user_id
                for interface, user_id in (
                    await uow.session.execute(
                        select(UserRow.phone_interface, UserRow.id).where(
                            UserRow.phone_interface.in_(interfaces)
                        )
                    )
                ).all()
            }
        ids: dict[tuple[str, str], int] = {}
        plain = [s for s in latest.values() if s.caller_hash is None]
        anonymous = [s for s in latest.values() if s.caller_hash is not None]
        for group, erase_number in ((plain, False), (anonymous, True)):
            if group:
                ids |= await _upsert_calls(uow, group, users, erase_number=erase_number)
        quarters = {
            s.entered_at for s in latest.values() if s.direction == "inbound" and s.entered_at
        }
        if quarters:
            from case_core.metrics.rollup import mark_dirty_many

            await mark_dirty_many(uow.session, quarters)
        # Live views (the wallboard) listen for this to refresh within a second.
        await notify_all(uow.session, CALLS_CHANNEL, [str(i) for i in sorted(ids.values())])
        await uow.commit()
    return [ids[(s.server, s.uniqueid)] for s in snapshots]


async def _upsert_calls(
    uow: UnitOfWork,
    snapshots: list[CallSnapshot],
    users: dict[str, int],
    *,
    erase_number: bool,
) -> dict[tuple[str, str], int]:
    """One INSERT … ON CONFLICT for ``snapshots``; returns their ids by (server, uniqueid)."""
    rows = [_values(s) for s in snapshots]
    for row, snapshot in zip(rows, snapshots, strict=True):
        row["agent_user_id"] = users.get(row["agent_interface"])  # type: ignore[arg-type]
        row["caller_hash"] = snapshot.caller_hash or None  # "" = no hash key configured
        if erase_number:
            row["caller_number"] = None
    stmt = insert(CallRow).values(rows)
    table = CallRow.__table__
    set_: dict[str, object] = {}
    for name in rows[0]:
        if name in ("server", "uniqueid"):
            continue
        new, old = stmt.excluded[name], table.c[name]
        if name in _ALWAYS or (erase_number and name == "caller_number"):
            set_[name] = new
        elif name == "ivr_variables":
            set_[name] = case((new == cast({}, JSONB), old), else_=new)
        else:
            set_[name] = func.coalesce(new, old)
    upsert = stmt.on_conflict_do_update(
        index_elements=[CallRow.server, CallRow.uniqueid], set_=set_
    ).returning(CallRow.id, CallRow.server, CallRow.uniqueid)
    return {(r.server, r.uniqueid): r.id for r in (await uow.session.execute(upsert)).all()}


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
