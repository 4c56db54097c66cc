"""Users and access through the desktop (issue 11): login throttling and lockout, the
forced password change, TOTP, the admin pages, and the append-only audit."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from cac311.config import Settings
from case_core.db.models import UserRow
from case_core.db.models.admin import AdminAuditRow, LoginAttemptRow
from case_core.domain.roles import Actor, Role
from case_core.services.user_admin import create_user
from tests.integration.test_desktop_support import (  # noqa: F401
    CSRF_RE,
    PASSWORD,
    make_desktop_fixture,
)

desktop = make_desktop_fixture()
strict_desktop = make_desktop_fixture(Settings(require_2fa=True))
ADMIN = Actor(None, "prueba", Role.ADMIN)
NEW_PASSWORD = "lluvia-cerro-ancon-2026"


async def _login(desktop, username: str, password: str, code: str = ""):  # noqa: F811
    client = await desktop.client()
    token = CSRF_RE.search(await (await client.get("/login")).text()).group(1)
    response = await client.post(
        "/login",
        data={"usuario": username, "contrasena": password, "csrf_token": token, "codigo": code},
        allow_redirects=False,
    )
    return client, response


async def _csrf(client, path: str) -> str:
    return CSRF_RE.search(await (await client.get(path)).text()).group(1)


@pytest.fixture(autouse=True)
def no_tarpit(monkeypatch):
    """Refused logins normally wait a second before answering; these tests fail many."""
    import agent_desktop.admin.login as login_module

    monkeypatch.setattr(login_module, "FAILURE_DELAY_SECONDS", 0.0)


async def test_given_a_refused_login_then_the_answer_waits_the_tarpit_delay(desktop, monkeypatch):
    import time

    import agent_desktop.admin.login as login_module

    monkeypatch.setattr(login_module, "FAILURE_DELAY_SECONDS", 0.4)
    start = time.monotonic()
    _, response = await _login(desktop, "agente1", "no-es-la-clave")
    assert response.status == 401 and time.monotonic() - start >= 0.4


@pytest.fixture
def verify_calls(monkeypatch):
    """Counts Argon2 verifications done by the login (the spy wraps the real function)."""
    import agent_desktop.admin.login as login_module

    real = login_module.verify_password_async
    calls: list[int] = []

    async def counting(stored: str, password: str) -> bool:
        calls.append(1)
        return await real(stored, password)

    monkeypatch.setattr(login_module, "verify_password_async", counting)
    return calls


async def test_given_five_failures_then_the_account_locks_for_fifteen_minutes_and_others_get_in(
    desktop, verify_calls, caplog
):
    caplog.set_level(logging.WARNING, logger="case_core.services.login_guard")
    for _ in range(5):
        _, response = await _login(desktop, "agente1", "no-es-la-clave")
        assert response.status == 401
    assert len(verify_calls) == 5
    # Locked: even the right password is refused, at once, without spending Argon2 on it.
    _, locked = await _login(desktop, "agente1", PASSWORD)
    assert locked.status == 429 and "bloqueada" in await locked.text()
    assert len(verify_calls) == 5
    # Another user logs in normally meanwhile.
    _, other = await _login(desktop, "agente2", PASSWORD)
    assert other.status == 302
    desktop.clock.advance(minutes=14)
    _, still = await _login(desktop, "agente1", PASSWORD)
    assert still.status == 429
    desktop.clock.advance(minutes=1, seconds=1)
    _, back = await _login(desktop, "agente1", PASSWORD)
    assert back.status == 302 and back.headers["Location"] == "/escritorio"

    async with desktop.uow_factory() as uow:
        attempts = (
            await uow.session.scalars(select(LoginAttemptRow).order_by(LoginAttemptRow.id))
        ).all()
        user = await uow.users.by_username("agente1")
    assert [a.reason for a in attempts if a.username == "agente1"] == (
        ["bad_password"] * 5 + ["locked", "locked", "ok"]
    )
    assert all(a.ip == "127.0.0.1" for a in attempts)
    assert user.failed_logins == 0 and user.locked_until is None
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "agente1" in logged and "127.0.0.1" in logged and "no-es-la-clave" not in logged
    assert PASSWORD not in logged


async def test_given_many_failures_from_one_address_then_it_is_throttled_for_any_user(desktop):
    for n in range(20):
        _, response = await _login(desktop, f"nadie{n}", "no-es-la-clave")
        assert response.status == 401
    _, throttled = await _login(desktop, "agente3", PASSWORD)
    assert throttled.status == 429 and "Demasiados intentos" in await throttled.text()
    desktop.clock.advance(minutes=16)
    _, later = await _login(desktop, "agente3", PASSWORD)
    assert later.status == 302


async def test_given_failed_logins_then_the_admin_sees_them_and_an_agent_may_not(desktop):
    await _login(desktop, "agente1", "mala-clave-1")
    admin, response = await _login(desktop, "admin", PASSWORD)
    assert response.status == 302
    page = await admin.get("/admin/accesos")
    body = await page.text()
    assert page.status == 200 and "agente1" in body and "Contraseña incorrecta" in body
    assert "mala-clave-1" not in body
    agent, _ = await _login(desktop, "agente2", PASSWORD)
    assert (await agent.get("/admin/accesos")).status == 403
    assert (await agent.get("/admin/usuarios")).status == 403


async def test_given_a_new_user_then_the_first_login_forces_a_password_change(desktop):
    now = desktop.clock()
    async with desktop.uow_factory() as uow:
        mop = await uow.directory.entity_by_code("MOP")
    await create_user(
        desktop.uow_factory,
        actor=ADMIN,
        username="enlace.mop",
        full_name="Rita Mop",
        role=Role.LIAISON_EXEC,
        password="temporal-de-prueba-1",
        now=now,
        entity_id=mop.id,
    )
    client, response = await _login(desktop, "enlace.mop", "temporal-de-prueba-1")
    assert response.status == 302 and response.headers["Location"] == "/cuenta/contrasena"
    held = await client.get("/directorio", allow_redirects=False)
    assert held.status == 302 and held.headers["Location"] == "/cuenta/contrasena"
    api = await client.get("/api/articulos?q=agua", headers={"Accept": "application/json"})
    assert api.status == 403
    token = await _csrf(client, "/cuenta/contrasena")
    for new, message in (
        ("corta", "al menos 12"),
        ("password1234", "demasiado común"),
        ("enlace.mop-2026-abc", "nombre de usuario"),
    ):
        weak = await client.post(
            "/cuenta/contrasena",
            data={
                "csrf_token": token,
                "actual": "temporal-de-prueba-1",
                "nueva": new,
                "repetir": new,
            },
        )
        assert weak.status == 400 and message in await weak.text()
    wrong = await client.post(
        "/cuenta/contrasena",
        data={
            "csrf_token": token,
            "actual": "otra",
            "nueva": NEW_PASSWORD,
            "repetir": NEW_PASSWORD,
        },
    )
    assert wrong.status == 400 and "actual no es correcta" in await wrong.text()
    done = await client.post(
        "/cuenta/contrasena",
        data={
            "csrf_token": token,
            "actual": "temporal-de-prueba-1",
            "nueva": NEW_PASSWORD,
            "repetir": NEW_PASSWORD,
        },
        allow_redirects=False,
    )
    assert done.status == 302
    page = await client.get("/directorio")
    assert page.status == 200 and "Ministerio de Obras Públicas" in await page.text()
    async with desktop.uow_factory() as uow:
        user = await uow.users.by_username("enlace.mop")
    assert not user.must_change_password and user.password_hash.startswith("$argon2id$")
    _, again = await _login(desktop, "enlace.mop", NEW_PASSWORD)
    assert again.status == 302 and again.headers["Location"] != "/cuenta/contrasena"


async def test_given_admin_pages_then_users_are_created_reset_and_audited(desktop):
    admin, _ = await _login(desktop, "admin", PASSWORD)
    token = await _csrf(admin, "/admin/usuarios")
    async with desktop.uow_factory() as uow:
        idaan = await uow.directory.entity_by_code("IDAAN")
    made = await admin.post(
        "/admin/usuarios",
        data={
            "csrf_token": token,
            "usuario": "Contacto.Idaan",
            "nombre": "Luis Contacto",
            "rol": "liaison_contact",
            "entidad": str(idaan.id),
            "contrasena": "temporal-de-prueba-2",
        },
    )
    assert made.status == 400 and "debe pertenecer a una oficina" in await made.text()
    ok = await admin.post(
        "/admin/usuarios",
        data={
            "csrf_token": token,
            "usuario": "sup2",
            "nombre": "Segunda Supervisora",
            "rol": "supervisor",
            "contrasena": "temporal-de-prueba-2",
        },
    )
    assert ok.status == 200 and "sup2" in await ok.text()
    reset = await admin.post(
        "/admin/usuarios/agente1/contrasena",
        data={"csrf_token": token, "contrasena": "temporal-de-prueba-3"},
    )
    assert reset.status == 200
    _, old = await _login(desktop, "agente1", PASSWORD)
    assert old.status == 401
    _, new = await _login(desktop, "agente1", "temporal-de-prueba-3")
    assert new.headers["Location"] == "/cuenta/contrasena"
    no_csrf = await admin.post("/admin/usuarios/agente2/desactivar", data={})
    assert no_csrf.status == 403
    audit = await admin.get("/admin/auditoria")
    body = await audit.text()
    assert "user.create" in body and "user.reset_password" in body and "$argon2" not in body
    assert "Contraseña temporal puesta" in body
    supervisor, _ = await _login(desktop, "supervisor", PASSWORD)
    assert (await supervisor.get("/admin/auditoria")).status == 200
    assert (await supervisor.get("/admin/usuarios")).status == 403


async def test_the_admin_audit_is_append_only(desktop):
    admin, _ = await _login(desktop, "admin", PASSWORD)
    token = await _csrf(admin, "/admin/usuarios")
    await admin.post("/admin/usuarios/auditor/desactivar", data={"csrf_token": token})
    async with desktop.uow_factory() as uow:
        row = await uow.session.scalar(
            select(AdminAuditRow).where(AdminAuditRow.action == "user.disable")
        )
        auditor = await uow.users.by_username("auditor")
    assert row.actor_username == "admin" and row.at == desktop.clock.now
    assert row.before["active"] is True and row.after["active"] is False
    assert not auditor.active
    for statement in ("UPDATE admin_audit SET actor_username = 'x'", "DELETE FROM admin_audit"):
        async with desktop.uow_factory() as uow:
            with pytest.raises(DBAPIError, match="append-only"):
                await uow.session.execute(text(statement))


async def test_given_required_2fa_then_a_supervisor_sets_up_totp_and_then_needs_the_code(
    strict_desktop,
):
    desk = strict_desktop
    client, response = await _login(desk, "supervisor", PASSWORD)
    assert response.headers["Location"] == "/cuenta/2fa"
    held = await client.get("/escritorio", allow_redirects=False)
    assert held.headers["Location"] == "/cuenta/2fa"
    page = await (await client.get("/cuenta/2fa")).text()
    secret = re.search(r'id="clave-totp">([A-Z2-7]+)<', page).group(1)
    token = CSRF_RE.search(page).group(1)
    bad = await client.post("/cuenta/2fa", data={"csrf_token": token, "codigo": "000000"})
    assert bad.status == 400
    code = pyotp.TOTP(secret).at(desk.clock())
    ok = await client.post(
        "/cuenta/2fa", data={"csrf_token": token, "codigo": code}, allow_redirects=False
    )
    assert ok.status == 302
    assert (await client.get("/escritorio", allow_redirects=False)).status == 200
    _, without = await _login(desk, "supervisor", PASSWORD)
    assert without.status == 401 and "código de verificación incorrectos" in await without.text()
    _, wrong = await _login(desk, "supervisor", PASSWORD, "123456")
    assert wrong.status == 401
    _, replayed = await _login(desk, "supervisor", PASSWORD, code)  # the setup code, again
    assert replayed.status == 401
    desk.clock.advance(seconds=90)
    fresh = pyotp.TOTP(secret).at(desk.clock())
    _, right = await _login(desk, "supervisor", PASSWORD, fresh)
    assert right.status == 302 and right.headers["Location"] != "/cuenta/2fa"
    _, again = await _login(desk, "supervisor", PASSWORD, fresh)
    assert again.status == 401  # a code is accepted once
    # Agents are not asked for a second factor.
    _, agent = await _login(desk, "agente1", PASSWORD)
    assert agent.headers["Location"] == "/escritorio"


async def test_many_parallel_failing_logins_are_bounded_not_queued_forever(desktop):
    """30 failing logins at once all get an answer (401, or 503 when the Argon2 pool is
    full), and a logged-in agent's page is served meanwhile."""
    agent = await desktop.login("agente2", form=False)
    results = await asyncio.gather(
        *[_login(desktop, f"x{n}", "no-es-la-clave") for n in range(30)],
        agent.client.get("/escritorio"),
    )
    statuses = [r.status for _, r in results[:-1]]
    assert set(statuses) <= {401, 503} and results[-1].status == 200
    async with desktop.uow_factory() as uow:
        assert await uow.session.scalar(select(UserRow.id).where(UserRow.username == "x1")) is None


async def test_given_a_hash_with_old_argon2_parameters_then_login_upgrades_it(desktop):
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash(PASSWORD)
    async with desktop.uow_factory() as uow:
        user = await uow.users.by_username("agente3")
        user.password_hash = old
        await uow.commit()
    _, response = await _login(desktop, "agente3", PASSWORD)
    assert response.status == 302
    async with desktop.uow_factory() as uow:
        user = await uow.users.by_username("agente3")
    assert user.password_hash != old and "$m=19456,t=2,p=1$" in user.password_hash
    _, again = await _login(desktop, "agente3", PASSWORD)
    assert again.status == 302


async def test_given_a_lost_phone_when_the_admin_resets_the_password_then_totp_is_cleared(
    desktop,
):
    from case_core.services.user_admin import reset_password

    async with desktop.uow_factory() as uow:
        user = await uow.users.by_username("supervisor")
        user.totp_secret = pyotp.random_base32()
        await uow.commit()
    await reset_password(
        desktop.uow_factory,
        actor=ADMIN,
        username="supervisor",
        password="temporal-de-prueba-4",
        now=desktop.clock(),
    )
    async with desktop.uow_factory() as uow:
        user = await uow.users.by_username("supervisor")
        audit = await uow.session.scalar(
            select(AdminAuditRow).where(AdminAuditRow.action == "user.reset_password")
        )
    assert user.totp_secret is None and user.must_change_password
    assert audit.before == {"totp": True} and audit.after["totp"] is False
    _, response = await _login(desktop, "supervisor", "temporal-de-prueba-4")
    assert response.headers["Location"] == "/cuenta/contrasena"


async def test_login_attempts_older_than_90_days_are_purged(desktop):
    from case_core.services.login_guard import purge_old_attempts

    await _login(desktop, "agente1", "mala-clave-1")
    desktop.clock.advance(days=89)
    await _login(desktop, "agente1", "mala-clave-2")
    assert (
        await purge_old_attempts(desktop.uow_factory, now=desktop.clock() + timedelta(days=2)) == 1
    )
    async with desktop.uow_factory() as uow:
        left = (await uow.session.scalars(select(LoginAttemptRow.at))).all()
    assert left == [desktop.clock.now]
