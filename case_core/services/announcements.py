"""Announcements (afectaciones): an entity or 3-1-1 announces a service interruption with a
start, an end, an area and a text. The IVR plays the active ones before the menu (their
prompt ``cac311/anuncio-<slug>`` is rendered by ``cac311 prompts build`` from the text); the
agent desktop shows them at once (``NOTIFY cac311_announcement``); they expire by their end.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, text

from case_core.db.models import AnnouncementRow, EntityRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.domain.roles import Actor, Role
from case_core.services.audit import record_change

ANNOUNCEMENT_CHANNEL = "cac311_announcement"
MAX_DURATION = timedelta(days=90)
MAX_TEXT = 600


class InvalidAnnouncement(DomainError):
    """The announcement is not acceptable; the message says why."""


def can_announce(actor: Actor, entity_id: int) -> bool:
    """3-1-1 supervisors and admins for any entity; an entity's Enlace Ejecutivo and
    Operativo for their own."""
    if actor.role in (Role.ADMIN, Role.SUPERVISOR):
        return True
    return actor.role in (Role.LIAISON_EXEC, Role.LIAISON) and actor.entity_id == entity_id


def _snapshot(a: AnnouncementRow) -> dict[str, Any]:
    return {
        "entity_id": a.entity_id,
        "text": a.text,
        "valid_from": a.valid_from,
        "valid_to": a.valid_to,
        "province": a.province,
        "district": a.district,
        "corregimiento": a.corregimiento,
        "prompt": a.prompt,
    }


def _clean(value: str | None, limit: int) -> str | None:
    value = (value or "").strip()
    return value[:limit] or None


async def create_announcement(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    entity_id: int,
    text_es: str,
    valid_from: datetime,
    valid_to: datetime,
    now: datetime,
    province: str | None = None,
    district: str | None = None,
    corregimiento: str | None = None,
) -> int:
    """Create an announcement; desktops show it at once, the IVR plays it from its start."""
    if not can_announce(actor, entity_id):
        raise AccessDenied("Solo puede anunciar afectaciones de su propia entidad.")
    body = " ".join(text_es.split())
    if not body:
        raise InvalidAnnouncement("Escriba el texto de la afectación.")
    if len(body) > MAX_TEXT:
        raise InvalidAnnouncement(f"El texto no puede pasar de {MAX_TEXT} caracteres.")
    if valid_to <= valid_from:
        raise InvalidAnnouncement("El fin debe ser posterior al inicio.")
    if valid_to <= now:
        raise InvalidAnnouncement("El fin ya pasó.")
    if valid_to - valid_from > MAX_DURATION:
        raise InvalidAnnouncement("Una afectación no puede durar más de 90 días.")
    async with uow_factory() as uow:
        entity = await uow.session.get(EntityRow, entity_id)
        if entity is None:
            raise NotFound("La entidad no existe.")
        code = re.sub(r"[^a-z0-9]+", "-", entity.code.lower()).strip("-") or "entidad"
        slug = f"{code}-{now:%Y%m%d%H%M}-{secrets.token_hex(2)}"
        row = AnnouncementRow(
            entity_id=entity_id,
            slug=slug,
            text=body,
            # The file ``cac311 prompts build`` renders from the text (as the seed names it).
            prompt=f"cac311/anuncio-{slug}",
            valid_from=valid_from,
            valid_to=valid_to,
            province=_clean(province, 60),
            district=_clean(district, 80),
            corregimiento=_clean(corregimiento, 80),
            created_by_user_id=actor.user_id,
        )
        uow.session.add(row)
        await uow.session.flush()
        await record_change(
            uow.session,
            actor=actor,
            action="announcement.create",
            object_type="announcement",
            object_id=row.id,
            before=None,
            after=_snapshot(row),
            now=now,
        )
        await _notify(uow.session, row.id)
        await uow.commit()
        return row.id


async def end_announcement(
    uow_factory: UnitOfWorkFactory, *, actor: Actor, announcement_id: int, now: datetime
) -> None:
    """End an announcement now (the IVR stops playing it, desktops drop it)."""
    async with uow_factory() as uow:
        row = await uow.session.get(AnnouncementRow, announcement_id, with_for_update=True)
        if row is None:
            raise NotFound("La afectación no existe.")
        if not can_announce(actor, row.entity_id):
            raise AccessDenied("Solo puede terminar afectaciones de su propia entidad.")
        if row.valid_to is not None and row.valid_to <= now:
            return
        before = _snapshot(row)
        row.valid_to = max(now, row.valid_from + timedelta(seconds=1))
        await record_change(
            uow.session,
            actor=actor,
            action="announcement.end",
            object_type="announcement",
            object_id=row.id,
            before=before,
            after=_snapshot(row),
            now=now,
        )
        await _notify(uow.session, row.id)
        await uow.commit()


async def _notify(session, ident: int) -> None:  # type: ignore[no-untyped-def]
    await session.execute(
        text("SELECT pg_notify(:c, :p)"), {"c": ANNOUNCEMENT_CHANNEL, "p": str(ident)}
    )


def area_label(a: AnnouncementRow) -> str:
    parts = [p for p in (a.corregimiento, a.district, a.province) if p]
    return ", ".join(parts) if parts else "Todo el país"


def _message(a: AnnouncementRow, entity: EntityRow) -> dict[str, Any]:
    return {
        "type": "announcement",
        "id": a.id,
        "entity": entity.short_name,
        "text": a.text,
        "area": area_label(a),
        "valid_from": a.valid_from.isoformat(),
        "valid_to": a.valid_to.isoformat() if a.valid_to else None,
    }


async def announcement_message(
    uow_factory: UnitOfWorkFactory, announcement_id: int
) -> dict[str, Any] | None:
    """The desktop message for one announcement (``valid_to`` tells the browser when to drop
    it; an ended one has a ``valid_to`` in the past)."""
    async with uow_factory() as uow:
        found = (
            await uow.session.execute(
                select(AnnouncementRow, EntityRow)
                .join(EntityRow, EntityRow.id == AnnouncementRow.entity_id)
                .where(AnnouncementRow.id == announcement_id)
            )
        ).first()
    return None if found is None else _message(*found)


async def active_messages(uow_factory: UnitOfWorkFactory, now: datetime) -> list[dict[str, Any]]:
    """Announcements in force now or starting within a day, for a (re)connecting desktop."""
    async with uow_factory() as uow:
        rows = (
            await uow.session.execute(
                select(AnnouncementRow, EntityRow)
                .join(EntityRow, EntityRow.id == AnnouncementRow.entity_id)
                .where(
                    AnnouncementRow.valid_from <= now + timedelta(days=1),
                    or_(AnnouncementRow.valid_to.is_(None), AnnouncementRow.valid_to > now),
                )
                .order_by(AnnouncementRow.valid_from)
            )
        ).all()
    return [_message(a, e) for a, e in rows]


async def list_announcements(
    uow_factory: UnitOfWorkFactory, *, entity_id: int | None = None, limit: int = 100
) -> Sequence[tuple[AnnouncementRow, EntityRow]]:
    async with uow_factory() as uow:
        stmt = select(AnnouncementRow, EntityRow).join(
            EntityRow, EntityRow.id == AnnouncementRow.entity_id
        )
        if entity_id is not None:
            stmt = stmt.where(AnnouncementRow.entity_id == entity_id)
        rows = await uow.session.execute(
            stmt.order_by(AnnouncementRow.valid_from.desc()).limit(limit)
        )
        return [(a, e) for a, e in rows.all()]


MAX_RECORDING_SECONDS = 180


def check_recording(data: bytes) -> float:
    """The duration of a WAV Asterisk can play as-is (16-bit signed linear PCM, mono,
    8000 Hz, like ``cac311 prompts build`` renders); else InvalidAnnouncement."""
    import io
    import wave

    try:
        with wave.open(io.BytesIO(data)) as wav:
            rate, channels, width, frames = (
                wav.getframerate(),
                wav.getnchannels(),
                wav.getsampwidth(),
                wav.getnframes(),
            )
    except (wave.Error, EOFError, ValueError):
        raise InvalidAnnouncement("El archivo no es un WAV válido.") from None
    if (rate, channels, width) != (8000, 1, 2):
        raise InvalidAnnouncement(
            "La grabación debe ser WAV PCM de 16 bits, mono, a 8000 Hz "
            "(por ejemplo: sox entrada.wav -r 8000 -c 1 -b 16 salida.wav)."
        )
    seconds = frames / rate
    if not 0.5 <= seconds <= MAX_RECORDING_SECONDS:
        raise InvalidAnnouncement(
            f"La grabación debe durar entre medio segundo y {MAX_RECORDING_SECONDS} segundos."
        )
    return seconds


async def attach_recording(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    announcement_id: int,
    data: bytes,
    prompts_dir,  # type: ignore[no-untyped-def]
    now: datetime,
) -> float:
    """Store an uploaded recording as the announcement's prompt file (atomically) and mark it
    recorded, so ``cac311 prompts build`` leaves it alone. Returns its duration."""
    import os
    from pathlib import Path

    seconds = check_recording(data)
    async with uow_factory() as uow:
        row = await uow.session.get(AnnouncementRow, announcement_id, with_for_update=True)
        if row is None or not row.prompt:
            raise NotFound("La afectación no existe.")
        if not can_announce(actor, row.entity_id):
            raise AccessDenied("Solo puede grabar afectaciones de su propia entidad.")
        target = Path(prompts_dir) / f"{row.prompt}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".subida")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        before = _snapshot(row)
        row.recorded = True
        await record_change(
            uow.session,
            actor=actor,
            action="announcement.recording",
            object_type="announcement",
            object_id=row.id,
            before={**before, "recorded": False},
            after={**_snapshot(row), "recorded": True, "seconds": round(seconds, 1)},
            now=now,
        )
        await uow.commit()
    return seconds
