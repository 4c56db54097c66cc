"""QueueControl over AMI: what the agent desktop asks Asterisk to do."""

from __future__ import annotations

import re
from collections.abc import Mapping

from agent_desktop.ports import (
    MANUAL_CALLBACK_CONTEXT,
    READBACK_AGENT_CONTEXT,
    READBACK_AGENT_EXTEN,
    READBACK_CONTEXT,
    READBACK_PRIORITY,
    AlreadyMember,
    NotMember,
)
from ami.client import AmiActionError, AmiClient
from ami.tracker import READBACK_AGENT_VAR
from case_core.domain.case import is_case_number

# The agent's phone rings this long ([globals] CAC311_AGENT_RING_TIMEOUT is 30 s too).
MANUAL_AGENT_RING_MS = 30_000
MANUAL_CALLER_ID = '"3-1-1 devolucion" <311>'
_INTERFACE_RE = re.compile(r"^[A-Za-z]+/[\w.@;/-]+$")
_E164_RE = re.compile(r"^\+\d{7,15}$")
# A channel name as Asterisk builds it: PJSIP/1001-00000049, Local/100@agents-0000000a;1.
_CHANNEL_RE = re.compile(r"^[A-Za-z]+/[\w.@;/+-]+$")


class ManualCallFailed(RuntimeError):
    """The agent's phone did not answer the manual callback (OriginateResponse Failure)."""

    def __init__(self, reason: int) -> None:
        super().__init__(f"agent leg not answered (Reason {reason})")
        self.reason = reason


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
        try:
            await self._primary.queue_add(queue, interface, member_name)
        except AmiActionError as err:
            # Asterisk 22: "Unable to add interface: Already there".
            if "Already there" in (err.response.message or ""):
                raise AlreadyMember(interface) from None
            raise

    async def queue_pause(self, queue: str, interface: str, paused: bool, reason: str) -> None:
        await self._primary.queue_pause(queue, interface, paused, reason or None)

    async def queue_remove(self, queue: str, interface: str) -> None:
        try:
            await self._primary.queue_remove(queue, interface)
        except AmiActionError as err:
            # Asterisk 22: "Unable to remove interface: Not there".
            if "Not there" in (err.response.message or ""):
                raise NotMember(interface) from None
            raise

    async def redirect_to_readback(
        self,
        channel: str,
        case_number: str,
        server: str | None = None,
        *,
        agent_channel: str | None = None,
    ) -> None:
        if not is_case_number(case_number):
            raise ValueError("not a case number")
        client = self._client(server)
        if agent_channel is None:
            # An older pop without the agent's leg: the caller alone (Asterisk hangs the
            # agent's leg up at once; the dialplan then dials the same agent back).
            await client.redirect(channel, READBACK_CONTEXT, case_number, READBACK_PRIORITY)
            return
        if not _CHANNEL_RE.match(agent_channel):
            raise ValueError("not a channel name")
        # The case number travels as the extension ([cac311-readback] _X. sets
        # CAC311_CASE_NUMBER from ${EXTEN}). The agent's leg is named on the caller first
        # (the dialplan bridges back to it; the tracker learns from this VarSet that
        # app_queue will send no AgentComplete), then ONE Redirect moves both legs out of the
        # queue's bridge: "Dual Redirect successful", the agent's leg stays up
        # (2026-12-01/ami-redirect-both-legs-readback). A failed Setvar stops here.
        await client.set_var(channel, READBACK_AGENT_VAR, agent_channel)
        await client.redirect(
            channel,
            READBACK_CONTEXT,
            case_number,
            READBACK_PRIORITY,
            extra_channel=agent_channel,
            extra_context=READBACK_AGENT_CONTEXT,
            extra_exten=READBACK_AGENT_EXTEN,
            extra_priority=1,
        )

    async def originate_manual_callback(
        self, agent_interface: str, phone: str, callback_id: int
    ) -> None:
        # Async Originate: Asterisk rings the agent's phone first; OriginateResponse Success
        # (Reason 4) means the agent answered and the channel entered the dialplan, where
        # [cac311-callback-manual] dials the citizen through the trunk with the 311 caller ID.
        if not _INTERFACE_RE.match(agent_interface):
            raise ValueError("not a phone interface")
        if not _E164_RE.match(phone):
            raise ValueError("not an E.164 number")
        response = await self._primary.originate_async(
            agent_interface,
            MANUAL_CALLBACK_CONTEXT,
            phone,
            1,
            MANUAL_CALLER_ID,
            {"CAC311_CALLBACK_ID": str(int(callback_id))},
            MANUAL_AGENT_RING_MS,
        )
        if not response.success:
            raise ManualCallFailed(response.reason)
