"""The composition root: builds engines, clients, services and servers from Settings.

Nothing connects at import time. ``run_parts`` starts the parts a process should run
(``cac311 serve`` runs them all; ``--only`` picks some) and stops them cleanly on SIGINT/SIGTERM.
Processes share state only through PostgreSQL, so any number of them can run side by side:
several FastAGI processes behind one address, one AMI process per group of PBXs, web servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cac311.config import Settings
from cac311.health import Health
from cac311.http_guard import GuardedAppRunner
from case_core.db.engine import make_engine, make_sessionmaker
from case_core.db.uow import UnitOfWorkFactory

if TYPE_CHECKING:  # the AMI client is imported only by the parts that use it
    from ami.client import AmiClient

log = logging.getLogger(__name__)

PARTS = ("ivr", "ami", "web", "dialer", "intake")


def utc_now() -> datetime:
    return datetime.now(UTC)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[UnitOfWorkFactory]:
    """A unit-of-work factory on the configured database, disposed on exit."""
    engine = make_engine(settings.database_url)
    try:
        yield UnitOfWorkFactory(make_sessionmaker(engine))
    finally:
        await engine.dispose()


def database_check(engine: AsyncEngine) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    return check


@dataclass
class Runtime:
    """What the parts of one process share."""

    settings: Settings
    engine: AsyncEngine
    uow_factory: UnitOfWorkFactory
    health: Health
    stack: AsyncExitStack
    clock: Callable[[], datetime] = utc_now
    ami_clients: dict[str, AmiClient] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    web_app: web.Application | None = None
    pbx_ownership: object | None = None  # ami.ownership.PbxOwnership when the AMI part runs

    async def ami(self) -> dict[str, AmiClient]:
        """One AMI client per configured server, started once per process."""
        if self.ami_clients:
            return self.ami_clients
        from ami.client import AmiAuthError, AmiClient, AmiConfig
        from ami.event_filter import BACKEND_FILTER

        for server in self.settings.ami_servers:
            client = AmiClient(
                AmiConfig(
                    host=server.host,
                    port=server.port,
                    username=server.username,
                    secret=server.secret,
                    server=server.name,
                    event_filter=BACKEND_FILTER,  # as manager.conf: drop unused events early
                )
            )
            try:
                await client.start()
            except AmiAuthError:
                log.error("AMI %s refused our login; retrying with backoff", server.name)
            self.stack.push_async_callback(client.stop)
            self.ami_clients[server.name] = client
            self.health.add(f"ami:{server.name}", _ami_check(client))
            self.health.add(f"pbx:{server.name}", _pbx_modules_check(client))
        return self.ami_clients


def _ami_check(client: AmiClient) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return client.state == "up"

    return check


def _caller_key(rt: Runtime) -> bytes:
    from cac311.secret_keys import load_or_create_key

    return load_or_create_key(rt.settings.caller_hash_key_file)


def _pbx_modules_check(client: AmiClient) -> Callable[[], Awaitable[bool]]:
    """Down while Asterisk runs without a module calls need (PJSIP, the queue); not yet
    known (the first seconds after a login) counts as up, so a start does not flap."""

    async def check() -> bool:
        return client.state == "up" and not client.missing_modules

    return check


async def start_ivr(rt: Runtime) -> None:
    from ivr.agi.server import FastAgiServer
    from ivr.backend import DatabaseBackend
    from ivr.routes import build_routes

    backend = DatabaseBackend(
        rt.uow_factory,
        tz=rt.settings.tz,
        clock=rt.clock,
        caller_hash_key=_caller_key(rt),
        prompts_dir=rt.settings.prompts_dir,
    )
    # Closed after the server (LIFO): the calls' last steps are queued, then written.
    rt.stack.push_async_callback(backend.aclose)
    bind = rt.settings.fastagi_bind
    server = FastAgiServer(
        build_routes(backend), bind.host, bind.port, allow=rt.settings.fastagi_allow
    )
    await rt.stack.enter_async_context(server)
    rt.ports["ivr"] = server.port
    await _forget_announcements_on_notify(rt, backend)

    async def listening() -> bool:
        return server.port > 0

    rt.health.add("ivr", listening)


async def _forget_announcements_on_notify(rt: Runtime, backend) -> None:  # type: ignore[no-untyped-def]
    """Issue 11: a new or ended announcement reaches the next caller, not only after the
    backend's cache expires."""
    from agent_desktop.pg_listen import PgListener
    from case_core.services.announcements import ANNOUNCEMENT_CHANNEL

    dsn = rt.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    listener = PgListener(
        dsn,
        (ANNOUNCEMENT_CHANNEL,),
        lambda _channel, _payload: backend.forget_announcements(),
        lambda _n: backend.forget_announcements(),  # notices missed while disconnected
        name="ivr-announcements",
    )
    await listener.start()
    rt.stack.push_async_callback(listener.stop)


async def start_ami(rt: Runtime) -> None:
    from ami.bridge import AmiBridge
    from recordings.service import link_call_recording, store_for

    bridge = AmiBridge(rt.uow_factory, tz=rt.settings.tz, caller_hash_key=_caller_key(rt))
    store = store_for(rt.settings)

    async def link_recording(server: str, uniqueid: str) -> None:
        async with rt.uow_factory() as uow:
            call = await uow.calls.by_uniqueid(server, uniqueid)
            if call is not None and call.recording_path:
                await link_call_recording(uow, store, call, now=rt.clock())
                await uow.commit()

    bridge.on_call_ended.append(link_recording)
    from case_core.metrics.outages import record_link_down

    clients = await rt.ami()
    # Several processes may run the AMI part: each PBX is tracked by the holder of its lease.
    from ami.ownership import PbxOwnership
    from case_core.services.coordination import process_identity

    ownership = PbxOwnership(
        rt.uow_factory,
        bridge,
        clients,
        owner=process_identity(),
        ttl=float(rt.settings.pbx_lease_seconds),
        clock=rt.clock,
    )
    rt.pbx_ownership = ownership
    for client in clients.values():
        if client.state != "up":
            # Down from the start: metrics must know calls were not seen (the process that
            # later tracks this PBX closes the outage).
            await record_link_down(rt.uow_factory, client.config.server, rt.clock())
    await ownership.step()
    stop_ownership = asyncio.Event()
    ownership_task = asyncio.create_task(ownership.run(stop_ownership), name="pbx-ownership")

    async def detach() -> None:
        # Runs before the clients stop and the engine closes: from now on no call is
        # tracked here, so the links this process owned count as down until a process
        # tracks them again (the next owner closes the outage).
        stop_ownership.set()
        with contextlib.suppress(BaseException):
            await ownership_task
        released = await ownership.release()
        await bridge.drain()
        for name in released:
            try:
                await record_link_down(rt.uow_factory, name, rt.clock())
            except Exception:
                log.warning("could not record the AMI link of %s as down at shutdown", name)

    rt.stack.push_async_callback(detach)


from cac311.intake_part import start_intake  # noqa: E402 (after Runtime, which it types)


async def start_web(rt: Runtime) -> None:
    from agent_desktop.app import AccessLogger, init_app
    from agent_desktop.auth import current_actor
    from agent_desktop.chrome import desktop_layout
    from ami.call_control import AmiCallControl
    from ami.queue_control import AmiQueueControl
    from recordings.web import setup_recordings_routes

    clients = await rt.ami()
    app = init_app(
        rt.settings,
        uow_factory=rt.uow_factory,
        engine=rt.engine,
        queue_control=AmiQueueControl(clients),
        clock=rt.clock,
        call_control=AmiCallControl(clients),
    )
    setup_recordings_routes(
        app,
        uow_factory=rt.uow_factory,
        settings=rt.settings,
        current_actor=current_actor,
        clock=rt.clock,
        layout=desktop_layout(),
    )
    with contextlib.suppress(ImportError):
        from agent_desktop.wallboard import setup_wallboard_routes

        setup_wallboard_routes(app)
    app.router.add_get("/health", rt.health.handle)
    # AccessLogger drops query strings: searches carry cédulas, names and phones.
    # Header/body read timeouts and a connection cap against slow clients (issue 15).
    runner = GuardedAppRunner(app, shutdown_timeout=5, access_log_class=AccessLogger)
    await runner.setup()
    rt.stack.push_async_callback(runner.cleanup)
    bind = rt.settings.http_bind
    site = web.TCPSite(runner, bind.host, bind.port)
    await site.start()
    rt.ports["web"] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rt.web_app = app
    if not rt.settings.public_origin.startswith("https://") and bind.host not in (
        "127.0.0.1",
        "::1",
        "localhost",
    ):
        log.warning(
            "CAC311_PUBLIC_ORIGIN is not an https:// address: session cookies are sent without "
            "the Secure flag. Serve the desktop behind TLS and set it."
        )

    async def serving() -> bool:
        return True

    rt.health.add("web", serving)
    log.info("agent desktop on http://%s:%s/", bind.host, rt.ports["web"])


async def start_dialer(rt: Runtime) -> None:
    from dialer.ami_originator import AmiOriginator
    from dialer.dialer import Dialer

    clients = await rt.ami()
    primary = next(iter(clients.values()))
    dialer = Dialer(
        uow_factory=rt.uow_factory,
        originator=AmiOriginator(primary),  # type: ignore[arg-type]
        settings=rt.settings,  # type: ignore[arg-type]
        clock=rt.clock,
        schedule_interval=None,  # scheduling is the periodic job "callback_schedule"
    )
    task = asyncio.create_task(dialer.run(), name="dialer")
    from cac311.periodic import periodic_jobs
    from case_core.services.coordination import run_periodic_jobs

    stop_jobs = asyncio.Event()
    jobs = asyncio.create_task(
        run_periodic_jobs(rt.uow_factory, periodic_jobs(rt), clock=rt.clock, stop=stop_jobs),
        name="periodic-jobs",
    )

    # Mail is a SKIP LOCKED queue: every process may deliver at once.
    mail = asyncio.create_task(_mail_loop(rt), name="mail")

    async def stop_dialer() -> None:
        dialer.stop()
        stop_jobs.set()
        mail.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 30)
        for job in (jobs, mail):
            with contextlib.suppress(BaseException):
                await job

    rt.stack.push_async_callback(stop_dialer)

    async def running() -> bool:
        return not task.done() and not jobs.done() and not mail.done()

    rt.health.add("dialer", running)


MAIL_INTERVAL_SECONDS = 5.0


async def _mail_loop(rt: Runtime) -> None:
    """Every few seconds: send the due messages of the mail outbox (several processes may run
    this at once; rows are claimed with SKIP LOCKED)."""
    from mailer.delivery import deliver_due_mail

    if not rt.settings.smtp.host:
        log.warning("CAC311_SMTP_HOST is not set: e-mail stays queued in outbound_mail")
    while True:
        try:
            await deliver_due_mail(rt.uow_factory, rt.settings.smtp, now=rt.clock())
        except Exception:
            log.exception("mail delivery run failed")
        await asyncio.sleep(MAIL_INTERVAL_SECONDS)


STARTERS: dict[str, Callable[[Runtime], Awaitable[None]]] = {
    "ivr": start_ivr,
    "ami": start_ami,
    "web": start_web,
    "dialer": start_dialer,
    "intake": start_intake,
}


@asynccontextmanager
async def running_parts(
    settings: Settings, parts: set[str], *, clock: Callable[[], datetime] = utc_now
) -> AsyncIterator[Runtime]:
    """Start ``parts`` (in the order of PARTS) and stop them on exit."""
    unknown = parts - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts: {sorted(unknown)}")
    engine = make_engine(settings.database_url)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(engine.dispose)
        rt = Runtime(
            settings, engine, UnitOfWorkFactory(make_sessionmaker(engine)), Health(), stack, clock
        )
        rt.health.add("database", database_check(engine))
        for part in PARTS:
            if part in parts:
                await STARTERS[part](rt)
        if "web" not in parts:
            bind = settings.health_bind
            rt.ports["health"] = await serve_health(stack, rt.health, bind.host, bind.port)
        yield rt


async def run_parts(
    settings: Settings, parts: set[str], *, stop: asyncio.Event | None = None
) -> int:
    """Run the given parts until ``stop`` is set or the process gets SIGINT/SIGTERM."""
    stop = stop or asyncio.Event()
    with stop_on_signals(stop):
        async with running_parts(settings, parts):
            await stop.wait()
            log.info("stopping %s", ", ".join(sorted(parts)))
    return 0


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT/SIGTERM while inside the block (where the loop allows it)."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def serve_health(stack: AsyncExitStack, health: Health, host: str, port: int) -> int:
    """A tiny HTTP server with GET /health, for processes that run no web part."""
    app = web.Application()
    app.router.add_get("/health", health.handle)
    runner = GuardedAppRunner(app)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    site = web.TCPSite(runner, host, port)
    await site.start()
    return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
