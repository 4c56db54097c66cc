"""Which process tracks which PBX, when ``cac311 serve`` runs on several machines.

Every process keeps an AMI connection to every PBX (for actions: queue control, the
dialer's Originate), but only the holder of the lease ``pbx:<name>`` feeds that PBX's events
to its :class:`ami.bridge.AmiBridge`, so each call is tracked once. The holder renews the
lease every third of its time to live; when it dies, another process takes the lease
within ``ttl`` plus one renewal period, attaches its bridge and asks the PBX for a Resync
(QueueStatus + CoreShowChannels), so the calls in progress are picked up. The seconds
between the death and the takeover are recorded as an AMI outage for the metrics. A process
whose own link to the PBX is down stops renewing, so the PBX moves to one that reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from ami.bridge import AmiBridge
from ami.client import AmiClient
from case_core.db.uow import UnitOfWorkFactory
from case_core.metrics.outages import record_link_down, record_link_up
from case_core.services.coordination import Lease

log = logging.getLogger(__name__)


def lease_resource(server: str) -> str:
    return f"pbx:{server}"


class PbxOwnership:
    """Acquire, renew and give up the tracking of each PBX; ``run()`` until ``stop``."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        bridge: AmiBridge,
        clients: Mapping[str, AmiClient],
        *,
        owner: str,
        ttl: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.uow_factory = uow_factory
        self.bridge = bridge
        self.clients = clients
        self.owner = owner
        self.ttl = ttl
        self.clock = clock
        self.leases = {
            name: Lease(uow_factory, lease_resource(name), owner=owner, ttl=ttl) for name in clients
        }
        self._detach: dict[str, Callable[[], None]] = {}

    @property
    def owned(self) -> set[str]:
        return set(self._detach)

    async def step(self) -> None:
        """Take or renew every lease once; attach what was gained, detach what was lost."""
        for name, lease in self.leases.items():
            if self.clients[name].state != "up":
                # No link from here: let the lease lapse, so a process that can reach this
                # PBX tracks it (a blip shorter than the lease changes nothing).
                pass
            else:
                try:
                    await lease.try_acquire()
                except Exception:
                    log.warning("could not renew the lease of PBX %s", name)
            if lease.held and name not in self._detach:
                await self._gain(name, lease)
            elif not lease.held and name in self._detach:
                self._detach.pop(name)()
                log.warning("PBX %s: lease lost, no longer tracking its calls here", name)

    async def _gain(self, name: str, lease: Lease) -> None:
        client = self.clients[name]
        self._detach[name] = self.bridge.attach(client)
        now = self.clock()
        log.info("PBX %s: tracking its calls in this process (%s)", name, self.owner)
        try:
            if lease.previous_owner and lease.previous_owner != self.owner:
                # The previous owner died without releasing: blind since about its last renewal.
                await record_link_down(self.uow_factory, name, now - timedelta(seconds=self.ttl))
            if client.state == "up":
                await record_link_up(self.uow_factory, name, now)
            else:
                await record_link_down(self.uow_factory, name, now)
        except Exception:
            log.exception("PBX %s: could not record the link state at takeover", name)
        client.request_resync()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.ttl / 3)

    async def release(self) -> list[str]:
        """Stop tracking and free the leases (clean shutdown); returns the PBXs released."""
        released = list(self._detach)
        for name in released:
            self._detach.pop(name)()
            with contextlib.suppress(Exception):
                await self.leases[name].release()
        return released
