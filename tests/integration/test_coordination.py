"""run_once_per_period and Lease against PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from case_core.services.coordination import (
    Lease,
    RunResult,
    period_key,
    run_once_per_period,
    week_key,
)


def test_period_keys_are_aligned_utc_periods_and_local_iso_weeks():
    at = datetime(2026, 12, 1, 16, 7, 31, tzinfo=UTC)
    assert period_key(at, timedelta(minutes=10)) == "2026-12-01T16:00:00Z"
    assert period_key(at, timedelta(minutes=15)) == "2026-12-01T16:00:00Z"
    assert period_key(at + timedelta(minutes=9), timedelta(minutes=15)) == "2026-12-01T16:15:00Z"
    # Sunday 23:30 in Panama is already Monday in UTC: the local week decides.
    sunday_night = datetime(2026, 12, 7, 4, 30, tzinfo=UTC)
    assert week_key(sunday_night, ZoneInfo("America/Panama")) == "2026-W49"


async def test_a_period_runs_once_while_concurrent_callers_see_busy_or_done(uow_factory):
    runs = 0
    release = asyncio.Event()
    running = asyncio.Event()

    async def job() -> None:
        nonlocal runs
        runs += 1
        running.set()
        await release.wait()

    async def attempt() -> RunResult:
        return await run_once_per_period(uow_factory, job="t", period_key="p1", fn=job)

    first = asyncio.create_task(attempt())
    await asyncio.wait_for(running.wait(), 10)
    assert await attempt() is RunResult.BUSY  # the lock is held while the first one runs
    release.set()
    assert await first is RunResult.RAN
    assert await attempt() is RunResult.DONE_ELSEWHERE
    assert runs == 1
    assert await run_once_per_period(uow_factory, job="t", period_key="p2", fn=job) is RunResult.RAN
    assert runs == 2


async def test_a_failed_run_leaves_its_period_to_be_retried(uow_factory):
    async def boom() -> None:
        raise RuntimeError("database hiccup")

    with pytest.raises(RuntimeError):
        await run_once_per_period(uow_factory, job="t", period_key="p", fn=boom)
    ran = []

    async def ok() -> None:
        ran.append(1)

    assert await run_once_per_period(uow_factory, job="t", period_key="p", fn=ok) is RunResult.RAN
    assert ran == [1]


async def test_a_lease_is_exclusive_until_it_expires_or_is_released(uow_factory):
    a = Lease(uow_factory, "pbx:x", owner="a", ttl=1.0)
    b = Lease(uow_factory, "pbx:x", owner="b", ttl=1.0)
    assert await a.try_acquire() and a.held
    assert not await b.try_acquire() and not b.held
    assert await a.try_acquire()  # renewal
    # a stops renewing: b gets it once the database says it expired.
    for _ in range(100):
        if await b.try_acquire():
            break
        await asyncio.sleep(0.05)
    assert b.held and b.previous_owner == "a"
    assert not await a.try_acquire()
    await b.release()
    assert await a.try_acquire() and a.previous_owner is None


class _FakeClient:
    def __init__(self, server: str) -> None:
        self.state = "up"
        self.resyncs = 0

        class _Config:
            pass

        self.config = _Config()
        self.config.server = server  # type: ignore[attr-defined]

    def request_resync(self) -> bool:
        self.resyncs += 1
        return True


class _FakeBridge:
    def __init__(self) -> None:
        self.attached: list[str] = []

    def attach(self, client):  # type: ignore[no-untyped-def]
        name = client.config.server
        self.attached.append(name)
        return lambda: self.attached.remove(name)


async def test_a_pbx_moves_when_its_owner_loses_its_own_link(uow_factory):
    from datetime import UTC, datetime

    from ami.ownership import PbxOwnership

    def clock():  # type: ignore[no-untyped-def]
        return datetime.now(UTC)

    clients_a, clients_b = {"pbx1": _FakeClient("pbx1")}, {"pbx1": _FakeClient("pbx1")}
    bridge_a, bridge_b = _FakeBridge(), _FakeBridge()
    a = PbxOwnership(uow_factory, bridge_a, clients_a, owner="a", ttl=1.0, clock=clock)  # type: ignore[arg-type]
    b = PbxOwnership(uow_factory, bridge_b, clients_b, owner="b", ttl=1.0, clock=clock)  # type: ignore[arg-type]
    await a.step()
    await b.step()
    assert (a.owned, b.owned) == ({"pbx1"}, set())
    assert clients_a["pbx1"].resyncs == 1  # the new owner re-reads the PBX's state
    clients_a["pbx1"].state = "down"
    for _ in range(100):
        await a.step()
        await b.step()
        if b.owned:
            break
        await asyncio.sleep(0.05)
    assert (a.owned, b.owned) == (set(), {"pbx1"})
    assert (bridge_a.attached, bridge_b.attached) == ([], ["pbx1"])
    assert await b.release() == ["pbx1"] and bridge_b.attached == []
