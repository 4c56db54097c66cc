"""AmiSimulator: an asyncio TCP server that speaks Asterisk 22's AMI, for tests and the demo.

What it reproduces, byte for byte where the transcripts in ``../shared/asterisk`` show it:

- the banner ``Asterisk Call Manager/11.0.0\\r\\n``; ``\\r\\n`` line ends, empty line per block;
- Login: ``Authentication accepted`` then ``FullyBooted`` (``Uptime``) and ``SuccessfulAuth``;
  a bad secret gets ``Response: Error`` / ``Authentication failed`` and the socket closes;
- Ping, Logoff (``Goodbye`` / ``Thanks for all the fish.`` then close), CoreShowChannels,
  QueueStatus, QueueSummary (``EventList: start`` response, list events carrying the
  ActionID, a ``...Complete`` event with ``ListItems``);
- QueueAdd / QueuePause / QueueRemove with their responses, ``DeviceStateChange`` and
  ``QueueMember{Added,Pause,Removed}`` events in the transcript's order;
- Redirect (``Redirect successful`` / ``Channel does not exist: X``);
- Originate: async answers twice (``Originate successfully queued``, then an
  ``OriginateResponse`` event with the same ActionID: answered ``Success``/4, busy 5,
  no answer 3, congestion 8, no such extension or channel type 0, failures with
  ``Uniqueid: <unknown>`` and the dialled channel name); a failed synchronous Originate gets
  ``Response: Error`` / ``Originate failed``. The outcome comes from a policy function of the
  dialled channel;
- unknown actions (``Invalid/unknown command: X. Use Action: ListCommands...`` plus a
  ``RequestBadFormat`` event) and missing parameters.

Not seen in any transcript, taken from Asterisk's manager.c/app_queue.c messages and marked
``# unverified`` below: actions before Login, ``Missing action in request``, QueueAdd of an
existing member / unknown queue, QueuePause of a non-member, QueueRemove of a static member,
a successful synchronous Originate. ``Command`` only knows ``core restart now``.

State is small but real: queues (members with pause state, callers waiting, the counters of
``QueueParams``) and channels. Events pushed with :meth:`emit` or :meth:`replay` update that
state (Newchannel/Newexten/Hangup/Bridge*, QueueCaller*, Agent*, QueueMember*), so
QueueStatus and CoreShowChannels answer with what the simulator currently has.
``ServicelevelPerf`` = completed-in-SL / completed and ``ServicelevelPerf2`` =
(completed-in-SL + abandoned-in-SL) / (completed + abandoned), as app_queue does; the
``Holdtime`` average is app_queue's ``(3*old + new) / 4``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ami.protocol import AmiMessage, AmiParser, Event, encode_fields
from asterisk_sim.call_control import CallControlActions

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
Pairs = list[tuple[str, str]]

# Events of a transcript that belong to one AMI session, not to the PBX: never replayed.
SESSION_EVENTS = frozenset(
    {
        "FullyBooted",
        "SuccessfulAuth",
        "RequestBadFormat",
        "QueueParams",
        "QueueMember",
        "QueueEntry",
        "QueueStatusComplete",
        "QueueSummary",
        "QueueSummaryComplete",
        "CoreShowChannel",
        "CoreShowChannelsComplete",
    }
)


@dataclass(frozen=True)
class OriginateOutcome:
    """What happens to an originated channel: dial ``reason`` (4 answered) after ``delay`` s."""

    reason: int
    delay: float = 0.0

    @property
    def answered(self) -> bool:
        """True for reason 4 (answered)."""
        return self.reason == 4


ANSWERED = OriginateOutcome(4)
BUSY = OriginateOutcome(5)
NO_ANSWER = OriginateOutcome(3)
CONGESTION = OriginateOutcome(8)
NO_SUCH_EXTENSION = OriginateOutcome(0)

OriginatePolicy = Callable[[str], OriginateOutcome]


def default_originate_policy(channel: str) -> OriginateOutcome:
    """``Local/<busy|noanswer|congest|nosuchexten>@...`` fail like the transcript; other
    ``Local/`` channels answer; other technologies fail with reason 0."""
    if not channel.startswith("Local/"):
        return NO_SUCH_EXTENSION
    exten = channel[len("Local/") :].split("@", 1)[0]
    return {
        "busy": BUSY,
        "noanswer": NO_ANSWER,
        "congest": CONGESTION,
        "nosuchexten": NO_SUCH_EXTENSION,
    }.get(exten, ANSWERED)


@dataclass
class SimMember:
    """A queue member as app_queue keeps it."""

    queue: str
    interface: str
    name: str
    state_interface: str
    membership: str = "static"
    penalty: int = 0
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: int = 0
    status: int = 1
    paused: bool = False
    paused_reason: str = ""
    ringinuse: int = 0
    wrapuptime: int = 0

    def event_fields(self) -> Pairs:
        """Body of QueueMember{Added,Pause,Removed,Status} events."""
        return [
            ("Queue", self.queue),
            ("MemberName", self.name),
            ("Interface", self.interface),
            ("StateInterface", self.state_interface),
            ("Membership", self.membership),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", str(self.in_call)),
            ("Status", str(self.status)),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.paused_reason),
            ("Ringinuse", str(self.ringinuse)),
            ("Wrapuptime", str(self.wrapuptime)),
        ]

    def list_fields(self) -> Pairs:
        """Body of the QueueStatus ``QueueMember`` list event."""
        return [
            ("Queue", self.queue),
            ("Name", self.name),
            ("Location", self.interface),
            ("StateInterface", self.state_interface),
            ("Membership", self.membership),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", str(self.in_call)),
            ("Status", str(self.status)),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.paused_reason),
            ("Wrapuptime", str(self.wrapuptime)),
        ]


@dataclass
class SimChannel:
    """A live channel (what CoreShowChannels lists)."""

    name: str
    uniqueid: str
    linkedid: str
    created: float
    caller_num: str = "<unknown>"
    caller_name: str = "<unknown>"
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    language: str = "es"
    account_code: str = ""
    context: str = ""
    exten: str = ""
    priority: str = "1"
    state: str = "6"
    state_desc: str = "Up"
    application: str = ""
    application_data: str = ""
    bridge_id: str = ""


@dataclass
class SimEntry:
    """A caller waiting in a queue."""

    channel: str
    uniqueid: str
    joined: float
    caller_num: str
    caller_name: str
    connected_num: str
    connected_name: str
    priority: int = 0


@dataclass
class SimQueue:
    """A queue with its members, waiting callers and counters."""

    name: str
    strategy: str = "rrmemory"
    service_level: int = 15
    max: int = 0
    weight: int = 0
    holdtime: int = 0
    talktime: int = 0
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    members: dict[str, SimMember] = field(default_factory=dict)
    entries: list[SimEntry] = field(default_factory=list)

    def perf(self) -> tuple[str, str]:
        """(ServicelevelPerf, ServicelevelPerf2) formatted like app_queue (``%.1f``)."""
        perf = 100.0 * self.completed_in_sl / self.completed if self.completed else 0.0
        total = self.completed + self.abandoned
        perf2 = 100.0 * (self.completed_in_sl + self.abandoned_in_sl) / total if total else 0.0
        return f"{perf:.1f}", f"{perf2:.1f}"

    def available(self) -> bool:
        """True when a member could take a call (drives ``Queue:<name>_avail``)."""
        return any(not m.paused and m.status in (1, 5) for m in self.members.values())


@dataclass(eq=False)
class _Session:
    writer: asyncio.StreamWriter
    session_id: str
    local: str
    remote: str
    started: datetime
    authed: bool = False
    username: str = ""
    closing: bool = False


def _tv(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def _addr(peer: object) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"IPV4/TCP/{peer[0]}/{peer[1]}"
    return "IPV4/TCP/0.0.0.0/0"


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "yes", "true", "on", "y", "t")


def _parse_callerid(text: str | None) -> tuple[str, str]:
    if not text:
        return "<unknown>", "<unknown>"
    text = text.strip()
    if "<" in text and text.endswith(">"):
        name, _, num = text[:-1].rpartition("<")
        return num.strip() or "<unknown>", name.strip().strip('"') or "<unknown>"
    return text, "<unknown>"


# Actions of loadable modules (app_queue, res_pjsip): unknown while a restarted PBX boots.
_MODULE_ACTIONS = frozenset(
    {"queuestatus", "queuesummary", "queueadd", "queuepause", "queueremove", "pjsipqualify"}
)


def _listcommands_lines() -> list[str]:
    path = Path(__file__).with_name("ami_listcommands_cac311.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def _transcript_dir() -> Path:
    env = os.environ.get("CAC311_TRANSCRIPTS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "asterisk"


class AmiSimulator(CallControlActions):
    """Asterisk 22 AMI server simulator (see module docstring)."""

    def __init__(
        self,
        *,
        username: str = "cac311",
        secret: str = "s3cret",
        originate_policy: OriginatePolicy = default_originate_policy,
        uptime: int = 45,
        static_members: Iterable[tuple[str, str, str]] = (
            ("cac311", "Local/100@agents/n", "Agente Ana"),
        ),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.username = username
        self.secret = secret
        self.originate_policy = originate_policy
        # Action name prefixes of modules this PBX runs without (e.g. {"PJSIP"}: res_pjsip
        # failed to load); ListCommands then does not offer them, as Asterisk would not.
        self.unloaded_action_prefixes: set[str] = set()
        self.unresponsive = False
        # The manager.conf eventfilter of the logged-in user (ami.event_filter.EventFilter),
        # applied as Asterisk does: to events, never to action responses. None: everything.
        self.event_filter: object | None = None
        self.events_filtered_out = 0
        self.connections = 0
        self.login_attempts = 0
        self.actions: list[AmiMessage] = []
        # Redirect targets (channel, context, exten, priority) per Redirect; Hangup actions.
        self.redirects: list[tuple[tuple[str, str | None, str | None, str | None], ...]] = []
        self.hangups: list[str] = []
        self._wall = wall_clock
        self._boot = time.monotonic() - uptime
        self._booted_at = self._boot
        self._server: asyncio.Server | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self._sessions: set[_Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._counter = 0
        self._uid_seq = 0
        self._avail: dict[str, bool] = {}
        self.queues: dict[str, SimQueue] = {}
        self.channels: dict[str, SimChannel] = {}
        login_time = int(self._wall())
        for queue, interface, name in static_members:
            q = self.queues.setdefault(queue, SimQueue(queue))
            q.members[interface] = SimMember(
                queue, interface, name, interface, login_time=login_time
            )

    # ------------------------------------------------------------------ server lifecycle
    @property
    def port(self) -> int:
        """TCP port the simulator listens on."""
        return self._port

    @property
    def uptime(self) -> int:
        """Seconds since the simulated Asterisk booted."""
        return int(time.monotonic() - self._boot)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen (port 0 = a free port; pass the old port to come back after stop())."""
        self._host = host
        self._server = await asyncio.start_server(self._handle, host, port or self._port)
        self._port = self._server.sockets[0].getsockname()[1]
        return self._port

    async def stop(self) -> None:
        """Stop listening and close every session (the PBX is gone)."""
        if self._server is not None:
            self._server.close()
        self.drop_all()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def drop_all(
        self,
        *,
        restart: bool = False,
        shutdown_event: bool = False,
        linger: float = 0.0,
        boot_delay: float = 0.0,
    ) -> None:
        """Close every client socket abruptly; ``restart`` also resets uptime and calls.

        ``shutdown_event``: first send ``Event: Shutdown`` (``Shutdown: Cleanly``, ``Restart``)
        as Asterisk 22 did before one ``core restart now`` (2026-12-01/
        ami-queue-member-lifecycle; before another it did not), and keep the sockets open
        ``linger`` seconds more, as a PBX that takes time to stop. ``boot_delay``: after the
        restart, logins are accepted at once but FullyBooted comes, and the queue and PJSIP
        actions exist, only ``boot_delay`` seconds later (as on the real 22.10.1).
        """
        if shutdown_event:
            for session in list(self._sessions):
                if session.authed:
                    self._send(
                        session,
                        [
                            ("Event", "Shutdown"),
                            ("Privilege", "system,all"),
                            ("Shutdown", "Cleanly"),
                            ("Restart", "True" if restart else "False"),
                        ],
                    )
            if linger > 0:
                self._later(linger, lambda: self.drop_all(restart=restart, boot_delay=boot_delay))
                return
        for session in list(self._sessions):
            session.closing = True
            with contextlib.suppress(Exception):
                session.writer.close()
        self._sessions.clear()
        if restart:
            self._boot = time.monotonic()
            self._booted_at = self._boot + boot_delay
            self.channels.clear()
            for q in self.queues.values():
                q.entries.clear()

    # ------------------------------------------------------------------ pushing events
    def emit(self, event_fields: Mapping[str, object] | Iterable[tuple[str, object]]) -> None:
        """Apply an event to the state and send it to every logged-in client."""
        pairs = [(k, str(v)) for k, v in self._pairs(event_fields)]
        self._apply(AmiMessage(tuple(pairs)))
        if self.event_filter is not None and not self.event_filter.allows(pairs):  # type: ignore[attr-defined]
            self.events_filtered_out += 1
            return
        data = encode_fields(pairs)
        for session in list(self._sessions):
            if session.authed and not session.closing:
                self._write(session, data)

    async def replay(
        self,
        name: str,
        *,
        speed: float | None = None,
        start: float = 0.0,
        end: float | None = None,
        directory: Path | None = None,
    ) -> int:
        """Emit the PBX events of transcript ``name`` (``.jsonl``) with ``start <= t < end``.

        ``speed`` None sends them back to back; otherwise waits ``dt / speed`` between
        chunks. Session events (login, list items, RequestBadFormat) are skipped. Returns
        the number of events emitted.
        """
        path = (directory or _transcript_dir()) / f"{name}.jsonl"
        sent = 0
        last_t: float | None = None
        parser = AmiParser()
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["dir"] != "asterisk":
                continue
            data: str = row["data"]
            if data.startswith("<") and data.endswith(">"):
                parser = AmiParser()
                continue
            t = float(row["t"])
            messages = parser.feed(data.encode("utf-8"))
            if t < start or (end is not None and t >= end):
                continue
            for message in messages:
                if not isinstance(message, Event) or message.name in SESSION_EVENTS:
                    continue
                if speed and last_t is not None and t > last_t:
                    await asyncio.sleep((t - last_t) / speed)
                last_t = t
                self.emit(message.fields)
                sent += 1
            await asyncio.sleep(0)
        return sent

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _pairs(fields: Mapping[str, object] | Iterable[tuple[str, object]]) -> list:
        return list(fields.items()) if isinstance(fields, Mapping) else list(fields)

    def _write(self, session: _Session, data: bytes) -> None:
        try:
            session.writer.write(data)
        except Exception:  # noqa: BLE001 - a dead client must not break the others
            session.closing = True

    def _send(self, session: _Session, pairs: Iterable[tuple[str, str]]) -> None:
        self._write(session, encode_fields(list(pairs)))

    @staticmethod
    def _response(status: str, action_id: str | None, *extra: tuple[str, str]) -> Pairs:
        head = [("Response", status)]
        if action_id is not None:
            head.append(("ActionID", action_id))
        return head + list(extra)

    def _error(self, session: _Session, action_id: str | None, message: str) -> None:
        self._send(session, self._response("Error", action_id, ("Message", message)))

    def _ok(self, session: _Session, action_id: str | None, message: str) -> None:
        self._send(session, self._response("Success", action_id, ("Message", message)))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)

    def _new_uniqueid(self) -> str:
        self._uid_seq += 1
        return f"{int(self._wall())}.{self._uid_seq}"

    # ------------------------------------------------------------------ connections
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._counter += 1
        session = _Session(
            writer=writer,
            session_id=f"0x{0x7F65D0000000 + self._counter * 0x1A0:x}",
            local=_addr(writer.get_extra_info("sockname")),
            remote=_addr(writer.get_extra_info("peername")),
            started=self._now(),
        )
        self._sessions.add(session)
        parser = AmiParser(expect_banner=False)
        try:
            writer.write(BANNER)
            while not session.closing:
                data = await reader.read(65536)
                if not data:
                    break
                for message in parser.feed(data):
                    if self.unresponsive or session.closing:
                        continue
                    if isinstance(message, AmiMessage):
                        self.actions.append(message)
                        self._dispatch(session, message)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._sessions.discard(session)
            with contextlib.suppress(Exception):
                writer.close()

    def _dispatch(self, session: _Session, m: AmiMessage) -> None:
        action = m.get("Action")
        aid = m.action_id
        if action is None:
            self._error(session, aid, "Missing action in request")  # unverified
            return
        name = action.lower()
        if name == "login":
            self._login(session, m)
            return
        if not session.authed:
            self._error(session, aid, "Authentication Required")  # unverified
            return
        handler = {
            "ping": self._ping,
            "logoff": self._logoff,
            "coreshowchannels": self._core_show_channels,
            "queuestatus": self._queue_status,
            "queuesummary": self._queue_summary,
            "queueadd": self._queue_add,
            "queuepause": self._queue_pause,
            "queueremove": self._queue_remove,
            "redirect": self._redirect,
            "bridge": self._bridge,
            "hangup": self._hangup,
            "originate": self._originate,
            "command": self._command,
            "setvar": self._setvar,
            "listcommands": self._list_commands,
            "blindtransfer": self._blind_transfer,
            "atxfer": self._atxfer,
        }.get(name)
        if handler is None or (self.booting and name in _MODULE_ACTIONS):
            self._unknown(session, m, action)
            return
        handler(session, m)

    # ------------------------------------------------------------------ actions
    def _login(self, session: _Session, m: AmiMessage) -> None:
        self.login_attempts += 1
        aid = m.action_id
        if m.get("Username") != self.username or m.get("Secret") != self.secret:
            self._error(session, aid, "Authentication failed")
            session.closing = True
            with contextlib.suppress(Exception):
                session.writer.close()
            return
        session.authed = True
        session.username = m.get("Username") or ""
        self._ok(session, aid, "Authentication accepted")
        if self.booting:
            # Seen on the real 22.10.1 right after core restart now: the login is accepted
            # before the modules are loaded; FullyBooted follows once they are.
            self._later(max(self._booted_at - time.monotonic(), 0.0), self._fully_booted, session)
        else:
            self._fully_booted(session)
        tv = _tv(session.started)
        self._send(
            session,
            [
                ("Event", "SuccessfulAuth"),
                ("Privilege", "security,all"),
                ("EventTV", tv),
                ("Severity", "Informational"),
                ("Service", "AMI"),
                ("EventVersion", "1"),
                ("AccountID", session.username),
                ("SessionID", session.session_id),
                ("LocalAddress", session.local),
                ("RemoteAddress", session.remote),
                ("UsingPassword", "0"),
                ("SessionTV", tv),
            ],
        )

    def _fully_booted(self, session: _Session) -> None:
        if session.closing:
            return
        uptime = str(self.uptime)
        self._send(
            session,
            [
                ("Event", "FullyBooted"),
                ("Privilege", "system,all"),
                ("Uptime", uptime),
                ("LastReload", uptime),
                ("Status", "Fully Booted"),
            ],
        )

    @property
    def booting(self) -> bool:
        """True while a restarted PBX still loads its modules (see :meth:`drop_all`)."""
        return time.monotonic() < self._booted_at

    def _ping(self, session: _Session, m: AmiMessage) -> None:
        self._send(
            session,
            self._response(
                "Success", m.action_id, ("Ping", "Pong"), ("Timestamp", f"{self._wall():.6f}")
            ),
        )

    def _logoff(self, session: _Session, m: AmiMessage) -> None:
        self._send(
            session,
            self._response("Goodbye", m.action_id, ("Message", "Thanks for all the fish.")),
        )
        session.closing = True
        with contextlib.suppress(Exception):
            session.writer.close()

    def _unknown(self, session: _Session, m: AmiMessage, action: str) -> None:
        self._error(
            session,
            m.action_id,
            f"Invalid/unknown command: {action}. Use Action: ListCommands to show available "
            "commands.",
        )
        self._send(
            session,
            [
                ("Event", "RequestBadFormat"),
                ("Privilege", "security,all"),
                ("EventTV", _tv(self._now())),
                ("Severity", "Error"),
                ("Service", "AMI"),
                ("EventVersion", "1"),
                ("SessionID", session.session_id),
                ("LocalAddress", session.local),
                ("RemoteAddress", session.remote),
                ("RequestType", f"Action: {action}"),
                ("SessionTV", _tv(session.started)),
                ("AccountID", session.username),
            ],
        )

    def _list_start(self, session: _Session, aid: str | None, message: str) -> None:
        self._send(
            session,
            self._response("Success", aid, ("EventList", "start"), ("Message", message)),
        )

    def _list_item(self, session: _Session, aid: str | None, pairs: Pairs, *, tail: bool) -> None:
        idf = [("ActionID", aid)] if aid is not None else []
        if tail:
            self._send(session, pairs + idf)
        else:
            self._send(session, pairs[:1] + idf + pairs[1:])

    def _list_end(self, session: _Session, aid: str | None, event: str, count: int) -> None:
        idf = [("ActionID", aid)] if aid is not None else []
        self._send(
            session,
            [("Event", event), *idf, ("EventList", "Complete"), ("ListItems", str(count))],
        )

    def _core_show_channels(self, session: _Session, m: AmiMessage) -> None:
        aid = m.action_id
        self._list_start(session, aid, "Channels will follow")
        now = time.monotonic()
        for ch in self.channels.values():
            secs = max(0, int(now - ch.created))
            duration = f"{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
            pairs = [
                ("Event", "CoreShowChannel"),
                ("Channel", ch.name),
                ("ChannelState", ch.state),
                ("ChannelStateDesc", ch.state_desc),
                ("CallerIDNum", ch.caller_num),
                ("CallerIDName", ch.caller_name),
                ("ConnectedLineNum", ch.connected_num),
                ("ConnectedLineName", ch.connected_name),
                ("Language", ch.language),
                ("AccountCode", ch.account_code),
                ("Context", ch.context),
                ("Exten", ch.exten),
                ("Priority", ch.priority),
                ("Uniqueid", ch.uniqueid),
                ("Linkedid", ch.linkedid),
                ("Application", ch.application),
                ("ApplicationData", ch.application_data),
                ("Duration", duration),
                ("BridgeId", ch.bridge_id),
            ]
            self._list_item(session, aid, pairs, tail=False)
        self._list_end(session, aid, "CoreShowChannelsComplete", len(self.channels))

    def _queue_status(self, session: _Session, m: AmiMessage) -> None:
        aid = m.action_id
        wanted = m.get("Queue")
        self._list_start(session, aid, "Queue status will follow")
        count = 0
        now = time.monotonic()
        for q in self.queues.values():
            if wanted and q.name != wanted:
                continue
            perf, perf2 = q.perf()
            params = [
                ("Event", "QueueParams"),
                ("Queue", q.name),
                ("Max", str(q.max)),
                ("Strategy", q.strategy),
                ("Calls", str(len(q.entries))),
                ("Holdtime", str(q.holdtime)),
                ("TalkTime", str(q.talktime)),
                ("Completed", str(q.completed)),
                ("Abandoned", str(q.abandoned)),
                ("ServiceLevel", str(q.service_level)),
                ("ServicelevelPerf", perf),
                ("ServicelevelPerf2", perf2),
                ("Weight", str(q.weight)),
            ]
            self._list_item(session, aid, params, tail=True)
            count += 1
            for member in q.members.values():
                self._list_item(
                    session, aid, [("Event", "QueueMember"), *member.list_fields()], tail=True
                )
                count += 1
            for pos, entry in enumerate(q.entries, start=1):
                pairs = [
                    ("Event", "QueueEntry"),
                    ("Queue", q.name),
                    ("Position", str(pos)),
                    ("Channel", entry.channel),
                    ("Uniqueid", entry.uniqueid),
                    ("CallerIDNum", entry.caller_num),
                    ("CallerIDName", entry.caller_name),
                    ("ConnectedLineNum", entry.connected_num),
                    ("ConnectedLineName", entry.connected_name),
                    ("Wait", str(max(0, int(now - entry.joined)))),
                    ("Priority", str(entry.priority)),
                ]
                self._list_item(session, aid, pairs, tail=True)
                count += 1
        self._list_end(session, aid, "QueueStatusComplete", count)

    def _queue_summary(self, session: _Session, m: AmiMessage) -> None:
        aid = m.action_id
        wanted = m.get("Queue")
        self._list_start(session, aid, "Queue summary will follow")
        count = 0
        now = time.monotonic()
        for q in self.queues.values():
            if wanted and q.name != wanted:
                continue
            longest = max((int(now - e.joined) for e in q.entries), default=0)
            pairs = [
                ("Event", "QueueSummary"),
                ("Queue", q.name),
                ("LoggedIn", str(len(q.members))),
                ("Available", str(sum(1 for x in q.members.values() if not x.paused))),
                ("Callers", str(len(q.entries))),
                ("HoldTime", str(q.holdtime)),
                ("TalkTime", str(q.talktime)),
                ("LongestHoldTime", str(longest)),
            ]
            self._list_item(session, aid, pairs, tail=True)
            count += 1
        self._list_end(session, aid, "QueueSummaryComplete", count)

    def _device_state(self, device: str, state: str) -> None:
        self.emit(
            [
                ("Event", "DeviceStateChange"),
                ("Privilege", "call,all"),
                ("Device", device),
                ("State", state),
            ]
        )

    def _avail_changed(self, q: SimQueue) -> None:
        now = q.available()
        if self._avail.get(q.name) != now:
            self._avail[q.name] = now
            self._device_state(f"Queue:{q.name}_avail", "NOT_INUSE" if now else "INUSE")

    def _queue_add(self, session: _Session, m: AmiMessage) -> None:
        aid = m.action_id
        queue, interface = m.get("Queue"), m.get("Interface")
        if not queue:
            self._error(session, aid, "'Queue' not specified.")  # unverified
            return
        if not interface:
            self._error(session, aid, "'Interface' not specified.")
            return
        q = self.queues.get(queue)
        if q is None:
            self._error(
                session, aid, "Unable to add interface to queue: No such queue"
            )  # unverified
            return
        if interface in q.members:
            # as captured in 2026-12-01/ami-queue-member-lifecycle
            self._error(session, aid, "Unable to add interface: Already there")
            return
        member = SimMember(
            queue,
            interface,
            m.get("MemberName") or interface,
            m.get("StateInterface") or interface,
            membership="dynamic",
            penalty=int(m.get("Penalty") or 0),
            login_time=int(self._wall()),
            paused=_is_true(m.get("Paused")),
            paused_reason=(m.get("Reason") or "") if _is_true(m.get("Paused")) else "",
        )
        q.members[interface] = member
        self._ok(session, aid, "Added interface to queue")
        self._device_state(
            f"Queue:{queue}_pause_{interface}", "INUSE" if member.paused else "NOT_INUSE"
        )
        self.emit(
            [("Event", "QueueMemberAdded"), ("Privilege", "agent,all"), *member.event_fields()]
        )
        self._avail_changed(q)

    def _queue_pause(self, session: _Session, m: AmiMessage) -> None:
        aid = m.action_id
        interface, paused_text = m.get("Interface"), m.get("Paused")
        if not interface:
            self._error(session, aid, "Need 'Interface' parameter.")  # unverified
            return
        if not paused_text:
            self._error(session, aid, "Need 'Paused' parameter.")  # unverified
            return
        paused = _is_true(paused_text)
        queue = m.get("Queue")
        targets = [
            q.members[interface]
            for q in self.queues.values()
            if interface in q.members and (not queue or q.name == queue)
        ]
        if not targets:
            self._error(session, aid, "Interface not found")  # unverified
            return
        self._ok(
            session,
            aid,
            "Interface paused successfully" if paused else "Interface unpaused successfully",
        )
        for member in targets:
            member.paused = paused
            member.paused_reason = (m.get("Reason") or "") if paused else ""
            if paused:
                member.last_pause = int(self._wall())
            self._device_state(
                f"Queue:{member.queue}_pause_{interface}", "INUSE" if paused else "NOT_INUSE"
            )
            self._avail_changed(self.queues[member.queue])
            self.emit(
                [("Event", "QueueMemberPause"), ("Privilege", "agent,all"), *member.event_fields()]
            )

    def _queue_remove(self, session: _Session, m: AmiMessage) -> None:
        aid = m.action_id
        queue, interface = m.get("Queue"), m.get("Interface")
        if not queue or not interface:
            self._error(session, aid, "Need 'Queue' and 'Interface' parameters.")  # unverified
            return
        q = self.queues.get(queue)
        member = q.members.get(interface) if q else None
        if q is None or member is None:
            self._error(session, aid, "Unable to remove interface: Not there")
            return
        if member.membership == "static":
            self._error(session, aid, "Member not dynamic")  # unverified
            return
        del q.members[interface]
        self._ok(session, aid, "Removed interface from queue")
        self.emit(
            [("Event", "QueueMemberRemoved"), ("Privilege", "agent,all"), *member.event_fields()]
        )
        self._avail_changed(q)

    def _find_channel(self, name: str) -> SimChannel | None:
        for ch in self.channels.values():
            if ch.name == name:
                return ch
        return None

    def _redirect(self, session: _Session, m: AmiMessage) -> None:
        aid = m.action_id
        name = m.get("Channel")
        if not name:
            self._error(session, aid, "Channel not specified")  # unverified
            return
        targets = [(name, m.get("Context"), m.get("Exten"), m.get("Priority"))]
        extra = m.get("ExtraChannel")
        if extra:
            targets.append(
                (
                    extra,
                    m.get("ExtraContext") or m.get("Context"),
                    m.get("ExtraExten") or m.get("Exten"),
                    m.get("ExtraPriority") or m.get("Priority"),
                )
            )
        for chan_name, *_ in targets:
            if self._find_channel(chan_name) is None:
                self._error(session, aid, f"Channel does not exist: {chan_name}")
                return
        for chan_name, context, exten, priority in targets:
            ch = self._find_channel(chan_name)
            assert ch is not None
            ch.context = context or ch.context
            ch.exten = exten or ch.exten
            ch.priority = priority or "1"
            ch.application = ""
            ch.application_data = ""
            ch.bridge_id = ""
            for q in self.queues.values():
                q.entries = [e for e in q.entries if e.uniqueid != ch.uniqueid]
        # 2026-12-01/ami-redirect-both-legs-readback: with ExtraChannel both legs survive.
        self._ok(session, aid, "Dual Redirect successful" if extra else "Redirect successful")
        self.redirects.append(tuple(targets))

    def _originate(self, session: _Session, m: AmiMessage) -> None:
        aid = m.action_id
        channel = m.get("Channel")
        if not channel:
            self._error(session, aid, "Channel not specified")
            return
        outcome = self.originate_policy(channel)
        if _is_true(m.get("Async")):
            self._ok(session, aid, "Originate successfully queued")
            self._later(outcome.delay, self._originate_done, None, m, outcome)
        else:
            self._later(outcome.delay, self._originate_done, session, m, outcome)

    def _later(self, delay: float, fn: Callable[..., None], *args: object) -> None:
        async def run() -> None:
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            fn(*args)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _originate_done(
        self, session: _Session | None, m: AmiMessage, outcome: OriginateOutcome
    ) -> None:
        dialled = m.get("Channel") or ""
        num, name = _parse_callerid(m.get("CallerID"))
        channel_name, uniqueid = dialled, "<unknown>"
        if outcome.answered:
            self._counter += 1
            suffix = f"-{self._counter:08x}"
            channel_name = dialled + suffix + (";1" if dialled.startswith("Local/") else "")
            uniqueid = self._new_uniqueid()
            self.channels[uniqueid] = SimChannel(
                name=channel_name,
                uniqueid=uniqueid,
                linkedid=uniqueid,
                created=time.monotonic(),
                caller_num=num,
                caller_name=name,
                context=m.get("Context") or "",
                exten=m.get("Exten") or "",
                priority=m.get("Priority") or "1",
            )
        if session is not None:  # synchronous Originate: one answer only
            if outcome.answered:
                self._ok(session, m.action_id, "Originate successfully queued")  # unverified
            else:
                self._error(session, m.action_id, "Originate failed")
            return
        application = m.get("Application")
        # With Application/Data (ChanSpy) the response names them instead of
        # Context/Exten (ami-chanspy-supervisor).
        target = (
            [("Application", application), ("Data", m.get("Data") or "")]
            if application
            else [("Context", m.get("Context") or ""), ("Exten", m.get("Exten") or "")]
        )
        self.emit(
            [
                ("Event", "OriginateResponse"),
                ("Privilege", "call,all"),
                *([("ActionID", m.action_id)] if m.action_id is not None else []),
                ("Response", "Success" if outcome.answered else "Failure"),
                ("Channel", channel_name),
                *target,
                ("Reason", str(outcome.reason)),
                ("Uniqueid", uniqueid),
                ("CallerIDNum", num),
                ("CallerIDName", name),
            ]
        )
        if outcome.answered and (application or "").lower() == "chanspy":
            self._chanspy_started(channel_name, m.get("Data") or "")

    def _list_commands(self, session: _Session, m: AmiMessage) -> None:
        """ListCommands as the real Asterisk 22.10.1 answered the user cac311 with
        asterisk_conf/ loaded (ami_listcommands_cac311.txt): one response, a key per action."""
        pairs: Pairs = self._response("Success", m.action_id)
        for line in _listcommands_lines():
            action, _, synopsis = line.partition(": ")
            unloaded = self.unloaded_action_prefixes | (
                {"PJSIP", "Queue"} if self.booting else set()
            )
            if not any(action.startswith(p) for p in unloaded):
                pairs.append((action, synopsis))
        self._send(session, pairs)

    def _setvar(self, session: _Session, m: AmiMessage) -> None:
        aid = m.action_id
        if not m.get("Variable"):
            self._error(session, aid, "No variable specified")  # unverified
            return
        name = m.get("Channel")
        ch = self._find_channel(name) if name else None
        if name and ch is None:
            self._error(session, aid, "No such channel")  # unverified
            return
        self._ok(session, aid, "Variable Set")
        if ch is not None:
            # As captured (2026-12-01/ami-redirect-both-legs-readback): the response, then a
            # VarSet event on that channel.
            self.emit(
                [
                    ("Event", "VarSet"),
                    ("Privilege", "dialplan,all"),
                    ("Channel", ch.name),
                    ("ChannelState", ch.state),
                    ("ChannelStateDesc", ch.state_desc),
                    ("CallerIDNum", ch.caller_num),
                    ("CallerIDName", ch.caller_name),
                    ("ConnectedLineNum", ch.connected_num),
                    ("ConnectedLineName", ch.connected_name),
                    ("Language", ch.language),
                    ("AccountCode", ch.account_code),
                    ("Context", ch.context),
                    ("Exten", ch.exten),
                    ("Priority", ch.priority),
                    ("Uniqueid", ch.uniqueid),
                    ("Linkedid", ch.linkedid),
                    ("Variable", m.get("Variable") or ""),
                    ("Value", m.get("Value") or ""),
                ]
            )

    def _command(self, session: _Session, m: AmiMessage) -> None:
        if (m.get("Command") or "").strip() == "core restart now":
            self.drop_all(restart=True)  # as in the transcript: the socket just closes
            return
        self._error(session, m.action_id, "Command not supported by the simulator")

    # ------------------------------------------------------------------ state from events
    def _apply(self, m: AmiMessage) -> None:
        name = m.get("Event")
        if name is None:
            return
        uid = m.get("Uniqueid") or ""
        now = time.monotonic()
        if name == "Newchannel" and uid:
            self.channels[uid] = SimChannel(
                name=m.get("Channel") or "",
                uniqueid=uid,
                linkedid=m.get("Linkedid") or uid,
                created=now,
                caller_num=m.get("CallerIDNum") or "<unknown>",
                caller_name=m.get("CallerIDName") or "<unknown>",
                connected_num=m.get("ConnectedLineNum") or "<unknown>",
                connected_name=m.get("ConnectedLineName") or "<unknown>",
                language=m.get("Language") or "es",
                account_code=m.get("AccountCode") or "",
                context=m.get("Context") or "",
                exten=m.get("Exten") or "",
                priority=m.get("Priority") or "1",
                state=m.get("ChannelState") or "0",
                state_desc=m.get("ChannelStateDesc") or "Down",
            )
            return
        ch = self.channels.get(uid)
        if ch is not None and name in ("Newexten", "Newstate", "NewCallerid", "VarSet"):
            ch.context = m.get("Context") or ch.context
            ch.exten = m.get("Exten") or ch.exten
            ch.priority = m.get("Priority") or ch.priority
            ch.state = m.get("ChannelState") or ch.state
            ch.state_desc = m.get("ChannelStateDesc") or ch.state_desc
            ch.caller_num = m.get("CallerIDNum") or ch.caller_num
            ch.caller_name = m.get("CallerIDName") or ch.caller_name
            ch.connected_num = m.get("ConnectedLineNum") or ch.connected_num
            ch.connected_name = m.get("ConnectedLineName") or ch.connected_name
            if name == "Newexten":
                ch.application = m.get("Application") or ""
                ch.application_data = m.get("AppData") or ""
        elif ch is not None and name == "BridgeEnter":
            ch.bridge_id = m.get("BridgeUniqueid") or ""
        elif ch is not None and name == "BridgeLeave":
            ch.bridge_id = ""
        elif name == "Hangup":
            self.channels.pop(uid, None)
            for q in self.queues.values():
                q.entries = [e for e in q.entries if e.uniqueid != uid]
        elif name.startswith("Queue") or name.startswith("Agent"):
            self._apply_queue(name, m, now)

    def _apply_queue(self, name: str, m: AmiMessage, now: float) -> None:
        queue = m.get("Queue")
        if not queue:
            return
        q = self.queues.setdefault(queue, SimQueue(queue))
        uid = m.get("Uniqueid") or ""
        if name == "QueueCallerJoin":
            q.entries.append(
                SimEntry(
                    channel=m.get("Channel") or "",
                    uniqueid=uid,
                    joined=now,
                    caller_num=m.get("CallerIDNum") or "<unknown>",
                    caller_name=m.get("CallerIDName") or "<unknown>",
                    connected_num=m.get("ConnectedLineNum") or "<unknown>",
                    connected_name=m.get("ConnectedLineName") or "<unknown>",
                )
            )
        elif name == "QueueCallerLeave":
            q.entries = [e for e in q.entries if e.uniqueid != uid]
        elif name == "QueueCallerAbandon":
            q.abandoned += 1
            if int(m.get("HoldTime") or 0) <= q.service_level:
                q.abandoned_in_sl += 1
        elif name == "AgentConnect":
            q.holdtime = (3 * q.holdtime + int(m.get("HoldTime") or 0)) // 4
        elif name == "AgentComplete":
            q.completed += 1
            if int(m.get("HoldTime") or 0) <= q.service_level:
                q.completed_in_sl += 1
            talk = int(m.get("TalkTime") or 0)
            q.talktime = talk if q.completed == 1 else (3 * q.talktime + talk) // 4
        elif name in ("QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause"):
            interface = m.get("Interface") or ""
            member = q.members.get(interface)
            if member is None:
                member = SimMember(queue, interface, m.get("MemberName") or interface, interface)
                q.members[interface] = member
            member.name = m.get("MemberName") or member.name
            member.state_interface = m.get("StateInterface") or member.state_interface
            member.membership = m.get("Membership") or member.membership
            member.calls_taken = int(m.get("CallsTaken") or member.calls_taken)
            member.last_call = int(m.get("LastCall") or member.last_call)
            member.last_pause = int(m.get("LastPause") or member.last_pause)
            member.login_time = int(m.get("LoginTime") or member.login_time)
            member.in_call = int(m.get("InCall") or 0)
            member.status = int(m.get("Status") or member.status)
            member.paused = _is_true(m.get("Paused"))
            member.paused_reason = m.get("PausedReason") or ""
        elif name == "QueueMemberRemoved":
            q.members.pop(m.get("Interface") or "", None)
