"""Realistic contact-center traffic for the AMI simulator: citizens calling 3-1-1, an IVR walk
through our real FastAGI server, a queue, agents who answer or not, callers who give up, and
callback legs placed by the dialer.

Every AMI event emitted here has the name, the field names and the field order that Asterisk
22.10.1 produced in ``../shared/asterisk`` (``ami-queue-call-answered``,
``ami-queue-call-abandoned``; ``AgentRingNoAnswer`` from ``ami-resync-ringnoanswer-timeout``;
``QueueMemberAdded`` from ``ami-login-and-actions``). The generator emits a SUBSET of a real
call's events, in the transcripts' relative order: the ones that carry meaning for a monitor
(channels, MixMonitor, the IVR's ``VarSet``s, queue and agent events, bridges, hangups). It
leaves out dialplan noise (Newexten, Newstate, NewCallerid, NewConnectedLine, LocalBridge,
Dial*, AGIExec*, DTMF*, SoftHangupRequest/HangupRequest, BRIDGEPEER/QUEUE* VarSets).

Order facts kept from the transcripts:

- the caller is a Local channel pair ``;1``/``;2``; the ``;2`` half runs the dialplan (AGI,
  MixMonitor, Queue) and is the queue caller; ``Linkedid`` is the ``;1`` uniqueid;
- ``VarSet MIXMONITOR_FILENAME`` precedes ``MixMonitorStart`` (which carries no file name);
- variables the IVR set (``SET VARIABLE``) appear as ``VarSet`` on the ``;2`` channel before
  ``QueueCallerJoin``, then ``VarSet AGISTATUS``;
- answered: AgentCalled → QueueMemberStatus (Status 2) → QueueCallerLeave → AgentConnect →
  BridgeEnter (agent, caller) → agent ``;2`` Hangup → AgentComplete (``Reason: agent``) →
  QueueMemberStatus (CallsTaken+1) → BridgeLeave/Hangup agent ``;1`` → BridgeLeave caller →
  Hangup ``;1`` → Hangup ``;2``;
- abandoned: the caller's ``;1`` hangs up first, then ``VarSet ABANDONED=TRUE``,
  QueueCallerAbandon (``Position``, ``OriginalPosition``, ``HoldTime``), QueueCallerLeave,
  Hangup ``;2``;
- ring no answer: ``AgentRingNoAnswer`` with ``RingTime`` in milliseconds, then the member
  is free again and the caller keeps waiting.

Queue members are whatever the simulator has in the queue and not paused: the bots this
generator adds at start and anyone who joins by AMI ``QueueAdd`` (an agent pressing
"Conectarse a la cola" on the desktop). The member idle the longest gets the next call
(app_queue's ``leastrecent``). Bots answer after a few seconds or let it ring out; any other
member (a person's phone) answers at once and talks for ``human_talk_seconds``.

HoldTime, RingTime and TalkTime are the real elapsed seconds, as Asterisk measures them; only
the random durations of the profile are divided by ``speed``.

Recordings: MixMonitor's path is ``/var/spool/asterisk/monitor/cac311/YYYY/MM/DD/<uid>.wav``
(asterisk_conf/extensions.conf); the generator writes a real 8 kHz 16-bit mono WAV (a quiet
tone, at most ``max_recording_seconds``) at the same relative path under ``recordings_dir``
before the caller's Hangup, when Asterisk's file is complete.

Callbacks: :class:`TrafficSimulator` runs the dialplan ``[cac311-callback]`` for an answered
Originate: the ``followup`` or ``satisfaction`` route with ``CAC311_CALLBACK_ID`` on the
channel, so survey answers reach the database through the real IVR.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import random
import struct
import time
import uuid
import wave
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ami.protocol import AmiMessage
from asterisk_sim.agi import (
    CallerAction,
    HangUp,
    Press,
    SimulatedAgiCall,
    Timeout,
)
from asterisk_sim.ami import (
    ANSWERED,
    BUSY,
    NO_ANSWER,
    AmiSimulator,
    OriginateOutcome,
    SimMember,
    SimQueue,
)

if TYPE_CHECKING:
    from asterisk_sim.ami import _Session

log = logging.getLogger(__name__)

Pairs = list[tuple[str, str]]
PBX_RECORDINGS_DIR = "/var/spool/asterisk/monitor/cac311"
INBOUND_CONTEXT = "cac311-inbound"
INBOUND_EXTEN = "311"
CALLBACK_CONTEXT = "cac311-callback"

# (cédula, caller ID) of citizens the caller-ID match and the cédula lookup know: by default
# those of case_core.seed.loader.DEMO_CITIZENS that can be keyed (no letters), presenting the
# national digits of their seeded E.164 number; the demo passes them from the seed itself.
DEMO_CALLERS: tuple[tuple[str, str], ...] = (
    ("8-123-4567", "61234567"),
    ("4-712-1033", "62345678"),
    ("8-900-12", "2345678"),
)


@dataclass(frozen=True)
class TrafficProfile:
    """The random durations (seconds at speed 1) and shares of the generated traffic."""

    calls_per_minute: float = 6.0
    speed: float = 1.0
    bots: int = 2
    ivr_seconds: tuple[float, float] = (8.0, 25.0)
    patience_mean: float = 60.0
    patience_min: float = 5.0
    bot_answer_seconds: tuple[float, float] = (1.0, 4.0)
    bot_talk_seconds: tuple[float, float] = (8.0, 25.0)
    ring_no_answer_share: float = 0.1
    ring_timeout_seconds: float = 15.0
    human_talk_seconds: float = 120.0
    human_answer_seconds: float = 1.0
    max_recording_seconds: float = 20.0
    callback_answer_share: float = 0.6
    callback_busy_share: float = 0.2
    callback_answer_seconds: tuple[float, float] = (2.0, 6.0)

    def scaled(self, seconds: float) -> float:
        """Real seconds to wait for ``seconds`` of simulated time."""
        return seconds / self.speed if self.speed > 0 else seconds


# ----------------------------------------------------------------------------- event shapes


@dataclass
class Leg:
    """One channel as the events describe it."""

    name: str
    uniqueid: str
    linkedid: str
    caller_num: str
    context: str
    exten: str
    priority: str = "1"
    state: str = "6"
    state_desc: str = "Up"
    caller_name: str = "<unknown>"

    def block(self, prefix: str = "") -> Pairs:
        """The channel snapshot every channel event carries (``Dest`` prefix for the peer)."""
        return [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", self.state),
            (f"{prefix}ChannelStateDesc", self.state_desc),
            (f"{prefix}CallerIDNum", self.caller_num),
            (f"{prefix}CallerIDName", self.caller_name),
            (f"{prefix}ConnectedLineNum", self.caller_num),
            (f"{prefix}ConnectedLineName", self.caller_name),
            (f"{prefix}Language", "es"),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", self.priority),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]


def newchannel(leg: Leg) -> Pairs:
    """``Newchannel``."""
    return [("Event", "Newchannel"), ("Privilege", "call,all"), *leg.block()]


def varset(leg: Leg, name: str, value: str) -> Pairs:
    """``VarSet`` of a channel variable."""
    return [
        ("Event", "VarSet"),
        ("Privilege", "dialplan,all"),
        *leg.block(),
        ("Variable", name),
        ("Value", value),
    ]


def mixmonitor_start(leg: Leg) -> Pairs:
    """``MixMonitorStart`` (no file name: that came in the VarSet before it)."""
    return [("Event", "MixMonitorStart"), ("Privilege", "call,all"), *leg.block()]


def queue_caller_join(leg: Leg, queue: str, position: int, count: int) -> Pairs:
    """``QueueCallerJoin``."""
    return [
        ("Event", "QueueCallerJoin"),
        ("Privilege", "agent,all"),
        *leg.block(),
        ("Queue", queue),
        ("Position", str(position)),
        ("Count", str(count)),
    ]


def queue_caller_leave(leg: Leg, queue: str, position: int, count: int) -> Pairs:
    """``QueueCallerLeave``."""
    return [
        ("Event", "QueueCallerLeave"),
        ("Privilege", "agent,all"),
        *leg.block(),
        ("Queue", queue),
        ("Position", str(position)),
        ("Count", str(count)),
    ]


def queue_caller_abandon(leg: Leg, queue: str, position: int, original: int, hold: int) -> Pairs:
    """``QueueCallerAbandon``."""
    return [
        ("Event", "QueueCallerAbandon"),
        ("Privilege", "agent,all"),
        *leg.block(),
        ("Queue", queue),
        ("Position", str(position)),
        ("OriginalPosition", str(original)),
        ("HoldTime", str(hold)),
    ]


def _agent_event(name: str, caller: Leg, agent: Leg, member: SimMember) -> Pairs:
    return [
        ("Event", name),
        ("Privilege", "agent,all"),
        *caller.block(),
        *agent.block("Dest"),
        ("Queue", member.queue),
        ("Interface", member.interface),
        ("MemberName", member.name),
    ]


def agent_called(caller: Leg, agent: Leg, member: SimMember) -> Pairs:
    """``AgentCalled``."""
    return _agent_event("AgentCalled", caller, agent, member)


def agent_ring_no_answer(caller: Leg, agent: Leg, member: SimMember, ring_ms: int) -> Pairs:
    """``AgentRingNoAnswer`` (``RingTime`` in milliseconds)."""
    return [*_agent_event("AgentRingNoAnswer", caller, agent, member), ("RingTime", str(ring_ms))]


def agent_connect(caller: Leg, agent: Leg, member: SimMember, hold: int, ring: int) -> Pairs:
    """``AgentConnect``."""
    return [
        *_agent_event("AgentConnect", caller, agent, member),
        ("HoldTime", str(hold)),
        ("RingTime", str(ring)),
    ]


def agent_complete(caller: Leg, agent: Leg, member: SimMember, hold: int, talk: int) -> Pairs:
    """``AgentComplete`` (the agent hung up: ``Reason: agent``)."""
    return [
        *_agent_event("AgentComplete", caller, agent, member),
        ("HoldTime", str(hold)),
        ("TalkTime", str(talk)),
        ("Reason", "agent"),
    ]


def member_event(name: str, member: SimMember) -> Pairs:
    """``QueueMemberStatus`` / ``QueueMemberAdded`` for a member as it is now."""
    return [("Event", name), ("Privilege", "agent,all"), *member.event_fields()]


def device_state(device: str, state: str) -> Pairs:
    """``DeviceStateChange``."""
    return [
        ("Event", "DeviceStateChange"),
        ("Privilege", "call,all"),
        ("Device", device),
        ("State", state),
    ]


def _bridge(name: str, bridge_id: str, count: int) -> Pairs:
    return [
        ("Event", name),
        ("Privilege", "call,all"),
        ("BridgeUniqueid", bridge_id),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", str(count)),
        ("BridgeVideoSourceMode", "none"),
    ]


def bridge_enter(bridge_id: str, count: int, leg: Leg) -> Pairs:
    """``BridgeEnter``."""
    return [*_bridge("BridgeEnter", bridge_id, count), *leg.block()]


def bridge_leave(bridge_id: str, count: int, leg: Leg) -> Pairs:
    """``BridgeLeave``."""
    return [*_bridge("BridgeLeave", bridge_id, count), *leg.block()]


def hangup(leg: Leg, cause: int = 16, text: str = "Normal Clearing") -> Pairs:
    """``Hangup``."""
    return [
        ("Event", "Hangup"),
        ("Privilege", "call,all"),
        *leg.block(),
        ("Cause", str(cause)),
        ("Cause-txt", text),
    ]


# ----------------------------------------------------------------------------- recordings


def write_wav(path: Path, seconds: float, *, rate: int = 8000, tone_hz: float = 425.0) -> int:
    """Write a 16-bit mono PCM WAV with a quiet tone; returns its size in bytes."""
    frames = max(1, int(seconds * rate))
    amplitude = 1200
    period = [
        int(amplitude * math.sin(2 * math.pi * tone_hz * i / rate)) for i in range(rate // 25)
    ]
    samples = (period * (frames // len(period) + 1))[:frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    tmp.replace(path)
    return path.stat().st_size


def recording_paths(uniqueid: str, at: datetime, recordings_dir: Path) -> tuple[str, Path]:
    """(path reported by Asterisk, local file) for a call's MixMonitor recording."""
    rel = f"{at.astimezone(UTC):%Y/%m/%d}/{uniqueid}.wav"
    return f"{PBX_RECORDINGS_DIR}/{rel}", recordings_dir / rel


# ----------------------------------------------------------------------------- callers


def cedula_keys(cedula: str) -> str:
    """A numeric cédula as keyed on the phone: ``8-123-4567`` → ``8*123*4567#``."""
    return cedula.replace("-", "*") + "#"


def caller_script(
    rng: random.Random, *, known_citizen: str | None, case_numbers: Sequence[str]
) -> list[CallerAction]:
    """What one caller keys in the inbound IVR: a random menu path, sometimes wrong keys."""
    actions: list[CallerAction] = []
    if rng.random() < 0.1:
        actions.append(Press(rng.choice("789")))  # not a menu key: the IVR reprompts
    choice = rng.choices(
        ["caso", "denuncia", "estado", "consulta", "agente", "cuelga"],
        weights=[35, 8, 15, 20, 17, 5],
    )[0]
    if choice == "cuelga":
        actions += [Press(rng.choice("1346")), HangUp()]
        return actions
    if choice == "consulta":
        return [*actions, Press("6")]
    if choice == "agente":
        return [*actions, Press("0")]
    if choice == "estado":
        number = (
            rng.choice(case_numbers)
            if case_numbers and rng.random() < 0.7
            else f"{datetime.now(UTC).year}{rng.randint(1, 999999):06d}"
        )
        # Simulated callers do not know tracking codes (only hashes are stored): their
        # lookups are refused like a stranger's, which exercises the refusal path.
        code = Press(f"{rng.randint(0, 999999):06d}")
        then = rng.choice([Press("0"), Timeout(), Press("1"), Timeout()])
        actions += [Press("5"), Press(number), code, then]
        if isinstance(then, Press) and then.digits == "1":
            actions += [Press(number), code, Timeout()]
        return actions
    if choice == "denuncia":
        anonymous = rng.random() < 0.5
        actions += [Press("2"), Press("1" if anonymous else "2")]
        if anonymous:
            return actions
    else:
        actions.append(Press(rng.choice("134")))
    if known_citizen is not None:
        # Confirms the caller-ID match when offered; otherwise "1" is a wrong cédula and the
        # next try is the right one.
        return [*actions, Press("1"), Press(cedula_keys(known_citizen))]
    if rng.random() < 0.15:
        actions.append(Press("12#"))  # too short: the IVR says the cédula is not valid
    cedula = f"{rng.randint(1, 9)}-{rng.randint(1, 999)}-{rng.randint(1, 9999)}"
    return [*actions, Press(cedula_keys(cedula))]


# ----------------------------------------------------------------------------- simulator


AnsweredHook = Callable[[AmiMessage, str, str], None]


class TrafficSimulator(AmiSimulator):
    """An AmiSimulator that also reports answered async Originates (the callback legs)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.answered_originate_hooks: list[AnsweredHook] = []
        self._hurry = asyncio.Event()

    def hurry(self) -> None:
        """Give every Originate still ringing its outcome now (used when the demo stops, so
        the dialer is not kept waiting for a simulated ring timeout)."""
        self._hurry.set()

    def _later(self, delay: float, fn: Callable[..., None], *args: object) -> None:
        async def run() -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hurry.wait(), max(delay, 0.0))
            fn(*args)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _originate_done(
        self, session: _Session | None, m: AmiMessage, outcome: OriginateOutcome
    ) -> None:
        before = set(self.channels)
        super()._originate_done(session, m, outcome)
        if not outcome.answered or session is not None:
            return
        for uid in set(self.channels) - before:
            for hook in self.answered_originate_hooks:
                hook(m, self.channels[uid].name, uid)


def originate_variables(m: AmiMessage) -> dict[str, str]:
    """The ``Variable: NAME=value`` headers of an Originate action."""
    out: dict[str, str] = {}
    for raw in m.get_all("Variable"):
        for item in raw.split(","):
            name, sep, value = item.partition("=")
            if sep:
                out[name.strip()] = value
    return out


# ----------------------------------------------------------------------------- generator


@dataclass
class _Waiting:
    leg: Leg
    joined: float
    original_position: int
    ringing: bool = False


@dataclass
class TrafficStats:
    """Counters a demo prints and tests check."""

    started: int = 0
    ivr_only: int = 0
    queued: int = 0
    answered: int = 0
    abandoned: int = 0
    ring_no_answer: int = 0
    callbacks_answered: int = 0
    by_interface: dict[str, int] = field(default_factory=dict)


EventListener = Callable[[Pairs], None]


class TrafficGenerator:
    """Generates calls on an :class:`AmiSimulator` until :meth:`stop` (see module docstring)."""

    def __init__(
        self,
        sim: AmiSimulator,
        *,
        fastagi_host: str,
        fastagi_port: int,
        recordings_dir: Path,
        profile: TrafficProfile | None = None,
        queue: str = "cac311",
        seed: int | None = None,
        case_numbers: Callable[[], Awaitable[Sequence[str]]] | None = None,
        known_callers: Sequence[tuple[str, str]] = DEMO_CALLERS,
    ) -> None:
        self.sim = sim
        self.fastagi_host = fastagi_host
        self.fastagi_port = fastagi_port
        self.recordings_dir = Path(recordings_dir)
        self.profile = profile or TrafficProfile()
        self.queue = queue
        self.rng = random.Random(seed)
        self.case_numbers_provider = case_numbers
        self.known_callers = tuple(known_callers)
        self.queued_uniqueids: set[str] = set()
        self.listeners: list[EventListener] = []
        self.stats = TrafficStats()
        self.bot_interfaces: list[str] = []
        self._waiting: list[_Waiting] = []
        self._busy: set[str] = set()
        self._last_call: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._arrivals: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._case_numbers: list[str] = []
        start = time.time_ns() // 1000 % 10_000_000
        self._uid_seq = itertools.count(start)
        self._chan_seq = itertools.count(start % 0xFFFF * 0x100)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Create the queue and bots, hook callbacks, and start the arrivals."""
        q = self.sim.queues.setdefault(self.queue, SimQueue(self.queue))
        self.sim.originate_policy = self.originate_policy
        if isinstance(self.sim, TrafficSimulator):
            self.sim.answered_originate_hooks.append(self._on_answered_originate)
        for n in range(1, self.profile.bots + 1):
            interface = f"Local/{900 + n}@cac311-bots/n"
            if interface not in q.members:
                self.add_member(interface, f"Agente virtual {n}")
            self.bot_interfaces.append(interface)
        if self.profile.calls_per_minute > 0:
            self._arrivals = asyncio.create_task(self._arrival_loop(), name="traffic-arrivals")

    async def stop(self) -> None:
        """Stop new calls and end the ones in progress (their tasks are cancelled)."""
        self._stopping.set()
        if isinstance(self.sim, TrafficSimulator):
            self.sim.hurry()
        tasks = [t for t in [self._arrivals, *self._tasks] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
        self._arrivals = None

    def add_member(self, interface: str, name: str) -> SimMember:
        """Add a dynamic member the way app_queue reports QueueAdd (no AMI session needed)."""
        member = SimMember(
            self.queue,
            interface,
            name,
            interface,
            membership="dynamic",
            login_time=int(time.time()),
        )
        self.emit(device_state(f"Queue:{self.queue}_pause_{interface}", "NOT_INUSE"))
        self.emit(member_event("QueueMemberAdded", member))
        return self.sim.queues[self.queue].members[interface]

    def emit(self, pairs: Pairs) -> None:
        """Send one event through the simulator (which applies it to its state)."""
        for listener in self.listeners:
            listener(pairs)
        self.sim.emit(pairs)

    def spawn_call(self, **kwargs: object) -> asyncio.Task[None]:
        """Start one inbound call now (also used by tests with a fixed ``script``)."""
        task = asyncio.create_task(self.inbound_call(**kwargs))  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _arrival_loop(self) -> None:
        rate = self.profile.calls_per_minute / 60.0  # arrivals are in real time
        while not self._stopping.is_set():
            if self.case_numbers_provider is not None and self.stats.started % 20 == 0:
                with contextlib.suppress(Exception):
                    self._case_numbers = list(await self.case_numbers_provider())
            self.spawn_call()
            await asyncio.sleep(self.rng.expovariate(rate))

    # ------------------------------------------------------------------ one inbound call
    def _uid(self) -> str:
        return f"{int(time.time())}.{next(self._uid_seq)}"

    def _leg_name(self, base: str) -> str:
        return f"{base}-{next(self._chan_seq) & 0xFFFFFFFF:08x}"

    async def inbound_call(
        self,
        *,
        script: Iterable[CallerAction] | None = None,
        caller_num: str | None = None,
        patience: float | None = None,
    ) -> None:
        """One citizen: IVR through FastAGI, then the queue, an agent or an abandon."""
        p, rng = self.profile, self.rng
        self.stats.started += 1
        known: str | None = None
        if caller_num is None:
            if self.known_callers and rng.random() < 0.35:
                known, caller_num = rng.choice(self.known_callers)
            else:
                caller_num = f"6{rng.randint(0, 9999999):07d}"
        if script is None:
            script = caller_script(rng, known_citizen=known, case_numbers=self._case_numbers)
        base = self._leg_name(f"Local/{INBOUND_EXTEN}@{INBOUND_CONTEXT}")
        uid1 = self._uid()
        one = Leg(
            f"{base};1",
            uid1,
            uid1,
            caller_num,
            INBOUND_CONTEXT,
            INBOUND_EXTEN,
            state="0",
            state_desc="Down",
        )
        two = Leg(
            f"{base};2",
            self._uid(),
            uid1,
            caller_num,
            INBOUND_CONTEXT,
            INBOUND_EXTEN,
            state="4",
            state_desc="Ring",
        )
        started_at = time.monotonic()
        self.emit(newchannel(one))
        self.emit(newchannel(two))
        for leg in (one, two):
            leg.state, leg.state_desc = "6", "Up"
        reported, local = recording_paths(two.uniqueid, datetime.now(UTC), self.recordings_dir)
        dialplan_vars = {
            "CAC311_CALL_KIND": "inbound",
            "CAC311_GREETED": "1",
            "CAC311_RECORDING": reported,
        }
        two.priority = "3"
        for name, value in dialplan_vars.items():
            self.emit(varset(two, name, value))
        self.emit(varset(two, "MIXMONITOR_FILENAME", reported))
        self.emit(mixmonitor_start(two))
        try:
            two.priority = "4"
            call = SimulatedAgiCall(
                self.fastagi_host,
                self.fastagi_port,
                "inbound",
                caller=list(script),
                callerid=caller_num,
                uniqueid=two.uniqueid,
                linkedid=uid1,
                channel=two.name,
                variables=dialplan_vars,
            )
            await asyncio.sleep(p.scaled(rng.uniform(*p.ivr_seconds)))
            result = await call.run()
            for name, value in call.variables.items():
                if dialplan_vars.get(name) != value:
                    self.emit(varset(two, name, value))
            self.emit(varset(two, "AGISTATUS", result.agi_status))
            if result.agi_status == "HANGUP" or call.variables.get("CAC311_NEXT") == "hangup":
                self.stats.ivr_only += 1
                await self._finish_recording(local, started_at)
                self.emit(hangup(one))
                self.emit(hangup(two))
                return
            two.priority = "6"
            await self._queue(one, two, local, started_at, patience)
        except asyncio.CancelledError:
            # The demo is stopping: close the channels so the tracker ends the call.
            with contextlib.suppress(Exception):
                self._waiting = [w for w in self._waiting if w.leg is not two]
                if two.uniqueid in self.sim.channels:
                    self.emit(hangup(one))
                    self.emit(hangup(two))
            raise

    async def _queue(
        self, one: Leg, two: Leg, local: Path, started_at: float, patience: float | None
    ) -> None:
        p, rng = self.profile, self.rng
        q = self.sim.queues[self.queue]
        position = len(q.entries) + 1
        self.emit(queue_caller_join(two, self.queue, position, position))
        self.queued_uniqueids.add(two.uniqueid)
        self.stats.queued += 1
        waiting = _Waiting(two, time.monotonic(), position)
        self._waiting.append(waiting)
        if patience is None:
            patience = p.scaled(max(p.patience_min, rng.expovariate(1 / p.patience_mean)))
        deadline = waiting.joined + patience
        try:
            while True:
                member = await self._claim(waiting, deadline)
                if member is None:
                    await self._abandon(one, two, waiting, local, started_at)
                    return
                if await self._offer(one, two, waiting, member, local, started_at):
                    return
        finally:
            if waiting in self._waiting:
                self._waiting.remove(waiting)

    def _free_members(self) -> list[SimMember]:
        q = self.sim.queues.get(self.queue)
        if q is None:
            return []
        free = [
            m
            for m in q.members.values()
            if not m.paused and m.status in (1, 5) and m.interface not in self._busy
        ]
        # leastrecent; on a tie a person goes before a bot.
        return sorted(
            free,
            key=lambda m: (
                self._last_call.get(m.interface, 0.0),
                m.interface in self.bot_interfaces,
            ),
        )

    async def _claim(self, waiting: _Waiting, deadline: float) -> SimMember | None:
        while True:
            if time.monotonic() >= deadline:
                return None
            head = next((w for w in self._waiting if not w.ringing), None)
            if head is waiting:
                free = self._free_members()
                if free:
                    member = free[0]
                    self._busy.add(member.interface)
                    waiting.ringing = True
                    return member
            await asyncio.sleep(0.1)

    def _agent_legs(self, member: SimMember, caller: Leg) -> list[Leg]:
        base = member.interface.removesuffix("/n")
        context = base.split("@", 1)[1] if "@" in base else "cac311-phones"
        name = self._leg_name(base)
        uid = self._uid()
        if base.startswith("Local/"):
            first = Leg(
                f"{name};1",
                uid,
                caller.linkedid,
                caller.caller_num,
                context,
                caller.exten,
                state="0",
                state_desc="Down",
            )
            second = Leg(
                f"{name};2",
                self._uid(),
                caller.linkedid,
                caller.caller_num,
                context,
                base.split("/", 1)[1].split("@", 1)[0],
                state="0",
                state_desc="Down",
            )
            return [first, second]
        return [
            Leg(
                name,
                uid,
                caller.linkedid,
                caller.caller_num,
                context,
                caller.exten,
                state="0",
                state_desc="Down",
            )
        ]

    def _member_status(self, member: SimMember, status: int, *, completed: bool = False) -> None:
        q = self.sim.queues.get(self.queue)
        current = q.members.get(member.interface) if q else None
        if current is None:  # removed meanwhile: nothing to report
            return
        snapshot = SimMember(**{k: getattr(current, k) for k in SimMember.__dataclass_fields__})
        snapshot.status = status
        if completed:
            snapshot.calls_taken += 1
            snapshot.last_call = int(time.time())
        self.emit(member_event("QueueMemberStatus", snapshot))

    async def _offer(
        self,
        one: Leg,
        two: Leg,
        waiting: _Waiting,
        member: SimMember,
        local: Path,
        started_at: float,
    ) -> bool:
        """Ring ``member``; True when the call was answered and has ended."""
        p, rng = self.profile, self.rng
        is_bot = member.interface in self.bot_interfaces
        legs = self._agent_legs(member, two)
        agent = legs[0]
        ring_started = time.monotonic()
        try:
            for leg in legs:
                self.emit(newchannel(leg))
            self.emit(agent_called(two, agent, member))
            rings_out = is_bot and rng.random() < p.ring_no_answer_share
            if rings_out:
                await asyncio.sleep(p.scaled(p.ring_timeout_seconds))
                agent.state, agent.state_desc = "5", "Ringing"
                ring_ms = int((time.monotonic() - ring_started) * 1000)
                self.emit(agent_ring_no_answer(two, agent, member, ring_ms))
                for leg in reversed(legs):
                    self.emit(hangup(leg))
                self.stats.ring_no_answer += 1
                waiting.ringing = False
                return False
            answer = rng.uniform(*p.bot_answer_seconds) if is_bot else p.human_answer_seconds
            await asyncio.sleep(p.scaled(answer))
            for leg in legs:
                leg.state, leg.state_desc = "6", "Up"
            ring = int(time.monotonic() - ring_started)
            self._member_status(member, 2)
            position = self._position(two)
            if waiting in self._waiting:
                self._waiting.remove(waiting)
            self.emit(queue_caller_leave(two, self.queue, position, max(0, position - 1)))
            hold = int(time.monotonic() - waiting.joined)
            self.emit(agent_connect(two, agent, member, hold, ring))
            self.stats.answered += 1
            self.stats.by_interface[member.interface] = (
                self.stats.by_interface.get(member.interface, 0) + 1
            )
            bridge_id = str(uuid.uuid4())
            self.emit(_bridge("BridgeCreate", bridge_id, 0))
            self.emit(bridge_enter(bridge_id, 1, agent))
            self.emit(bridge_enter(bridge_id, 2, two))
            connected = time.monotonic()
            talk = rng.uniform(*p.bot_talk_seconds) if is_bot else p.human_talk_seconds
            await asyncio.sleep(p.scaled(talk))
            await self._finish_recording(local, started_at)
            if len(legs) > 1:
                self.emit(hangup(legs[1]))
            self.emit(agent_complete(two, agent, member, hold, int(time.monotonic() - connected)))
            self._member_status(member, 1, completed=True)
            self.emit(bridge_leave(bridge_id, 1, agent))
            self.emit(hangup(agent))
            self.emit(bridge_leave(bridge_id, 0, two))
            self.emit(hangup(one))
            self.emit(hangup(two))
            return True
        except asyncio.CancelledError:
            for leg in legs:
                if leg.uniqueid in self.sim.channels:
                    with contextlib.suppress(Exception):
                        self.emit(hangup(leg))
            raise
        finally:
            self._busy.discard(member.interface)
            self._last_call[member.interface] = time.monotonic()

    def _position(self, leg: Leg) -> int:
        q = self.sim.queues.get(self.queue)
        entries = q.entries if q else []
        for pos, entry in enumerate(entries, start=1):
            if entry.uniqueid == leg.uniqueid:
                return pos
        return 1

    async def _abandon(
        self, one: Leg, two: Leg, waiting: _Waiting, local: Path, started_at: float
    ) -> None:
        position = self._position(two)
        hold = int(time.monotonic() - waiting.joined)
        await self._finish_recording(local, started_at)
        self.emit(hangup(one))
        self.emit(varset(two, "ABANDONED", "TRUE"))
        self.emit(queue_caller_abandon(two, self.queue, position, waiting.original_position, hold))
        q = self.sim.queues.get(self.queue)
        count = len(q.entries) - 1 if q else 0
        self.emit(queue_caller_leave(two, self.queue, position, max(0, count)))
        self.emit(hangup(two))
        self.stats.abandoned += 1

    async def _finish_recording(self, local: Path, started_at: float) -> None:
        seconds = min(self.profile.max_recording_seconds, time.monotonic() - started_at)
        try:
            await asyncio.to_thread(write_wav, local, max(0.5, seconds))
        except OSError as err:
            log.warning("could not write a demo recording: %s", type(err).__name__)

    # ------------------------------------------------------------------ callbacks
    def originate_policy(self, channel: str) -> OriginateOutcome:
        """Answered, busy or no answer, with ringing delays scaled by ``speed``."""
        p, rng = self.profile, self.rng
        draw = rng.random()
        if draw < p.callback_answer_share:
            return OriginateOutcome(
                ANSWERED.reason, p.scaled(rng.uniform(*p.callback_answer_seconds))
            )
        if draw < p.callback_answer_share + p.callback_busy_share:
            return OriginateOutcome(BUSY.reason, p.scaled(rng.uniform(1.0, 3.0)))
        return OriginateOutcome(NO_ANSWER.reason, p.scaled(20.0))

    def _on_answered_originate(self, m: AmiMessage, channel: str, uniqueid: str) -> None:
        if self._stopping.is_set():  # nobody runs the dialplan any more: hang it up
            self.emit(hangup(Leg(channel, uniqueid, uniqueid, "311", CALLBACK_CONTEXT, "s")))
            return
        task = asyncio.get_running_loop().create_task(self._callback_leg(m, channel, uniqueid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _callback_leg(self, m: AmiMessage, channel: str, uniqueid: str) -> None:
        """``[cac311-callback]``: the followup or satisfaction route, then hang up."""
        rng = self.rng
        variables = originate_variables(m)
        kind = variables.get("CAC311_CALLBACK_KIND", "")
        route = "satisfaction" if kind == "satisfaccion" else "followup"
        variables.update({"CAC311_CALL_KIND": "callback", "CAC311_GREETED": "1"})
        if route == "satisfaction":
            script: list[CallerAction] = [
                Press(rng.choice("1112")),
                Press(rng.choice("12345")) if rng.random() < 0.9 else Timeout(),
            ]
        else:
            script = [rng.choice([Timeout(), Press("2"), Press("1"), Timeout()])]
        leg = Leg(channel, uniqueid, uniqueid, "311", CALLBACK_CONTEXT, "s")
        try:
            call = SimulatedAgiCall(
                self.fastagi_host,
                self.fastagi_port,
                route,
                caller=script,
                callerid="311",
                uniqueid=uniqueid,
                channel=channel,
                context=CALLBACK_CONTEXT,
                extension="s",
                variables=variables,
            )
            await call.run()
            self.stats.callbacks_answered += 1
        finally:
            if uniqueid in self.sim.channels:
                self.emit(hangup(leg))
