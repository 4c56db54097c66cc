"""Screen pops across processes: stored in ``screen_pops``, announced by LISTEN/NOTIFY.

The AMI listener (any process) calls :func:`publish_pop`; the row insert and
``pg_notify('cac311_pop', '<pop id>')`` share one transaction, so a notification is only
ever sent for a committed pop. The web process listens on its own asyncpg connection
(:class:`PopListener`; the pool's connections are never used for LISTEN) and delivers each
pop to the agent's sockets. NOTIFY is not durable: after the listening connection is
re-established, ``on_reconnect`` lets the web side re-send every agent's current pop.
Payloads are only ids: the row is the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, text, update

from agent_desktop.pg_listen import PgListener
from case_core.db.models.desktop import ScreenPopRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.services.agents import AGENT_STATE_CHANNEL

log = logging.getLogger(__name__)

POP_CHANNEL = "cac311_pop"


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


async def _notify(uow: Any, channel: str, pop_id: int) -> None:
    await uow.session.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": str(pop_id)}
    )


async def publish_pop(
    uow_factory: UnitOfWorkFactory, pop: dict[str, Any], *, now: datetime | None = None
) -> int:
    """Store ``pop`` (from ``build_pop``) as the agent's open pop and notify; returns its id.

    An agent has one live call: an older pop of the same interface still open is closed.
    """
    call = pop["call"]
    interface = call["agent_interface"]
    now = now or datetime.now(UTC)
    async with uow_factory() as uow:
        user = await uow.users.by_interface(interface)
        stale = await uow.session.scalars(
            update(ScreenPopRow)
            .where(ScreenPopRow.agent_interface == interface, ScreenPopRow.closed_at.is_(None))
            .values(closed_at=now)
            .returning(ScreenPopRow.id)
        )
        stale_ids = list(stale)
        row = ScreenPopRow(
            agent_interface=interface,
            user_id=user.id if user is not None else None,
            call_uniqueid=call["uniqueid"],
            linkedid=call.get("linkedid"),
            payload=pop,
            created_at=now,
        )
        uow.session.add(row)
        await uow.session.flush()
        for stale_id in stale_ids:
            await _notify(uow, POP_CHANNEL, stale_id)
        await _notify(uow, POP_CHANNEL, row.id)
        await uow.commit()
        return row.id


async def close_pop(uow_factory: UnitOfWorkFactory, call_uniqueid: str, at: datetime) -> list[int]:
    """Mark the open pops of a call ended (AgentComplete/Hangup of its uniqueid or linkedid)."""
    async with uow_factory() as uow:
        closed = await uow.session.scalars(
            update(ScreenPopRow)
            .where(
                or_(
                    ScreenPopRow.call_uniqueid == call_uniqueid,
                    ScreenPopRow.linkedid == call_uniqueid,
                ),
                ScreenPopRow.closed_at.is_(None),
            )
            .values(closed_at=at)
            .returning(ScreenPopRow.id)
        )
        ids = list(closed)
        for pop_id in ids:
            await _notify(uow, POP_CHANNEL, pop_id)
        await uow.commit()
        return ids


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


Notified = Callable[[str, int], Awaitable[None]]


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
        self._inbox: asyncio.Queue[tuple[str, int] | None] = asyncio.Queue()
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
        try:
            self._inbox.put_nowait((channel, int(payload)))
        except ValueError:
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
