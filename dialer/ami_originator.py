"""Adapter: :class:`dialer.Originator` on top of :class:`ami.client.AmiClient`.

``AmiClient.originate_async`` already never re-sends an action after a reconnect and puts a
timeout on every action. Here a synchronous refusal (``Response: Error`` /
``Originate failed``, raised as :class:`ami.client.AmiActionError`) becomes
``OriginateResult("Error", 0)``; timeouts and a dropped link propagate, and the dialer counts
them as a failed attempt.
"""

from __future__ import annotations

from collections.abc import Mapping

from ami.client import AmiActionError, AmiClient
from dialer.dialer import OriginateResult


class AmiOriginator:
    """Places callbacks through one AMI client."""

    def __init__(self, client: AmiClient) -> None:
        self.client = client

    def link_up(self) -> bool:
        """True while the AMI client is logged in."""
        return self.client.state == "up"

    async def originate(
        self,
        *,
        channel: str,
        context: str,
        exten: str,
        priority: int,
        caller_id: str,
        variables: Mapping[str, str],
        timeout_ms: int,
        action_id: str,
    ) -> OriginateResult:
        """Async Originate through the AMI client."""
        try:
            response = await self.client.originate_async(
                channel,
                context,
                exten,
                priority,
                caller_id,
                variables,
                timeout_ms,
                action_id=action_id,
            )
        except AmiActionError:
            return OriginateResult("Error", 0)
        return OriginateResult(response.response, response.reason, response.uniqueid)
