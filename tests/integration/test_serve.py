"""``cac311 serve`` wiring: every part started from Settings against the AMI simulator and
PostgreSQL, with a health endpoint that reports each part and link."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import aiohttp
import pytest

from asterisk_sim.agi import Press, SimulatedAgiCall
from asterisk_sim.ami import AmiSimulator
from cac311.bootstrap import PARTS, running_parts
from cac311.config import AmiServer, HostPort, Settings


@pytest.fixture
async def sim():
    simulator = AmiSimulator(username="cac311", secret="s3cret")
    await simulator.start()
    yield simulator
    await simulator.stop()


def _settings(database_url, sim, tmp_path) -> Settings:
    return replace(
        Settings(),
        database_url=database_url,
        ami_servers=(AmiServer("pbx1", "127.0.0.1", sim.port, "cac311", "s3cret"),),
        fastagi_bind=HostPort("127.0.0.1", 0),
        http_bind=HostPort("127.0.0.1", 0),
        health_bind=HostPort("127.0.0.1", 0),
        recordings_dir=tmp_path,
    )


async def _health(port):
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/health") as r:
        return r.status, await r.json()


async def test_all_parts_start_report_health_and_serve_a_call(
    seeded, migrated_database, sim, tmp_path
):
    settings = _settings(migrated_database, sim, tmp_path)
    async with running_parts(settings, set(PARTS)) as rt:
        status, body = await _until_health(rt.ports["web"], lambda b: b["status"] == "up")
        assert status == 200, body
        assert body["checks"] == {
            "ami:pbx1": "up",
            "database": "up",
            "dialer": "up",
            "ivr": "up",
            "pbx:pbx1": "up",  # the PBX runs PJSIP and the queue (ListCommands)
            "web": "up",
        }
        call = SimulatedAgiCall("127.0.0.1", rt.ports["ivr"], "inbound", caller=[Press("6")])
        await call.run()
        assert call.variables["CAC311_INTENT"] == "consulta"
        await sim.stop()
        sim.drop_all()
        for _ in range(200):
            status, body = await _health(rt.ports["web"])
            if body["checks"]["ami:pbx1"] == "down":
                break
            await asyncio.sleep(0.02)
        assert status == 503 and body["checks"]["ami:pbx1"] == "down"


async def _until_health(port, predicate, within=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        status, body = await _health(port)
        if predicate(body) or loop.time() > deadline:
            return status, body
        await asyncio.sleep(0.02)


async def test_a_pbx_running_without_pjsip_is_reported_down_though_its_ami_is_up(
    seeded, migrated_database, sim, tmp_path
):
    """modules.conf ``require = res_pjsip.so`` did not stop Asterisk 22 when res_pjsip failed:
    the backend notices from ListCommands (no PJSIPQualify) and says so in /health."""
    sim.unloaded_action_prefixes = {"PJSIP"}
    settings = _settings(migrated_database, sim, tmp_path)
    async with running_parts(settings, {"ami"}) as rt:
        client = rt.ami_clients["pbx1"]
        await _until_health(rt.ports["health"], lambda b: client.missing_modules is not None)
        status, body = await _health(rt.ports["health"])
        assert status == 503
        assert body["checks"]["ami:pbx1"] == "up" and body["checks"]["pbx:pbx1"] == "down"
        assert client.missing_modules == ("res_pjsip",)


async def test_a_single_part_process_has_its_own_health_endpoint(
    seeded, migrated_database, sim, tmp_path
):
    settings = _settings(migrated_database, sim, tmp_path)
    async with running_parts(settings, {"ivr"}) as rt:
        assert "web" not in rt.ports
        status, body = await _health(rt.ports["health"])
        assert (status, body["checks"]) == (200, {"database": "up", "ivr": "up"})


async def test_stopping_the_ami_part_marks_the_link_down_for_the_metrics(
    seeded, migrated_database, sim, tmp_path
):
    from sqlalchemy import select

    from case_core.db.models.metrics import AmiLinkOutageRow

    settings = _settings(migrated_database, sim, tmp_path)
    async with running_parts(settings, {"ami"}) as rt:
        status, body = await _health(rt.ports["health"])
        assert body["checks"]["ami:pbx1"] == "up"
        async with seeded() as uow:
            assert (await uow.session.scalars(select(AmiLinkOutageRow))).all() == []
    async with seeded() as uow:
        rows = (await uow.session.scalars(select(AmiLinkOutageRow))).all()
    assert [(r.server, r.up_at) for r in rows] == [("pbx1", None)]
