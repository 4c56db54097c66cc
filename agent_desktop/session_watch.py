"""One periodic check of every live socket's session, per web process.

A live socket (desktop, wallboard, admin) checks its session only when it opens; after that
a logout elsewhere, the absolute expiry or a deactivated user must still close it. Checking
each socket on its own timer meant one transaction per socket per period, all falling due
together: with 500 agents connected, 500 transactions every 30 s held the pool and the event
loop long enough to delay screen pops by seconds (issue 18). The :class:`SessionWatch` checks
every watched session with one query per period (:func:`keep_alive_many`) and wakes the
sockets whose session ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from agent_desktop.sessions import keep_alive_many
from case_core.db.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)


class SessionWatch:
    """Sessions watched by live sockets; ``period()`` gives the seconds between checks."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Callable[[], datetime],
        period: Callable[[], float],
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._period = period
        self._waiters: dict[int, set[asyncio.Future[None]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.checks = 0  # how many batched checks ran (for tests and /health-like views)

    async def until_ended(self, session_id: int) -> None:
        """Return once ``session_id`` has ended (cancel the awaiting task to stop watching)."""
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(session_id, set()).add(ended)
        self._ensure_running()
        try:
            await ended
        finally:
            waiters = self._waiters.get(session_id)
            if waiters is not None:
                waiters.discard(ended)
                if not waiters:
                    del self._waiters[session_id]

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="session-watch")

    async def _run(self) -> None:
        while self._waiters:
            await asyncio.sleep(self._period())
            ids = sorted(self._waiters)
            if not ids:
                continue
            try:
                alive = await keep_alive_many(self._uow_factory, ids, now=self._clock())
            except Exception:  # database briefly unreachable: check again next period
                log.warning("could not check the sessions of %d live sockets", len(ids))
                continue
            self.checks += 1
            for session_id in ids:
                if session_id in alive:
                    continue
                for ended in self._waiters.get(session_id, ()):
                    if not ended.done():
                        ended.set_result(None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


SESSION_WATCH = web.AppKey("session_watch", SessionWatch)
