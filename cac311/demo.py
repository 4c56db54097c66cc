"""``cac311 demo``: the whole system on one machine with no Asterisk and no database to set up.

It starts, in order: a private PostgreSQL (:mod:`cac311.embedded_pg`; skipped when
``CAC311_DATABASE_URL`` is set), the migrations and the seed (directory, demo users and
citizens), a few demo cases whose callbacks are due, the Asterisk AMI simulator on a free
port, every part of ``cac311 serve`` pointed at it (FastAGI on a free port, the web desktop on
``--http``), and the traffic generator (:mod:`asterisk_sim.traffic`), whose callers walk the
real IVR. It stops in the reverse order on Ctrl-C/SIGTERM and can be started again: the
database in ``--data`` is kept (``--reset`` starts from scratch).

Demo-only settings: calling hours are the whole day (callbacks are dialled at any hour) and
the AMI simulator gets a random secret for this run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from asterisk_sim.traffic import TrafficGenerator, TrafficProfile, TrafficSimulator
from cac311.bootstrap import PARTS, Runtime, running_parts, stop_on_signals
from cac311.config import AmiServer, HostPort, Settings
from cac311.embedded_pg import EmbeddedPostgres, ensure_database
from case_core.db.engine import make_engine, make_sessionmaker
from case_core.db.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

WALLBOARD_PATH = "/supervisor/tablero"
DEMO_NOTE = "(demostración)"


@dataclass(frozen=True)
class DemoOptions:
    """What ``cac311 demo`` was asked for."""

    calls_per_minute: float = 6.0
    http: HostPort = HostPort("127.0.0.1", 8080)
    data_dir: Path = Path("var/demo")
    reset: bool = False
    bots: int = 2
    speed: float = 1.0
    human_talk_seconds: float = 120.0
    seed: int | None = None
    profile: TrafficProfile | None = None

    def traffic_profile(self) -> TrafficProfile:
        """The generator's profile: ``profile`` if given, else built from the options."""
        if self.profile is not None:
            return self.profile
        return TrafficProfile(
            calls_per_minute=self.calls_per_minute,
            speed=self.speed,
            bots=self.bots,
            human_talk_seconds=self.human_talk_seconds,
        )


@dataclass
class Demo:
    """A running demo."""

    settings: Settings
    runtime: Runtime
    simulator: TrafficSimulator
    traffic: TrafficGenerator
    database: str  # "embedded:<dir>" or "external"
    api_key: str = ""  # the demo's Open311 key (a fresh one each run)

    def base_url(self) -> str:
        """Where the desktop answers (0.0.0.0 shown as 127.0.0.1)."""
        host = self.settings.http_bind.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self.runtime.ports['web']}"


async def _prepare_database(url: str, tz_name: str) -> None:
    from case_core.db.migrate import upgrade_async
    from case_core.seed.loader import seed

    await upgrade_async(url)
    engine = make_engine(url)
    try:
        uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
        now = datetime.now(UTC)
        await seed(uow_factory, now=now, demo_users=True)
        try:
            await seed_demo_cases(uow_factory, now=now, tz_name=tz_name)
        except Exception:  # the demo runs without them; callbacks just stay quiet
            log.exception("could not create the demo cases")
    finally:
        await engine.dispose()


async def seed_demo_cases(uow_factory: UnitOfWorkFactory, *, now: datetime, tz_name: str) -> int:
    """Cases of the demo citizens whose callbacks are due now: two consultas closed three
    hours ago (satisfaction survey) on every start, and once an open queja of 20 days ago
    (follow-up). Returns how many were created."""
    from zoneinfo import ZoneInfo

    from case_core.domain.case import CaseType, Channel
    from case_core.domain.roles import Actor, Role
    from case_core.seed.loader import DEMO_CITIZENS
    from case_core.services.cases import RegisterCase, register_case

    tz = ZoneInfo(tz_name)
    cedulas = [c[0] for c in DEMO_CITIZENS]
    async with uow_factory() as uow:
        citizens = (
            (
                await uow.session.execute(
                    text("SELECT id FROM citizens WHERE cedula = ANY(:c) ORDER BY id"),
                    {"c": cedulas},
                )
            )
            .scalars()
            .all()
        )
        entity_id = (
            (await uow.session.execute(text("SELECT id FROM entities WHERE active ORDER BY id")))
            .scalars()
            .first()
        )
        agent = await uow.users.by_username("agente1")
        had_followup = (
            await uow.session.execute(
                text("SELECT 1 FROM cases WHERE type = 'queja' AND description LIKE :d LIMIT 1"),
                {"d": f"%{DEMO_NOTE}%"},
            )
        ).first() is not None
    if not citizens or entity_id is None or agent is None:
        return 0
    actor = Actor(agent.id, agent.username, Role(agent.role), agent.entity_id)
    plans = [
        (CaseType.CONSULTA, citizens[0], now - timedelta(hours=3), True),
        (CaseType.CONSULTA, citizens[min(1, len(citizens) - 1)], now - timedelta(hours=3), True),
    ]
    if not had_followup:
        plans.append((CaseType.QUEJA, citizens[0], now - timedelta(days=20), False))
    for case_type, citizen_id, at, closed in plans:
        await register_case(
            uow_factory,
            RegisterCase(
                type=case_type,
                channel=Channel.TELEFONO,
                entity_id=entity_id,
                service_id=None,
                description=f"Caso de ejemplo {DEMO_NOTE}: llamada simulada.",
                citizen_id=citizen_id,
                resolved_at_first_contact=closed,
            ),
            actor=actor,
            now=at,
            tz=tz,
        )
    return len(plans)


def demo_settings(
    settings: Settings, options: DemoOptions, *, database_url: str, ami_port: int, secret: str
) -> Settings:
    """Every part pointed at the simulator, on free ports, recordings under ``--data``."""
    return replace(
        settings,
        database_url=database_url,
        ami_servers=(AmiServer("demo", "127.0.0.1", ami_port, "cac311", secret),),
        fastagi_bind=HostPort("127.0.0.1", 0),
        http_bind=options.http,
        health_bind=HostPort("127.0.0.1", 0),
        recordings_dir=options.data_dir.resolve() / "recordings",
        # Simulated citizens answer at any hour, Sundays too (the demo and its test run
        # whenever someone starts them).
        calling_hours=(0, 24),
        calling_weekdays=(0, 1, 2, 3, 4, 5, 6),
        holidays=(),
    )


@asynccontextmanager
async def running_demo(
    settings: Settings, options: DemoOptions, *, database_url: str | None = None
) -> AsyncIterator[Demo]:
    """Start the demo (see module docstring); ``database_url`` skips the embedded PostgreSQL."""
    data_dir = options.data_dir.resolve()
    async with AsyncExitStack() as stack:
        if options.reset:
            pg = EmbeddedPostgres(data_dir / "pgdata")
            if pg.initialised():
                await asyncio.to_thread(pg.destroy)
            shutil.rmtree(data_dir / "recordings", ignore_errors=True)
        if database_url is None:
            pg = EmbeddedPostgres(data_dir / "pgdata")
            url = await asyncio.to_thread(pg.start)
            stack.push_async_callback(asyncio.to_thread, pg.stop)
            await ensure_database(url.rsplit("/", 1)[0] + "/postgres", pg.database)
            where = f"embedded:{pg.data_dir}"
        else:
            url, where = database_url, "external"
        await _prepare_database(url, settings.timezone)

        secret = secrets.token_urlsafe(16)
        sim = TrafficSimulator(username="cac311", secret=secret, static_members=())
        await sim.start("127.0.0.1", 0)
        stack.push_async_callback(sim.stop)
        cfg = demo_settings(settings, options, database_url=url, ami_port=sim.port, secret=secret)
        cfg.recordings_dir.mkdir(parents=True, exist_ok=True)
        rt = await stack.enter_async_context(running_parts(cfg, set(PARTS)))

        async def case_numbers() -> Sequence[str]:
            async with rt.engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT number FROM cases ORDER BY id DESC LIMIT 50")
                )
                return [r[0] for r in rows]

        traffic = TrafficGenerator(
            sim,
            fastagi_host="127.0.0.1",
            fastagi_port=rt.ports["ivr"],
            recordings_dir=cfg.recordings_dir,
            profile=options.traffic_profile(),
            queue=cfg.queue_name,
            seed=options.seed,
            case_numbers=case_numbers,
            known_callers=demo_callers(),
        )
        await traffic.start()
        stack.push_async_callback(_wait_calls_closed, rt, traffic)
        stack.push_async_callback(traffic.stop)
        from case_core.services.api_keys import rotate_api_key

        api_key = await rotate_api_key(rt.uow_factory, "demo")
        yield Demo(cfg, rt, sim, traffic, where, api_key)


def demo_callers() -> list[tuple[str, str]]:
    """(cédula, caller ID) of the seeded demo citizens whose cédula can be keyed."""
    from case_core.seed.loader import DEMO_CITIZENS

    callers = []
    for cedula, *_, phone, _province, _district, _corregimiento in DEMO_CITIZENS:
        if cedula.replace("-", "").isdigit() and phone.startswith("+507"):
            callers.append((cedula, phone[len("+507") :]))
    return callers


async def _wait_calls_closed(rt: Runtime, traffic: TrafficGenerator, within: float = 3.0) -> None:
    """After the traffic stops, give the AMI bridge a moment to store the last hangups."""
    uids = sorted(traffic.queued_uniqueids)
    if not uids:
        return
    query = text("SELECT count(*) FROM calls WHERE uniqueid = ANY(:u) AND ended_at IS NULL")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    with contextlib.suppress(Exception):
        while loop.time() < deadline:
            async with rt.engine.connect() as conn:
                if not (await conn.execute(query, {"u": uids})).scalar_one():
                    return
            await asyncio.sleep(0.1)


def banner(demo: Demo, options: DemoOptions) -> str:
    """What a person reads when the demo is up (Spanish)."""
    from case_core.seed.directory_data import DEMO_PASSWORD

    base = demo.base_url()
    db = (
        f"PostgreSQL privado en {demo.database.split(':', 1)[1]}"
        if demo.database.startswith("embedded:")
        else "la base de CAC311_DATABASE_URL"
    )
    return "\n".join(
        [
            "",
            "cac311 demo en marcha "
            f"({options.traffic_profile().calls_per_minute:g} llamadas simuladas por minuto).",
            f"  Escritorio de agentes:  {base}/",
            f"  Tablero de supervisión: {base}{WALLBOARD_PATH}",
            f"  Estado del sistema:     {base}/health",
            f"  Web ciudadana:          {base}/ciudadano/",
            f"  Open311 GeoReport v2:   {base}/open311/v2/services.json "
            f"(descubrimiento: {base}/open311/discovery.json)",
            f"  Clave Open311 de demo:  {demo.api_key}",
            f"  Base de datos:          {db}",
            f"  Usuarios de prueba (contraseña: {DEMO_PASSWORD}):",
            "    agente1, agente2, agente3   agentes: entre y pulse «Conectarse a la cola»",
            "                                para recibir llamadas simuladas",
            "    supervisor                  supervisión y tablero",
            "    auditor                     auditoría",
            "Pulse Ctrl-C para detener.",
            "",
        ]
    )


async def run_demo(
    settings: Settings,
    options: DemoOptions,
    *,
    database_url: str | None = None,
    stop: asyncio.Event | None = None,
    status_every: float = 60.0,
) -> int:
    """Run the demo until ``stop`` is set or SIGINT/SIGTERM arrives."""
    stop = stop or asyncio.Event()
    with stop_on_signals(stop):
        async with running_demo(settings, options, database_url=database_url) as demo:
            print(banner(demo, options), flush=True)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), status_every)
                if not stop.is_set():
                    s = demo.traffic.stats
                    print(
                        f"Llamadas: {s.started} recibidas, {s.answered} atendidas, "
                        f"{s.abandoned} abandonadas, {s.ivr_only} resueltas en el IVR; "
                        f"{s.callbacks_answered} devoluciones contestadas.",
                        flush=True,
                    )
            print("Deteniendo la demostración...", flush=True)
    print("Demostración detenida.", flush=True)
    return 0
