#!/usr/bin/env python3
"""Screen-pop latency: AMI AgentConnect -> message on the agent's WebSocket.

Three processes, as ``cac311 serve --only ami`` and ``--only web`` would run them:

- this one: the Asterisk AMI simulator (``asterisk_sim.ami.AmiSimulator``) and ``--agents``
  WebSocket clients (one per logged-in agent, sessions created in ``web_sessions`` directly);
- the AMI side: ``ami.client.AmiClient`` + ``ami.bridge.AmiBridge`` (call tracker, call rows,
  ``build_pop``, ``agent_desktop.pop_bus.publish_pop`` -> NOTIFY);
- the web side: ``agent_desktop.app.init_app`` (LISTEN, the pop from the notification itself,
  hub, one writer per socket).

Calls arrive at ``--rate`` per second. Each is the event sequence of the captured
``ami-queue-call-answered``: VarSet CAC311_INTENT, QueueCallerJoin, then ``--wait`` seconds
later QueueCallerLeave + AgentConnect (to agent ``k mod agents``), then ``--talk`` seconds
later AgentComplete + Hangup (which closes the pop: a ``pop_closed`` message). The latency is
measured from just before the simulator writes AgentConnect to the moment the agent's
client decodes the ``pop`` message; CLOCK_MONOTONIC is shared by the processes, so the
bridge's timestamps (AgentConnect handled, ``publish_pop`` start and commit) split it up.
The bench subclasses AmiBridge and wraps ``publish_pop`` in the AMI process only for those
timestamps; no project file is changed.

    python bench/pop_latency.py --agents 500 --rate 50 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import random
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
from _common import (  # noqa: E402
    add_db_args,
    drop_database,
    dsn,
    machine,
    recreate_database,
    summary,
)

SERVER = "pbx1"
QUEUE = "cac311"
KNOWN_CALLER = "61234567"  # the seeded demo citizen: the pop carries a citizen card


def product_filter() -> Any:
    """The eventfilter lines of user [cac311] in asterisk_conf/manager.conf."""
    from ami.event_filter import EventFilter
    from asterisk_sim.conf import parse_config, sample_resolver

    conf = parse_config(HERE.parent / "asterisk_conf" / "manager.conf", resolve=sample_resolver)
    user = conf.section("cac311")
    return EventFilter.from_lines((v.name, v.value) for v in user.variables)


def interface_of(n: int) -> str:
    return f"PJSIP/bench{n:04d}"


# ---- web process --------------------------------------------------------------------------


class NoQueueControl:
    """The desktop's telephony port; never used by this benchmark."""

    async def queue_add(self, queue: str, interface: str, member_name: str) -> None: ...
    async def queue_pause(self, queue: str, interface: str, paused: bool, reason: str) -> None: ...
    async def queue_remove(self, queue: str, interface: str) -> None: ...
    async def redirect_to_readback(
        self, channel: str, case_number: str, server: str | None = None
    ) -> None: ...


def web_process(url: str, conn: Any) -> None:
    asyncio.run(_web(url, conn))


async def _web(url: str, conn: Any) -> None:
    from aiohttp import web

    from agent_desktop.app import LISTENER, init_app
    from cac311.config import Settings
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.uow import UnitOfWorkFactory

    engine = make_engine(url)
    app = init_app(
        Settings(database_url=url),
        uow_factory=UnitOfWorkFactory(make_sessionmaker(engine)),
        engine=engine,
        queue_control=NoQueueControl(),
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    await asyncio.wait_for(app[LISTENER].connected.wait(), 10)
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    conn.send(port)
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    await runner.cleanup()
    await engine.dispose()


# ---- AMI process --------------------------------------------------------------------------


def ami_process(url: str, ami_port: int, conn: Any, profile: str | None = None) -> None:
    asyncio.run(_ami(url, ami_port, conn, profile))


async def _ami(url: str, ami_port: int, conn: Any, profile: str | None = None) -> None:
    from zoneinfo import ZoneInfo

    import agent_desktop.pop_bus as bus
    from ami.bridge import AmiBridge
    from ami.client import AmiClient, AmiConfig
    from ami.event_filter import BACKEND_FILTER
    from ami.events import AgentConnect
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.uow import UnitOfWorkFactory

    handled: dict[str, float] = {}
    published: dict[str, tuple[float, float]] = {}
    real_publish = bus.publish_pop

    async def timed_publish(uow_factory: Any, pop: dict[str, Any], **kw: Any) -> int:
        t0 = time.perf_counter()
        pop_id = await real_publish(uow_factory, pop, **kw)
        published[pop["call"]["uniqueid"]] = (t0, time.perf_counter())
        return pop_id

    bus.publish_pop = timed_publish  # type: ignore[assignment]  # the bridge imports it per call

    class TimedBridge(AmiBridge):
        async def handle(self, event: Any) -> None:
            if isinstance(event, AgentConnect):
                handled[event.uniqueid] = time.perf_counter()
            await super().handle(event)

    engine = make_engine(url)
    bridge = TimedBridge(
        UnitOfWorkFactory(make_sessionmaker(engine)), tz=ZoneInfo("America/Panama")
    )
    client = AmiClient(
        AmiConfig(
            host="127.0.0.1",
            port=ami_port,
            username="cac311",
            secret="s3cret",
            server=SERVER,
            ping_interval=30.0,
            action_timeout=5.0,
            event_filter=BACKEND_FILTER,  # as cac311 serve configures it
        )
    )
    bridge.attach(client)
    await client.start()
    await client.wait_up(10)
    conn.send("ready")
    profiler = None
    if profile:  # --profile: cProfile of the AMI process during the traffic
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    cpu1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    await client.stop()
    await bridge.drain()
    await engine.dispose()
    cpu = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
    conn.send(
        {
            "handled": handled,
            "published": published,
            "errors": bridge.errors,
            "cpu": f"AMI process CPU {cpu:.1f} s in {t1 - t0:.1f} s "
            f"({100 * cpu / (t1 - t0):.0f} %)",
            "cpu_seconds": cpu,
        }
    )


def publisher_process(
    url: str, agents: int, rate: float, seconds: float, talk: float, conn: Any
) -> None:
    asyncio.run(_publisher(url, agents, rate, seconds, talk, conn))


async def _publisher(
    url: str, agents: int, rate: float, seconds: float, talk: float, conn: Any
) -> None:
    """``--path publish``: build_pop + publish_pop directly, ``rate`` per second."""
    from zoneinfo import ZoneInfo

    from agent_desktop.pop_bus import close_pop, publish_pop
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.services.screen_pop import build_pop

    engine = make_engine(url)
    uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
    rng = random.Random(311)
    published: dict[str, tuple[float, float]] = {}
    conn.send("ready")
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "go"
    loop = asyncio.get_running_loop()

    async def one(k: int) -> None:
        uid = f"1797{k:06d}.{2 * k + 1}"
        now = datetime.now(UTC)
        caller = KNOWN_CALLER if rng.random() < 0.3 else f"6{rng.randrange(10**7):07d}"
        pop = await build_pop(
            uow_factory, call_uniqueid=uid, linkedid=f"1797{k:06d}.{2 * k}",
            caller_number=caller, agent_interface=interface_of(k % agents),
            ivr_variables={"CAC311_INTENT": "queja"}, connected_at=now,
            tz=ZoneInfo("America/Panama"),
        )  # fmt: skip
        t0 = time.perf_counter()
        await publish_pop(uow_factory, pop, now=now)
        published[uid] = (t0, time.perf_counter())
        await asyncio.sleep(talk)
        await close_pop(uow_factory, uid, datetime.now(UTC))

    tasks = []
    start = loop.time()
    for k in range(int(rate * seconds)):
        delay = start + k / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(k)))
    await asyncio.gather(*tasks)
    await engine.dispose()
    conn.send({"handled": {}, "published": published, "errors": 0, "cpu": ""})


# ---- the agents' browsers -----------------------------------------------------------------


class Inbox:
    """When each pop arrived, by call uniqueid; ``done`` is set once ``expected`` are in."""

    def __init__(self) -> None:
        self.received: dict[str, float] = {}
        self.expected = 0
        self.done = asyncio.Event()

    def add(self, uniqueid: str) -> None:
        self.received[uniqueid] = time.perf_counter()
        if self.expected and len(self.received) >= self.expected:
            self.done.set()


class Agent:
    """One logged-in desktop: a WebSocket that records when each pop arrives."""

    def __init__(self, n: int, token: str, inbox: Inbox) -> None:
        self.n = n
        self.token = token
        self.inbox = inbox
        self.ready = asyncio.Event()
        self.pops = 0
        self.closed_msgs = 0

    async def run(self, session: aiohttp.ClientSession, port: int) -> None:
        origin = f"http://127.0.0.1:{port}"
        async with session.ws_connect(
            f"{origin}/ws",
            headers={"Origin": origin, "Cookie": f"cac311_sesion={self.token}"},
            heartbeat=None,
        ) as ws:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(msg.data)
                kind = data.get("type")
                if kind == "hello":
                    self.ready.set()
                elif kind == "pop":
                    self.inbox.add(data["pop"]["call"]["uniqueid"])
                    self.pops += 1
                elif kind == "pop_closed":
                    self.closed_msgs += 1


# ---- AMI traffic --------------------------------------------------------------------------


def _channel_fields(k: int, uid: str, linkedid: str, caller: str, priority: int) -> list:
    return [
        ("Channel", f"Local/311@cac311-inbound-{k:08x};2"), ("ChannelState", "6"),
        ("ChannelStateDesc", "Up"), ("CallerIDNum", caller), ("CallerIDName", "<unknown>"),
        ("ConnectedLineNum", caller), ("ConnectedLineName", "<unknown>"), ("Language", "es"),
        ("AccountCode", ""), ("Context", "cac311-inbound"), ("Exten", "311"),
        ("Priority", str(priority)), ("Uniqueid", uid), ("Linkedid", linkedid),
    ]  # fmt: skip


def _dest_fields(k: int, agent: str, caller: str, uid: str, linkedid: str) -> list:
    return [
        ("DestChannel", f"Local/100@agents-{k:08x};1"), ("DestChannelState", "6"),
        ("DestChannelStateDesc", "Up"), ("DestCallerIDNum", caller),
        ("DestCallerIDName", "<unknown>"), ("DestConnectedLineNum", caller),
        ("DestConnectedLineName", "<unknown>"), ("DestLanguage", "es"),
        ("DestAccountCode", ""), ("DestContext", "agents"), ("DestExten", "311"),
        ("DestPriority", "1"), ("DestUniqueid", f"{uid}9"), ("DestLinkedid", linkedid),
        ("Queue", QUEUE), ("Interface", agent), ("MemberName", agent),
    ]  # fmt: skip


class Traffic:
    """Emits the AMI events of ``rate`` calls per second for ``seconds``."""

    def __init__(
        self, sim: Any, agents: int, rate: float, seconds: float, wait: float, talk: float
    ) -> None:
        self.sim = sim
        self.agents = agents
        self.rate = rate
        self.seconds = seconds
        self.wait = wait
        self.talk = talk
        self.connected_at: dict[str, float] = {}
        self.events = 0
        self.lag: list[float] = []  # how late the generator emitted AgentConnect
        self.rng = random.Random(311)

    def emit(self, fields: list) -> None:
        self.sim.emit(fields)
        self.events += 1

    async def call(self, k: int, start: float) -> None:
        uid = f"1796{k:06d}.{2 * k + 1}"
        linkedid = f"1796{k:06d}.{2 * k}"
        caller = KNOWN_CALLER if self.rng.random() < 0.3 else f"6{self.rng.randrange(10**7):07d}"
        agent = interface_of(k % self.agents)
        base = _channel_fields(k, uid, linkedid, caller, 4)
        self.emit(
            [
                ("Event", "VarSet"),
                ("Privilege", "dialplan,all"),
                *base,
                ("Variable", "CAC311_INTENT"),
                ("Value", "queja"),
            ]
        )
        base = _channel_fields(k, uid, linkedid, caller, 6)
        self.emit(
            [
                ("Event", "QueueCallerJoin"),
                ("Privilege", "agent,all"),
                *base,
                ("Queue", QUEUE),
                ("Position", "1"),
                ("Count", "1"),
            ]
        )
        await asyncio.sleep(self.wait)
        self.emit(
            [
                ("Event", "QueueCallerLeave"),
                ("Privilege", "agent,all"),
                *base,
                ("Queue", QUEUE),
                ("Position", "1"),
                ("Count", "0"),
            ]
        )
        dest = _dest_fields(k, agent, caller, uid, linkedid)
        t0 = time.perf_counter()
        self.connected_at[uid] = t0
        self.emit(
            [
                ("Event", "AgentConnect"),
                ("Privilege", "agent,all"),
                *base,
                *dest,
                ("HoldTime", str(int(self.wait))),
                ("RingTime", "0"),
            ]
        )
        await asyncio.sleep(self.talk)
        self.emit(
            [
                ("Event", "AgentComplete"),
                ("Privilege", "agent,all"),
                *base,
                *dest,
                ("HoldTime", str(int(self.wait))),
                ("TalkTime", str(int(self.talk))),
                ("Reason", "agent"),
            ]
        )
        self.emit(
            [
                ("Event", "Hangup"),
                ("Privilege", "call,all"),
                *base,
                ("Cause", "16"),
                ("Cause-txt", "Normal Clearing"),
            ]
        )

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        tasks = []
        start = loop.time()
        n = int(self.rate * self.seconds)
        for k in range(n):
            delay = start + k / self.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.call(k, start)))
        await asyncio.gather(*tasks)
        return n


class RealTraffic:
    """``rate`` calls per second of the real event mix (``asterisk_sim.transcript_calls``:
    the 224 events of a captured answered call, identifiers rewritten), each call's events
    at their captured times divided by ``speed``."""

    def __init__(self, sim: Any, agents: int, rate: float, seconds: float, speed: float) -> None:
        from asterisk_sim.transcript_calls import TranscriptCall

        self.sim = sim
        self.template = TranscriptCall()
        self.agents = agents
        self.rate = rate
        self.seconds = seconds
        self.speed = speed
        self.connected_at: dict[str, float] = {}
        self.events = 0
        self.rng = random.Random(311)

    async def call(self, k: int) -> None:
        caller = KNOWN_CALLER if self.rng.random() < 0.3 else f"6{self.rng.randrange(10**7):07d}"
        agent = interface_of(k % self.agents)
        events = self.template.instantiate(k, caller=caller, agent=agent, agent_name=agent)
        uid = self.template.identifiers(k, caller=caller, agent=agent)["uid2"]
        loop = asyncio.get_running_loop()
        start = loop.time()
        for at, fields in events:
            delay = start + at / self.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if fields[0][1] == "AgentConnect":
                self.connected_at[uid] = time.perf_counter()
            self.sim.emit(fields)
            self.events += 1

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        tasks = []
        start = loop.time()
        n = int(self.rate * self.seconds)
        for k in range(n):
            delay = start + k / self.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.call(k)))
        await asyncio.gather(*tasks)
        return n


# ---- setup ------------------------------------------------------------------------------


async def prepare(args: argparse.Namespace) -> tuple[str, list[str]]:
    """Bench database with the directory and ``agents`` agent users, each logged in."""
    from agent_desktop.sessions import create_session
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.migrate import upgrade_async
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.security import hash_password
    from case_core.seed.loader import seed

    now = datetime.now(UTC)
    url = await recreate_database(args.server_url, args.db_name)
    await upgrade_async(url)
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.execute(
            """
            INSERT INTO users (username, full_name, role, password_hash, phone_interface, active)
            SELECT 'bench' || lpad(n::text, 4, '0'), 'Agente ' || n, 'agent', $2,
                   'PJSIP/bench' || lpad(n::text, 4, '0'), true
            FROM generate_series(0, $1::int - 1) n
            """,
            args.agents,
            hash_password("bench-" + "x" * 8),
        )
        ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM users WHERE username LIKE 'bench%' ORDER BY username"
            )
        ]
    finally:
        await conn.close()
    engine = make_engine(url)
    try:
        uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
        await seed(uow_factory, now=now, demo_users=True)
        tokens = [
            await create_session(uow_factory, user_id=i, now=now, max_age_seconds=8 * 3600)
            for i in ids
        ]
    finally:
        await engine.dispose()
    return url, tokens


async def main_async(args: argparse.Namespace) -> int:
    from asterisk_sim.ami import AmiSimulator

    url, tokens = await prepare(args)
    ctx = mp.get_context("spawn")
    web_parent, web_child = ctx.Pipe()
    src_parent, src_child = ctx.Pipe()
    sim = AmiSimulator()
    if args.filter == "product":
        sim.event_filter = product_filter()
    await sim.start()
    loop = asyncio.get_running_loop()
    web = ctx.Process(target=web_process, args=(url, web_child), daemon=True)
    web.start()
    if args.path == "ami":
        src = ctx.Process(
            target=ami_process, args=(url, sim.port, src_child, args.profile), daemon=True
        )
    else:
        src = ctx.Process(
            target=publisher_process,
            args=(url, args.agents, args.rate, args.seconds, args.talk, src_child),
            daemon=True,
        )
    src.start()
    agent_tasks: list[asyncio.Task[None]] = []
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        port = await loop.run_in_executor(None, web_parent.recv)
        assert await loop.run_in_executor(None, src_parent.recv) == "ready"
        inbox = Inbox()
        received = inbox.received
        agents = [Agent(n, token, inbox) for n, token in enumerate(tokens)]
        t = time.perf_counter()
        # Agents log in over time: connect in waves (all 500 at once exhausts the web
        # process's pool - 10+10 connections, 5 s timeout - and some sockets get a 500).
        for i in range(0, len(agents), args.connect_batch):
            wave = agents[i : i + args.connect_batch]
            agent_tasks += [asyncio.create_task(a.run(http, port)) for a in wave]
            await asyncio.wait_for(asyncio.gather(*(a.ready.wait() for a in wave)), 60)
        print(
            f"{len(agents)} agent sockets connected in {time.perf_counter() - t:.1f} s "
            f"(waves of {args.connect_batch})"
        )
        load_before = os.getloadavg()[0]
        n = int(args.rate * args.seconds)
        inbox.expected = n
        if args.traffic == "real":
            traffic: Any = RealTraffic(sim, args.agents, args.rate, args.seconds, args.speed)
        else:
            traffic = Traffic(sim, args.agents, args.rate, args.seconds, args.wait, args.talk)
        t = time.perf_counter()
        if args.path == "ami":
            await traffic.run()
        else:
            src_parent.send("go")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(inbox.done.wait(), args.seconds + args.drain)
        sent_for = time.perf_counter() - t
        await asyncio.sleep(min(args.talk, 1.0) + (args.talk if args.path == "publish" else 0))
        if args.path == "ami":
            src_parent.send("stop")
        stats = await loop.run_in_executor(None, src_parent.recv)
        web_parent.send("stop")
        web.join(15)
        src.join(15)

        total, to_bridge, in_bridge, publish, bus = [], [], [], [], []
        starts = traffic.connected_at if args.path == "ami" else {
            uid: p[0] for uid, p in stats["published"].items()
        }  # fmt: skip
        for uid, t0 in starts.items():
            t_ws = received.get(uid)
            if t_ws is not None:
                total.append(t_ws - t0)
            h = stats["handled"].get(uid)
            p = stats["published"].get(uid)
            if h is not None:
                to_bridge.append(h - t0)
                if p is not None:
                    in_bridge.append(p[0] - h)
            if p is not None:
                publish.append(p[1] - p[0])
                if t_ws is not None:
                    bus.append(t_ws - p[1])
        closed = sum(a.closed_msgs for a in agents)
        print(f"\nScreen-pop latency, path={args.path} [{machine()}, load average before "
              f"the traffic {load_before:.2f}]")  # fmt: skip
        delivered = traffic.events - sim.events_filtered_out
        what = (
            f"{args.traffic} traffic, filter {args.filter}: {traffic.events} AMI events, "
            f"{delivered} delivered ({delivered / max(n, 1):.0f} per call, "
            f"{delivered / args.seconds:,.0f}/s)"
            if args.path == "ami"
            else "publish_pop calls"
        )
        print(
            f"  {args.agents} agents connected; {n} calls at {args.rate:g}/s for "
            f"{args.seconds:g} s ({what}); queue wait {args.wait:g} s, talk {args.talk:g} s; "
            f"last pop after {sent_for:.1f} s"
        )
        print(
            f"  pops received {len(received)}/{n}; pop_closed messages {closed}; "
            f"bridge errors {stats['errors']}. {stats['cpu']}"
        )
        if args.path == "ami":
            cpu_ms = stats["cpu_seconds"] * 1000
            print(
                f"  AMI process CPU per call {cpu_ms / max(n, 1):.1f} ms, per delivered event "
                f"{1000 * cpu_ms / max(delivered, 1):.0f} µs"
            )
        if args.path == "ami":
            print(f"  AgentConnect -> pop on the WebSocket        {summary(total)}")
            print("  of which:")
            print(f"    AgentConnect written -> bridge handles it  {summary(to_bridge)}")
            print(f"    tracker, caller facts, agent, assemble     {summary(in_bridge)}")
        else:
            print(f"  publish_pop start -> pop on the WebSocket   {summary(total)}")
            print("  of which:")
        print(f"    publish_pop call (insert, NOTIFY, commit)  {summary(publish)}")
        print(f"    publish_pop returned -> socket (*)         {summary(bus)}")
        print(
            "  (*) NOTIFY, hub, send (a read only for a pop over 8,000 bytes); measured from when "
            "publish_pop returned to its caller, so it can be negative when that process is busy"
        )
    finally:
        for task in agent_tasks:
            task.cancel()
        for task in agent_tasks:
            with contextlib.suppress(BaseException):
                await task
        await http.close()
        await sim.stop()
        for proc in (web, src):
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        if not args.keep:
            await drop_database(args.server_url, args.db_name)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--path",
        choices=("ami", "publish"),
        default="ami",
        help="ami: from AgentConnect through AmiClient+AmiBridge; publish: from publish_pop "
        "(the pop bus and the web process only) (%(default)s)",
    )
    p.add_argument("--agents", type=int, default=500, help="logged-in agents (%(default)s)")
    p.add_argument("--rate", type=float, default=50.0, help="AgentConnects per s (%(default)s)")
    p.add_argument("--seconds", type=float, default=30.0, help="traffic duration (%(default)s)")
    p.add_argument(
        "--traffic",
        choices=("real", "minimal"),
        default="real",
        help="real: the captured call's 224 events per call; minimal: 6 events (%(default)s)",
    )
    p.add_argument(
        "--filter",
        choices=("none", "product"),
        default="none",
        help="product: the simulator applies asterisk_conf/manager.conf's eventfilter",
    )
    p.add_argument(
        "--speed", type=float, default=4.0, help="real traffic: call time divisor (%(default)s)"
    )
    p.add_argument("--wait", type=float, default=0.2, help="queue wait per call (%(default)s s)")
    p.add_argument("--talk", type=float, default=3.0, help="talk time per call (%(default)s s)")
    p.add_argument(
        "--connect-batch",
        type=int,
        default=50,
        help="sockets opened at a time before the traffic starts (%(default)s)",
    )
    p.add_argument(
        "--drain",
        type=float,
        default=30.0,
        help="max seconds to wait for the last pops (%(default)s)",
    )
    p.add_argument(
        "--profile",
        metavar="FILE",
        help="write a cProfile of the AMI process during the traffic to FILE (pstats format)",
    )
    add_db_args(p, "cac311_bench_pop")
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
