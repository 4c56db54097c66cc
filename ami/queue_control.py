"""QueueControl over AMI: what the agent desktop asks Asterisk to do."""

from __future__ import annotations

from collections.abc import Mapping

from agent_desktop.ports import READBACK_CONTEXT, READBACK_PRIORITY
from ami.client import AmiClient
from case_core.domain.case import is_case_number


class AmiQueueControl:
    """Sends queue actions to the PBX the agents' phones register with (the first server);
    a redirect goes to the server that carries the call."""

    def __init__(self, clients: Mapping[str, AmiClient]) -> None:
        if not clients:
            raise ValueError("at least one AMI client is needed")
        self._clients = dict(clients)
        self._primary = next(iter(self._clients.values()))

    def _client(self, server: str | None) -> AmiClient:
        return self._clients.get(server or "", self._primary)

    async def queue_add(self, queue: str, interface: str, member_name: str) -> None:
        await self._primary.queue_add(queue, interface, member_name)

    async def queue_pause(self, queue: str, interface: str, paused: bool, reason: str) -> None:
        await self._primary.queue_pause(queue, interface, paused, reason or None)

    async def queue_remove(self, queue: str, interface: str) -> None:
        await self._primary.queue_remove(queue, interface)

    async def redirect_to_readback(
        self, channel: str, case_number: str, server: str | None = None
    ) -> None:
        if not is_case_number(case_number):
            raise ValueError("not a case number")
        # The case number travels as the extension (``[cac311-readback]`` matches
        # ``_XXXXXXXXXX`` and sets CAC311_CASE_NUMBER from ${EXTEN}): one Redirect, no Setvar
        # racing it, and a missing channel fails with Asterisk's own Redirect error.
        await self._client(server).redirect(
            channel, READBACK_CONTEXT, case_number, READBACK_PRIORITY
        )
