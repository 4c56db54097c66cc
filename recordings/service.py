"""Recordings service: link and verify the file of each call, authorise playback, audit every
access, and purge by retention policy.

Decisions (documented here because the web layer and the CLI both rely on them):

- Access: ``case_core.domain.roles.can_play_recording`` with the call's ``agent_user_id`` and
  whether any case linked to the call (``cases.call_id``) is confidential.
- Audit: a download is always logged. A playback is logged once per listening session: every
  audio request that starts at byte 0 (no Range header, or ``bytes=0-``; a player always
  starts there, also when the user replays from the start), and, so that a client cannot
  dodge the log by never asking for byte 0, any other request when the same user has no
  ``play`` row for that call in the last ``PLAY_SESSION_WINDOW``. Seeking inside a session
  adds no rows. Viewing the player page is not a playback and is not logged.
- Retention: a recording is purged when its call started more than
  ``Settings.recording_retention_days`` ago, unless it is HELD: a case linked to the call is
  not ``cerrado``, or was closed less than the same number of days ago (so a complaint about
  how a case was closed can still use the recording). The metadata row is marked
  (``purged_at``) and committed BEFORE the file is unlinked; if the unlink fails the mark is
  undone, so a call row never points at a removed file without saying so.
  ``calls.recording_path`` keeps the path Asterisk reported.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from cac311.config import Settings
from case_core.db.models import CallRow
from case_core.db.models.recordings import RecordingAccessRow, RecordingRow
from case_core.db.uow import UnitOfWork, UnitOfWorkFactory
from case_core.domain.roles import Actor, can_play_recording
from recordings.repository import RecordingRepository
from recordings.storage import CONTENT_TYPES, NotAudio, RecordingStore, inspect_audio

log = logging.getLogger(__name__)

PLAY_SESSION_WINDOW = timedelta(minutes=30)
SCAN_BATCH = 200
PURGED_MESSAGE = "grabación eliminada por política de retención"

Action = Literal["play", "download"]
State = Literal["ok", "purged", "missing", "none"]


class RecordingError(Exception):
    """Base of the errors the web layer maps to HTTP."""


class CallNotFound(RecordingError):
    """No call with that id (HTTP 404)."""


class AccessDenied(RecordingError):
    """The actor may not hear this call (HTTP 403)."""


class RecordingUnavailable(RecordingError):
    """The call has no playable recording: ``state`` is purged, missing or none."""

    def __init__(self, state: State) -> None:
        super().__init__(state)
        self.state = state


def store_for(settings: Settings) -> RecordingStore:
    """The recordings directory of these settings."""
    return RecordingStore(Path(settings.recordings_dir))


def _repo(uow: UnitOfWork) -> RecordingRepository:
    return RecordingRepository(uow.session)


# ---------------------------------------------------------------- linking and verification


async def link_call_recording(
    uow: UnitOfWork, store: RecordingStore, call: CallRow, *, now: datetime
) -> RecordingRow | None:
    """Find and verify the file of ``call`` and upsert its metadata row (not committed).

    Returns None when the call reported no recording; a purged row is returned untouched.
    A file that is absent, outside the directory or not audio is flagged ``missing``; a file
    whose SHA-256 changed since the last check keeps the old checksum and is flagged
    ``checksum_changed``.
    """
    repo = _repo(uow)
    row = await repo.for_call(call.id)
    if (row is not None and row.purged_at is not None) or not call.recording_path:
        return row
    row = await repo.for_call_locked(call.id, now=now)
    if row.purged_at is not None:
        return row
    row.checked_at = now
    reported = call.recording_path
    if not store.is_mappable(reported):
        row.missing, row.problem, row.relative_path = True, "unsafe_path", None
        return row
    located = await asyncio.to_thread(store.locate, reported)
    if located is None:
        row.missing, row.problem = True, "not_found"
        return row
    relative, real = located
    try:
        info = await asyncio.to_thread(inspect_audio, real)
    except NotAudio:
        row.relative_path, row.missing, row.problem = str(relative), True, "not_audio"
        return row
    except OSError:
        row.missing, row.problem = True, "not_found"
        return row
    row.relative_path = str(relative)
    row.missing = False
    if row.sha256 is not None and row.sha256 != info.sha256:
        row.problem = "checksum_changed"
        log.warning("recording of call %s changed since it was first checked", call.id)
        return row
    row.problem = None
    row.audio_format = info.audio_format
    row.duration_seconds = info.duration_seconds
    row.size_bytes = info.size_bytes
    row.sha256 = info.sha256
    return row


@dataclass
class ScanReport:
    """What ``scan`` found."""

    checked: int = 0
    linked: list[int] = field(default_factory=list)
    missing: list[tuple[int, str]] = field(default_factory=list)


async def scan(
    uow_factory: UnitOfWorkFactory,
    settings: Settings,
    *,
    now: datetime,
    recheck_all: bool = False,
    store: RecordingStore | None = None,
) -> ScanReport:
    """Link and verify the recordings of calls not yet checked (or missing; or every one that
    is not purged with ``recheck_all``), committing each batch."""
    store = store or store_for(settings)
    report = ScanReport()
    after = 0
    while True:
        async with uow_factory() as uow:
            batch = await _repo(uow).calls_to_scan(
                after_id=after, limit=SCAN_BATCH, recheck_all=recheck_all
            )
            if not batch:
                break
            for call, _ in batch:
                row = await link_call_recording(uow, store, call, now=now)
                report.checked += 1
                if row is None:
                    continue
                if row.missing:
                    report.missing.append((call.id, row.problem or "not_found"))
                elif row.problem is None:
                    report.linked.append(call.id)
                else:
                    report.missing.append((call.id, row.problem))
            await uow.commit()
            after = batch[-1][0].id
    log.info(
        "recordings scan: %d checked, %d linked, %d flagged",
        report.checked,
        len(report.linked),
        len(report.missing),
    )
    return report


# ---------------------------------------------------------------- playback


@dataclass(frozen=True)
class RecordingView:
    """What the player page shows about one call."""

    call_id: int
    started_at: datetime | None
    agent_name: str | None
    case_numbers: list[str]
    state: State
    recording: RecordingRow | None


@dataclass(frozen=True)
class Playback:
    """A recording the actor may hear, with its real path inside the recordings directory."""

    call_id: int
    recording_id: int
    path: Path
    content_type: str
    audio_format: str


async def _authorised_call(uow: UnitOfWork, actor: Actor, call_id: int) -> CallRow:
    repo = _repo(uow)
    call = await repo.call(call_id)
    if call is None:
        raise CallNotFound(call_id)
    confidential = await repo.case_confidential(call_id)
    if not can_play_recording(
        actor, handled_by_user_id=call.agent_user_id, case_confidential=confidential
    ):
        raise AccessDenied(call_id)
    return call


async def _current_row(
    uow: UnitOfWork, store: RecordingStore, call: CallRow, *, now: datetime
) -> tuple[State, RecordingRow | None]:
    row = await _repo(uow).for_call(call.id)
    if row is None or row.missing:
        row = await link_call_recording(uow, store, call, now=now)
        await uow.commit()
    if row is None:
        return "none", None
    if row.purged_at is not None:
        return "purged", row
    if row.missing or row.relative_path is None:
        return "missing", row
    return "ok", row


async def describe_call(
    uow_factory: UnitOfWorkFactory,
    settings: Settings,
    *,
    actor: Actor,
    call_id: int,
    now: datetime,
    store: RecordingStore | None = None,
) -> RecordingView:
    """The player page of a call (links the file on first view); raises CallNotFound or
    AccessDenied."""
    store = store or store_for(settings)
    async with uow_factory() as uow:
        call = await _authorised_call(uow, actor, call_id)
        state, row = await _current_row(uow, store, call, now=now)
        repo = _repo(uow)
        return RecordingView(
            call_id=call.id,
            started_at=call.started_at or call.entered_at,
            agent_name=await repo.agent_name(call.agent_user_id) or call.agent_name,
            case_numbers=await repo.case_numbers(call.id),
            state=state,
            recording=row,
        )


async def open_playback(
    uow_factory: UnitOfWorkFactory,
    settings: Settings,
    *,
    actor: Actor,
    call_id: int,
    now: datetime,
    store: RecordingStore | None = None,
) -> Playback:
    """The file to stream for ``actor``; raises CallNotFound, AccessDenied or
    RecordingUnavailable (also when the stored path no longer resolves inside the
    directory)."""
    store = store or store_for(settings)
    async with uow_factory() as uow:
        call = await _authorised_call(uow, actor, call_id)
        state, row = await _current_row(uow, store, call, now=now)
    if state != "ok" or row is None or row.relative_path is None:
        raise RecordingUnavailable(state)
    real = await asyncio.to_thread(store.resolve, row.relative_path)
    if real is None:
        raise RecordingUnavailable("missing")
    fmt = row.audio_format or "wav"
    return Playback(call.id, row.id, real, CONTENT_TYPES.get(fmt, "audio/wav"), fmt)


async def record_access(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    call_id: int,
    recording_id: int | None,
    action: Action,
    now: datetime,
    remote_addr: str | None = None,
    user_agent: str | None = None,
    range_start: int | None = None,
) -> bool:
    """Append an access-log row per the rule in the module docstring; True if one was written.

    ``range_start`` is the first byte served (None without a Range header).
    """
    async with uow_factory() as uow:
        repo = _repo(uow)
        if action == "play" and range_start not in (None, 0):
            if await repo.has_play_since(
                user_id=actor.user_id,
                username=actor.username,
                call_id=call_id,
                since=now - PLAY_SESSION_WINDOW,
            ):
                return False
        await repo.add(
            RecordingAccessRow(
                at=now,
                user_id=actor.user_id,
                username=actor.username[:60],
                role=str(actor.role),
                call_id=call_id,
                recording_id=recording_id,
                action=action,
                remote_addr=(remote_addr or None) and remote_addr[:64],
                user_agent=(user_agent or None) and user_agent[:300],
            )
        )
        await uow.commit()
    return True


async def access_log(
    uow_factory: UnitOfWorkFactory, *, limit: int = 200, call_id: int | None = None
) -> list[RecordingAccessRow]:
    """The most recent access-log rows, newest first."""
    async with uow_factory() as uow:
        return list(await _repo(uow).access_log(limit=limit, call_id=call_id))


# ---------------------------------------------------------------- retention


@dataclass(frozen=True)
class PurgedItem:
    call_id: int
    relative_path: str | None
    size_bytes: int | None
    file_existed: bool


@dataclass
class PurgeReport:
    """What ``purge`` removed (or, with ``dry_run``, would remove)."""

    dry_run: bool
    cutoff: datetime
    removed: list[PurgedItem] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)

    @property
    def bytes_removed(self) -> int:
        return sum(i.size_bytes or 0 for i in self.removed if i.file_existed)


async def purge(
    uow_factory: UnitOfWorkFactory,
    settings: Settings,
    now: datetime,
    dry_run: bool = False,
    *,
    store: RecordingStore | None = None,
) -> PurgeReport:
    """Remove recordings older than the retention period that no open (or recently closed)
    case holds; mark each call's metadata row before unlinking its file."""
    store = store or store_for(settings)
    cutoff = now - timedelta(days=settings.recording_retention_days)
    report = PurgeReport(dry_run=dry_run, cutoff=cutoff)
    async with uow_factory() as uow:
        repo = _repo(uow)
        candidates = await repo.purge_candidates(older_than=cutoff, hold_since=cutoff, held=False)
        report.held = list(
            await repo.purge_candidates(older_than=cutoff, hold_since=cutoff, held=True)
        )
    for call_id in candidates:
        try:
            item = await _purge_one(
                uow_factory, store, call_id, now=now, cutoff=cutoff, dry_run=dry_run
            )
        except OSError as err:
            report.failed.append((call_id, type(err).__name__))
            continue
        if item is None:
            report.held.append(call_id)
        else:
            report.removed.append(item)
    log.info(
        "recordings purge%s: %d removed, %d held, %d failed",
        " (dry run)" if dry_run else "",
        len(report.removed),
        len(report.held),
        len(report.failed),
    )
    return report


async def _purge_one(
    uow_factory: UnitOfWorkFactory,
    store: RecordingStore,
    call_id: int,
    *,
    now: datetime,
    cutoff: datetime,
    dry_run: bool,
) -> PurgedItem | None:
    async with uow_factory() as uow:
        repo = _repo(uow)
        # FOR UPDATE conflicts with the KEY SHARE lock that inserting a case referencing this
        # call takes, so a case linked meanwhile is either seen here or waits for us.
        call = await repo.call(call_id, for_update=True)
        if call is None or await repo.is_held(call_id, hold_since=cutoff):
            return None
        row = await repo.for_call(call_id)
        if row is not None and row.purged_at is not None:
            return None
        relative: str | None = row.relative_path if row is not None else None
        real = await asyncio.to_thread(store.resolve, relative) if relative else None
        if real is None and call.recording_path:
            located = await asyncio.to_thread(store.locate, call.recording_path)
            if located is not None:
                relative, real = str(located[0]), located[1]
        size = None
        if real is not None:
            size = (await asyncio.to_thread(real.stat)).st_size
        item = PurgedItem(call_id, relative, size, real is not None)
        if dry_run:
            return item
        row = await repo.for_call_locked(call_id, now=now)
        row.purged_at = now
        row.relative_path = relative
        await uow.commit()
    if real is None or relative is None:
        return item
    try:
        await asyncio.to_thread(store.remove, relative)
    except OSError:
        async with uow_factory() as uow:
            row = await _repo(uow).for_call(call_id)
            if row is not None:
                row.purged_at = None
                await uow.commit()
        raise
    return item


@dataclass(frozen=True)
class CallListing:
    """One line of the recordings list."""

    call_id: int
    at: datetime | None
    agent_name: str | None
    caller_tail: str  # last 4 digits only: the list is not the place for phone numbers
    duration_seconds: float | None
    state: str  # ok | missing | purged | unchecked


async def playable_calls(
    uow_factory: UnitOfWorkFactory, *, actor: Actor, limit: int = 50
) -> list[CallListing]:
    """The latest recorded calls this actor may hear (the same rule as the player)."""
    from sqlalchemy import exists, select

    from case_core.db.models import CaseRow
    from case_core.domain.roles import Role

    # The same rule as RecordingRepository.case_confidential, for many calls at once.
    confidential = (
        exists()
        .where(CaseRow.call_id == CallRow.id, CaseRow.confidential | CaseRow.sensitive)
        .correlate(CallRow)
        | (CallRow.ivr_variables["CAC311_INTENT"].astext == "denuncia")
    ).label("confidential")
    stmt = (
        select(CallRow, RecordingRow, confidential)
        .outerjoin(RecordingRow, RecordingRow.call_id == CallRow.id)
        .where(CallRow.recording_path.is_not(None))
        .order_by(CallRow.id.desc())
        .limit(limit * 4)
    )
    if actor.role is Role.AGENT:
        stmt = stmt.where(CallRow.agent_user_id == actor.user_id)
    async with uow_factory() as uow:
        rows = (await uow.session.execute(stmt)).all()
    listing: list[CallListing] = []
    for call, recording, is_confidential in rows:
        if not can_play_recording(
            actor, handled_by_user_id=call.agent_user_id, case_confidential=bool(is_confidential)
        ):
            continue
        if recording is None:
            state = "unchecked"
        elif recording.purged_at is not None:
            state = "purged"
        else:
            state = "missing" if recording.missing else "ok"
        digits = "".join(ch for ch in (call.caller_number or "") if ch.isdigit())
        listing.append(
            CallListing(
                call.id,
                call.answered_at or call.entered_at or call.started_at,
                call.agent_name,
                f"…{digits[-4:]}" if len(digits) >= 4 else "—",
                recording.duration_seconds if recording is not None else None,
                state,
            )
        )
        if len(listing) == limit:
            break
    return listing
