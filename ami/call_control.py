"""Call control over AMI for the agent desktop and the wallboard: hang up, hold and resume,
blind and attended transfer, and a supervisor's listen / whisper / barge (ChanSpy).

What a real Asterisk 22.10 does (``../shared/asterisk/2026-12-01/``):

- **Hold** is one ``Redirect`` with ``ExtraChannel``: the caller to ``[cac311-hold] moh``
  (MusicOnHold), the agent's channel to ``[cac311-hold] wait`` (Wait): "Dual Redirect
  successful" and both legs live on. **Resume** is ``Bridge`` (``Channel1`` the agent,
  ``Channel2`` the caller, ``Tone: no``). ``Park`` is not used: it hangs the agent's leg up
  (ami-call-control-hangup-hold-transfer).
- **Blind transfer**: ``BlindTransfer`` with ``Channel`` = the *transferring* party (the
  agent's channel), to ``[cac311-transfer] <exten>``: "Transfer succeeded", the caller goes on
  to the target and the agent's leg ends.
- **Attended transfer**: ``Atxfer`` with ``Channel`` = the agent's channel; it needs an
  ``atxfer`` code in features.conf and the queue's ``t`` option, otherwise "No attended
  transfer feature code found".
- **Hang up**: ``Hangup`` of the caller's channel, ``Cause: 16``; a channel already gone
  answers "No such channel".
- **ChanSpy**: ``Originate`` of the supervisor's phone with ``Application: ChanSpy``,
  ``Data: <agent interface>,qE`` (listen), ``qEw`` (whisper) or ``qEB`` (barge); the
  ChanSpyStart/Stop events look the same for all three.

The agent's own channel (``PJSIP/1001-00000045``) is not in the pop: it is found with
``CoreShowChannels`` at the time of the action (the channel of the agent's interface that
shares the caller's bridge, or its linkedid while on hold), so a stale name is never used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from agent_desktop.ports import CallControlError, SpyMode
from ami.client import AmiActionError, AmiClient
from ami.events import CoreShowChannel

HOLD_CONTEXT = "cac311-hold"
HOLD_CALLER_EXTEN = "moh"
HOLD_AGENT_EXTEN = "wait"
TRANSFER_CONTEXT = "cac311-transfer"
SPY_RING_MS = 20_000
SPY_OPTIONS = {SpyMode.LISTEN: "qE", SpyMode.WHISPER: "qEw", SpyMode.BARGE: "qEB"}
_INTERFACE_RE = re.compile(r"^PJSIP/[A-Za-z0-9_.-]{1,40}$")
_EXTEN_RE = re.compile(r"^(\d{4}|\+?\d{7,15})$")

# Asterisk's answers turned into what the agent reads.
_MESSAGES = {
    "No such channel": "La llamada ya terminó.",
    "No attended transfer feature code found": (
        "La central no tiene habilitada la transferencia con consulta; use la directa."
    ),
}


def _spanish(err: AmiActionError) -> CallControlError:
    message = err.response.message or ""
    for key, text in _MESSAGES.items():
        if key in message:
            return CallControlError(text)
    return CallControlError("La central telefónica no aceptó la acción.")


class AmiCallControl:
    """:class:`agent_desktop.ports.CallControl` over the AMI clients (by server name)."""

    def __init__(self, clients: Mapping[str, AmiClient]) -> None:
        if not clients:
            raise ValueError("at least one AMI client is needed")
        self._clients = dict(clients)
        self._primary = next(iter(self._clients.values()))

    def _client(self, server: str | None) -> AmiClient:
        return self._clients.get(server or "", self._primary)

    async def agent_channel(
        self, server: str | None, caller_channel: str, agent_interface: str
    ) -> str:
        """The live channel of ``agent_interface`` on this call."""
        channels = await self._client(server).core_show_channels()
        return find_agent_channel(channels, caller_channel, agent_interface)

    async def hangup(self, server: str | None, caller_channel: str) -> None:
        try:
            await self._client(server).action(
                "Hangup", {"Channel": caller_channel, "Cause": 16}
            )
        except AmiActionError as err:
            raise _spanish(err) from None

    async def hold(self, server: str | None, caller_channel: str, agent_interface: str) -> None:
        agent = await self.agent_channel(server, caller_channel, agent_interface)
        try:
            await self._client(server).redirect(
                caller_channel,
                HOLD_CONTEXT,
                HOLD_CALLER_EXTEN,
                1,
                extra_channel=agent,
                extra_context=HOLD_CONTEXT,
                extra_exten=HOLD_AGENT_EXTEN,
                extra_priority=1,
            )
        except AmiActionError as err:
            raise _spanish(err) from None

    async def resume(
        self, server: str | None, caller_channel: str, agent_interface: str
    ) -> None:
        agent = await self.agent_channel(server, caller_channel, agent_interface)
        try:
            await self._client(server).action(
                "Bridge", {"Channel1": agent, "Channel2": caller_channel, "Tone": "no"}
            )
        except AmiActionError as err:
            raise _spanish(err) from None

    async def transfer(
        self,
        server: str | None,
        caller_channel: str,
        agent_interface: str,
        exten: str,
        *,
        attended: bool,
    ) -> None:
        if not _EXTEN_RE.match(exten):
            raise ValueError("not a transfer target")
        agent = await self.agent_channel(server, caller_channel, agent_interface)
        action = "Atxfer" if attended else "BlindTransfer"
        try:
            await self._client(server).action(
                action, {"Channel": agent, "Context": TRANSFER_CONTEXT, "Exten": exten}
            )
        except AmiActionError as err:
            raise _spanish(err) from None

    async def spy(
        self, supervisor_interface: str, agent_interface: str, mode: SpyMode, caller_id: str
    ) -> None:
        for interface in (supervisor_interface, agent_interface):
            if not _INTERFACE_RE.match(interface):
                raise ValueError("not a phone interface")
        try:
            response = await self._primary.originate_application_async(
                supervisor_interface,
                "ChanSpy",
                f"{agent_interface},{SPY_OPTIONS[mode]}",
                caller_id,
                SPY_RING_MS,
            )
        except AmiActionError as err:
            raise _spanish(err) from None
        if not response.success:
            raise CallControlError("Su teléfono no contestó.")


def find_agent_channel(
    channels: tuple[CoreShowChannel, ...] | list[CoreShowChannel],
    caller_channel: str,
    agent_interface: str,
) -> str:
    """The agent's channel on the caller's call: same bridge, else same linkedid (on hold
    both legs are out of the bridge), else the only channel of that interface."""
    prefix = agent_interface + "-"
    mine = [c for c in channels if c.channel.startswith(prefix)]
    caller = next((c for c in channels if c.channel == caller_channel), None)
    if caller is None:
        raise CallControlError("La llamada ya terminó.")
    for same in (
        lambda c: caller.bridge_id and c.bridge_id == caller.bridge_id,
        lambda c: c.linkedid == caller.linkedid,
    ):
        found = [c for c in mine if same(c)]
        if len(found) == 1:
            return found[0].channel
    if len(mine) == 1:
        return mine[0].channel
    raise CallControlError("No se encontró su teléfono en esta llamada.")
