"""Screen pops across processes: stored in ``screen_pops``, announced by LISTEN/NOTIFY.

The AMI listener (any process) calls :func:`publish_pop`; the row insert and its
``pg_notify('cac311_pop', …)`` share one transaction, so a notification is only ever sent for
a committed pop. The web process listens on its own asyncpg connection (:class:`PopListener`;
the pool's connections are never used for LISTEN) and delivers each pop to the agent's
sockets. NOTIFY is not durable: after the listening connection is re-established,
``on_reconnect`` lets the web side re-send every agent's current pop.

The row is the record; the notification carries a copy of the message (a
:class:`Notification`: id, agent interface and what the browser receives), so the web side
delivers a pop without reading the database: with 500 sockets and a busy pool, a read per
pop was the tail of the pop's latency (issue 18). A message larger than PostgreSQL's payload
limit (8,000 bytes) is announced by its id alone and read from the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import DateTime, Text

from agent_desktop.pg_listen import PgListener
from case_core.db.models.desktop import ScreenPopRow
from case_core.db.notify import notify_all
from case_core.db.uow import UnitOfWorkFactory
from case_core.services.agents import AGENT_STATE_CHANNEL, parse_agent_state_notice

log = logging.getLogger(__name__)

POP_CHANNEL = "cac311_pop"
#: PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more.
MAX_NOTIFY_BYTES = 7_900


@dataclass(frozen=True)
class StoredPop:
    id: int
    agent_interface: str
    user_id: int | None
    call_uniqueid: str
    linkedid: str | None
    payload: dict[str, Any]
    created_at: datetime
    closed_at: datetime | None

    def message(self) -> dict[str, Any]:
        """What the browser receives."""
        if self.closed_at is not None:
            return {"type": "pop_closed", "pop_id": self.id}
        return {"type": "pop", "pop_id": self.id, "pop": self.payload}


def _stored(row: ScreenPopRow) -> StoredPop:
    return StoredPop(
        row.id,
        row.agent_interface,
        row.user_id,
        row.call_uniqueid,
        row.linkedid,
        row.payload,
        row.created_at,
        row.closed_at,
    )


@dataclass(frozen=True)
class Notification:
    """What one ``cac311_pop`` notification says: the pop's id, and when the payload could
    carry them, its agent interface and the browser's message (else read the row)."""

    pop_id: int
    interface: str | None = None
    message: dict[str, Any] | None = None


def notification_payload(pop_id: int, interface: str, message: dict[str, Any]) -> str:
    """The NOTIFY payload for a pop's message: JSON, or the bare id when too large."""
    payload = json.dumps(
        {"id": pop_id, "interface": interface, "message": message},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return payload if len(payload.encode()) < MAX_NOTIFY_BYTES else str(pop_id)


def _closed_payload(pop_id: int, interface: str) -> str:
    return notification_payload(pop_id, interface, {"type": "pop_closed", "pop_id": pop_id})


def parse_notification(payload: str) -> Notification:
    """Read a ``cac311_pop`` payload (JSON or a bare id); ValueError when malformed."""
    if not payload.startswith("{"):
        return Notification(int(payload))
    data = json.loads(payload)
    pop_id, interface, message = data.get("id"), data.get("interface"), data.get("message")
    if not isinstance(pop_id, int) or not isinstance(interface, str):
        raise ValueError("pop notification without id or interface")
    if not isinstance(message, dict):
        raise ValueError("pop notification without a message")
    return Notification(pop_id, interface, message)


# One statement: close the agent's open pops (an agent has one live call), insert the new one.
_PUBLISH = text(
    """
WITH stale AS (
    UPDATE screen_pops SET closed_at = :now
    WHERE agent_interface = :interface AND closed_at IS NULL
    RETURNING id
), fresh AS (
    INSERT INTO screen_pops (agent_interface, user_id, call_uniqueid, linkedid, payload,
                             created_at)
    VALUES (:interface, (SELECT id FROM users WHERE phone_interface = :interface),
            :uniqueid, :linkedid, CAST(:payload AS jsonb), :now)
    RETURNING id
)
SELECT (SELECT id FROM fresh) AS id, ARRAY(SELECT id FROM stale ORDER BY id) AS stale
"""
)


async def publish_pop(
    uow_factory: UnitOfWorkFactory, pop: dict[str, Any], *, now: datetime | None = None
) -> int:
    """Store ``pop`` (from ``build_pop``) as the agent's open pop and notify; returns its id.

    An agent has one live call: an older pop of the same interface still open is closed.
    Two statements and a commit (the pop's latency is mostly round trips).
    """
    call = pop["call"]
    interface = call["agent_interface"]
    now = now or datetime.now(UTC)
    async with uow_factory() as uow:
        found = (
            await uow.session.execute(
                _PUBLISH,
                {
                    "now": now,
                    "interface": interface,
                    "uniqueid": call["uniqueid"],
                    "linkedid": call.get("linkedid"),
                    "payload": json.dumps(pop, ensure_ascii=False),
                },
            )
        ).one()
        pop_id, stale_ids = found.id, list(found.stale)
        payloads = [_closed_payload(i, interface) for i in stale_ids]
        message = {"type": "pop", "pop_id": pop_id, "pop": pop}  # as StoredPop.message()
        payloads.append(notification_payload(pop_id, interface, message))
        await notify_all(uow.session, POP_CHANNEL, payloads)
        await uow.commit()
        return pop_id


_CLOSE = text(
    """
UPDATE screen_pops p SET closed_at = e.at
FROM unnest(:uniqueids, :ats) AS e(uniqueid, at)
WHERE p.closed_at IS NULL AND (p.call_uniqueid = e.uniqueid OR p.linkedid = e.uniqueid)
RETURNING p.id, p.agent_interface
"""
).bindparams(
    bindparam("uniqueids", type_=ARRAY(Text)), bindparam("ats", type_=ARRAY(DateTime(True)))
)


async def close_pops(
    uow_factory: UnitOfWorkFactory, ended: list[tuple[str, datetime]]
) -> list[int]:
    """Mark the open pops of ended calls closed, ``(uniqueid or linkedid, ended at)`` each,
    in one statement (the AMI bridge closes a batch of calls at once); returns their ids."""
    if not ended:
        return []
    async with uow_factory() as uow:
        params = {"uniqueids": [u for u, _ in ended], "ats": [at for _, at in ended]}
        closed = sorted((await uow.session.execute(_CLOSE, params)).all())
        payloads = [_closed_payload(i, interface) for i, interface in closed]
        await notify_all(uow.session, POP_CHANNEL, payloads)
        await uow.commit()
        return [i for i, _ in closed]


async def close_pop(uow_factory: UnitOfWorkFactory, call_uniqueid: str, at: datetime) -> list[int]:
    """Mark the open pops of a call ended (AgentComplete/Hangup of its uniqueid or linkedid)."""
    return await close_pops(uow_factory, [(call_uniqueid, at)])


async def get_pop(uow_factory: UnitOfWorkFactory, pop_id: int) -> StoredPop | None:
    async with uow_factory() as uow:
        row = await uow.session.get(ScreenPopRow, pop_id)
        return None if row is None else _stored(row)


async def current_pop(uow_factory: UnitOfWorkFactory, agent_interface: str) -> StoredPop | None:
    """The agent's open pop (what a reconnecting browser gets back)."""
    async with uow_factory() as uow:
        row = await uow.session.scalar(
            select(ScreenPopRow)
            .where(
                ScreenPopRow.agent_interface == agent_interface, ScreenPopRow.closed_at.is_(None)
            )
            .order_by(ScreenPopRow.id.desc())
            .limit(1)
        )
        return None if row is None else _stored(row)


Notified = Callable[[str, Any], Awaitable[None]]


class PopListener:
    """LISTEN on ``cac311_pop`` and ``cac311_agent_state`` (see :class:`PgListener`).

    Notifications are handled one at a time, in order (a pop and its closing never race);
    after a reconnection ``on_reconnect`` re-sends what browsers may have missed.
    """

    def __init__(
        self,
        dsn: str,
        on_notify: Notified,
        on_reconnect: Callable[[], Awaitable[None]],
        **listen_options: float,
    ) -> None:
        self._on_notify = on_notify
        self._on_reconnect = on_reconnect
        self._inbox: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()
        self._listen = PgListener(
            dsn,
            (POP_CHANNEL, AGENT_STATE_CHANNEL),
            self._received,
            self._connected,
            name="pop",
            **listen_options,
        )
        self._dispatcher: asyncio.Task[None] | None = None

    @property
    def connected(self) -> asyncio.Event:
        return self._listen.connected

    @property
    def connections(self) -> int:
        return self._listen.connections

    @property
    def backend_pid(self) -> int | None:
        return self._listen.backend_pid

    async def start(self) -> None:
        self._dispatcher = asyncio.create_task(self._dispatch(), name="pop-dispatch")
        await self._listen.start()

    async def stop(self) -> None:
        await self._listen.stop()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher

    def _received(self, channel: str, payload: str) -> None:
        """Queue a notification as ``(channel, Notification)`` for pops and ``(channel,
        AgentStateNotice)`` for agent states (see their parsers)."""
        parse = parse_notification if channel == POP_CHANNEL else parse_agent_state_notice
        try:
            self._inbox.put_nowait((channel, parse(payload)))
        except (ValueError, TypeError, KeyError):
            log.warning("ignoring a malformed %s notification", channel)

    def _connected(self, connections: int) -> None:
        if connections > 1:
            log.info("pop listener reconnected; re-sending current pops")
            self._inbox.put_nowait(None)  # resync after the notifications we missed

    async def _dispatch(self) -> None:
        while True:
            item = await self._inbox.get()
            try:
                if item is None:
                    await self._on_reconnect()
                else:
                    await self._on_notify(*item)
            except Exception:
                log.exception("failed to deliver a notification")
