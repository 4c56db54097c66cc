"""What the desktop needs from the telephony side, as a Protocol (implemented over AMI).

The desktop only *asks*; the agent's state it shows is whatever Asterisk reports back
(see ``case_core.services.agents``). Implementations raise on failure (any exception); the
desktop turns that into a Spanish message and never retries a telephony action by itself.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

READBACK_CONTEXT = "cac311-readback"
READBACK_PRIORITY = 1
# Where the agent's leg waits during the read-back (Redirect ExtraChannel).
READBACK_AGENT_CONTEXT = "cac311-readback-agent"
READBACK_AGENT_EXTEN = "s"
MANUAL_CALLBACK_CONTEXT = "cac311-callback-manual"


class AlreadyMember(Exception):
    """QueueAdd of an interface that is already a member of the queue."""


class NotMember(Exception):
    """QueueRemove of an interface that is not a member of the queue."""


class QueueControl(Protocol):
    """Queue membership and call control actions of one agent desktop."""

    async def queue_add(self, queue: str, interface: str, member_name: str) -> None:
        """AMI QueueAdd of ``interface`` (e.g. ``PJSIP/1001``) named ``member_name``; raises
        :class:`AlreadyMember` when it is one."""

    async def queue_pause(self, queue: str, interface: str, paused: bool, reason: str) -> None:
        """AMI QueuePause; ``reason`` is a code of ``agents.PAUSE_REASONS`` ("" to resume)."""

    async def queue_remove(self, queue: str, interface: str) -> None:
        """AMI QueueRemove of ``interface``; raises :class:`NotMember` when it is not one."""

    async def redirect_to_readback(
        self,
        channel: str,
        case_number: str,
        server: str | None = None,
        *,
        agent_channel: str | None = None,
    ) -> None:
        """AMI Redirect of ``channel`` (on PBX ``server``) to ``cac311-readback``, extension
        ``case_number``, priority 1: the IVR step that reads the number digit by digit.

        With ``agent_channel`` (the agent's leg) the agent is kept: ``Setvar
        CAC311_AGENT_CHANNEL`` on the caller, then one Redirect with ``ExtraChannel`` = the
        agent to ``cac311-readback-agent`` (the agent waits); the dialplan bridges both again.
        """

    async def originate_manual_callback(
        self, agent_interface: str, phone: str, callback_id: int
    ) -> None:
        """AMI Originate (async) of the agent's phone ``agent_interface`` into
        ``cac311-callback-manual``, extension ``phone`` (E.164), with CAC311_CALLBACK_ID:
        once the agent answers, the dialplan dials the citizen with the 3-1-1 caller ID.
        Returns when the agent's phone answered; raises when it did not or AMI failed."""


class SpyMode(StrEnum):
    """How a supervisor joins an agent's call (ChanSpy options q E, plus w or B)."""

    LISTEN = "escuchar"  # hears both, nobody hears the supervisor
    WHISPER = "susurrar"  # only the agent hears the supervisor
    BARGE = "intervenir"  # both hear the supervisor


class CallControlError(Exception):
    """The PBX refused a call-control action; ``str(err)`` is Spanish for the agent."""


class CallControl(Protocol):
    """Call control from the desktop and the wallboard (implemented over AMI)."""

    async def hangup(self, server: str | None, caller_channel: str) -> None:
        """Hang up the caller's channel."""

    async def hold(self, server: str | None, caller_channel: str, agent_interface: str) -> None:
        """Caller to music on hold, the agent's leg waits (both stay up)."""

    async def resume(
        self, server: str | None, caller_channel: str, agent_interface: str
    ) -> None:
        """Bridge the agent and the caller again."""

    async def transfer(
        self,
        server: str | None,
        caller_channel: str,
        agent_interface: str,
        exten: str,
        *,
        attended: bool,
    ) -> None:
        """Blind or attended transfer of the caller to ``exten`` of ``[cac311-transfer]``."""

    async def spy(
        self, supervisor_interface: str, agent_interface: str, mode: SpyMode, caller_id: str
    ) -> None:
        """Ring the supervisor's phone into ChanSpy on the agent's interface."""
