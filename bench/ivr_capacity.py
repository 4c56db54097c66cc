#!/usr/bin/env python3
"""IVR capacity: one FastAGI process vs a classic process-per-call AGI script (pyst2).

FastAGI side: ``ivr.agi.server.FastAgiServer`` with the real routes (``ivr.routes``) runs in
its own process (so the simulated Asterisk does not share its event loop); this process runs
``--calls`` simulated channels (``asterisk_sim.agi.SimulatedAgiCall``), at most
``--concurrency`` at a time, each walking the inbound menu with one of five caller scripts
(round-robin). Classic side: ``bench/classic_agi_script.py``, the same flow on pyst2, spawned
once per call with its stdin/stdout connected to the same simulator reply logic.

Measured from the simulator side (like Asterisk would see it):
- command turnaround: from our reply being written to the next command line arriving - the
  server's think time plus both socket hops, and the database when ``--backend db``;
- setup: from connect (or process spawn) to the first command (so the first command is not
  counted as a turnaround);
- call rate: completed calls / wall time.

The timing hook is a subclass (``TimedCall``) overriding the simulator's ``_send``/``_handle``;
``asterisk_sim/agi.py`` is not modified. The classic harness reuses the simulator's reply logic
by pointing its writer at the child's stdin (``PipeCall``).

``--backend db`` creates ``cac311_bench`` (migrated, seeded, one case registered), runs the
real ``DatabaseBackend`` (pool 10+10, 2 s timeout, as ``cac311 serve``; its session log is
written behind by ``ivr.journal``, flushed when the server stops), and drops it at the end
unless ``--keep``. ``--backend fake`` uses an in-memory backend: the protocol cost alone.

The server process also reports the server-side turnaround (reply read → next command
written), how long the flow awaited each backend method (n, p50, p99: where the tail comes
from) and the session journal's counters (written, dropped, retries). ``BENCH_PROFILE=<file>``
in the environment runs the server process under cProfile and writes its stats there.

    python bench/ivr_capacity.py --backend fake --calls 2000 --concurrency 500
    python bench/ivr_capacity.py --backend db --calls 2000 --concurrency 500 --classic-calls 300
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import re
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from _common import (  # noqa: E402
    Stopwatch,
    add_db_args,
    drop_database,
    machine,
    ms,
    percentile,
    recreate_database,
)
from _ivr_fake import (  # noqa: E402
    FAKE_CASE_NUMBER,
    FAKE_TRACKING_CODE,
    KNOWN_CALLER_ID,
    UNKNOWN_CALLER_ID,
    FakeBackend,
)

from asterisk_sim.agi import CallerAction, Press, SimulatedAgiCall, Timeout  # noqa: E402

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Panama


# The tracking code of each case number the bench registered (the fake backend's otherwise).
TRACKING_CODES: dict[str, str] = {}


def caller_scripts(case_number: str) -> list[tuple[str, str, list[CallerAction]]]:
    """(name, caller ID, keys) of the menu walks, used round-robin."""
    code = TRACKING_CODES.get(case_number, FAKE_TRACKING_CODE)
    return [
        ("queja+cedula", UNKNOWN_CALLER_ID, [Press("1"), Press("8*123*4567#")]),
        ("queja+callerid", KNOWN_CALLER_ID, [Press("1"), Press("1")]),
        ("consulta", UNKNOWN_CALLER_ID, [Press("6")]),
        (
            "estado",
            UNKNOWN_CALLER_ID,
            [Press("5"), Press(case_number + "#"), Press(code + "#"), Timeout()],
        ),
        ("reintentos", UNKNOWN_CALLER_ID, [Timeout(), Press("9"), Press("0")]),
    ]


# ---- the simulated Asterisk side, with timestamps ------------------------------------------

#: Seconds a caller takes to press one key (in a cédula, a case number) once prompted.
KEY_SECONDS = 0.4
_ENDPOS = re.compile(rb"endpos=(\d+)")
_RESULT = re.compile(rb"result=(-?\d+)")


def media_seconds(command: str, reply: bytes) -> float:
    """How long a real channel takes to answer ``command`` with ``reply`` (``--pace``): a
    prompt plays for its ``endpos`` samples at 8 kHz (the simulator's prompts last 1 s, shorter
    than the real ones: a harsher load), a key comes after ``KEY_SECONDS``, a digit wait that
    ends with no key lasts its timeout, spoken digits 0.5 s each; the other commands
    (variables, ANSWER, VERBOSE) answer at once, as in Asterisk."""
    words = command.split()
    if words[:2] in (["STREAM", "FILE"], ["CONTROL", "STREAM"]):
        found = _ENDPOS.search(reply)
        return int(found.group(1)) / 8000 if found else 0.0
    if words[:3] == ["WAIT", "FOR", "DIGIT"]:
        result = _RESULT.search(reply)
        if result and result.group(1) == b"0" and len(words) > 3 and words[3].isdigit():
            return int(words[3]) / 1000  # no key: the whole timeout
        return KEY_SECONDS
    if words[:2] == ["GET", "DATA"]:
        result = _RESULT.search(reply)
        keys = len(result.group(1)) if result and result.group(1) != b"-1" else 0
        return 1.0 + KEY_SECONDS * keys
    if words[:2] == ["SAY", "DIGITS"] or words[:2] == ["SAY", "NUMBER"]:
        return 0.5 * len(words[2]) if len(words) > 2 else 0.0
    if words[:1] == ["EXEC"]:
        return 1.0
    return 0.0


class TimedCall(SimulatedAgiCall):
    """A SimulatedAgiCall that timestamps each reply it writes and each command it reads."""

    def __init__(self, *args: Any, pace: float = 0.0, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.turnarounds: list[float] = []
        self.t_start = 0.0
        self.t_first = 0.0
        self.t_end = 0.0
        self._sent_at = 0.0
        self.pace = pace
        self._command: str | None = None

    async def _send(self, data: bytes) -> None:
        if self.pace and self._command is not None:
            # A real channel answers a prompt when it has played, a key when it is pressed.
            delay = media_seconds(self._command, data) * self.pace
            self._command = None
            if delay > 0:
                await asyncio.sleep(delay)
        await super()._send(data)
        self._sent_at = time.perf_counter()

    async def _handle(self, raw: bytes) -> None:
        now = time.perf_counter()
        if not self.t_first:
            self.t_first = now  # the first command: counted as setup, not as turnaround
        else:
            self.turnarounds.append(now - self._sent_at)
        self._command = raw.decode("utf-8", errors="replace").strip().upper()
        await super()._handle(raw)

    async def run(self) -> Any:  # type: ignore[override]
        self.t_start = time.perf_counter()
        result = await super().run()
        self.t_end = time.perf_counter()
        return result


class PipeCall(TimedCall):
    """The same channel, but talking to a classic AGI process over its stdin/stdout."""

    def __init__(self, argv: list[str], *args: Any, **kw: Any) -> None:
        super().__init__("127.0.0.1", 0, "inbound", *args, **kw)
        self.argv = argv
        self.returncode: int | None = None

    async def run(self) -> Any:  # type: ignore[override]
        self.t_start = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert proc.stdin is not None and proc.stdout is not None
        self._writer = proc.stdin  # the simulator's replies go down the pipe
        try:
            await self._send(self.env_bytes)
            async with asyncio.timeout(self.call_timeout):
                while True:
                    line = await proc.stdout.readline()
                    if not line.endswith(b"\n"):
                        break  # the script exited: the AGI is over
                    await self._handle(line)
        except (TimeoutError, OSError):
            pass
        finally:
            proc.stdin.close()
            self.returncode = await proc.wait()
        self.t_end = time.perf_counter()
        return None


# ---- the FastAGI server process -----------------------------------------------------------


def server_process(
    backend_kind: str, url: str | None, db_timeout: float, pool: int, conn: Any
) -> None:
    """Entry point of the server process: serve until told to stop, then report.

    ``BENCH_PROFILE=<file>`` in the environment: run it under cProfile, stats to <file>."""
    profile_to = os.environ.get("BENCH_PROFILE")
    if not profile_to:
        asyncio.run(_serve(backend_kind, url, db_timeout, pool, conn))
        return
    import cProfile

    with cProfile.Profile() as prof:
        asyncio.run(_serve(backend_kind, url, db_timeout, pool, conn))
    prof.dump_stats(profile_to)


class CountingBackend:
    """Counts backend calls and failures (BackendUnavailable = the caller lost the database)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0
        self.failures: Counter[str] = Counter()
        self.waits: dict[str, list[float]] = {}  # how long the flow awaited each method

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kw: Any) -> Any:
            self.calls += 1
            t0 = time.perf_counter()
            try:
                return await method(*args, **kw)
            except Exception as exc:
                self.failures[f"{name}:{type(exc).__name__}"] += 1
                raise
            finally:
                self.waits.setdefault(name, []).append(time.perf_counter() - t0)

        return call


async def _serve(
    backend_kind: str, url: str | None, db_timeout: float, pool: int, conn: Any
) -> None:
    from ivr.agi.server import FastAgiServer
    from ivr.routes import build_routes

    engine = None
    if backend_kind == "db":
        from zoneinfo import ZoneInfo

        from case_core.db.engine import make_engine, make_sessionmaker
        from case_core.db.uow import UnitOfWorkFactory
        from ivr.backend import DatabaseBackend

        assert url is not None
        engine = make_engine(url, pool_size=pool)
        inner: Any = DatabaseBackend(
            UnitOfWorkFactory(make_sessionmaker(engine)),
            tz=ZoneInfo("America/Panama"),
            clock=lambda: NOW,
            timeout=db_timeout,
        )
    else:
        inner = FakeBackend()
    backend = CountingBackend(inner)
    # Server-side turnaround: from the moment a reply has been read to the moment the next
    # command of the same call is written (the flow's Python and its database work).
    from ivr.agi.channel import AgiChannel

    turnarounds: list[float] = []
    real_send_raw = AgiChannel.send_raw

    async def timed_send_raw(self: Any, line: str, **kw: Any) -> Any:
        last = getattr(self, "_bench_reply_at", None)
        if last is not None:
            turnarounds.append(time.perf_counter() - last)
        try:
            return await real_send_raw(self, line, **kw)
        finally:
            self._bench_reply_at = time.perf_counter()

    AgiChannel.send_raw = timed_send_raw  # type: ignore[method-assign]
    server = FastAgiServer(build_routes(backend), "127.0.0.1", 0)  # type: ignore[arg-type]
    await server.start()
    conn.send(server.port)
    loop = asyncio.get_running_loop()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    while (message := await loop.run_in_executor(None, conn.recv)) != "stop":
        if message == "reset":  # the warm-up is over
            turnarounds.clear()
            backend.waits.clear()
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    await server.stop()
    journal = ""
    if hasattr(inner, "aclose"):
        await inner.aclose()  # the session journal writes what it still holds
        j = inner.journal
        journal = f"written {j.written}, dropped {j.dropped}, write retries {j.retries}"
    if engine is not None:
        await engine.dispose()
    conn.send(
        {
            "cpu_s": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
            "backend_calls": backend.calls,
            "server_turnarounds": turnarounds,
            "backend_failures": dict(backend.failures),
            "backend_waits": {
                name: (len(w), percentile(w, 50), percentile(w, 99))
                for name, w in sorted(backend.waits.items())
            },
            "journal": journal,
        }
    )


# ---- running a batch of calls -------------------------------------------------------------


@dataclass
class Result:
    label: str
    calls: int
    concurrency: int
    wall_s: float
    turnarounds: list[float] = field(default_factory=list)
    setups: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    commands: int = 0
    bad: Counter[str] = field(default_factory=Counter)
    server_cpu_s: float | None = None
    server_turnarounds: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.calls / self.wall_s if self.wall_s else 0.0


def _expected_outcome(name: str) -> str:
    return {"consulta": "cola", "estado": "fin", "reintentos": "cola"}.get(name, "cola")


async def run_calls(
    label: str, n: int, concurrency: int, make_call: Any, ramp: float = 0.0
) -> Result:
    """Run ``n`` calls, ``concurrency`` at a time; ``make_call(i)`` -> (script name, call).
    ``ramp`` spreads the first ``concurrency`` arrivals over that many seconds (real calls do
    not all arrive in the same millisecond)."""
    sem = asyncio.Semaphore(concurrency)
    done: list[tuple[str, TimedCall]] = []

    async def one(i: int) -> None:
        if ramp and i < concurrency:
            await asyncio.sleep(ramp * i / concurrency)
        async with sem:
            name, call = make_call(i)
            await call.run()
            done.append((name, call))

    with Stopwatch() as sw:
        await asyncio.gather(*(one(i) for i in range(n)))
    res = Result(label, n, concurrency, sw.seconds)
    for name, call in done:
        res.turnarounds += call.turnarounds
        res.commands += len(call.turnarounds) + (1 if call.t_first else 0)
        if call.t_first:
            res.setups.append(call.t_first - call.t_start)
        res.durations.append(call.t_end - call.t_start)
        outcome = call.variables.get("CAC311_IVR_OUTCOME")
        if outcome != _expected_outcome(name) or "CAC311_NEXT" not in call.variables:
            res.bad[f"{name}: outcome={outcome}"] += 1
    return res


def fastagi_call_factory(port: int, case_number: str, pace: float = 0.0) -> Any:
    scripts = caller_scripts(case_number)

    def make(i: int) -> tuple[str, TimedCall]:
        name, callerid, keys = scripts[i % len(scripts)]
        call = TimedCall(
            "127.0.0.1",
            port,
            "inbound",
            caller=list(keys),
            callerid=callerid,
            variables={"CAC311_GREETED": "1"},
            call_timeout=120,
            pace=pace,
        )
        return name, call

    return make


def classic_call_factory(argv: list[str], case_number: str) -> Any:
    scripts = caller_scripts(case_number)

    def make(i: int) -> tuple[str, TimedCall]:
        name, callerid, keys = scripts[i % len(scripts)]
        call = PipeCall(
            argv,
            caller=list(keys),
            callerid=callerid,
            variables={"CAC311_GREETED": "1"},
            call_timeout=120,
            request=str(HERE / "classic_agi_script.py"),
        )
        return name, call

    return make


async def prepare_db(args: argparse.Namespace) -> tuple[str, str]:
    """Create, migrate and seed the bench database; register one case. -> (url, case no.)"""
    from zoneinfo import ZoneInfo

    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.migrate import upgrade_async
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.domain.case import CaseType, Channel
    from case_core.domain.roles import Actor, Role
    from case_core.seed.loader import seed
    from case_core.services.cases import RegisterCase, register_case

    url = await recreate_database(args.server_url, args.db_name)
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
        await seed(uow_factory, now=NOW, demo_users=True)
        async with uow_factory() as uow:
            idaan = await uow.directory.entity_by_code("IDAAN")
            service = await uow.directory.service_by_code(idaan.id, "fuga")
        case = await register_case(
            uow_factory,
            RegisterCase(
                type=CaseType.QUEJA,
                channel=Channel.TELEFONO,
                entity_id=idaan.id,
                service_id=service.id,
                description="Fuga en la vía principal.",
            ),
            actor=Actor(None, "agente1", Role.AGENT),
            now=NOW,
            tz=ZoneInfo("America/Panama"),
        )
    finally:
        await engine.dispose()
    TRACKING_CODES[case.number] = case.tracking_code
    return url, case.number


async def db_counts(url: str) -> str:
    import asyncpg
    from _common import dsn

    conn = await asyncpg.connect(dsn(url))
    try:
        sessions = await conn.fetchval("SELECT count(*) FROM ivr_sessions")
        ended = await conn.fetchval("SELECT count(*) FROM ivr_sessions WHERE ended_at IS NOT NULL")
        steps = await conn.fetchval("SELECT count(*) FROM ivr_steps")
    finally:
        await conn.close()
    return f"ivr_sessions={sessions} (ended {ended}), ivr_steps={steps}"


async def run_fastagi(args: argparse.Namespace, url: str | None, case_number: str) -> Result:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=server_process,
        args=(args.backend, url, args.db_timeout, args.pool_size, child),
        daemon=True,
    )
    proc.start()
    loop = asyncio.get_running_loop()
    port = await loop.run_in_executor(None, parent.recv)
    # Warm up (imports, pool connections) outside the measurement.
    warm = fastagi_call_factory(port, case_number)
    await run_calls("warm-up", min(50, args.calls), 10, warm)
    parent.send("reset")
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    res = await run_calls(
        "FastAGI (1 process)" + (f", paced ×{args.pace:g}" if args.pace else ""),
        args.calls,
        args.concurrency,
        fastagi_call_factory(port, case_number, args.pace),
        ramp=args.ramp,
    )
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    parent.send("stop")
    stats = await loop.run_in_executor(None, parent.recv)
    proc.join(10)
    res.server_cpu_s = stats["cpu_s"]
    res.server_turnarounds = stats["server_turnarounds"]
    client_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    res.notes.append(
        f"server CPU {stats['cpu_s']:.1f} s during the measured run, "
        f"simulator CPU {client_cpu:.1f} s"
    )
    res.notes.append(
        f"backend calls {stats['backend_calls']}, failures {stats['backend_failures'] or 'none'}"
    )
    res.notes.append(
        "awaited per backend method (n, p50, p99): "
        + "; ".join(
            f"{name} {n} {ms(p50)} {ms(p99)}"
            for name, (n, p50, p99) in stats["backend_waits"].items()
        )
    )
    if stats["journal"]:
        res.notes.append(f"session journal: {stats['journal']}")
    return res


async def run_classic(args: argparse.Namespace, url: str | None, case_number: str) -> Result:
    argv = [sys.executable, str(HERE / "classic_agi_script.py"), args.backend]
    if args.backend == "db":
        assert url is not None
        argv += [url, NOW.isoformat()]
    make = classic_call_factory(argv, case_number)
    await run_calls("warm-up", min(5, args.classic_calls), 5, make)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = await run_calls("classic AGI (pyst2)", args.classic_calls, args.classic_concurrency, make)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    res.server_cpu_s = cpu
    res.notes.append(f"script processes CPU {cpu:.1f} s")
    return res


def report(results: list[Result], backend: str, load_before: float) -> None:
    rows: list[tuple[str, ...]] = [tuple(["", *[r.label for r in results]])]

    def row(title: str, fn: Any) -> None:
        rows.append((title, *[fn(r) for r in results]))

    row("calls / concurrency", lambda r: f"{r.calls} / {r.concurrency}")
    row("wall time", lambda r: f"{r.wall_s:.2f} s")
    row("call setups per second", lambda r: f"{r.rate:.1f}")
    row("AGI commands per second", lambda r: f"{r.commands / r.wall_s:.0f}")
    row("commands per call", lambda r: f"{r.commands / max(r.calls, 1):.1f}")
    row("turnaround p50", lambda r: ms(percentile(r.turnarounds, 50)))
    row("turnaround p99", lambda r: ms(percentile(r.turnarounds, 99)))
    row(
        "server-side turnaround p50 / p99",
        lambda r: (
            f"{ms(percentile(r.server_turnarounds, 50))} / "
            f"{ms(percentile(r.server_turnarounds, 99))}"
            if r.server_turnarounds
            else "n/a"
        ),
    )
    row("setup (connect/spawn -> 1st cmd) p50", lambda r: ms(percentile(r.setups, 50)))
    row("setup p99", lambda r: ms(percentile(r.setups, 99)))
    row("whole call p50", lambda r: ms(percentile(r.durations, 50)))
    row("whole call p99", lambda r: ms(percentile(r.durations, 99)))
    row(
        "server-side CPU per call",
        lambda r: ms(r.server_cpu_s / r.calls) if r.server_cpu_s is not None else "n/a",
    )
    row("calls with a wrong outcome", lambda r: str(sum(r.bad.values())))
    widths = [max(len(x[i]) for x in rows) for i in range(len(rows[0]))]
    print(
        f"\nIVR capacity, backend={backend}  [{machine()}, load average before the run "
        f"{load_before:.2f}]"
    )
    for x in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)))
    for r in results:
        for note in r.notes:
            print(f"  {r.label}: {note}")
        for what, count in r.bad.most_common(5):
            print(f"  {r.label}: WRONG {what} x{count}")


async def main_async(args: argparse.Namespace) -> int:
    args.load_before = os.getloadavg()[0]
    url: str | None = None
    case_number = FAKE_CASE_NUMBER
    if args.backend == "db":
        url, case_number = await prepare_db(args)
        print(f"bench database {args.db_name} ready (seeded, case {case_number})")
    try:
        results = []
        if not args.skip_fastagi:
            results.append(await run_fastagi(args, url, case_number))
            if url:
                print("after FastAGI run:", await db_counts(url))
        if args.classic_calls > 0:
            results.append(await run_classic(args, url, case_number))
            if url:
                print("after classic run:", await db_counts(url))
        report(results, args.backend, args.load_before)
    finally:
        if url and not args.keep:
            await drop_database(args.server_url, args.db_name)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=("fake", "db"), default="fake")
    p.add_argument("--calls", type=int, default=2000, help="FastAGI calls (%(default)s)")
    p.add_argument("--concurrency", type=int, default=500, help="(%(default)s)")
    p.add_argument(
        "--classic-calls",
        type=int,
        default=200,
        help="classic script calls, 0 to skip (%(default)s)",
    )
    p.add_argument(
        "--classic-concurrency",
        type=int,
        default=50,
        help="classic processes at a time (%(default)s; each db one holds a "
        "PostgreSQL connection, max_connections is usually 100)",
    )
    p.add_argument("--skip-fastagi", action="store_true")
    p.add_argument(
        "--pace",
        type=float,
        default=0.0,
        help="FastAGI calls take real media time (prompts, key presses) × PACE: 1 is real "
        "time, 0 answers at once, a throughput stress (%(default)s)",
    )
    p.add_argument(
        "--ramp",
        type=float,
        default=0.0,
        help="spread the first --concurrency arrivals over this many seconds (%(default)s)",
    )
    p.add_argument(
        "--db-timeout",
        type=float,
        default=2.0,
        help="DatabaseBackend timeout per call, as in production (%(default)s s)",
    )
    p.add_argument(
        "--pool-size",
        type=int,
        default=10,
        help="SQLAlchemy pool size (+ the same overflow) (%(default)s)",
    )
    add_db_args(p, "cac311_bench")
    args = p.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
