"""What leaving the desktop does to the agent's queue membership.

An agent who logs out, whose session ends, or whose last desktop socket stays closed for
``desk_leave_grace_seconds`` (the browser was closed, the PC went to sleep) stops receiving
calls: the member is removed from the queue, or paused with reason ``desk_closed``, as the
operator sets ``desk_leave_action``. A reconnect within the grace time (a page reload, a
brief network cut) cancels it. The state shown still comes only from what Asterisk reports.

The grace timers live in the web process holding the socket; a desktop that reconnects to
another web process within the grace time is still removed by the first (it rejoins with
"Conectarse"), which errs on the side of not ringing an absent agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from agent_desktop.keys import QUEUE_CONTROL, SETTINGS
from agent_desktop.ports import NotMember

log = logging.getLogger(__name__)

LEAVE_PAUSE_REASON = "desk_closed"


async def leave_queue(config: Mapping[Any, Any], interface: str | None, why: str) -> bool:
    """Apply ``desk_leave_action`` to ``interface``; True when an action was sent. Never
    raises: leaving must not fail a logout."""
    settings = config[SETTINGS]
    action = settings.desk_leave_action
    if not interface or action == "keep":
        return False
    control = config[QUEUE_CONTROL]
    try:
        if action == "pause":
            await control.queue_pause(settings.queue_name, interface, True, LEAVE_PAUSE_REASON)
        else:
            await control.queue_remove(settings.queue_name, interface)
    except NotMember:
        return False
    except Exception as err:  # the telephony boundary
        log.warning("desk leave (%s, %s) failed: %s", why, action, type(err).__name__)
        return False
    log.info("desk left (%s): %s", why, action)
    return True


class Presence:
    """Open desktop sockets per interface in this process, and the pending leave timers."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}

    def opened(self, interface: str | None) -> None:
        if not interface:
            return
        self._open[interface] = self._open.get(interface, 0) + 1
        timer = self._timers.pop(interface, None)
        if timer is not None:
            timer.cancel()

    def closed(self, config: Mapping[Any, Any], interface: str | None) -> None:
        """A socket closed; when it was the interface's last one, start the grace timer."""
        if not interface:
            return
        left = self._open.get(interface, 1) - 1
        if left > 0:
            self._open[interface] = left
            return
        self._open.pop(interface, None)
        grace = float(config[SETTINGS].desk_leave_grace_seconds)
        if interface not in self._timers:
            self._timers[interface] = asyncio.get_running_loop().create_task(
                self._leave_later(config, interface, grace), name=f"desk-leave-{interface}"
            )

    def forget(self, interface: str | None) -> None:
        """The agent left explicitly (logout): no timer needed any more."""
        timer = self._timers.pop(interface or "", None)
        if timer is not None:
            timer.cancel()

    def pending(self, interface: str) -> bool:
        return interface in self._timers

    async def _leave_later(self, config: Mapping[Any, Any], interface: str, grace: float) -> None:
        try:
            await asyncio.sleep(grace)
            if self._open.get(interface):
                return
            await leave_queue(config, interface, "desktop closed")
        finally:
            if self._timers.get(interface) is asyncio.current_task():
                del self._timers[interface]

    async def close(self, app: web.Application) -> None:
        """Server shutdown: drop the timers (a restart must not log the floor out)."""
        for timer in list(self._timers.values()):
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
        self._timers.clear()


PRESENCE = web.AppKey("desk_presence", Presence)
