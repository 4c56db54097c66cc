"""Three ``cac311 serve`` processes on one database: every periodic job runs once per
period across them, each PBX is tracked by exactly one of them, and killing the owner of a
PBX's link moves it to another process within seconds."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import text

from asterisk_sim.ami import AmiSimulator

JOBS = ("escalation", "session_purge", "callback_schedule", "call_rollup", "note_prompts")
STARTED = re.compile(r"periodic job (\S+) starting period (\S+)")


async def _until(predicate, within: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def _serve(database_url: str, sims: dict[str, AmiSimulator], tmp_path, n: int):  # type: ignore[no-untyped-def]
    env = dict(os.environ)
    env.update(
        CAC311_DATABASE_URL=database_url,
        CAC311_AMI_SERVERS=",".join(f"{name}=127.0.0.1:{s.port}" for name, s in sims.items()),
        CAC311_AMI_USER="cac311",
        CAC311_AMI_SECRET="s3cret",
        CAC311_HEALTH_BIND="127.0.0.1:0",
        CAC311_RECORDINGS_DIR=str(tmp_path / f"rec{n}"),
        CAC311_PROMPTS_DIR=str(tmp_path / "prompts"),
        CAC311_PBX_LEASE_SECONDS="2",
        CAC311_JOB_PERIODS=",".join(f"{job}=1" for job in JOBS),
        # The seeded database has the demo users, which production refuses (issue 11).
        CAC311_ENV="demo",
    )
    log = open(tmp_path / f"serve{n}.log", "wb")  # noqa: SIM115 - closed by the test
    proc = subprocess.Popen(
        [sys.executable, "-m", "cac311.cli", "serve", "--only", "ami", "--only", "dialer"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc, log


@pytest.fixture
async def sims():
    pbxs = {"pbx1": AmiSimulator(), "pbx2": AmiSimulator()}
    for sim in pbxs.values():
        await sim.start()
    yield pbxs
    for sim in pbxs.values():
        await sim.stop()


async def test_three_serve_processes_share_jobs_once_per_period_and_take_over_a_dead_pbx_owner(
    seeded, migrated_database, sims, tmp_path
):
    async def scalar(sql, **params):  # type: ignore[no-untyped-def]
        async with seeded() as uow:
            return (await uow.session.execute(text(sql), params)).all()

    procs = [_serve(migrated_database, sims, tmp_path, n) for n in range(3)]
    pids = {p.pid for p, _ in procs}
    try:

        async def owners():  # type: ignore[no-untyped-def]
            rows = await scalar("SELECT resource, owner FROM leases WHERE expires_at > now()")
            found = {r: int(o.split(":")[1]) for r, o in rows}
            return found if set(found) == {"pbx:pbx1", "pbx:pbx2"} else None

        first = await _until(owners, 60, "both PBX leases")
        assert set(first.values()) <= pids

        async def periods():  # type: ignore[no-untyped-def]
            rows = await scalar(
                "SELECT job, count(*) FROM periodic_job_runs GROUP BY job HAVING count(*) >= 4"
            )
            return len(rows) == len(JOBS)

        await _until(periods, 90, "four periods of every job")

        # Kill the owner of pbx1 without a chance to release its lease.
        victim = first["pbx:pbx1"]
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)

        async def moved():  # type: ignore[no-untyped-def]
            rows = await scalar(
                "SELECT owner FROM leases WHERE resource = 'pbx:pbx1' AND expires_at > now()"
            )
            pid = int(rows[0][0].split(":")[1]) if rows else victim
            return pid if pid != victim else None

        new_owner = await _until(moved, 30, "pbx1 to move to a live process")
        takeover = time.monotonic() - killed_at
        assert new_owner in pids - {victim}
        assert takeover < 15, takeover  # lease 2 s + a renewal period, on a loaded machine

        # The new owner tracks pbx1's calls: a call replayed now gets its row.
        await sims["pbx1"].replay("ami-queue-call-answered")

        async def call_row():  # type: ignore[no-untyped-def]
            return await scalar(
                "SELECT server FROM calls WHERE uniqueid = '1795475111.1' AND ended_at IS NOT NULL"
            )

        assert await _until(call_row, 30, "the call on pbx1 to be stored") == [("pbx1",)]
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, log in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()

    starts: Counter[tuple[str, str]] = Counter()
    started_by: dict[tuple[str, str], set[int]] = {}
    for (proc, _), n in zip(procs, range(3), strict=True):
        for job, key in STARTED.findall((tmp_path / f"serve{n}.log").read_text()):
            starts[(job, key)] += 1
            started_by.setdefault((job, key), set()).add(proc.pid)
    done = set(await scalar("SELECT job, period_key FROM periodic_job_runs"))
    # The weekly quality sample (not sped up here) ran for this one week, once.
    assert {job for job, _ in done} == {*JOBS, "quality_sample"}
    assert len([key for job, key in done if job == "quality_sample"]) == 1
    # Exactly one start per period; the only exception allowed is a period whose first
    # runner was the process we killed (it may have died mid-run, so another re-ran it).
    repeated = {k: n for k, n in starts.items() if n > 1}
    assert all(victim in started_by[k] and n == 2 for k, n in repeated.items()), repeated
    assert done <= set(starts)
    # The survivors stopped cleanly: they released their leases.
    assert await scalar("SELECT owner FROM leases") == []
