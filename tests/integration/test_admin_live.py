"""What must happen at once in every web process (issue 11), with the AMI simulator:

- a disabled user's open desktop socket closes and their phone leaves the queue (AMI
  QueueRemove, seen in the simulator's queue);
- an announcement created in the web appears on a connected agent's desktop without reload,
  and the IVR plays it to the next caller (FastAGI driven by the AGI simulator).
"""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestServer

from agent_desktop.admin.live import LIVE_LISTENER
from agent_desktop.app import LISTENER, init_app
from ami.client import AmiClient, AmiConfig
from ami.queue_control import AmiQueueControl
from asterisk_sim.agi import CallerScript, Press, SimulatedAgiCall, parse_agi_args
from asterisk_sim.ami import AmiSimulator
from cac311.config import Settings
from ivr.backend import DatabaseBackend
from tests.integration.test_desktop_support import (
    CSRF_RE,
    PASSWORD,
    Desktop,
    FakeClock,
    FakeQueueControl,
    next_message,
)
from tests.integration.test_ivr_flows import serving

AGENT_INTERFACE = "PJSIP/1001"  # agente1 in the demo users


async def until(predicate, within: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Poll the simulator's state (it has no event to wait on) until ``predicate`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


@pytest.fixture
async def sim():
    simulator = AmiSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def ami_desktop(seeded, engine, sim):
    from tests.integration.test_desktop_support import START

    client = AmiClient(
        AmiConfig(
            host="127.0.0.1",
            port=sim.port,
            username="cac311",
            secret="s3cret",
            server="pbx1",
            ping_interval=30.0,
            ping_timeout=1.0,
            action_timeout=2.0,
            connect_timeout=1.0,
            backoff_min=0.05,
            backoff_max=0.3,
        ),
        rng=random.Random(3),
    )
    await client.start()
    await client.wait_up(3)
    clock = FakeClock(START)
    app = init_app(
        Settings(),
        uow_factory=seeded,
        engine=engine,
        queue_control=AmiQueueControl({"pbx1": client}),
        clock=clock,
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    await asyncio.wait_for(app[LISTENER].connected.wait(), 5)
    await asyncio.wait_for(app[LIVE_LISTENER].connected.wait(), 5)
    desk = Desktop(app, server, clock, FakeQueueControl(), seeded)
    yield desk, client
    for c in desk.clients:
        await c.close()
    await server.close()
    await client.stop()


async def _admin(desk: Desktop):  # type: ignore[no-untyped-def]
    client = await desk.client()
    token = CSRF_RE.search(await (await client.get("/login")).text()).group(1)
    response = await client.post(
        "/login",
        data={"usuario": "admin", "contrasena": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 302
    return client


async def test_given_an_agent_in_the_queue_with_a_socket_when_disabled_then_both_end(
    ami_desktop, sim
):
    desk, _ = ami_desktop
    agent = await desk.login("agente1", form=False)
    ws = await agent.ws()
    await next_message(ws, "hello")
    joined = await agent.post("/agente/cola", {"accion": "join"})
    assert joined.status == 200, await joined.text()
    await until(lambda: AGENT_INTERFACE in sim.queues["cac311"].members)
    other = await desk.login("agente2", form=False)
    other_ws = await other.ws()
    await next_message(other_ws, "hello")

    admin = await _admin(desk)
    token = CSRF_RE.search(await (await admin.get("/admin/usuarios")).text()).group(1)
    done = await admin.post("/admin/usuarios/agente1/desactivar", data={"csrf_token": token})
    assert done.status == 200 and "sesiones cerradas: 1" in await done.text()

    expired = await next_message(ws, "expired")
    assert "Inicie sesión" in expired["message"]
    async with asyncio.timeout(5):
        while (closing := await ws.receive()).type is not WSMsgType.CLOSE:
            pass
    assert closing.data == 1008  # policy violation: the session ended
    await until(lambda: AGENT_INTERFACE not in sim.queues["cac311"].members)
    assert any(a.get("Action") == "QueueRemove" for a in sim.actions)
    # The session is gone: the agent's next request asks for a login.
    again = await agent.client.get("/escritorio", allow_redirects=False)
    assert again.status == 302 and again.headers["Location"].startswith("/login")
    # Another agent's socket stays open.
    await other_ws.send_json({"type": "ping"})
    assert (await next_message(other_ws, "pong"))["type"] == "pong"


async def test_given_a_connected_desktop_when_an_announcement_is_made_then_it_shows_and_the_ivr_plays_it(  # noqa: E501
    ami_desktop, seeded, panama
):
    desk, _ = ami_desktop
    agent = await desk.login("agente2", form=False)
    live = await agent.client.ws_connect("/ws/anuncios", origin=desk.origin)
    # The seeded announcements are valid from the seed time: they arrive first.
    initial = await next_message(live, "announcement")
    assert initial["entity"]

    supervisor = await desk.client()
    token = CSRF_RE.search(await (await supervisor.get("/login")).text()).group(1)
    await supervisor.post(
        "/login", data={"usuario": "supervisor", "contrasena": PASSWORD, "csrf_token": token}
    )
    page = await supervisor.get("/anuncios")
    token = CSRF_RE.search(await page.text()).group(1)
    async with seeded() as uow:
        idaan = await uow.directory.entity_by_code("IDAAN")
    now_local = desk.clock().astimezone(panama)
    made = await supervisor.post(
        "/anuncios",
        data={
            "csrf_token": token,
            "entidad": str(idaan.id),
            "texto": "Sin agua en Juan Díaz hasta las seis de la tarde por reparación.",
            "fin": (now_local + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"),
            "provincia": "Panamá",
            "distrito": "Panamá",
            "corregimiento": "Juan Díaz",
        },
    )
    assert made.status == 200 and "ya aparece en los escritorios" in await made.text()

    async with asyncio.timeout(5):
        while True:
            message = await next_message(live, "announcement")
            if "Juan Díaz" in message["text"]:
                break
    assert message["area"] == "Juan Díaz, Panamá, Panamá" and message["entity"] == "IDAAN"

    bad = await supervisor.post(
        "/anuncios",
        data={
            "csrf_token": token,
            "entidad": str(idaan.id),
            "texto": "x",
            "fin": "2020-01-01T00:00",
        },
    )
    assert bad.status == 400 and "posterior al inicio" in await bad.text()

    # The next caller hears it before the menu.
    backend = DatabaseBackend(seeded, tz=panama, clock=desk.clock)
    async with serving(backend) as agi:
        call = SimulatedAgiCall(
            "127.0.0.1",
            agi.port,
            "inbound",
            caller=CallerScript([Press("0")]),
            variables={"CAC311_GREETED": "1"},
        )
        await call.run()
    played = [
        parse_agi_args(c)[2] for c in call.commands if c.startswith(("STREAM FILE", "GET DATA"))
    ]
    new_prompt = next(p for p in played if p.startswith("cac311/anuncio-idaan-"))
    assert played.index(new_prompt) < played.index("cac311/menu-principal")

    # It expires by itself: four hours later the IVR no longer plays it.
    desk.clock.advance(hours=4, minutes=1)
    later = DatabaseBackend(seeded, tz=panama, clock=desk.clock)
    async with serving(later) as agi:
        call = SimulatedAgiCall(
            "127.0.0.1",
            agi.port,
            "inbound",
            caller=CallerScript([Press("0")]),
            variables={"CAC311_GREETED": "1"},
        )
        await call.run()
    assert not any(c.startswith("STREAM FILE") and new_prompt in c for c in call.commands)


async def test_given_a_running_ivr_when_an_announcement_is_made_then_the_next_callers_hear_it(
    seeded, migrated_database, tmp_path
):
    """The IVR part caches announcements for 30 s; the NOTIFY of a new one drops the cache,
    so callers hear it within seconds (each call here is a new caller)."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from cac311.bootstrap import running_parts
    from cac311.config import HostPort
    from case_core.domain.roles import Actor, Role
    from case_core.services.announcements import create_announcement
    from ivr.backend import ANNOUNCEMENTS_TTL

    settings = replace(
        Settings(),
        database_url=migrated_database,
        fastagi_bind=HostPort("127.0.0.1", 0),
        health_bind=HostPort("127.0.0.1", 0),
        recordings_dir=tmp_path,
    )

    async def played() -> list[str]:
        call = SimulatedAgiCall(
            "127.0.0.1",
            rt.ports["ivr"],
            "inbound",
            caller=CallerScript([Press("0")]),
            variables={"CAC311_GREETED": "1"},
        )
        await call.run()
        return [parse_agi_args(c)[2] for c in call.commands if c.startswith("STREAM FILE")]

    async with running_parts(settings, {"ivr"}) as rt:
        before = await played()  # fills the IVR's cache
        async with seeded() as uow:
            idaan = await uow.directory.entity_by_code("IDAAN")
        now = datetime.now(UTC)
        await create_announcement(
            seeded,
            actor=Actor(None, "supervisor", Role.SUPERVISOR),
            entity_id=idaan.id,
            text_es="Corte de agua en Chilibre hasta mañana.",
            valid_from=now - timedelta(minutes=1),
            valid_to=now + timedelta(hours=2),
            now=now,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ANNOUNCEMENTS_TTL / 3
        while not any(p.startswith("cac311/anuncio-idaan-") for p in await played()):
            assert loop.time() < deadline, "the IVR kept its stale announcements"
    assert not any(p.startswith("cac311/anuncio-idaan-") for p in before)
