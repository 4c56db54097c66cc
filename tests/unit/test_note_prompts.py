"""The note_prompts job without its tools, and the text it speaks."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ivr.prompts.notes import MAX_NOTE_CHARS, NotePromptRenderer, note_prompt_name, note_text


async def test_without_espeak_ng_the_job_logs_once_and_does_nothing(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr("ivr.prompts.build.shutil.which", lambda name: None)
    renderer = NotePromptRenderer(None, tmp_path, tz=ZoneInfo("America/Panama"))  # type: ignore[arg-type]
    now = datetime(2026, 11, 25, 15, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="ivr.prompts.notes"):
        assert await renderer.run(now) == 0  # no database touched (the factory is None)
        assert await renderer.run(now) == 0
    warnings = [r for r in caplog.records if r.name == "ivr.prompts.notes"]
    assert len(warnings) == 1 and "espeak-ng" in warnings[0].getMessage()
    assert list(tmp_path.iterdir()) == []


def test_the_spoken_text_is_collapsed_and_cut_at_a_word():
    assert note_text("  Cuadrilla\n\nasignada.  ") == "Cuadrilla asignada."
    long = "palabra " * 400
    spoken = note_text(long)
    assert len(spoken) <= MAX_NOTE_CHARS + 1 and spoken.endswith("palabra…")


def test_note_prompts_live_beside_our_other_prompts():
    assert note_prompt_name(12, 345) == "cac311/notas/12-345"
