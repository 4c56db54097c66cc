"""The dialer: claims due callbacks and places them with an async AMI Originate.

Outcome mapping, exactly as ``ami-originate-callbacks`` (Asterisk 22) shows it: an async
Originate is first answered ``Response: Success`` / ``Originate successfully queued``; the
outcome is the later ``OriginateResponse`` event with the same ActionID:

=========================  ===========  ==============
OriginateResponse          Reason       outcome
=========================  ===========  ==============
``Response: Success``      4            answered
``Response: Failure``      5            busy
``Response: Failure``      3            no_answer (``Timeout`` elapsed while ringing)
``Response: Failure``      8            congestion
``Response: Failure``      0            failed (no such extension, unknown channel type)
=========================  ===========  ==============

A synchronous ``Response: Error`` (``Originate failed``) is ``failed``; so is any other
reason (not in the transcripts), an Originate that times out, and a link that drops
mid-action: the outcome is then unknown, the attempt is spent and the callback waits for
its next attempt time. Nothing is ever re-sent: each attempt has its own ActionID
(``cb-<id>-<attempt>``) and is written ``en_curso`` before it is dialled.

The dialer claims nothing while the AMI link is down (no attempt is spent on a call that
cannot be placed) or outside calling hours, keeps at most ``callback_max_channels`` calls
in flight and starts at most ``callback_calls_per_minute`` per minute, evenly spaced.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.callback_numbers import DEFAULT_CALLBACK_PREFIXES, may_call_back
from case_core.domain.callbacks import CallbackPolicy, Outcome
from case_core.services.callbacks import (
    CallbackSettings,
    ClaimedCallback,
    claim_due_callbacks,
    policy_for,
    record_outcome,
    schedule_callbacks,
)

log = logging.getLogger(__name__)

CALLBACK_CONTEXT = "cac311-callback"
CALLBACK_EXTEN = "s"
CALLBACK_PRIORITY = 1
VAR_CALLBACK_ID = "CAC311_CALLBACK_ID"
VAR_CALLBACK_KIND = "CAC311_CALLBACK_KIND"
VAR_CALLBACK_TOKEN = "CAC311_CALLBACK_TOKEN"

REASON_OUTCOMES: dict[int, Outcome] = {
    4: Outcome.ANSWERED,
    5: Outcome.BUSY,
    3: Outcome.NO_ANSWER,
    8: Outcome.CONGESTION,
    0: Outcome.FAILED,
}


@dataclass(frozen=True)
class OriginateResult:
    """``response`` is the OriginateResponse's (Success/Failure) or ``Error`` when the
    Originate itself was refused synchronously; ``reason`` its ``Reason``."""

    response: Literal["Success", "Failure", "Error"] | str
    reason: int
    #: The originated channel's uniqueid (its FastAGI session must carry the same).
    uniqueid: str | None = None


class Originator(Protocol):
    """What the dialer needs from the AMI side."""

    def link_up(self) -> bool:
        """True while the AMI link is logged in."""
        ...

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
        """Async Originate; returns when its OriginateResponse arrives."""
        ...


class DialerSettings(CallbackSettings, Protocol):
    callback_max_channels: int
    callback_calls_per_minute: int
    callback_trunk: str
    callback_caller_id: str


def outcome_from_result(result: OriginateResult) -> Outcome:
    """Map an OriginateResponse (or a synchronous Error) to an attempt outcome."""
    if result.response == "Success":
        return Outcome.ANSWERED if result.reason == 4 else Outcome.FAILED
    if result.response == "Failure":
        outcome = REASON_OUTCOMES.get(result.reason, Outcome.FAILED)
        return Outcome.FAILED if outcome is Outcome.ANSWERED else outcome
    return Outcome.FAILED


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Dialer:
    """Loop that places due callbacks; ``run()`` until ``stop()``."""

    def __init__(
        self,
        *,
        uow_factory: UnitOfWorkFactory,
        originator: Originator,
        settings: DialerSettings,
        policy: CallbackPolicy | None = None,
        clock: Callable[[], datetime] = _utcnow,
        ring_timeout_ms: int = 30_000,
        outcome_grace: float = 10.0,
        poll_interval: float = 2.0,
        schedule_interval: float | None = 60.0,
    ) -> None:
        self.uow_factory = uow_factory
        self.originator = originator
        self.settings = settings
        self.policy = policy or policy_for(settings)
        self.clock = clock
        self.ring_timeout_ms = ring_timeout_ms
        self.outcome_grace = outcome_grace
        self.poll_interval = poll_interval
        self.schedule_interval = schedule_interval
        self.max_channels = settings.callback_max_channels
        self.spacing = 60.0 / settings.callback_calls_per_minute
        self.in_flight: set[asyncio.Task[Outcome]] = set()
        self.max_in_flight_seen = 0
        self._next_start = 0.0
        self._next_schedule = 0.0
        self._wake = asyncio.Event()
        self._stopping = False

    # ------------------------------------------------------------------ public
    def stop(self) -> None:
        """Ask ``run()`` to return once the calls in flight have their outcome."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Place due callbacks until :meth:`stop`; then wait for the calls in flight."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            if self.schedule_interval is not None and loop.time() >= self._next_schedule:
                self._next_schedule = loop.time() + self.schedule_interval
                try:
                    await schedule_callbacks(self.uow_factory, self.clock(), policy=self.policy)
                except Exception:
                    log.exception("callback scheduler run failed")
            try:
                started = await self.step()
            except Exception:
                log.exception("claiming callbacks failed")
                started = None
            if started is not None:
                continue
            await self._sleep(self._idle_delay(loop.time()))
        await self.drain()

    async def step(self) -> ClaimedCallback | None:
        """Start one call when the link, the hours, the cap and the pace allow it."""
        if not self.ready():
            return None
        claimed = await claim_due_callbacks(self.uow_factory, self.clock(), 1, policy=self.policy)
        if not claimed:
            return None
        callback = claimed[0]
        self._next_start = asyncio.get_running_loop().time() + self.spacing
        task = asyncio.create_task(self._place(callback), name=f"callback-{callback.id}")
        self.in_flight.add(task)
        self.max_in_flight_seen = max(self.max_in_flight_seen, len(self.in_flight))
        task.add_done_callback(self._done)
        return callback

    def ready(self) -> bool:
        """True when a call may start now (before anything is claimed)."""
        return (
            not self._stopping
            and self.originator.link_up()
            and len(self.in_flight) < self.max_channels
            and asyncio.get_running_loop().time() >= self._next_start
            and self.policy.hours.is_open(self.clock())
        )

    async def drain(self) -> None:
        """Wait for every call in flight to get its outcome recorded."""
        while self.in_flight:
            await asyncio.gather(*list(self.in_flight), return_exceptions=True)

    # ------------------------------------------------------------------ internals
    def _idle_delay(self, now: float) -> float:
        if (
            len(self.in_flight) < self.max_channels
            and self.originator.link_up()
            and now < self._next_start
        ):
            return max(0.0, min(self.poll_interval, self._next_start - now))
        return self.poll_interval

    async def _sleep(self, delay: float) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except TimeoutError:
            pass

    def _done(self, task: asyncio.Task[Outcome]) -> None:
        self.in_flight.discard(task)
        self._wake.set()

    async def _place(self, callback: ClaimedCallback) -> Outcome:
        outcome = Outcome.FAILED
        uniqueid: str | None = None
        prefixes = getattr(self.settings, "callback_allowed_prefixes", DEFAULT_CALLBACK_PREFIXES)
        if not may_call_back(callback.phone, prefixes):
            # Registration refuses such numbers; one stored before that rule is never dialled.
            log.warning("callback %s: number outside the allowed plan, not dialled", callback.id)
            return await self._record(callback, Outcome.FAILED, None)
        try:
            result = await asyncio.wait_for(
                self.originator.originate(
                    channel=self.settings.callback_trunk.format(number=callback.phone),
                    context=CALLBACK_CONTEXT,
                    exten=CALLBACK_EXTEN,
                    priority=CALLBACK_PRIORITY,
                    caller_id=self.settings.callback_caller_id,
                    variables={
                        VAR_CALLBACK_ID: str(callback.id),
                        VAR_CALLBACK_KIND: callback.kind.value,
                        VAR_CALLBACK_TOKEN: callback.token,
                    },
                    timeout_ms=self.ring_timeout_ms,
                    action_id=callback.action_id,
                ),
                self.ring_timeout_ms / 1000 + self.outcome_grace,
            )
            outcome = outcome_from_result(result)
            uniqueid = result.uniqueid
        except TimeoutError:
            log.warning("callback %s attempt %s: no outcome in time", callback.id, callback.attempt)
        except Exception as err:  # the AMI side failed: the attempt counts as failed
            log.warning(
                "callback %s attempt %s: originate error %s",
                callback.id,
                callback.attempt,
                type(err).__name__,
            )
        return await self._record(callback, outcome, uniqueid)

    async def _record(
        self, callback: ClaimedCallback, outcome: Outcome, uniqueid: str | None
    ) -> Outcome:
        try:
            status = await record_outcome(
                self.uow_factory,
                callback.id,
                outcome,
                self.clock(),
                action_id=callback.action_id,
                policy=self.policy,
                uniqueid=uniqueid,
            )
            log.info(
                "callback %s attempt %s: %s -> %s",
                callback.id,
                callback.attempt,
                outcome.value,
                status.value,
            )
        except Exception:  # left en_curso; schedule_callbacks resolves it as stale
            log.exception("callback %s: recording the outcome failed", callback.id)
        return outcome
