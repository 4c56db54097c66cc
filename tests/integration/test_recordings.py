"""Recordings end to end on real PostgreSQL and real WAV files: the MixMonitor path from the
AMI transcript, scan, playback with byte ranges through aiohttp, the audit log, access rules,
path safety and retention."""

from __future__ import annotations

import hashlib
import re
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from yarl import URL

from cac311.config import Settings
from case_core.db.models import CallRow, CaseRow, EntityRow, UserRow
from case_core.db.models.recordings import RecordingAccessRow, RecordingRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.roles import Actor, Role
from recordings import service
from recordings.storage import RecordingStore
from recordings.web import setup_recordings_routes
from tests.transcripts import load_chunks

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SECRET = b"RIFF-secret-outside-the-recordings-dir"


def write_wav(path: Path, seconds: float = 3.0, rate: int = 8000) -> bytes:
    """8 kHz mono 16-bit PCM, a tone-ish ramp so every byte range differs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = b"".join(((i * 37) % 65536).to_bytes(2, "little") for i in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path.read_bytes()


def mixmonitor_varset() -> tuple[str, str]:
    """(Uniqueid, Value) of the VarSet MIXMONITOR_FILENAME event in the real AMI capture."""
    raw = b"".join(c.data for c in load_chunks("ami-queue-call-answered") if c.dir == "asterisk")
    for message in raw.decode().split("\r\n\r\n"):
        if "Event: VarSet" in message and "Variable: MIXMONITOR_FILENAME" in message:
            fields = dict(line.split(": ", 1) for line in message.split("\r\n") if ": " in line)
            return fields["Uniqueid"], fields["Value"]
    raise AssertionError("no MIXMONITOR_FILENAME VarSet in the transcript")


@dataclass
class World:
    uow_factory: UnitOfWorkFactory
    settings: Settings
    root: Path
    client: TestClient
    users: dict[str, Actor]
    entity_id: int

    async def call(
        self,
        uniqueid: str,
        recording_path: str | None,
        *,
        agent: str | None = "agente1",
        started_at: datetime = NOW - timedelta(hours=1),
        intent: str | None = None,
        in_progress: bool = False,
        agent_name: str | None = None,
    ) -> int:
        async with self.uow_factory() as uow:
            row = CallRow(
                server="pbx1",
                uniqueid=uniqueid,
                recording_path=recording_path,
                started_at=started_at,
                ended_at=None if in_progress else started_at + timedelta(minutes=2),
                agent_name=agent_name,
                agent_user_id=self.users[agent].user_id if agent else None,
                ivr_variables={"CAC311_INTENT": intent} if intent else {},
            )
            uow.session.add(row)
            await uow.session.flush()
            await uow.commit()
            return row.id

    async def case(
        self,
        call_id: int,
        *,
        confidential: bool = False,
        closed_at: datetime | None = None,
        number: str = "2026000001",
    ) -> None:
        async with self.uow_factory() as uow:
            uow.session.add(
                CaseRow(
                    number=number,
                    type="denuncia" if confidential else "queja",
                    channel="telefono",
                    status="cerrado" if closed_at else "registrado",
                    entity_id=self.entity_id,
                    description="caso de prueba",
                    confidential=confidential,
                    sla_days=10,
                    opened_at=NOW - timedelta(days=90),
                    due_at=NOW + timedelta(days=10),
                    closed_at=closed_at,
                    call_id=call_id,
                )
            )
            await uow.commit()

    async def get(self, path: str, user: str | None, **headers: str):  # type: ignore[no-untyped-def]
        if user is not None:
            headers["X-Test-User"] = user
        headers.setdefault("User-Agent", "pruebas/1.0")
        return await self.client.get(path, headers=headers)

    async def access_rows(self) -> list[RecordingAccessRow]:
        async with self.uow_factory() as uow:
            stmt = select(RecordingAccessRow).order_by(RecordingAccessRow.id)
            return list((await uow.session.scalars(stmt)).all())

    async def recording(self, call_id: int) -> RecordingRow | None:
        async with self.uow_factory() as uow:
            stmt = select(RecordingRow).where(RecordingRow.call_id == call_id)
            return (await uow.session.execute(stmt)).scalar_one_or_none()


USERS = {
    "agente1": Role.AGENT,
    "agente2": Role.AGENT,
    "supervisor": Role.SUPERVISOR,
    "auditor": Role.AUDITOR,
    "enlace": Role.LIAISON,
    "admin": Role.ADMIN,
}


@pytest.fixture
async def world(uow_factory: UnitOfWorkFactory, tmp_path: Path) -> AsyncIterator[World]:
    root = tmp_path / "recordings"
    root.mkdir()
    settings = Settings(recordings_dir=root, recording_retention_days=30)
    actors: dict[str, Actor] = {}
    async with uow_factory() as uow:
        entity = EntityRow(code="MUPA", name="Alcaldía de Panamá", short_name="MUPA", kind="muni")
        uow.session.add(entity)
        await uow.session.flush()
        for name, role in USERS.items():
            entity_id = entity.id if role is Role.LIAISON else None
            user = UserRow(
                username=name,
                full_name=name.capitalize(),
                role=str(role),
                entity_id=entity_id,
                password_hash="x",
            )
            uow.session.add(user)
            await uow.session.flush()
            actors[name] = Actor(user.id, name, role, entity_id)
        await uow.commit()
        entity_id = entity.id

    def current_actor(request: web.Request) -> Actor | None:
        return actors.get(request.headers.get("X-Test-User", ""))

    app = web.Application()
    setup_recordings_routes(
        app,
        uow_factory=uow_factory,
        settings=settings,
        current_actor=current_actor,
        clock=lambda: NOW,
    )
    client = TestClient(TestServer(app, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield World(uow_factory, settings, root, client, actors, entity_id)
    finally:
        await client.close()


async def test_given_the_mixmonitor_event_when_scanned_and_played_then_ranges_and_audit(
    world: World,
) -> None:
    uniqueid, reported = mixmonitor_varset()
    assert reported == "/var/spool/asterisk/monitor/1795475111.1.wav"
    data = write_wav(world.root / "2026/11/23" / f"{uniqueid}.wav", seconds=3.0)
    size = len(data)
    dated = write_wav(world.root / "2026/11/25/1795475999.4.wav", seconds=1.5)
    call_id = await world.call(uniqueid, reported)
    dated_id = await world.call(
        "1795475999.4", "/var/spool/asterisk/monitor/cac311/2026/11/25/1795475999.4.wav"
    )

    report = await service.scan(world.uow_factory, world.settings, now=NOW)

    assert report.linked == [call_id, dated_id] and report.missing == []
    row = await world.recording(call_id)
    assert row is not None and row.relative_path == f"2026/11/23/{uniqueid}.wav"
    assert (row.duration_seconds, row.size_bytes, row.missing) == (3.0, size, False)
    assert row.sha256 == hashlib.sha256(data).hexdigest() and row.checked_at == NOW
    other = await world.recording(dated_id)
    assert other is not None and other.duration_seconds == 1.5
    assert other.size_bytes == len(dated)

    page = await world.get(f"/grabaciones/llamada/{call_id}", "supervisor")
    assert page.status == 200
    html = await page.text()
    assert f'<audio controls preload="metadata" src="/grabaciones/llamada/{call_id}/audio"' in html
    assert "0:03 min" in html and "25/11/2026 09:00:00" in html  # started_at in Panama
    assert await world.access_rows() == []  # viewing the page is not a playback

    audio = f"/grabaciones/llamada/{call_id}/audio"
    first = await world.get(audio, "supervisor", Range="bytes=0-1023")
    assert first.status == 206
    assert first.headers["Content-Range"] == f"bytes 0-1023/{size}"
    assert first.headers["Content-Length"] == "1024"
    assert first.headers["Accept-Ranges"] == "bytes"
    assert first.headers["Content-Type"] == "audio/wav"
    assert first.headers["Content-Disposition"].startswith("inline")
    assert await first.read() == data[:1024]

    seek = await world.get(audio, "supervisor", Range="bytes=40000-")
    assert seek.status == 206
    assert seek.headers["Content-Range"] == f"bytes 40000-{size - 1}/{size}"
    assert seek.headers["Content-Length"] == str(size - 40000)
    assert await seek.read() == data[40000:]

    tail = await world.get(audio, "supervisor", Range="bytes=-100")
    assert tail.status == 206 and await tail.read() == data[-100:]

    beyond = await world.get(audio, "supervisor", Range=f"bytes={size}-")
    assert beyond.status == 416
    assert beyond.headers["Content-Range"] == f"bytes */{size}"
    assert await beyond.read() == b""

    stale = await world.get(audio, "supervisor", Range="bytes=0-9", **{"If-Range": '"old"'})
    assert stale.status == 200 and await stale.read() == data

    download = await world.get(audio + "?download=1", "auditor")
    assert download.status == 200
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="grabacion-llamada-{call_id}.wav"'
    )
    assert download.headers["Content-Length"] == str(size)
    assert await download.read() == data

    rows = await world.access_rows()
    # bytes=0-1023 opens a session; the seek, the tail and the 416 add nothing; the whole-file
    # fetch (no usable Range) starts at byte 0 again; the download is always logged.
    assert [(r.username, r.role, r.action) for r in rows] == [
        ("supervisor", "supervisor", "play"),
        ("supervisor", "supervisor", "play"),
        ("auditor", "auditor", "download"),
    ]
    assert all(r.call_id == call_id and r.recording_id == row.id for r in rows)
    assert rows[0].user_id == world.users["supervisor"].user_id
    assert rows[0].remote_addr == "127.0.0.1" and rows[0].user_agent == "pruebas/1.0"
    assert rows[0].at == NOW

    audit = await world.get("/grabaciones/auditoria", "supervisor")
    assert audit.status == 200
    body = await audit.text()
    assert "25/11/2026 10:00:00" in body  # 15:00 UTC in America/Panama
    assert "Descarga" in body and "Auditor de calidad" in body
    for who in ("auditor", "agente1", "enlace"):
        assert (await world.get("/grabaciones/auditoria", who)).status == 403
    assert (await world.get("/grabaciones/auditoria", None)).status == 401


async def test_given_a_seek_without_byte_zero_when_no_recent_play_then_it_is_logged(
    world: World,
) -> None:
    write_wav(world.root / "2026/11/25/1795475000.1.wav", seconds=1.0)
    call_id = await world.call("1795475000.1", "2026/11/25/1795475000.1.wav")
    audio = f"/grabaciones/llamada/{call_id}/audio"
    assert (await world.get(audio, "agente1", Range="bytes=500-")).status == 206
    assert (await world.get(audio, "agente1", Range="bytes=600-")).status == 206
    assert (await world.get(audio, "supervisor", Range="bytes=700-")).status == 206
    rows = await world.access_rows()
    assert [(r.username, r.action) for r in rows] == [("agente1", "play"), ("supervisor", "play")]


async def test_given_roles_when_playing_then_only_allowed_ones_hear(world: World) -> None:
    for uid in ("1795470001.1", "1795470002.1", "1795470003.1"):
        write_wav(world.root / f"2026/11/25/{uid}.wav", seconds=0.5)
    own = await world.call("1795470001.1", "2026/11/25/1795470001.1.wav", agent="agente1")
    other = await world.call("1795470002.1", "2026/11/25/1795470002.1.wav", agent="agente2")
    denuncia = await world.call("1795470003.1", "2026/11/25/1795470003.1.wav", agent="agente1")
    await world.case(denuncia, confidential=True)

    expected = {
        ("agente1", own): 200,
        ("agente1", other): 403,
        ("agente1", denuncia): 200,  # the agent who handled it
        ("agente2", own): 403,
        ("agente2", denuncia): 403,
        ("auditor", own): 200,
        ("auditor", denuncia): 403,  # confidential: auditors may not see the case
        ("enlace", own): 403,
        ("enlace", denuncia): 403,
        ("supervisor", denuncia): 200,
        ("admin", other): 200,
    }
    for (user, call_id), status in expected.items():
        page = await world.get(f"/grabaciones/llamada/{call_id}", user)
        audio = await world.get(f"/grabaciones/llamada/{call_id}/audio", user)
        assert (page.status, audio.status) == (status, status), (user, call_id)
        if status == 403:
            assert b"RIFF" not in await audio.read()

    assert (await world.get(f"/grabaciones/llamada/{own}/audio", None)).status == 401
    assert (await world.get(f"/grabaciones/llamada/{own}", "desconocido")).status == 401
    assert (await world.get("/grabaciones/llamada/999999/audio", "supervisor")).status == 404
    rows = await world.access_rows()
    assert len(rows) == sum(1 for s in expected.values() if s == 200)
    assert {r.username for r in rows} == {"agente1", "auditor", "supervisor", "admin"}


async def test_given_traversal_attempts_when_requested_then_404_and_nothing_read(
    world: World, tmp_path: Path
) -> None:
    secret_dir = tmp_path / "secret"
    secret_wav = write_wav(secret_dir / "2026/11/25/1795471111.1.wav", seconds=0.5)
    (secret_dir / "passwd").write_bytes(SECRET)
    (world.root / "2026/11/25").mkdir(parents=True)
    (world.root / "2026/11/25/1795472222.1.wav").symlink_to(
        secret_dir / "2026/11/25/1795471111.1.wav"
    )
    (world.root / "2026/11/24").symlink_to(secret_dir / "2026/11/25", target_is_directory=True)

    absolute = await world.call("1795471111.1", str(secret_dir / "passwd"))
    dotdot = await world.call(
        "1795471112.1", f"/var/spool/asterisk/monitor/../../../../..{secret_dir}/passwd"
    )
    linked = await world.call("1795472222.1", "2026/11/25/1795472222.1.wav")
    via_dir = await world.call("1795471113.1", "2026/11/24/1795471111.1.wav")
    tampered = await world.call("1795471114.1", "2026/11/25/nothing.wav")
    async with world.uow_factory() as uow:  # a row edited by hand in the database
        uow.session.add(
            RecordingRow(
                call_id=tampered,
                relative_path="../../secret/2026/11/25/1795471111.1.wav",
                audio_format="wav",
                checked_at=NOW,
                missing=False,
            )
        )
        await uow.commit()

    report = await service.scan(world.uow_factory, world.settings, now=NOW)
    flagged = dict(report.missing)
    assert flagged == {
        absolute: "unsafe_path",  # neither the PBX prefix nor a YYYY/MM/DD/<file> tail
        dotdot: "unsafe_path",
        linked: "not_found",
        via_dir: "not_found",
    }

    for call_id in (absolute, dotdot, linked, via_dir, tampered):
        response = await world.get(f"/grabaciones/llamada/{call_id}/audio", "supervisor")
        body = await response.read()
        assert response.status == 404, call_id
        assert SECRET not in body and secret_wav[:64] not in body

    for raw in (
        "/grabaciones/llamada/..%2f..%2fsecret%2fpasswd/audio",
        "/grabaciones/llamada/%2e%2e/%2e%2e/secret/passwd",
        "/grabaciones/llamada/1/../../../secret/passwd",
        "/grabaciones/llamada/%2e%2e%2f%2e%2e%2fsecret%2fpasswd/audio",
        "/grabaciones/llamada/-1/audio",
        "/grabaciones/llamada/99999999999999999999/audio",
    ):
        base = str(world.client.make_url("")).rstrip("/")
        response = await world.client.session.get(
            URL(base + raw, encoded=True),  # sent as is, not normalised by the client
            headers={"X-Test-User": "supervisor"},
        )
        body = await response.read()
        assert response.status in (400, 404), raw
        assert SECRET not in body and b"RIFF" not in body

    assert await world.access_rows() == []
    assert (secret_dir / "passwd").read_bytes() == SECRET


async def test_given_a_missing_file_when_scanned_then_flagged_until_it_arrives(
    world: World,
) -> None:
    call_id = await world.call(
        "1795473333.1", "/var/spool/asterisk/monitor/2026/11/25/1795473333.1.wav"
    )
    bogus = await world.call("1795473334.1", "2026/11/25/1795473334.1.wav")
    (world.root / "2026/11/25").mkdir(parents=True)
    (world.root / "2026/11/25/1795473334.1.wav").write_bytes(b"not audio at all" * 8)
    nothing = await world.call("1795473335.1", None)

    report = await service.scan(world.uow_factory, world.settings, now=NOW)

    assert sorted(report.missing) == [(call_id, "not_found"), (bogus, "not_audio")]
    row = await world.recording(call_id)
    assert row is not None and row.missing and row.problem == "not_found"
    page = await world.get(f"/grabaciones/llamada/{call_id}", "supervisor")
    assert "no se encuentra" in await page.text()
    assert (await world.get(f"/grabaciones/llamada/{call_id}/audio", "supervisor")).status == 404
    page = await world.get(f"/grabaciones/llamada/{nothing}", "supervisor")
    assert "no tiene grabación" in await page.text()

    data = write_wav(world.root / "2026/11/25/1795473333.1.wav", seconds=1.0)
    report = await service.scan(world.uow_factory, world.settings, now=NOW)
    assert report.linked == [call_id]
    audio = await world.get(f"/grabaciones/llamada/{call_id}/audio", "supervisor")
    assert audio.status == 200 and await audio.read() == data

    # a file changed after it was checked is flagged, not silently re-hashed
    write_wav(world.root / "2026/11/25/1795473333.1.wav", seconds=2.0)
    report = await service.scan(world.uow_factory, world.settings, now=NOW, recheck_all=True)
    assert (call_id, "checksum_changed") in report.missing


async def test_given_old_recordings_when_purged_then_held_ones_stay_and_rows_are_marked(
    world: World,
) -> None:
    old = NOW - timedelta(days=60)
    files: dict[str, Path] = {}
    for uid in ("1.1", "2.1", "3.1", "4.1", "5.1"):
        files[uid] = world.root / f"2026/09/26/17900000{uid}.wav"
        write_wav(files[uid], seconds=0.5)
    free = await world.call("179000001.1", "2026/09/26/179000001.1.wav", started_at=old)
    open_case = await world.call("179000002.1", "2026/09/26/179000002.1.wav", started_at=old)
    recent_close = await world.call("179000003.1", "2026/09/26/179000003.1.wav", started_at=old)
    long_closed = await world.call("179000004.1", "2026/09/26/179000004.1.wav", started_at=old)
    young = await world.call("179000005.1", "2026/09/26/179000005.1.wav")
    gone = await world.call("179000006.1", "2026/09/26/179000006.1.wav", started_at=old)
    await world.case(open_case, number="2026000001")
    await world.case(recent_close, closed_at=NOW - timedelta(days=10), number="2026000002")
    await world.case(long_closed, closed_at=NOW - timedelta(days=40), number="2026000003")
    await service.scan(world.uow_factory, world.settings, now=NOW)

    dry = await service.purge(world.uow_factory, world.settings, NOW, dry_run=True)
    assert [i.call_id for i in dry.removed] == [free, long_closed, gone]
    assert sorted(dry.held) == [open_case, recent_close]
    assert all(f.exists() for f in files.values())
    assert (await world.recording(free)).purged_at is None  # type: ignore[union-attr]

    size = files["1.1"].stat().st_size
    report = await service.purge(world.uow_factory, world.settings, NOW)

    assert [(i.call_id, i.file_existed) for i in report.removed] == [
        (free, True),
        (long_closed, True),
        (gone, False),
    ]
    assert report.bytes_removed == 2 * size
    assert not files["1.1"].exists() and not files["4.1"].exists()
    assert files["2.1"].exists() and files["3.1"].exists() and files["5.1"].exists()
    for call_id in (free, long_closed, gone):
        row = await world.recording(call_id)
        assert row is not None and row.purged_at == NOW
    for call_id in (open_case, recent_close, young):
        row = await world.recording(call_id)
        assert row is not None and row.purged_at is None
    async with world.uow_factory() as uow:
        paths = (await uow.session.execute(select(CallRow.recording_path))).scalars().all()
    assert "2026/09/26/179000001.1.wav" in paths  # the call keeps what Asterisk reported

    page = await world.get(f"/grabaciones/llamada/{free}", "supervisor")
    assert "Grabación eliminada por política de retención" in await page.text()
    audio = await world.get(f"/grabaciones/llamada/{free}/audio", "supervisor")
    assert audio.status == 410
    rescan = await service.scan(world.uow_factory, world.settings, now=NOW, recheck_all=True)
    assert free not in dict(rescan.missing)

    again = await service.purge(world.uow_factory, world.settings, NOW)
    assert again.removed == []


class _FailingStore(RecordingStore):
    def remove(self, relative):  # type: ignore[no-untyped-def]
        raise PermissionError("read-only")


async def test_given_an_unlink_failure_when_purging_then_the_mark_is_undone(world: World) -> None:
    path = world.root / "2026/09/26/179000009.1.wav"
    write_wav(path, seconds=0.5)
    call_id = await world.call(
        "179000009.1", "2026/09/26/179000009.1.wav", started_at=NOW - timedelta(days=90)
    )
    report = await service.purge(
        world.uow_factory, world.settings, NOW, store=_FailingStore(world.root)
    )
    assert report.removed == [] and report.failed == [(call_id, "PermissionError")]
    assert path.exists()
    row = await world.recording(call_id)
    assert row is not None and row.purged_at is None


async def test_given_the_access_log_when_updated_or_deleted_then_refused(world: World) -> None:
    write_wav(world.root / "2026/11/25/1795474444.1.wav", seconds=0.2)
    call_id = await world.call("1795474444.1", "2026/11/25/1795474444.1.wav")
    assert (await world.get(f"/grabaciones/llamada/{call_id}/audio", "supervisor")).status == 200
    for statement in (
        "UPDATE recording_access_log SET username = 'nadie'",
        "DELETE FROM recording_access_log",
    ):
        async with world.uow_factory() as uow:
            with pytest.raises(DBAPIError, match="append-only"):
                await uow.session.execute(text(statement))
    assert [r.username for r in await world.access_rows()] == ["supervisor"]
    assert re.fullmatch(r"[0-9a-f]{64}", (await world.recording(call_id)).sha256 or "")  # type: ignore[union-attr]


async def test_given_roles_when_listing_then_each_sees_what_it_may_hear(world: World) -> None:
    own = await world.call("1795470011.1", "2026/11/25/1795470011.1.wav", agent="agente1")
    other = await world.call("1795470012.1", "2026/11/25/1795470012.1.wav", agent="agente2")
    denuncia = await world.call("1795470013.1", "2026/11/25/1795470013.1.wav", agent="agente2")
    await world.call("1795470014.1", None, agent="agente1")  # no recording: never listed
    await world.case(denuncia, confidential=True)
    link = '/grabaciones/llamada/{}"'
    expected = {
        "agente1": {own},
        "agente2": {other, denuncia},
        "auditor": {own, other},
        "supervisor": {own, other, denuncia},
    }
    for user, visible in expected.items():
        response = await world.get("/grabaciones", user)
        assert response.status == 200, user
        page = await response.text()
        shown = {c for c in (own, other, denuncia) if link.format(c) in page}
        assert shown == visible, user
    assert (await world.get("/grabaciones", "enlace")).status == 403
    assert (await world.get("/grabaciones", None)).status == 401
    assert await world.access_rows() == []  # listing is not listening


async def test_given_a_call_in_progress_when_listing_then_it_offers_no_escuchar(
    world: World,
) -> None:
    live = await world.call("1795470021.1", "2026/11/25/1795470021.1.wav", in_progress=True)
    done = await world.call("1795470022.1", "2026/11/25/1795470022.1.wav")
    page = await (await world.get("/grabaciones", "supervisor")).text()
    assert f'/grabaciones/llamada/{live}"' not in page
    assert f'/grabaciones/llamada/{done}"' in page
    assert "En curso: disponible al terminar la llamada" in page


async def test_given_filters_when_listing_then_only_matching_calls_and_older_pages(
    world: World,
) -> None:
    old = await world.call(
        "1795470031.1",
        "2026/11/20/1795470031.1.wav",
        started_at=NOW - timedelta(days=5),
        agent_name="Ana Batista",
    )
    new = await world.call(
        "1795470032.1", "2026/11/25/1795470032.1.wav", agent_name="Luis Herrera"
    )

    async def listed(query: str) -> set[int]:
        response = await world.get("/grabaciones" + query, "supervisor")
        assert response.status == 200, query
        page = await response.text()
        return {c for c in (old, new) if f'data-llamada="{c}"' in page}

    day = (NOW - timedelta(days=5)).astimezone(world.settings.tz).date().isoformat()
    assert await listed("") == {old, new}
    assert await listed(f"?desde={day}&hasta={day}") == {old}
    assert await listed("?agente=batista") == {old}
    assert await listed("?agente=HERRERA") == {new}
    assert await listed(f"?llamada={new}") == {new}
    assert await listed(f"?antes={new}") == {old}
    assert (await world.get("/grabaciones?desde=ayer", "supervisor")).status == 400
    assert (await world.get("/grabaciones?llamada=%C2%B2", "supervisor")).status == 400


async def test_given_a_denuncia_chosen_in_the_ivr_then_its_recording_is_confidential_unlinked(
    world: World,
) -> None:
    write_wav(world.root / "2026/11/25/1795470021.1.wav", seconds=0.5)
    call = await world.call(
        "1795470021.1", "2026/11/25/1795470021.1.wav", agent="agente2", intent="denuncia"
    )
    for user, status in (("auditor", 403), ("agente1", 403), ("agente2", 200), ("supervisor", 200)):
        assert (await world.get(f"/grabaciones/llamada/{call}", user)).status == status, user
    assert (
        f"/grabaciones/llamada/{call}"
        not in await (await world.get("/grabaciones", "auditor")).text()
    )
