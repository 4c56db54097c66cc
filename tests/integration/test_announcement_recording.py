"""An announcement's uploaded recording (issue 11): validated as a WAV Asterisk plays as-is,
stored as the announcement's prompt file, and never overwritten by ``cac311 prompts build``."""

from __future__ import annotations

import io
import tempfile
import wave
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import select

from cac311.config import Settings
from case_core.db.models import AnnouncementRow
from case_core.domain.roles import Actor, Role
from case_core.services.announcements import create_announcement
from tests.integration.test_desktop_support import (  # noqa: F401
    CSRF_RE,
    PASSWORD,
    make_desktop_fixture,
)

PROMPTS = Path(tempfile.mkdtemp(prefix="cac311-prompts-"))
desktop = make_desktop_fixture(Settings(prompts_dir=PROMPTS))


def _wav(rate: int = 8000, seconds: float = 1.0) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x01\x00" * int(rate * seconds))
    return buffer.getvalue()


async def test_given_a_wav_upload_then_it_becomes_the_prompt_and_the_build_skips_it(
    desktop, migrated_database
):
    async with desktop.uow_factory() as uow:
        idaan = await uow.directory.entity_by_code("IDAAN")
    now = desktop.clock()
    ident = await create_announcement(
        desktop.uow_factory,
        actor=Actor(None, "supervisor", Role.SUPERVISOR),
        entity_id=idaan.id,
        text_es="Corte programado en Chilibre.",
        valid_from=now,
        valid_to=now + timedelta(hours=5),
        now=now,
    )
    client = await desktop.client()
    token = CSRF_RE.search(await (await client.get("/login")).text()).group(1)
    await client.post(
        "/login", data={"usuario": "supervisor", "contrasena": PASSWORD, "csrf_token": token}
    )
    token = CSRF_RE.search(await (await client.get("/anuncios")).text()).group(1)

    async def upload(data: bytes, csrf: str = token):  # type: ignore[no-untyped-def]
        form = aiohttp.FormData()
        form.add_field("csrf_token", csrf)
        form.add_field("grabacion", data, filename="anuncio.wav", content_type="audio/wav")
        return await client.post(f"/anuncios/{ident}/grabacion", data=form)

    wrong_rate = await upload(_wav(rate=44100))
    assert wrong_rate.status == 400 and "8000 Hz" in await wrong_rate.text()
    not_wav = await upload(b"RIFF nonsense")
    assert not_wav.status == 400 and "no es un WAV" in await not_wav.text()
    assert (await upload(_wav(), csrf="otro")).status == 403
    ok = await upload(_wav(seconds=2.0))
    assert ok.status == 200 and "Grabación guardada (2 s)" in await ok.text()

    async with desktop.uow_factory() as uow:
        row = await uow.session.scalar(select(AnnouncementRow).where(AnnouncementRow.id == ident))
    stored = PROMPTS / f"{row.prompt}.wav"
    assert row.recorded and stored.read_bytes() == _wav(seconds=2.0)

    from cac311.cli_parts.ivr import _database_prompts

    names = [
        name
        for name, _ in await _database_prompts(replace(Settings(), database_url=migrated_database))
    ]
    assert row.prompt not in names
    assert "cac311/anuncio-mantenimiento-chilibre" in names  # seeded, synthesized
