"""The IVR's database circuit breaker: a busy database is not a dead one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ivr.backend import BackendUnavailable, DatabaseBackend


class _Factory:
    """A unit-of-work factory whose transactions hang, or whose server refuses connections."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self):  # type: ignore[no-untyped-def]
        return self

    async def __aenter__(self):  # type: ignore[no-untyped-def]
        if self.mode == "refused":
            raise ConnectionRefusedError(111, "Connection refused")
        await asyncio.sleep(10)

    async def __aexit__(self, *exc: object) -> None:
        return None


def _backend(mode: str) -> DatabaseBackend:
    return DatabaseBackend(
        _Factory(mode),  # type: ignore[arg-type]
        tz=ZoneInfo("America/Panama"),
        clock=lambda: datetime(2026, 11, 25, tzinfo=UTC),
        timeout=0.02,
    )


async def _timeouts(backend: DatabaseBackend, n: int) -> None:
    for _ in range(n):
        with pytest.raises(BackendUnavailable):
            await backend.case_status("2026000001", "123456", None)


async def test_timeouts_among_successes_do_not_trip_but_three_in_a_row_do():
    backend = _backend("hang")
    await _timeouts(backend, 2)
    assert backend.available
    # A malformed number is answered without the database: a success.
    assert await backend.case_status("12", "123456", None) is None
    await _timeouts(backend, 2)
    assert backend.available
    await _timeouts(backend, 1)
    assert not backend.available
    with pytest.raises(BackendUnavailable):  # refused at once while tripped: no waiting
        await asyncio.wait_for(backend.citizen_by_cedula("8-123-4567"), 0.01)


async def test_a_refused_connection_trips_at_once():
    backend = _backend("refused")
    with pytest.raises(BackendUnavailable):
        await backend.start_session(
            route="inbound", uniqueid="1.1", linkedid=None, caller_number=None
        )
    assert not backend.available
