"""An in-memory IvrBackend for the IVR benchmark's ``--backend fake``.

The fake answers like a seeded database (the same announcement, the demo citizen on caller ID
61234567 and cédula 8-123-4567, one known case) so that both backends make the flows send the
same AGI commands: the difference between the two runs is the database cost alone.
It imports nothing heavy (no SQLAlchemy): the classic per-process script loads it at every
call, and a classic script without a database would not pay for SQLAlchemy either. Its result
types mirror those of ``ivr.backend`` field for field.
"""

from __future__ import annotations

import itertools
from typing import Any

from ivr.backend import Announcement, CaseStatusInfo, CitizenMatch

KNOWN_CALLER_ID = "61234567"  # seeded demo citizen Juan Pérez (+50761234567)
UNKNOWN_CALLER_ID = "62220000"
KNOWN_CEDULA = "8-123-4567"
FAKE_CASE_NUMBER = "2026000001"
FAKE_TRACKING_CODE = "123456"


class FakeBackend:
    """IvrBackend kept in memory; counts calls so the run can report them."""

    def __init__(self, case_number: str = FAKE_CASE_NUMBER) -> None:
        self._ids = itertools.count(1)
        self._case_number = case_number
        self.calls = 0

    async def start_session(
        self,
        *,
        route: str,
        uniqueid: str,
        linkedid: str | None,
        caller_number: str | None,
        callback_id: int | None = None,
    ) -> int:
        self.calls += 1
        return next(self._ids)

    async def record_step(self, session_id: int, step: str, **fields: Any) -> None:
        self.calls += 1

    async def end_session(self, session_id: int, outcome: str) -> None:
        self.calls += 1

    async def announcements(self) -> list[Announcement]:
        self.calls += 1
        return [Announcement("IDAAN", "cac311/anuncio-mantenimiento-chilibre")]

    async def citizen_by_cedula(self, cedula: str) -> CitizenMatch | None:
        self.calls += 1
        return CitizenMatch(1, cedula) if cedula == KNOWN_CEDULA else None

    async def citizens_by_caller_id(self, caller_number: str) -> list[CitizenMatch]:
        self.calls += 1
        return [CitizenMatch(1, KNOWN_CEDULA)] if caller_number == KNOWN_CALLER_ID else []

    async def case_status(
        self, number: str, secret: str, caller_number: str | None
    ) -> CaseStatusInfo | None:
        self.calls += 1
        if number != self._case_number or secret != FAKE_TRACKING_CODE:
            return None
        return CaseStatusInfo(number, "asignado", "IDAAN", 5)
