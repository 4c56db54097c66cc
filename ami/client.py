"""AmiClient: the one module that owns the AMI connection.

It logs in, pings (with a timeout), reconnects with exponential backoff and jitter, re-reads
QueueStatus + CoreShowChannels after every login and hands the result to subscribers as a
typed :class:`ami.events.Resync`, and detects an Asterisk restart from FullyBooted's
``Uptime``. Subscribers only ever see typed events (:mod:`ami.events`).

Why this is not a panoramisk 1.4 wrapper (the pinned version; see DEPENDENCIES.md): the
parts of ``panoramisk.Manager`` that matter here all had to be replaced —

- it re-sends actions that were pending when the link dropped (``awaiting_actions`` flushed
  on FullyBooted): a stale Originate would call a citizen twice;
- its reconnect is a fixed-interval ``call_later`` that ``close()`` does not cancel, with no
  backoff and no way to stop it against a dead or auth-failing server;
- it has no ping timeout, and ``connect()`` returns before login (a bad secret only leaves
  ``authenticated=False``);
- its Action parser treats ``Message: Added interface to queue`` as the start of a list,
  so a QueueAdd future never resolves unless ``as_list=False`` is forced;
- its framing ``strip()``s each block, dropping an empty last value (``BridgeId: `` ends
  every CoreShowChannel).

What is left (a socket and ActionID matching) is ~100 lines on top of our own pure parser
(:mod:`ami.protocol`), so the client uses asyncio streams directly.

Action rules: every action has a timeout. An action issued while the link is down waits for
it only within its own timeout and is never sent afterwards; an action whose link drops
before its answer fails with :class:`AmiConnectionLost` and is never re-sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from ami.event_filter import EventFilter
from ami.events import (
    AmiEvent,
    CoreShowChannel,
    EventFormatError,
    FullyBooted,
    OriginateResponse,
    QueueEntry,
    QueueMember,
    QueueParams,
    Resync,
    to_event,
)
from ami.protocol import (
    AmiParser,
    AmiProtocolError,
    Banner,
    Event,
    FieldsIn,
    Response,
    encode_action,
)

log = logging.getLogger(__name__)

State = Literal["connecting", "up", "down", "auth_failed"]
Subscriber = Callable[[AmiEvent], Awaitable[None] | None]

RESTART_TOLERANCE = timedelta(seconds=2.5)
# Longest wait for FullyBooted after a login before resyncing anyway.
BOOT_WAIT = 30.0
# Modules a call cannot do without, and an AMI action each one registers that the product's
# least-privilege user may see in ListCommands (ModuleCheck needs the "system" write class,
# which that user must not have: answered "Permission denied" on the real Asterisk 22).
# modules.conf "require" does not stop Asterisk when one fails (seen on 22.10.1), so the
# backend asks after every login.
REQUIRED_MODULE_ACTIONS: Mapping[str, str] = {
    "res_pjsip": "PJSIPQualify",
    "app_queue": "QueueStatus",
}


@dataclass(frozen=True)
class AmiConfig:
    """Connection settings for one Asterisk server."""

    host: str
    port: int
    username: str
    secret: str
    server: str = "pbx1"
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    action_timeout: float = 5.0
    connect_timeout: float = 5.0
    backoff_min: float = 0.5
    backoff_max: float = 30.0
    # Events outside this filter are dropped before they become typed events (the same
    # rules as manager.conf's eventfilter: ami.event_filter.BACKEND_FILTER). None: keep all.
    event_filter: EventFilter | None = None

    def __post_init__(self) -> None:
        if self.backoff_min <= 0 or self.backoff_max < self.backoff_min:
            raise ValueError("need 0 < backoff_min <= backoff_max")


class AmiError(Exception):
    """Base of AMI client errors."""


class AmiAuthError(AmiError):
    """Asterisk refused the username/secret."""


class AmiNotConnected(AmiError):
    """The client is stopped."""


class AmiTimeout(AmiError, TimeoutError):
    """No answer within the action timeout (or the link never came up in time)."""


class AmiConnectionLost(AmiError):
    """The link dropped before the answer; the action is not re-sent."""


class AmiActionError(AmiError):
    """Asterisk answered ``Response: Error``."""

    def __init__(self, action: str, response: Response) -> None:
        super().__init__(f"{action}: {response.message}")
        self.action = action
        self.response = response


@dataclass(frozen=True)
class QueueStatusResult:
    """Typed QueueStatus answer."""

    params: tuple[QueueParams, ...]
    members: tuple[QueueMember, ...]
    entries: tuple[QueueEntry, ...]


@dataclass
class _Pending:
    action: str
    future: asyncio.Future[object]
    list_end: str | None = None
    originate: bool = False
    response: Response | None = None
    items: list[Event] = field(default_factory=list)


class _Link:
    """One TCP session: reader task, pending actions, per-connection facts."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        skip_events: Callable[[str, bytes], bool] | None = None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = AmiParser(skip_events=skip_events)
        self.pending: dict[str, _Pending] = {}
        self.closed = asyncio.Event()
        self.banner: Banner | None = None
        self.fully_booted: FullyBooted | None = None
        self.booted = asyncio.Event()
        self.restarted = False
        self.tasks: list[asyncio.Task[None]] = []

    def close(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for pending in self.pending.values():
            if not pending.future.done():
                pending.future.set_exception(AmiConnectionLost(f"{pending.action}: {reason}"))
        self.pending.clear()
        with contextlib.suppress(Exception):
            self.writer.transport.abort()

    async def aclose(self) -> None:
        self.close("closed")
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        for task in self.tasks:
            if task is not current:
                with contextlib.suppress(BaseException):
                    await task


def _utcnow() -> datetime:
    return datetime.now(UTC)


class AmiClient:
    """Connection owner for one Asterisk (see module docstring)."""

    def __init__(
        self,
        config: AmiConfig,
        *,
        clock: Callable[[], datetime] = _utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._rng = rng or random.Random()
        self._state: State = "down"
        self._last_change = clock()
        self.last_error: str | None = None
        self._subscribers: list[Subscriber] = []
        self.state_listeners: list[Callable[[State, datetime], None]] = []
        self._queue: asyncio.Queue[AmiEvent] = asyncio.Queue()
        self._link: _Link | None = None
        self._up = asyncio.Event()
        self._stopping = False
        self._runner: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._first: asyncio.Future[BaseException | None] | None = None
        self._boot_at: datetime | None = None
        self._ids = 0
        self._id_prefix = f"cac311-{secrets.token_hex(3)}"
        # Required modules Asterisk runs without (from ListCommands after each login);
        # None until the first answer.
        self.missing_modules: tuple[str, ...] | None = None
        self.connect_attempts = 0

    # ------------------------------------------------------------------ public state
    @property
    def state(self) -> State:
        """'connecting', 'up', 'down' or 'auth_failed'."""
        return self._state

    @property
    def last_change(self) -> datetime:
        """When ``state`` last changed (UTC)."""
        return self._last_change

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` (sync or async) with every typed event and Resync, in order."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect and log in; return after the first attempt.

        Raises :class:`AmiAuthError` if the first login is refused (retries continue in the
        background with backoff until :meth:`stop`). A connection failure is not raised:
        ``state`` is 'down' and the client keeps retrying.
        """
        if self._runner is not None:
            raise RuntimeError("AmiClient already started")
        loop = asyncio.get_running_loop()
        self._stopping = False
        self._first = loop.create_future()
        self._dispatcher = loop.create_task(self._dispatch_loop(), name="ami-dispatch")
        self._runner = loop.create_task(self._run(), name=f"ami-{self.config.server}")
        error = await asyncio.shield(self._first)
        if error is not None:
            raise error

    async def stop(self) -> None:
        """Stop for good: close the link, cancel reconnects, fail pending actions."""
        self._stopping = True
        self._up.clear()
        link = self._link
        if link is not None:
            link.close("client stopped")
        for task in (self._runner, self._dispatcher):
            if task is not None:
                task.cancel()
        for task in (self._runner, self._dispatcher):
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task
        if link is not None:
            await link.aclose()
        self._runner = self._dispatcher = None
        self._link = None
        self._set_state("down")

    def request_resync(self) -> bool:
        """Re-read QueueStatus and CoreShowChannels now and emit a Resync (as after a
        reconnect), e.g. when this process takes over tracking a PBX; False if down."""
        link = self._link
        if link is None or link.closed.is_set():
            return False
        link.tasks.append(asyncio.get_running_loop().create_task(self._resync(link)))
        return True

    async def wait_up(self, within: float) -> None:
        """Wait until logged in (raises :class:`AmiTimeout`)."""
        try:
            await asyncio.wait_for(self._up.wait(), within)
        except TimeoutError:
            raise AmiTimeout("AMI link not up") from None

    # ------------------------------------------------------------------ actions
    async def ping(self) -> Response:
        """Ping Asterisk."""
        return await self._action("Ping", {})

    async def queue_status(self, queue: str | None = None) -> QueueStatusResult:
        """QueueStatus (all queues, or one)."""
        link = await self._wait_link(self.config.action_timeout)
        return await self._queue_status_on(link, queue, self.config.action_timeout)

    async def core_show_channels(self) -> tuple[CoreShowChannel, ...]:
        """CoreShowChannels: every live channel."""
        link = await self._wait_link(self.config.action_timeout)
        return await self._channels_on(link, self.config.action_timeout)

    async def queue_add(
        self,
        queue: str,
        interface: str,
        member_name: str,
        state_interface: str | None = None,
        paused: bool = False,
        penalty: int = 0,
    ) -> Response:
        """Add a dynamic member (QueueAdd)."""
        return await self._action(
            "QueueAdd",
            {
                "Queue": queue,
                "Interface": interface,
                "MemberName": member_name,
                "StateInterface": state_interface,
                "Penalty": penalty,
                "Paused": paused,
            },
        )

    async def queue_pause(
        self, queue: str | None, interface: str, paused: bool, reason: str | None = None
    ) -> Response:
        """Pause/unpause a member (in one queue, or all when ``queue`` is None)."""
        return await self._action(
            "QueuePause",
            {
                "Queue": queue,
                "Interface": interface,
                "Paused": paused,
                "Reason": reason if paused else None,
            },
        )

    async def queue_remove(self, queue: str, interface: str) -> Response:
        """Remove a dynamic member (QueueRemove)."""
        return await self._action("QueueRemove", {"Queue": queue, "Interface": interface})

    async def redirect(
        self,
        channel: str,
        context: str,
        exten: str,
        priority: int = 1,
        extra_channel: str | None = None,
        extra_context: str | None = None,
        extra_exten: str | None = None,
        extra_priority: int | None = None,
    ) -> Response:
        """Redirect a channel (and optionally a second one) into the dialplan."""
        return await self._action(
            "Redirect",
            {
                "Channel": channel,
                "Context": context,
                "Exten": exten,
                "Priority": priority,
                "ExtraChannel": extra_channel,
                "ExtraContext": extra_context,
                "ExtraExten": extra_exten,
                "ExtraPriority": extra_priority,
            },
        )

    async def set_var(self, channel: str | None, variable: str, value: str) -> Response:
        """Setvar on a channel (or a global when ``channel`` is None)."""
        return await self._action(
            "Setvar", {"Channel": channel, "Variable": variable, "Value": value}
        )

    async def originate_async(
        self,
        channel: str,
        context: str,
        exten: str,
        priority: int,
        caller_id: str | None,
        variables: Mapping[str, str],
        timeout_ms: int,
        action_id: str | None = None,
    ) -> OriginateResponse:
        """Async Originate; returns its OriginateResponse (check ``success``/``reason``).

        Raises AmiActionError if Asterisk refuses the action, AmiTimeout if no outcome
        arrives within ``timeout_ms`` + action timeout, AmiConnectionLost if the link drops
        (the outcome is then unknown: the call may have been placed).
        """
        timeout = timeout_ms / 1000 + self.config.action_timeout
        fields = {
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": priority,
            "Async": True,
            "Timeout": timeout_ms,
            "CallerID": caller_id,
            "Variable": [f"{k}={v}" for k, v in variables.items()],
        }
        link = await self._wait_link(self.config.action_timeout)
        result = await self._request(
            link, "Originate", fields, timeout, originate=True, action_id=action_id
        )
        assert isinstance(result, OriginateResponse)
        return result

    async def action(self, action: str, fields: FieldsIn) -> Response:
        """Any other action that answers one Response (Hangup, Bridge, BlindTransfer...);
        raises AmiActionError on ``Response: Error``."""
        return await self._action(action, fields)

    async def originate_application_async(
        self,
        channel: str,
        application: str,
        data: str,
        caller_id: str | None,
        timeout_ms: int,
    ) -> OriginateResponse:
        """Async Originate of ``channel`` straight into ``application(data)`` (e.g. ChanSpy),
        no dialplan; returns its OriginateResponse."""
        fields = {
            "Channel": channel,
            "Application": application,
            "Data": data,
            "CallerID": caller_id,
            "Timeout": timeout_ms,
            "Async": True,
        }
        link = await self._wait_link(self.config.action_timeout)
        result = await self._request(
            link,
            "Originate",
            fields,
            timeout_ms / 1000 + self.config.action_timeout,
            originate=True,
        )
        assert isinstance(result, OriginateResponse)
        return result

    # ------------------------------------------------------------------ internals: actions
    def _next_id(self) -> str:
        self._ids += 1
        return f"{self._id_prefix}-{self._ids}"

    async def _wait_link(self, within: float) -> _Link:
        if self._stopping or self._runner is None:
            raise AmiNotConnected("AMI client is not running")
        if not self._up.is_set():
            try:
                await asyncio.wait_for(self._up.wait(), within)
            except TimeoutError:
                raise AmiTimeout("AMI link down; action not sent") from None
        link = self._link
        if link is None or link.closed.is_set():
            raise AmiConnectionLost("AMI link dropped; action not sent")
        return link

    async def _action(self, action: str, fields: FieldsIn) -> Response:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.action_timeout
        link = await self._wait_link(self.config.action_timeout)
        remaining = max(0.001, deadline - loop.time())
        result = await self._request(link, action, fields, remaining)
        assert isinstance(result, Response)
        return result

    async def _request(
        self,
        link: _Link,
        action: str,
        fields: FieldsIn,
        limit: float,
        *,
        list_end: str | None = None,
        originate: bool = False,
        action_id: str | None = None,
    ) -> object:
        aid = action_id or self._next_id()
        if aid in link.pending:
            raise ValueError(f"ActionID {aid!r} is already pending")
        data = encode_action(action, aid, fields)
        pending = _Pending(action, asyncio.get_running_loop().create_future(), list_end, originate)
        link.pending[aid] = pending
        try:
            link.writer.write(data)
            result = await asyncio.wait_for(pending.future, limit)
        except TimeoutError:
            raise AmiTimeout(f"{action}: no answer in {limit:.1f}s") from None
        finally:
            if link.pending.get(aid) is pending:
                del link.pending[aid]
        if isinstance(result, Response) and not result.success:
            raise AmiActionError(action, result)
        return result

    async def _list(
        self, link: _Link, action: str, fields: FieldsIn, end: str, limit: float
    ) -> list[AmiEvent]:
        result = await self._request(link, action, fields, limit, list_end=end)
        assert isinstance(result, list)
        at = self._clock()
        typed = []
        for message in result:
            event = self._convert(message, at)
            if event is not None:
                typed.append(event)
        return typed

    async def _queue_status_on(
        self, link: _Link, queue: str | None, limit: float
    ) -> QueueStatusResult:
        items = await self._list(
            link, "QueueStatus", {"Queue": queue}, "QueueStatusComplete", limit
        )
        return QueueStatusResult(
            params=tuple(e for e in items if isinstance(e, QueueParams)),
            members=tuple(e for e in items if isinstance(e, QueueMember)),
            entries=tuple(e for e in items if isinstance(e, QueueEntry)),
        )

    async def _channels_on(self, link: _Link, limit: float) -> tuple[CoreShowChannel, ...]:
        items = await self._list(link, "CoreShowChannels", {}, "CoreShowChannelsComplete", limit)
        return tuple(e for e in items if isinstance(e, CoreShowChannel))

    # ------------------------------------------------------------------ internals: link
    def _set_state(self, state: State, error: str | None = None) -> None:
        if error is not None:
            self.last_error = error
        if state != self._state:
            log.info("AMI %s: %s -> %s", self.config.server, self._state, state)
            self._state = state
            self._last_change = self._clock()
            for listener in list(self.state_listeners):
                listener(state, self._last_change)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.config.backoff_max, self.config.backoff_min * (2**attempt))
        return self._rng.uniform(max(self.config.backoff_min, ceiling / 2), ceiling)

    def _settle_first(self, error: BaseException | None) -> None:
        if self._first is not None and not self._first.done():
            self._first.set_result(error)

    async def _run(self) -> None:
        attempt = 0
        try:
            while not self._stopping:
                if self._state != "auth_failed":
                    self._set_state("connecting")
                try:
                    link = await self._connect()
                except AmiAuthError as exc:
                    self._set_state("auth_failed", str(exc))
                    log.warning("AMI %s: login refused", self.config.server)
                    self._settle_first(exc)
                except (OSError, TimeoutError, AmiError) as exc:
                    self._set_state("down", f"{type(exc).__name__}: {exc}")
                    log.warning("AMI %s: connect failed (%s)", self.config.server, exc)
                    self._settle_first(None)
                else:
                    attempt = 0
                    await self._session(link)
                if self._stopping:
                    break
                delay = self._backoff(attempt)
                attempt += 1
                log.info("AMI %s: reconnect in %.2fs", self.config.server, delay)
                await asyncio.sleep(delay)
        finally:
            self._up.clear()

    async def _connect(self) -> _Link:
        self.connect_attempts += 1
        cfg = self.config
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(cfg.host, cfg.port), cfg.connect_timeout
        )
        link = _Link(reader, writer, self._skip_events)
        link.tasks.append(asyncio.get_running_loop().create_task(self._read_loop(link)))
        try:
            await self._request(
                link,
                "Login",
                {"Username": cfg.username, "Secret": cfg.secret},
                cfg.connect_timeout,
            )
        except AmiActionError as exc:
            await link.aclose()
            raise AmiAuthError(exc.response.message or "Authentication failed") from None
        except BaseException:
            await link.aclose()
            raise
        return link

    async def _session(self, link: _Link) -> None:
        loop = asyncio.get_running_loop()
        self._link = link
        self._set_state("up")
        self._up.set()
        self._settle_first(None)
        link.tasks.append(loop.create_task(self._ping_loop(link)))
        link.tasks.append(loop.create_task(self._when_booted(link)))
        try:
            await link.closed.wait()
        finally:
            self._up.clear()
            self._link = None
            await link.aclose()
            if not self._stopping:
                self._set_state("down", "link lost")

    async def _read_loop(self, link: _Link) -> None:
        reason = "connection closed by Asterisk"
        try:
            while True:
                data = await link.reader.read(65536)
                if not data:
                    break
                at = self._clock()
                for message in link.parser.feed(data):
                    self._on_message(link, message, at)
        except (ConnectionError, OSError) as exc:
            reason = f"read error: {type(exc).__name__}"
        except AmiProtocolError as exc:  # a peer beyond every bound is not our Asterisk
            reason = f"protocol error: {exc}"
            log.warning("AMI %s: dropping the link: %s", self.config.server, exc)
        finally:
            link.close(reason)

    def _skip_events(self, name: str, block: bytes) -> bool:
        """Events the filter certainly drops are skipped unparsed (most of what a PBX
        without manager.conf's filter sends); Shutdown never is (handled first)."""
        event_filter = self.config.event_filter
        return (
            event_filter is not None
            and name != "Shutdown"
            and not event_filter.may_allow_raw(name, block)
        )

    def _convert(self, message: Event, at: datetime) -> AmiEvent | None:
        try:
            return to_event(message, self.config.server, at)
        except EventFormatError as exc:
            log.warning("AMI %s: malformed %s event (%s)", self.config.server, message.name, exc)
            return None

    def _on_message(self, link: _Link, message: object, at: datetime) -> None:
        if isinstance(message, Banner):
            link.banner = message
            return
        if isinstance(message, Response):
            pending = link.pending.get(message.action_id or "")
            if pending is None or pending.future.done():
                return
            if (pending.list_end or pending.originate) and message.success:
                pending.response = message
            else:
                pending.future.set_result(message)
            return
        if not isinstance(message, Event):
            return
        if message.name == "Shutdown":
            # Sent (sometimes: 2026-12-01/ami-queue-member-lifecycle, not in
            # ami-asterisk-restart) as Asterisk begins to stop; it may take seconds to close
            # the socket. Drop the link now so that no action is sent into a dying PBX; a
            # restart is then recognised from FullyBooted's Uptime, as without this event.
            log.warning(
                "AMI %s: Asterisk is shutting down (Shutdown: %s, Restart: %s)",
                self.config.server,
                message.get("Shutdown") or "?",
                message.get("Restart") or "?",
            )
            link.close("Asterisk shutting down")
            return
        pending = link.pending.get(message.action_id or "")
        if pending is not None and pending.list_end and not pending.future.done():
            if message.name == pending.list_end:
                pending.future.set_result(list(pending.items))
            else:
                pending.items.append(message)
            return
        event_filter = self.config.event_filter
        if event_filter is not None and not event_filter.allows(message.fields):
            return
        event = self._convert(message, at)
        if event is None:
            return
        if isinstance(event, OriginateResponse) and pending is not None and pending.originate:
            if not pending.future.done():
                pending.future.set_result(event)
        if isinstance(event, FullyBooted):
            self._on_booted(link, event)
        self._queue.put_nowait(event)

    def _on_booted(self, link: _Link, event: FullyBooted) -> None:
        boot_at = event.received_at - timedelta(seconds=event.uptime)
        if self._boot_at is not None and boot_at - self._boot_at > RESTART_TOLERANCE:
            link.restarted = True
            log.warning("AMI %s: Asterisk restarted (uptime %ss)", self.config.server, event.uptime)
        self._boot_at = boot_at
        link.fully_booted = event
        link.booted.set()

    async def _ping_loop(self, link: _Link) -> None:
        while not link.closed.is_set():
            await asyncio.sleep(self.config.ping_interval)
            try:
                await self._request(link, "Ping", {}, self.config.ping_timeout)
            except AmiTimeout:
                log.warning("AMI %s: ping timeout, dropping link", self.config.server)
                link.close("ping timeout")
                return
            except AmiError:
                return

    async def _resync(self, link: _Link) -> None:
        requested_at = self._clock()
        timeout = self.config.action_timeout
        try:
            status = await self._queue_status_on(link, None, timeout)
            channels = await self._channels_on(link, timeout)
        except AmiError as exc:
            log.warning("AMI %s: resync failed (%s)", self.config.server, exc)
            if isinstance(exc, AmiTimeout):
                link.close("resync timeout")
            return
        booted = link.fully_booted
        self._queue.put_nowait(
            Resync(
                server=self.config.server,
                received_at=self._clock(),
                requested_at=requested_at,
                params=status.params,
                members=status.members,
                entries=status.entries,
                channels=channels,
                uptime=booted.uptime if booted else None,
                asterisk_restarted=link.restarted,
            )
        )

    async def _when_booted(self, link: _Link) -> None:
        """Resync and check the modules once Asterisk is fully booted.

        Right after ``core restart now`` Asterisk 22 accepts the AMI login before it has
        loaded its modules (seen on the real 22.10.1: a login 1 s after the restart got
        ``Invalid/unknown command: QueueStatus``, and FullyBooted came 0.7 s after the login).
        FullyBooted is sent at login when Asterisk is already up, else when it is; without it
        (never seen) both run after BOOT_WAIT seconds anyway.
        """
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(link.booted.wait(), BOOT_WAIT)
        await self._resync(link)
        await self._check_modules(link)

    async def _check_modules(self, link: _Link) -> None:
        """ListCommands (allowed to every user) names the actions of the loaded modules."""
        try:
            response = await self._request(link, "ListCommands", {}, self.config.action_timeout)
        except AmiError as exc:
            log.warning("AMI %s: ListCommands failed (%s)", self.config.server, exc)
            return
        assert isinstance(response, Response)
        offered = set(response.keys())
        missing = tuple(m for m, action in REQUIRED_MODULE_ACTIONS.items() if action not in offered)
        if missing:
            log.error(
                "AMI %s: Asterisk runs without %s: calls cannot be taken; check its modules",
                self.config.server,
                ", ".join(missing),
            )
        self.missing_modules = missing

    async def _dispatch_loop(self) -> None:
        while True:
            event = await self._queue.get()
            for callback in list(self._subscribers):
                try:
                    result = callback(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception:  # noqa: BLE001 - one bad subscriber must not stop others
                    log.exception("AMI subscriber failed on %s", type(event).__name__)
