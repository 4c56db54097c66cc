"""IVR option 5 reads the latest public note: the ``note_prompts`` job renders it with
espeak-ng to a WAV in the prompts directory, and the call streams that file right after
"la entidad ha dejado una respuesta" when it exists (against PostgreSQL, through the real
FastAGI server driven by the Asterisk simulator)."""

from __future__ import annotations

import logging
import shutil
import wave
from datetime import timedelta

import pytest

from asterisk_sim.agi import Press, Timeout
from case_core.domain.case import CaseType
from case_core.domain.roles import Actor, Role
from case_core.services.cases import add_note
from ivr.backend import DatabaseBackend
from ivr.prompts.catalogue import file_for
from ivr.prompts.notes import NotePromptRenderer, note_prompt_name, note_prompt_path
from tests.integration.test_ivr_flows import (
    NOW,
    PANAMA,
    _call,
    _idaan_case,
    _played,
    _wrong,
    serving,
)

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None,
    reason="espeak-ng and sox render the note prompts",
)

NOTES_PROMPT = file_for("caso_notas_publicas")
NOTE = "Cuadrilla asignada; la fuga se repara el jueves."


@pytest.fixture
async def server(seeded, tmp_path):
    backend = DatabaseBackend(seeded, tz=PANAMA, clock=lambda: NOW, prompts_dir=tmp_path)
    async with serving(backend) as srv:
        yield srv


def _renderer(seeded, tmp_path) -> NotePromptRenderer:
    return NotePromptRenderer(seeded, tmp_path, tz=PANAMA)


async def _note(seeded, case, text, *, public=True, minutes=30):  # type: ignore[no-untyped-def]
    async with seeded() as uow:
        idaan = await uow.directory.entity_by_code("IDAAN")
    liaison = Actor(None, "enlace_idaan", Role.LIAISON, entity_id=idaan.id)
    await add_note(
        seeded,
        case_id=case.id,
        actor=liaison,
        note=text,
        public=public,
        now=NOW + timedelta(minutes=minutes),
    )


async def _history_ids(seeded, case_id):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from case_core.db.models import CaseHistoryRow

    async with seeded() as uow:
        rows = await uow.session.execute(
            select(CaseHistoryRow.id, CaseHistoryRow.note)
            .where(CaseHistoryRow.case_id == case_id)
            .order_by(CaseHistoryRow.id)
        )
        return {note: hid for hid, note in rows}


def _status_call(case, code=None):  # type: ignore[no-untyped-def]
    return [
        Press("5"),
        Press(case.number + "#"),
        Press((code or case.tracking_code) + "#"),
        Timeout(),
    ]


async def test_a_rendered_public_note_is_streamed_after_the_response_prompt(
    server, seeded, tmp_path, caplog
):
    case = await _idaan_case(seeded)
    await _note(seeded, case, NOTE, minutes=30)
    await _note(
        seeded, case, "Nota interna: el vecino es primo del jefe.", public=False, minutes=40
    )
    caplog.set_level(logging.DEBUG)
    assert await _renderer(seeded, tmp_path).run(NOW + timedelta(hours=1)) == 1
    note_id = (await _history_ids(seeded, case.id))[NOTE]
    wav = note_prompt_path(tmp_path, case.id, note_id)
    with wave.open(str(wav)) as w:  # what Asterisk plays without transcoding
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() > 8000  # more than a second of speech
    # Idempotent: a second run finds nothing to do.
    assert await _renderer(seeded, tmp_path).run(NOW + timedelta(hours=1)) == 0

    played = _played(await _call(server, _status_call(case), callerid="62220010"))
    at = played.index(NOTES_PROMPT)
    assert played[at + 1] == note_prompt_name(case.id, note_id)
    # No note text, case number or tracking code in the logs.
    logged = " ".join(r.getMessage() for r in caplog.records)
    for secret in (NOTE, "primo del jefe", case.number, case.tracking_code):
        assert secret not in logged


async def test_a_newer_public_note_replaces_the_older_file(server, seeded, tmp_path):
    case = await _idaan_case(seeded)
    await _note(seeded, case, NOTE, minutes=30)
    renderer = _renderer(seeded, tmp_path)
    assert await renderer.run(NOW + timedelta(hours=1)) == 1
    await _note(seeded, case, "Reparación terminada.", minutes=90)
    ids = await _history_ids(seeded, case.id)
    # Before the job runs again the old file is not played: it is not the latest note.
    played = _played(await _call(server, _status_call(case), callerid="62220011"))
    assert NOTES_PROMPT in played and not [p for p in played if "/notas/" in p]
    assert await renderer.run(NOW + timedelta(hours=2)) == 1
    assert not note_prompt_path(tmp_path, case.id, ids[NOTE]).exists()
    played = _played(await _call(server, _status_call(case), callerid="62220012"))
    assert note_prompt_name(case.id, ids["Reparación terminada."]) in played


async def test_without_the_rendered_file_the_old_prompts_still_play(server, seeded):
    case = await _idaan_case(seeded)
    await _note(seeded, case, NOTE)
    call = await _call(server, _status_call(case), callerid="62220013")
    played = _played(call)
    assert "cac311/estado-asignado" in played and NOTES_PROMPT in played
    assert not [p for p in played if "/notas/" in p]
    assert 'SAY NUMBER 5 ""' in call.commands
    assert call.variables["CAC311_NEXT"] == "hangup"


async def test_a_wrong_code_never_plays_the_note(server, seeded, tmp_path):
    case = await _idaan_case(seeded)
    await _note(seeded, case, NOTE)
    assert await _renderer(seeded, tmp_path).run(NOW + timedelta(hours=1)) == 1
    call = await _call(server, _status_call(case, _wrong(case.tracking_code)), callerid="62220014")
    played = _played(call)
    assert "cac311/caso-no-coincide" in played
    assert NOTES_PROMPT not in played and not [p for p in played if "/notas/" in p]


async def test_an_anonymous_case_reads_its_public_note_but_never_a_routing_note(
    server, seeded, tmp_path
):
    case = await _idaan_case(seeded, type=CaseType.DENUNCIA, anonymous=True)
    renderer = _renderer(seeded, tmp_path)
    # Only the automatic assignment note (it names the entity): nothing to render or read.
    assert await renderer.run(NOW + timedelta(hours=1)) == 0
    assert not (tmp_path / "cac311" / "notas").exists()
    played = _played(await _call(server, _status_call(case), callerid="62220015"))
    assert NOTES_PROMPT not in played and "cac311/entidad-idaan" not in played

    await _note(seeded, case, NOTE)
    assert await renderer.run(NOW + timedelta(hours=1)) == 1
    note_id = (await _history_ids(seeded, case.id))[NOTE]
    played = _played(await _call(server, _status_call(case), callerid="62220016"))
    assert played[played.index(NOTES_PROMPT) + 1] == note_prompt_name(case.id, note_id)
    assert "cac311/entidad-idaan" not in played and "cac311/en-la-entidad" not in played


async def test_a_note_older_than_the_lookback_is_left_alone(seeded, tmp_path):
    case = await _idaan_case(seeded)
    await _note(seeded, case, NOTE)
    assert await _renderer(seeded, tmp_path).run(NOW + timedelta(days=45)) == 0
