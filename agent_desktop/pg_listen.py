"""PgListener: LISTEN on PostgreSQL channels over a dedicated asyncpg connection.

The pool's connections are never used for LISTEN. A dropped connection (terminated backend,
restart) is seen by asyncpg's termination callback or a periodic ``SELECT 1`` and re-opened
with exponential backoff; ``on_connect`` is told every (re)connection, because notifications
sent while disconnected are lost and the caller must catch up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

log = logging.getLogger(__name__)


class PgListener:
    """Calls ``on_notify(channel, payload)`` for each notification (from asyncpg's callback:
    keep it quick) and ``on_connect(n)`` after the n-th successful connection."""

    def __init__(
        self,
        dsn: str,
        channels: tuple[str, ...],
        on_notify: Callable[[str, str], None],
        on_connect: Callable[[int], None],
        *,
        name: str,
        check_every: float = 10.0,
        retry_initial: float = 0.2,
        retry_max: float = 10.0,
    ) -> None:
        self._dsn = dsn
        self._channels = channels
        self._on_notify = on_notify
        self._on_connect = on_connect
        self.name = name
        self._check_every = check_every
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._lost = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        self.connections = 0

    @property
    def backend_pid(self) -> int | None:
        conn = self._conn
        return None if conn is None or conn.is_closed() else conn.get_server_pid()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.name}-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), 2)

    def _received(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        self._on_notify(channel, payload)

    def _terminated(self, _conn: object) -> None:
        self._lost.set()

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self._dsn, timeout=5)
        conn.add_termination_listener(self._terminated)
        for channel in self._channels:
            await conn.add_listener(channel, self._received)
        return conn

    async def _run(self) -> None:
        delay = self._retry_initial
        while True:
            try:
                self._lost.clear()
                self._conn = await self._connect()
            except (OSError, asyncpg.PostgresError, TimeoutError) as err:
                log.warning(
                    "%s listener cannot connect (%s); retrying in %.1fs",
                    self.name,
                    type(err).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            delay = self._retry_initial
            self.connections += 1
            self.connected.set()
            self._on_connect(self.connections)
            await self._watch(self._conn)
            self.connected.clear()
            with contextlib.suppress(Exception):
                self._conn.terminate()

    async def _watch(self, conn: asyncpg.Connection) -> None:
        while not self._lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self._check_every)
                return
            try:
                await asyncio.wait_for(conn.execute("SELECT 1"), 5)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                return
