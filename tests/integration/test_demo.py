"""``cac311 demo``: the whole system with simulated traffic, and its private PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from sqlalchemy import text

from ami.queue_control import AmiQueueControl
from asterisk_sim.traffic import TrafficProfile
from cac311.config import HostPort, Settings
from cac311.demo import DemoOptions, running_demo
from cac311.embedded_pg import PG_ROOT, EmbeddedPostgres

FAST = TrafficProfile(
    calls_per_minute=300,
    bots=2,
    ivr_seconds=(0.1, 0.4),
    patience_mean=1.0,
    patience_min=0.3,
    bot_answer_seconds=(0.1, 0.3),
    bot_talk_seconds=(0.5, 1.0),
    ring_no_answer_share=0.1,
    ring_timeout_seconds=0.3,
    human_talk_seconds=0.8,
    human_answer_seconds=0.1,
    max_recording_seconds=0.5,
    callback_answer_share=1.0,
    callback_answer_seconds=(0.1, 0.3),
)

CHECKS = {
    "answered": "SELECT count(*) FROM calls WHERE answered_at IS NOT NULL AND talk_seconds "
    "IS NOT NULL",
    "abandoned": "SELECT count(*) FROM calls WHERE abandoned",
    "ivr_sessions": "SELECT count(*) FROM ivr_sessions WHERE route = 'inbound'",
    "human_pops": "SELECT count(*) FROM screen_pops WHERE agent_interface = 'PJSIP/agent1001'",
    "recordings": "SELECT count(*) FROM recordings",
    "survey_answers": "SELECT count(*) FROM survey_answers",
}


async def _counts(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return {k: (await conn.execute(text(q))).scalar_one() for k, q in CHECKS.items()}


async def _health(base: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/health") as r:
        return r.status, await r.json()


async def test_given_the_demo_when_calls_flow_then_rows_pops_and_health_and_it_restarts(
    uow_factory, migrated_database, tmp_path
):
    options = DemoOptions(http=HostPort("127.0.0.1", 0), data_dir=tmp_path, profile=FAST, seed=3)
    async with running_demo(Settings(), options, database_url=migrated_database) as demo:
        status, body = await _health(demo.base_url())
        assert status == 200, body
        await _citizen_channels_are_announced_and_answer(demo, options)
        await AmiQueueControl(demo.runtime.ami_clients).queue_add(  # type: ignore[arg-type]
            "cac311", "PJSIP/agent1001", "Ana Batista"
        )
        deadline = time.monotonic() + 15
        counts = await _counts(demo.runtime.engine)
        while time.monotonic() < deadline and not all(counts.values()):
            await asyncio.sleep(0.25)
            counts = await _counts(demo.runtime.engine)
        assert all(counts.values()), counts
        assert demo.traffic.stats.by_interface.get("PJSIP/agent1001", 0) >= 1

    # Stopped cleanly: nothing left open in the simulator nor in the calls table...
    assert demo.simulator.channels == {}
    async with uow_factory() as uow:
        still_open = await uow.session.execute(
            text("SELECT count(*) FROM calls WHERE ended_at IS NULL")
        )
        assert still_open.scalar_one() == 0
    # ...and it starts again.
    async with running_demo(Settings(), options, database_url=migrated_database) as again:
        status, body = await _health(again.base_url())
        assert status == 200 and body["checks"]["ami:demo"] == "up"
        assert again.api_key != demo.api_key  # a fresh demo key each run


async def _citizen_channels_are_announced_and_answer(demo, options) -> None:  # type: ignore[no-untyped-def]
    from cac311.demo import banner

    base = demo.base_url()
    text_banner = banner(demo, options)
    assert f"{base}/ciudadano/" in text_banner and f"{base}/open311/v2/" in text_banner
    assert demo.api_key.startswith("o311_") and demo.api_key in text_banner
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/ciudadano/") as r:
            assert r.status == 200
        async with http.get(f"{base}/open311/v2/services.json") as r:
            assert r.status == 200 and len(await r.json()) > 0
        data = {"api_key": demo.api_key}  # a valid key: the refusal is the missing service
        async with http.post(f"{base}/open311/v2/requests.json", data=data) as r:
            assert r.status == 400 and "service_code" in (await r.json())[0]["description"]


@pytest.mark.skipif(not PG_ROOT.is_dir(), reason="Debian PostgreSQL binaries not installed")
async def test_the_private_postgresql_starts_stops_and_restarts_from_its_directory():
    base = Path(tempfile.mkdtemp(prefix="cac311-pg-"))
    os.chmod(base, 0o755)  # as root, the postgres user must be able to reach the directory
    pg = EmbeddedPostgres(base / "pgdata")
    try:
        url = await asyncio.to_thread(pg.start)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)[0]
        conn = await asyncpg.connect(dsn + "/postgres")
        await conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
        await conn.close()
        await asyncio.to_thread(pg.stop)
        assert not pg.running()

        url2 = await asyncio.to_thread(pg.start)  # the cluster is reused, not re-created
        dsn = url2.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)[0]
        conn = await asyncpg.connect(dsn + "/postgres")
        assert await conn.fetchval("SELECT x FROM kept") == 42
        await conn.close()
        # Only a Unix socket in the data directory, plus 127.0.0.1.
        assert list((base / "pgdata").glob(".s.PGSQL.*"))
    finally:
        await asyncio.to_thread(pg.destroy)
        shutil.rmtree(base, ignore_errors=True)
    assert not (base / "pgdata").exists()
