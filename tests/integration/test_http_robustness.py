"""No 500 with a traceback (issue 15, finding 9): out-of-range ids, a non-UTF-8 session
cookie, and every page during a database outage (a Spanish 503 instead)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from agent_desktop.app import LISTENER, init_app
from agent_desktop.auth import COOKIE
from cac311.config import Settings
from case_core.db.engine import make_engine, make_sessionmaker
from case_core.db.uow import UnitOfWorkFactory
from tests.faults import TcpProxy
from tests.integration.test_desktop_cases import _service
from tests.integration.test_desktop_support import (  # noqa: F401
    START,
    FakeClock,
    FakeQueueControl,
    make_desktop_fixture,
    other_process_fixture,
)

desktop = make_desktop_fixture()
TOO_BIG = str(2**31)  # one above INTEGER: PostgreSQL would refuse it ("out of range")
HUGE = str(2**64)


@pytest.mark.parametrize("value", [TOO_BIG, HUGE])
async def test_ids_beyond_their_column_type_are_a_400_not_a_500(desktop, value):
    agent = await desktop.login("agente1", form=False)
    for path in (f"/ciudadanos/{value}", f"/api/ciudadanos/{value}"):
        response = await agent.client.get(path)
        assert response.status in (400, 404), path
    response = await agent.client.get(f"/api/servicios/{value}/articulos")
    assert response.status in (400, 404)
    liaison = await desktop.login("enlace.idaan", form=False)
    response = await liaison.client.get(f"/enlace/casos/{value}")
    assert response.status in (400, 404)
    assert "no es válida" in await response.text() or response.status == 404
    service = await _service(desktop.uow_factory)
    for field in ("servicio_id", "entidad_id", "ciudadano_id"):
        form = {"tipo": "queja", "descripcion": "Sin agua en el barrio."}
        if field == "ciudadano_id":
            form["servicio_id"] = str(service.id)
        form[field] = value
        response = await agent.post("/casos", form)
        assert response.status == 400, field
        assert "identificador válido" in (await response.json())["error"]


async def test_a_pop_id_may_use_the_whole_bigint_range(desktop):
    agent = await desktop.login("agente1", form=False)
    response = await agent.post(
        "/casos/leer", {"pop_id": str(2**40), "numero": "2026000123"}
    )
    assert response.status in (403, 404)  # not this agent's pop: refused, not a 500


async def test_a_non_utf8_session_cookie_is_no_session_not_a_500(desktop):
    reader, writer = await asyncio.open_connection(desktop.server.host, desktop.server.port)
    writer.write(
        b"GET /escritorio HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + f"Cookie: {COOKIE}=".encode()
        + b"abc\xff\xfe\x80def\r\n\r\n"
    )
    await writer.drain()
    head = (await asyncio.wait_for(reader.read(), 5)).split(b"\r\n", 1)[0]
    writer.close()
    assert head.split()[1] in (b"302", b"303", b"401"), head  # sent to the login page


@pytest.fixture
async def outage_desktop(seeded, engine, migrated_database):
    url = make_url(migrated_database)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = make_engine(
        url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        pool_size=2,
        connect_timeout=1.0,
    )
    app = init_app(
        Settings(),
        uow_factory=UnitOfWorkFactory(make_sessionmaker(proxied)),
        engine=engine,
        queue_control=FakeQueueControl(),
        clock=FakeClock(START),
    )
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    await asyncio.wait_for(app[LISTENER].connected.wait(), 5)
    client = TestClient(server)
    await client.start_server()
    yield proxy, client
    await client.close()
    await server.close()
    await proxy.stop()
    await proxied.dispose()


PAGES = ["/escritorio", "/ciudadanos?q=rosa", "/ciudadanos/1", "/enlace", "/contactos", "/"]


async def test_every_page_during_a_database_outage_is_a_spanish_503(outage_desktop, caplog):
    proxy, client = outage_desktop
    await proxy.cut()
    client.session.cookie_jar.update_cookies({COOKIE: "A" * 43})
    for path in PAGES:
        response = await client.get(path, allow_redirects=False)
        assert response.status == 503, path
        assert "no puede consultar la base de datos" in await response.text(), path
        assert response.headers["Retry-After"] == "30"
    response = await client.get("/ciudadanos/1", headers={"Accept": "application/json"})
    assert response.status == 503 and (await response.json())["ok"] is False
    assert "Traceback" not in caplog.text
