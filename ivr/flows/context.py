"""Per-call context shared by the flows: the channel, the backend, the session log.

Everything the caller chooses is written twice, as it happens: as a channel variable (for the
queue and the agent's screen pop, available even when the database is down) and as a step of
the IVR session (for the record). The session log is written behind (``ivr.journal``): a step
never waits on the database, and one taken while the database is away is written once it is
back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from ivr.agi.channel import AgiChannel
from ivr.backend import BackendUnavailable, CitizenMatch, IvrBackend
from ivr.prompts.catalogue import file_for

log = logging.getLogger(__name__)

# The only keys a menu may accept: DTMF digits.
DTMF = "0123456789*#"


@dataclass
class CallContext:
    channel: AgiChannel
    backend: IvrBackend
    route: str
    session_id: int | None = None
    db_up: bool = True
    variables: dict[str, str] = field(default_factory=dict)
    # The prompt whose answer is being collected (None between questions).
    asking: str | None = None
    # The caller-ID lookup, started early (while the main menu plays).
    _caller_lookup: asyncio.Task[list[CitizenMatch]] | None = field(default=None, repr=False)

    @property
    def caller_number(self) -> str:
        return self.channel.env.callerid

    async def open_session(self, callback_id: int | None = None) -> None:
        env = self.channel.env
        # Asterisk 22 sends no agi_linkedid: ask the channel (the screen pop correlates on it).
        linkedid = env.linkedid or await self.channel.get_variable("CHANNEL(linkedid)")
        try:
            self.session_id = await self.backend.start_session(
                route=self.route,
                uniqueid=env.uniqueid,
                linkedid=linkedid or None,
                caller_number=env.callerid or None,
                callback_id=callback_id,
            )
        except BackendUnavailable:
            self.db_up = False
        if self.session_id is not None:
            await self.set_var("CAC311_IVR_SESSION", str(self.session_id))

    async def step(
        self, step: str, *, digits: str | None = None, result: str | None = None, **fields: Any
    ) -> None:
        """Record a step; a database failure never stops the call.

        Recorded even while the database is away (``db_up`` False): the session journal keeps
        it and writes it once the database is back (``ivr.journal``)."""
        if self.session_id is None:
            return
        try:
            await self.backend.record_step(
                self.session_id, step, digits=digits, result=result, **fields
            )
        except BackendUnavailable:
            self.db_up = False

    async def finish(self, outcome: str) -> None:
        if self.session_id is None:
            return
        try:
            await self.backend.end_session(self.session_id, outcome)
        except BackendUnavailable:
            self.db_up = False

    def look_up_caller_soon(self) -> None:
        """Start the caller-ID lookup now, in the background: by the time the caller has
        chosen an option that needs it, it is usually done, so it costs the caller no wait."""
        if self._caller_lookup is None and self.caller_number and self.db_up:
            self._caller_lookup = asyncio.get_running_loop().create_task(
                self.backend.citizens_by_caller_id(self.caller_number),
                name="ivr-caller-lookup",
            )
            self._caller_lookup.add_done_callback(retrieved)

    async def citizens_by_caller_id(self) -> list[CitizenMatch]:
        """The citizens who gave the caller's number (the early lookup's answer, or a new
        one). Raises BackendUnavailable like the backend."""
        if not self.caller_number:
            return []
        if self._caller_lookup is None:
            return await self.backend.citizens_by_caller_id(self.caller_number)
        return await asyncio.shield(self._caller_lookup)

    def drop_lookups(self) -> None:
        """The call is over: an early lookup nobody needed is cancelled."""
        if self._caller_lookup is not None and not self._caller_lookup.done():
            self._caller_lookup.cancel()

    async def set_var(self, name: str, value: str) -> None:
        self.variables[name] = value
        await self.channel.set_variable(name, value)

    async def play(self, prompt_id: str, escape: str = "") -> str | None:
        return await self.channel.stream_file(file_for(prompt_id), escape)

    async def ask(
        self,
        prompt_id: str,
        *,
        timeout_ms: int,
        max_digits: int,
        first_key: str | None = None,
    ) -> str | None:
        """Play a catalogue prompt and collect keys (None when the caller keyed nothing).

        Keys are collected one by one (``AgiChannel.collect_digits``): if the caller hangs up
        half-way, ``partial`` says what they had keyed at which prompt.
        """
        self.asking = prompt_id
        keys = await self.channel.collect_digits(
            file_for(prompt_id), timeout_ms, max_digits, first_key=first_key
        )
        self.asking = None
        return keys

    @property
    def partial(self) -> str:
        """Keys of the question in progress (when the caller hung up during it)."""
        return self.channel.keyed if self.asking else ""


def retrieved(task: asyncio.Task[object]) -> None:
    """Done callback of a background lookup whose answer may never be awaited (the caller
    hung up, or did not need it): its failure is already counted by the backend's breaker;
    do not let asyncio report it as never retrieved."""
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.exception()
