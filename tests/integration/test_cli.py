"""The ``cac311`` command as an operator runs it (subprocesses, real PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from case_core.seed.directory_data import ENTITIES
from ivr.prompts.catalogue import PROMPTS, entity_prompt_name

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cac311.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
async def empty_database(database_url):
    url = make_url(database_url)
    name = f"{url.database}_cli"
    admin_dsn = url.set(database="postgres").render_as_string(False).replace("+asyncpg", "")
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(False)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def test_db_upgrade_then_seed_twice_gives_a_browsable_directory(empty_database):
    env = {"CAC311_DATABASE_URL": empty_database}
    upgrade = _run("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    first = _run("seed", env=env)
    second = _run("seed", env=env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert f"{len(ENTITIES)} entidades" in first.stdout
    assert "0 entidades, 0 servicios" in second.stdout
    conn = await asyncpg.connect(empty_database.replace("+asyncpg", ""))
    try:
        assert await conn.fetchval("SELECT count(*) FROM entities") == len(ENTITIES)
        assert await conn.fetchval("SELECT max(sla_days) FROM services") <= 30
    finally:
        await conn.close()


def test_a_malformed_variable_stops_the_command_naming_it():
    result = _run("seed", env={"CAC311_AMI_PORT": "cinco"})
    assert result.returncode == 2
    assert "CAC311_AMI_PORT" in result.stderr


@pytest.mark.skipif(
    not (shutil.which("espeak-ng") and shutil.which("sox")),
    reason="espeak-ng and sox are installed by scripts/setup",
)
def test_prompts_build_renders_every_catalogued_prompt(tmp_path):
    result = _run("prompts", "build", "--no-db", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    names = [p.file for p in PROMPTS] + [entity_prompt_name(e[0]) for e in ENTITIES]
    for name in names:
        with wave.open(str(tmp_path / f"{name}.wav")) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
            assert wav.getnframes() > 800  # at least 0.1 s of speech


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="docker-compose not installed")
def test_docker_compose_file_is_accepted():
    result = subprocess.run(
        ["docker-compose", "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "POSTGRES_PASSWORD": "x", "CAC311_AMI_SECRET": "y"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_schema_has_a_single_head_and_matches_the_models():
    from alembic.script import ScriptDirectory

    from case_core.db.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("postgresql+asyncpg://unused/x"))
    assert len(script.get_heads()) == 1, script.get_heads()


async def test_migrated_schema_has_no_difference_from_the_models(migrated_database):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    from case_core.db.models import Base

    engine = create_async_engine(migrated_database)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []
