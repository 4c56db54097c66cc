"""Desktop access: login, sessions, CSRF, roles and malformed requests (real PostgreSQL)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from agent_desktop.auth import COOKIE, current_actor
from agent_desktop.csrf import LOGIN_COOKIE
from agent_desktop.sessions import hash_token
from cac311.config import Settings
from case_core.db.models.desktop import WebSessionRow
from tests.integration.test_desktop_support import (  # noqa: F401
    CSRF_RE,
    make_desktop_fixture,
    other_process_fixture,
)

desktop = make_desktop_fixture()
short_desktop = make_desktop_fixture(Settings(session_max_age_seconds=3600), idle=7200)
secure_desktop = make_desktop_fixture(Settings(public_origin="https://311.gob.pa"))


async def _sessions(uow_factory) -> int:
    async with uow_factory() as uow:
        return await uow.session.scalar(select(func.count()).select_from(WebSessionRow))


async def test_given_seeded_agent_when_logging_in_then_session_is_stored_hashed(desktop):
    client = await desktop.client()
    token = CSRF_RE.search(await (await client.get("/login")).text()).group(1)
    response = await client.post(
        "/login",
        data={"usuario": "agente1", "contrasena": "cac311-demo", "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 302 and response.headers["Location"] == "/escritorio"
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]
    async with desktop.uow_factory() as uow:
        row = await uow.session.scalar(select(WebSessionRow))
    assert row.token_hash == hash_token(cookie.value) != cookie.value
    assert row.created_at == desktop.clock.now
    assert (row.expires_at - row.created_at).total_seconds() == 8 * 3600
    page = await client.get("/escritorio")
    text = await page.text()
    assert page.status == 200 and "Conectarse a la cola" in text and "Ana Batista" in text


async def test_given_https_public_origin_then_session_cookie_is_secure(secure_desktop):
    client = await secure_desktop.client()
    page = await client.get("/login")
    assert page.cookies[LOGIN_COOKIE]["secure"]
    token = CSRF_RE.search(await page.text()).group(1)
    response = await client.post(
        "/login",
        data={"usuario": "agente1", "contrasena": "cac311-demo", "csrf_token": token},
        headers={"Cookie": f"{LOGIN_COOKIE}={token}"},
        allow_redirects=False,
    )
    assert response.cookies[COOKIE]["secure"]


async def test_given_wrong_password_when_logging_in_then_401_and_no_session(desktop):
    client = await desktop.client()
    token = CSRF_RE.search(await (await client.get("/login")).text()).group(1)
    response = await client.post(
        "/login",
        data={"usuario": "agente1", "contrasena": "incorrecta", "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 401
    assert "Usuario, contraseña o código de verificación incorrectos." in await response.text()
    unknown = await client.post(
        "/login",
        data={"usuario": "nadie", "contrasena": "x", "csrf_token": token},
        allow_redirects=False,
    )
    assert unknown.status == 401
    assert await _sessions(desktop.uow_factory) == 0


async def test_given_login_form_without_csrf_cookie_when_posting_then_403(desktop):
    client = await desktop.client()
    response = await client.post(
        "/login",
        data={"usuario": "agente1", "contrasena": "cac311-demo", "csrf_token": "forged"},
        allow_redirects=False,
    )
    assert response.status == 403
    assert "código de seguridad" in await response.text()


async def test_given_idle_session_when_an_hour_passes_then_login_is_asked_again(desktop):
    agent = await desktop.login("agente1")
    desktop.clock.advance(minutes=59)
    assert (await agent.client.get("/escritorio", allow_redirects=False)).status == 200
    desktop.clock.advance(minutes=61)
    response = await agent.client.get("/escritorio", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login")
    assert await _sessions(desktop.uow_factory) == 0


async def test_given_active_session_when_max_age_passes_then_it_expires(short_desktop):
    agent = await short_desktop.login("agente1")
    for _ in range(2):
        short_desktop.clock.advance(minutes=29)
        assert (await agent.client.get("/escritorio", allow_redirects=False)).status == 200
    short_desktop.clock.advance(minutes=3)
    response = await agent.client.get("/api/servicios?q=agua")
    assert response.status == 401
    assert "sesión" in (await response.json())["error"]


async def test_given_logged_in_agent_when_logging_out_then_session_is_gone(desktop):
    agent = await desktop.login("agente1")
    no_token = await agent.client.post("/logout", allow_redirects=False)
    assert no_token.status == 403
    response = await agent.client.post(
        "/logout", data={"csrf_token": agent.csrf}, allow_redirects=False
    )
    assert response.status == 302 and response.headers["Location"] == "/login"
    assert await _sessions(desktop.uow_factory) == 0
    again = await agent.client.get("/escritorio", allow_redirects=False)
    assert again.status == 302


async def test_given_anonymous_visitor_then_pages_redirect_and_api_says_401(desktop):
    client = await desktop.client()
    page = await client.get("/escritorio", allow_redirects=False)
    assert page.status == 302 and page.headers["Location"] == "/login?siguiente=/escritorio"
    api = await client.get("/api/servicios?q=agua")
    assert api.status == 401
    ws = await client.get("/ws", headers={"Origin": desktop.origin})
    assert ws.status == 401


async def test_given_roles_then_only_agents_supervisors_admins_use_the_desktop(desktop):
    for username in ("supervisor", "admin", "agente2"):
        user = await desktop.login(username, form=False)
        assert (await user.client.get("/escritorio")).status == 200, username
    for username in ("auditor", "enlace.idaan"):
        user = await desktop.login(username, form=False)
        page = await user.client.get("/escritorio")
        assert page.status == 403, username
        assert "Su rol no tiene acceso al escritorio" in await page.text()
        api = await user.client.get("/api/servicios?q=agua")
        assert api.status == 403


async def test_given_sub_app_when_asking_current_actor_then_it_sees_the_session(desktop):
    async def whoami(request: web.Request) -> web.Response:
        actor = await current_actor(request)
        return web.json_response({"user": actor.username if actor else None})

    # A handler of another sub-app reuses the desktop's session lookup.
    desktop.app.router._frozen = False  # test-only: add a route after startup
    desktop.app.router.add_get("/yo", whoami)
    auditor = await desktop.login("auditor", form=False)
    assert (await (await auditor.client.get("/yo")).json()) == {"user": "auditor"}
    stranger = await desktop.client()
    assert (await (await stranger.get("/yo")).json()) == {"user": None}


async def test_given_missing_csrf_when_posting_forms_then_403(desktop):
    agent = await desktop.login("agente1", form=False)
    for path in ("/casos", "/agente/cola", "/casos/leer"):
        response = await agent.client.post(
            path, data={"tipo": "queja"}, headers={"Accept": "application/json"}
        )
        assert response.status == 403, path
        assert "código de seguridad" in (await response.json())["error"]
    wrong = await agent.client.post(
        "/casos", data={"csrf_token": "otro"}, headers={"Accept": "application/json"}
    )
    assert wrong.status == 403
    assert desktop.queue.calls == []


async def test_given_malformed_requests_then_400_with_a_spanish_message(desktop):
    agent = await desktop.login("agente1", form=False)
    bad_id = await agent.post("/casos", {"tipo": "queja", "servicio_id": "abc"})
    assert bad_id.status == 400
    assert "número entero" in (await bad_id.json())["error"]
    bad_type = await agent.post("/casos", {"tipo": "robo"})
    assert bad_type.status == 400 and "tipo de caso" in (await bad_type.json())["error"]
    garbage = await agent.client.post(
        "/casos",
        data=b"--x\r\nnot a part",
        headers={"Content-Type": "multipart/form-data; boundary=x", "Accept": "application/json"},
    )
    assert garbage.status == 400
    assert (await garbage.json())["error"] == "No se pudo leer el formulario enviado."
    page = await agent.client.get("/ciudadanos/abc")
    assert page.status == 400 and "La dirección no es válida." in await page.text()
    missing = await agent.client.get("/api/servicios/999999/articulos")
    assert missing.status == 404 and (await missing.json())["error"] == "El servicio no existe."
    async with desktop.uow_factory() as uow:
        service_id = (await uow.directory.search_services("agua"))[0][0].id
    domain = await agent.post(
        "/casos", {"tipo": "queja", "servicio_id": str(service_id), "descripcion": "abc"}
    )
    assert (await domain.json()) == {
        "ok": False,
        "error": "Describa el caso (al menos 5 caracteres).",
    }
    assert domain.status == 400


async def test_given_foreign_origin_when_opening_websocket_then_403(desktop):
    agent = await desktop.login("agente1", form=False)
    response = await agent.client.get(
        "/ws",
        headers={
            "Origin": "http://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 403
    ws = await agent.ws()
    assert (await ws.receive_json())["type"] == "hello"
    await ws.close()


def test_given_a_search_request_then_the_access_log_omits_the_query(caplog):
    import logging

    from aiohttp.test_utils import make_mocked_request

    from agent_desktop.app import AccessLogger

    request = make_mocked_request("GET", "/ciudadanos?q=8-123-4567")
    logger = logging.getLogger("test.access")
    with caplog.at_level(logging.INFO, logger="test.access"):
        AccessLogger(logger, "").log(request, web.Response(status=200), 0.01)
    assert "/ciudadanos" in caplog.text and "8-123-4567" not in caplog.text


async def test_sessions_past_their_absolute_expiry_are_purged(seeded):
    from datetime import UTC, datetime, timedelta

    from agent_desktop.sessions import create_session, purge_expired

    now = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    async with seeded() as uow:
        user = await uow.users.by_username("agente1")
    await create_session(
        seeded, user_id=user.id, now=now - timedelta(hours=9), max_age_seconds=8 * 3600
    )
    live = await create_session(seeded, user_id=user.id, now=now, max_age_seconds=8 * 3600)
    assert await purge_expired(seeded, now=now) == 1
    async with seeded() as uow:
        hashes = (await uow.session.scalars(select(WebSessionRow.token_hash))).all()
    assert hashes == [hash_token(live)]
