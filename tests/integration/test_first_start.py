"""Safe first start (issue 11), as an operator runs it: ``db upgrade`` and ``seed`` create no
user with a known password, ``serve`` refuses to start until an administrator exists (or
while a demo password is active), and the ``users`` commands never take a password as an
argument."""

from __future__ import annotations

import asyncpg
import pytest

from tests.integration.test_cli import _run, empty_database  # noqa: F401

ADMIN_PASSWORD = "ventana-mango-tortuga-77"


@pytest.fixture
def env(empty_database):  # noqa: F811
    env = {"CAC311_DATABASE_URL": empty_database, "CAC311_ENV": "production"}
    upgrade = _run("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    return env


def _secret(tmp_path, text: str):
    path = tmp_path / "clave"
    path.write_text(text + "\n", encoding="utf-8")
    path.chmod(0o600)
    return str(path)


async def test_given_a_fresh_database_when_seeded_then_no_user_and_serve_refuses_until_an_admin(
    env,
    empty_database,  # noqa: F811
    tmp_path,
):
    seeded = _run("seed", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert "0 usuarios" in seeded.stdout
    conn = await asyncpg.connect(empty_database.replace("+asyncpg", ""))
    try:
        assert await conn.fetchval("SELECT count(*) FROM users") == 0
        assert await conn.fetchval("SELECT count(*) FROM entities") > 30
    finally:
        await conn.close()

    refused = _run("serve", env=env)
    assert refused.returncode == 3
    assert "No hay ningún administrador activo" in refused.stderr
    assert "cac311 users create-admin" in refused.stderr

    # The password is never an argument: without a terminal or a file the command refuses.
    no_tty = _run("users", "create-admin", "jefa", env=env)
    assert no_tty.returncode == 1 and "--password-file" in no_tty.stderr
    weak = _run(
        "users",
        "create-admin",
        "jefa",
        "--password-file",
        _secret(tmp_path, "admin12345678"),
        env=env,
    )
    assert weak.returncode == 1 and "demasiado común" in weak.stderr
    made = _run(
        "users",
        "create-admin",
        "jefa",
        "--password-file",
        _secret(tmp_path, ADMIN_PASSWORD),
        env=env,
    )
    assert made.returncode == 0, made.stderr

    from cac311.config import load_settings
    from cac311.first_start import unsafe_start_reason

    assert await unsafe_start_reason(load_settings(env)) is None
    conn = await asyncpg.connect(empty_database.replace("+asyncpg", ""))
    try:
        row = await conn.fetchrow("SELECT role, password_hash FROM users WHERE username='jefa'")
        audit = await conn.fetchval("SELECT count(*) FROM admin_audit WHERE action='user.create'")
    finally:
        await conn.close()
    assert row["role"] == "admin" and row["password_hash"].startswith("$argon2id$")
    assert ADMIN_PASSWORD not in row["password_hash"] and audit == 1


async def test_given_demo_users_when_serving_then_refused_unless_demo_env(env, tmp_path):
    from cac311.config import load_settings
    from cac311.first_start import unsafe_start_reason

    assert _run("seed", "--demo-users", env=env).returncode == 0
    message = await unsafe_start_reason(load_settings(env))
    assert message is not None
    assert "contraseña pública de demostración" in message and "agente1" in message
    assert await unsafe_start_reason(load_settings({**env, "CAC311_ENV": "demo"})) is None

    # Once every demo user is disabled or has a new password, serve may start.
    for name in (
        "agente1",
        "agente2",
        "agente3",
        "supervisor",
        "auditor",
        "enlace.idaan",
        "enlace.mupa",
    ):
        assert _run("users", "disable", name, env=env).returncode == 0
    reset = _run(
        "users",
        "reset-password",
        "admin",
        "--password-file",
        _secret(tmp_path, ADMIN_PASSWORD),
        env=env,
    )
    assert reset.returncode == 0, reset.stderr
    assert await unsafe_start_reason(load_settings(env)) is None


def test_users_commands_create_list_set_role_and_speak_spanish(env, tmp_path):
    assert _run("seed", env=env).returncode == 0
    secret = _secret(tmp_path, ADMIN_PASSWORD)
    created = _run(
        "users",
        "create",
        "enlace.mop",
        "--name",
        "Rita Mop",
        "--role",
        "liaison_exec",
        "--entity",
        "MOP",
        "--password-file",
        secret,
        env=env,
    )
    assert created.returncode == 0, created.stderr
    no_entity = _run(
        "users",
        "create",
        "otra",
        "--name",
        "Otra",
        "--role",
        "liaison",
        "--password-file",
        secret,
        env=env,
    )
    assert no_entity.returncode == 1 and "debe pertenecer a una entidad" in no_entity.stderr
    bad_role = _run("users", "set-role", "enlace.mop", "--role", "jefe", env=env)
    assert bad_role.returncode == 1 and "Rol desconocido" in bad_role.stderr
    agent = _run(
        "users", "set-role", "enlace.mop", "--role", "agent", "--interface", "PJSIP/1009", env=env
    )
    assert agent.returncode == 0, agent.stderr
    listing = _run("users", "list", env=env)
    assert "enlace.mop" in listing.stdout and "Agente" in listing.stdout
    assert "PJSIP/1009" in listing.stdout and "debe cambiar la contraseña" in listing.stdout
    bad_config = _run("users", "list", env={**env, "CAC311_HTTP_BIND": "8080"})
    assert bad_config.returncode == 2 and "debe ser host:puerto" in bad_config.stderr


async def test_callbacks_list_prints_spanish_states_and_outcomes(seeded, migrated_database, panama):
    from tests.integration.test_contact_center import _callback, _case

    await _callback(seeded, await _case(seeded, panama), "pendiente", attempts=1, outcome="busy")
    await _callback(
        seeded, await _case(seeded, panama), "en_curso", attempts=2, outcome="no_answer"
    )
    listing = _run("callbacks", "list", env={"CAC311_DATABASE_URL": migrated_database})
    assert listing.returncode == 0, listing.stderr
    out = listing.stdout
    assert "Ocupado" in out and "No contestó" in out and "Pendiente" in out and "En curso" in out
    assert "busy" not in out and "no_answer" not in out and "seguimiento " not in out
