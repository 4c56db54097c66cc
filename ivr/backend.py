"""What the IVR needs from the rest of the system, and its database implementation.

Flows never touch SQL: they call an :class:`IvrBackend`. The session log (start, steps, end)
is written behind by a journal (``ivr.journal``): the flow never waits on the database to log.
The database backend bounds every lookup with a short timeout and stays "down" for a while (a
circuit breaker) once PostgreSQL refuses connections or several calls in a row fail, so that
when it is unreachable each caller loses at most a timeout or two before being sent to the
agent queue. A timeout among successes is a busy database, not a dead one: that call does
without, the others go on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from case_core.db.uow import UnitOfWorkFactory
from case_core.services import citizens as citizen_services
from case_core.services.case_status import LookupLocked, private_status
from ivr.journal import JournalFull, SessionJournal

log = logging.getLogger(__name__)
T = TypeVar("T")


ANNOUNCEMENTS_TTL = 30.0


class BackendUnavailable(Exception):
    """The database could not answer in time; the flow must do without it."""


@dataclass(frozen=True)
class CitizenMatch:
    citizen_id: int
    cedula: str | None


@dataclass(frozen=True)
class Announcement:
    entity_code: str
    prompt_file: str | None


class CaseLookupLocked(Exception):
    """Too many failed case-status attempts from this caller or on this case."""


@dataclass(frozen=True)
class CaseStatusInfo:
    number: str
    status: str
    entity_code: str | None  # None for a confidential or anonymous case
    days_left: int | None
    public_notes: int = 0
    note_prompt: str | None = None  # the latest public note rendered to a WAV, to play


@dataclass(frozen=True)
class CallbackInfo:
    callback_id: int
    kind: str  # seguimiento | satisfaccion
    case_number: str
    status: str
    entity_code: str


class IvrBackend(Protocol):
    async def start_session(
        self,
        *,
        route: str,
        uniqueid: str,
        linkedid: str | None,
        caller_number: str | None,
        callback_id: int | None = None,
    ) -> int: ...
    async def record_step(self, session_id: int, step: str, **fields: Any) -> None: ...
    async def end_session(self, session_id: int, outcome: str) -> None: ...
    async def announcements(self) -> list[Announcement]: ...
    async def citizen_by_cedula(self, cedula: str) -> CitizenMatch | None: ...
    async def citizens_by_caller_id(self, caller_number: str) -> list[CitizenMatch]: ...
    async def case_status(
        self, number: str, secret: str, caller_number: str | None
    ) -> CaseStatusInfo | None: ...
    async def callback_info(self, callback_id: int) -> CallbackInfo | None: ...
    async def authenticate_callback(
        self, callback_id: int, *, kind: str, token: str, uniqueid: str
    ) -> tuple[str, str]: ...
    async def survey_answer(self, callback_id: int, question: str, answer: str) -> None: ...


class DatabaseBackend:
    """IvrBackend on PostgreSQL through the case_core services."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        tz: ZoneInfo,
        clock: Callable[[], datetime],
        timeout: float = 2.0,
        retry_after: float = 15.0,
        failures_to_trip: int = 3,
        caller_hash_key: bytes | None = None,
        prompts_dir: str | os.PathLike[str] | None = None,
        journal: dict[str, Any] | None = None,
    ) -> None:
        """``journal``: keyword arguments of the session journal (``ivr.journal``)."""
        self._uow_factory = uow_factory
        self._prompts_dir = prompts_dir  # where the note_prompts job renders public notes
        self._caller_hash_key = caller_hash_key
        self._tz = tz
        self._clock = clock
        self._timeout = timeout
        self._retry_after = retry_after
        self._down_until = 0.0
        self._failures_to_trip = failures_to_trip
        self._failures_in_a_row = 0
        self._announcements: tuple[float, list[Announcement]] | None = None
        self.journal = SessionJournal(
            uow_factory, caller_hash_key=caller_hash_key, guard=self._call, **(journal or {})
        )

    async def flush(self) -> None:
        """Wait until the session log queued so far is in the database."""
        await self.journal.flush()

    async def aclose(self) -> None:
        """Write the queued session log (for a while, if the database is away) and stop."""
        await self.journal.close()

    async def __aenter__(self) -> DatabaseBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    async def _call(self, what: str, make: Callable[[], Awaitable[T]]) -> T:
        if not self.available:
            raise BackendUnavailable(what)
        try:
            result = await asyncio.wait_for(make(), self._timeout)
        except (TimeoutError, OSError, ConnectionError) as err:
            # TimeoutError is an OSError too: only a real socket error means "refused".
            refused = not isinstance(err, TimeoutError)
            self._failed(what, err, refused=refused)
            raise BackendUnavailable(what) from None
        except Exception as err:  # asyncpg/SQLAlchemy errors have no common base here
            if _is_database_error(err):
                self._failed(what, err, refused=_is_connection_error(err))
                raise BackendUnavailable(what) from None
            raise
        self._failures_in_a_row = 0
        return result

    def _failed(self, what: str, err: BaseException, *, refused: bool) -> None:
        self._failures_in_a_row += 1
        if refused or self._failures_in_a_row >= self._failures_to_trip:
            self._trip(what, err)
        else:
            log.warning("IVR database slow or failing during %s (%s)", what, type(err).__name__)

    def _trip(self, what: str, err: BaseException) -> None:
        if self.available:
            log.error(
                "IVR database unavailable during %s (%s); callers go to the queue",
                what,
                type(err).__name__,
            )
        self._down_until = time.monotonic() + self._retry_after

    async def start_session(
        self,
        *,
        route: str,
        uniqueid: str,
        linkedid: str | None,
        caller_number: str | None,
        callback_id: int | None = None,
    ) -> int:
        """The new session's id at once (from ids reserved in advance); its row is written
        behind (``ivr.journal``). Waits, bounded by the timeout and the breaker, only when no
        id is reserved; raises BackendUnavailable then, or when the journal is full."""
        try:
            return await self.journal.start(
                route=route,
                uniqueid=uniqueid,
                linkedid=linkedid,
                caller_number=caller_number,
                now=self._clock(),
                callback_id=callback_id,
            )
        except JournalFull:
            raise BackendUnavailable("start_session") from None

    async def record_step(self, session_id: int, step: str, **fields: Any) -> None:
        """Queue a step: never waits on the database, never raises for it."""
        self.journal.step(session_id, step=step, now=self._clock(), **fields)

    async def end_session(self, session_id: int, outcome: str) -> None:
        """Queue the session's end: never waits on the database."""
        self.journal.end(session_id, outcome=outcome, now=self._clock())

    def forget_announcements(self) -> None:
        """Drop the cached announcements: one was created or ended (NOTIFY
        cac311_announcement), so the next caller hears the current list."""
        self._announcements = None

    async def announcements(self) -> list[Announcement]:
        """Active announcements, read at most every ANNOUNCEMENTS_TTL seconds (every call
        asks for them; they change a few times a day)."""
        cached = self._announcements
        if cached is not None and time.monotonic() - cached[0] < ANNOUNCEMENTS_TTL:
            return cached[1]

        async def load() -> list[Announcement]:
            async with self._uow_factory() as uow:
                rows = await uow.directory.active_announcements(self._clock())
                return [Announcement(entity.code, a.prompt) for a, entity in rows]

        active = await self._call("announcements", load)
        self._announcements = (time.monotonic(), active)
        return active

    async def citizen_by_cedula(self, cedula: str) -> CitizenMatch | None:
        found = await self._call(
            "citizen_by_cedula",
            lambda: citizen_services.identity_by_cedula(self._uow_factory, cedula),
        )
        return None if found is None else CitizenMatch(*found)

    async def citizens_by_caller_id(self, caller_number: str) -> list[CitizenMatch]:
        found = await self._call(
            "citizens_by_caller_id",
            lambda: citizen_services.identities_by_caller_id(self._uow_factory, caller_number),
        )
        return [CitizenMatch(*f) for f in found]

    async def case_status(
        self, number: str, secret: str, caller_number: str | None
    ) -> CaseStatusInfo | None:
        """The case's status when ``secret`` (tracking code or the last four digits of the
        cédula) matches; None for an unknown number or a wrong secret alike."""
        try:
            status = await self._call(
                "case_status",
                lambda: private_status(
                    self._uow_factory,
                    number=number,
                    secret=secret,
                    source=f"ivr:{caller_number or 'sin-numero'}",
                    now=self._clock(),
                    tz=self._tz,
                ),
            )
        except LookupLocked:
            raise CaseLookupLocked() from None
        if status is None:
            return None
        note = status.latest_public_note
        note_prompt = None
        if self._prompts_dir is not None and note is not None and note.history_id is not None:
            from ivr.prompts.notes import rendered_note_prompt

            note_prompt = rendered_note_prompt(self._prompts_dir, status.case_id, note.history_id)
        return CaseStatusInfo(
            status.number,
            status.status.value,
            status.entity_code,
            status.days_left,
            len(status.public_notes),
            note_prompt,
        )

    async def callback_info(self, callback_id: int) -> CallbackInfo | None:
        from sqlalchemy import select

        from case_core.db.models import CallbackRow, CaseRow, EntityRow

        async def load() -> CallbackInfo | None:
            async with self._uow_factory() as uow:
                row = (
                    await uow.session.execute(
                        select(CallbackRow.kind, CaseRow.number, CaseRow.status, EntityRow.code)
                        .join(CaseRow, CaseRow.id == CallbackRow.case_id)
                        .join(EntityRow, EntityRow.id == CaseRow.entity_id)
                        .where(CallbackRow.id == callback_id)
                    )
                ).first()
            return None if row is None else CallbackInfo(callback_id, *row)

        return await self._call("callback_info", load)

    async def authenticate_callback(
        self, callback_id: int, *, kind: str, token: str, uniqueid: str
    ) -> tuple[str, str]:
        """``(check, reason)``: see ``case_core.services.callback_legs``."""
        from case_core.services.callback_legs import authenticate_callback_leg

        async def check() -> tuple[str, str]:
            verdict = await authenticate_callback_leg(
                self._uow_factory,
                callback_id=callback_id,
                kind=kind,
                token=token,
                uniqueid=uniqueid,
                now=self._clock(),
            )
            return verdict.check.value, verdict.reason

        return await self._call("authenticate_callback", check)

    async def survey_answer(self, callback_id: int, question: str, answer: str) -> None:
        from case_core.services.callbacks import record_survey_answer

        await self._call(
            "survey_answer",
            lambda: record_survey_answer(
                self._uow_factory, callback_id, question, answer, self._clock()
            ),
        )


def _is_connection_error(err: BaseException) -> bool:
    """PostgreSQL cannot be reached at all (as opposed to a slow or failing statement)."""
    cause = getattr(err, "orig", None) or err.__cause__ or err
    if isinstance(cause, TimeoutError):
        return False
    return isinstance(cause, OSError | ConnectionError) or type(cause).__name__ in (
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "ConnectionRefusedError",
        "InterfaceError",
    )


def _is_database_error(err: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    return isinstance(err, (DBAPIError, InterfaceError, OperationalError, PoolTimeout)) or (
        type(err).__module__.startswith("asyncpg")
    )
