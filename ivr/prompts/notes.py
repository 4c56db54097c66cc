"""Public notes as prompts: IVR option 5 reads a case's latest public note aloud.

Asterisk has no text-to-speech here, so a periodic job (``note_prompts`` in
``cac311.periodic``) renders the latest public note of each case with the same espeak-ng and
sox recipe as ``cac311 prompts build`` (:func:`ivr.prompts.build._render`) to
``<prompts_dir>/cac311/notas/<case_id>-<history_id>.wav``. The call never waits for it: the
IVR plays the file when it exists and otherwise says only that the entity left a response.

Which note is "the latest public note" is decided by ``case_core.services.case_status``
(the same view option 5 and the citizen web use), so a confidential or anonymous case's
routing notes, which name the entity, are never rendered nor read. History rows are
append-only, so a file named by its row never goes stale; when a newer note is rendered the
case's older files are removed. Nothing of a note (nor the case number) is logged.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, not_, select

from case_core.db.models import CaseHistoryRow, CaseRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.case import CaseAction
from ivr.prompts.build import (
    DEFAULT_SPEED,
    DEFAULT_VOICE,
    PromptBuildError,
    _check_voice,
    _render,
    _require_tool,
)
from ivr.prompts.catalogue import SOUND_DIR

log = logging.getLogger(__name__)

NOTES_DIR = f"{SOUND_DIR}/notas"
MAX_NOTE_CHARS = 1000
"""A longer note is cut at a word (about a minute of speech); the web has the full text."""
LOOKBACK = timedelta(days=30)
"""Only cases whose latest public note is this recent are rendered (older ones fall back)."""
BATCH = 20
"""Notes rendered per run at most, newest first; the rest wait for the next period."""

_ROUTING_ACTIONS = (CaseAction.ASSIGN.value, CaseAction.REASSIGN.value)


def note_prompt_name(case_id: int, history_id: int) -> str:
    """The name Asterisk plays (no extension), relative to the language sound directory."""
    return f"{NOTES_DIR}/{case_id}-{history_id}"


def note_prompt_path(prompts_dir: str | Path, case_id: int, history_id: int) -> Path:
    return Path(prompts_dir) / f"{note_prompt_name(case_id, history_id)}.wav"


def rendered_note_prompt(prompts_dir: str | Path, case_id: int, history_id: int) -> str | None:
    """The prompt name of a note when its WAV has been rendered, else None."""
    if note_prompt_path(prompts_dir, case_id, history_id).is_file():
        return note_prompt_name(case_id, history_id)
    return None


def note_text(note: str) -> str:
    """The text spoken: whitespace collapsed, cut at a word beyond MAX_NOTE_CHARS."""
    text = re.sub(r"\s+", " ", note).strip()
    if len(text) <= MAX_NOTE_CHARS:
        return text
    cut = text[:MAX_NOTE_CHARS].rsplit(" ", 1)[0]
    return f"{cut}…"


class NotePromptRenderer:
    """The ``note_prompts`` job: render the latest public notes that have no prompt yet."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        prompts_dir: str | Path,
        *,
        tz: ZoneInfo,
        voice: str = DEFAULT_VOICE,
        speed: int = DEFAULT_SPEED,
        batch: int = BATCH,
        lookback: timedelta = LOOKBACK,
    ) -> None:
        self._uow_factory = uow_factory
        self._root = Path(prompts_dir)
        self._tz = tz
        self._voice = voice
        self._speed = speed
        self._batch = batch
        self._lookback = lookback
        self._tools: tuple[str, str] | None = None
        self._unusable = False  # espeak-ng, sox or the voice is missing: said once
        self._failed: set[int] = set()  # history ids espeak-ng/sox failed on in this process

    def _find_tools(self) -> tuple[str, str] | None:
        if self._tools is None and not self._unusable:
            try:
                espeak, sox = _require_tool("espeak-ng"), _require_tool("sox")
                _check_voice(espeak, self._voice)
            except PromptBuildError as err:
                self._unusable = True
                log.warning("public notes are not rendered for the IVR: %s", err)
                return None
            self._tools = (espeak, sox)
        return self._tools

    async def run(self, now: datetime) -> int:
        """Render up to ``batch`` missing note prompts; return how many were rendered."""
        tools = self._find_tools()
        if tools is None:
            return 0
        rendered = 0
        for case_id in await self._pending(now):
            if rendered >= self._batch:
                break
            if await self._render_case(case_id, now, tools):
                rendered += 1
        if rendered:
            log.info("note prompts: %d rendered", rendered)
        return rendered

    async def _pending(self, now: datetime) -> list[int]:
        """Cases (newest note first) whose latest public note has no WAV yet.

        The SQL mirrors ``case_status.public_timeline`` to find candidates cheaply; the note
        actually rendered is chosen by ``status_by_id`` itself (see :meth:`_render_case`).
        """
        history = CaseHistoryRow
        rank = (
            func.row_number()
            .over(
                partition_by=history.case_id,
                order_by=(history.at.desc(), history.id.desc()),
            )
            .label("rank")
        )
        notes = (
            select(history.case_id, history.id, rank)
            .join(CaseRow, CaseRow.id == history.case_id)
            .where(
                history.public,
                history.note.is_not(None),
                history.note != "",
                history.at >= now - self._lookback,
                not_(
                    and_(
                        history.kind == "status",
                        func.coalesce(history.action, "").in_(_ROUTING_ACTIONS),
                    )
                ),
                not_(and_(history.kind == "assignment", CaseRow.confidential)),
            )
            .subquery()
        )
        latest = select(notes.c.case_id, notes.c.id).where(notes.c.rank == 1)
        async with self._uow_factory() as uow:
            rows = (await uow.session.execute(latest)).all()
        rows = sorted(rows, key=lambda r: r[1], reverse=True)
        return [
            case_id
            for case_id, history_id in rows
            if history_id not in self._failed
            and not note_prompt_path(self._root, case_id, history_id).is_file()
        ]

    async def _render_case(self, case_id: int, now: datetime, tools: tuple[str, str]) -> bool:
        from case_core.services.case_status import status_by_id

        status = await status_by_id(self._uow_factory, case_id, now=now, tz=self._tz)
        note = status.latest_public_note if status is not None else None
        if note is None or note.history_id is None or not note.note:
            return False
        target = note_prompt_path(self._root, case_id, note.history_id)
        text = note_text(note.note)
        if target.is_file() or not text or note.history_id in self._failed:
            return False
        espeak, sox = tools
        try:
            await asyncio.to_thread(_render, espeak, sox, self._voice, self._speed, text, target)
        except PromptBuildError:
            # The tool's message may quote the input: only the file name is logged.
            self._failed.add(note.history_id)
            log.warning("note prompt %s could not be rendered", target.name)
            return False
        for older in target.parent.glob(f"{case_id}-*.wav"):
            if older != target:
                older.unlink(missing_ok=True)
        return True
