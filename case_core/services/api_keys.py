"""Open311 API keys: created and revoked from the command line, stored as SHA-256.

A key is ``o311_`` plus 32 random bytes (URL-safe base64), shown once at creation. Only its
SHA-256 is kept: with 256 bits of entropy a plain, unsalted hash cannot be searched, and it
lets a request find its key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from case_core.db.models import Open311KeyRow, Open311PostRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.errors import DomainError, NotFound

PREFIX = "o311_"
DEFAULT_PER_HOUR = 60


@dataclass(frozen=True)
class ApiKeyView:
    id: int
    name: str
    prefix: str
    requests_per_hour: int
    created_at: datetime
    revoked_at: datetime | None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_api_key(
    uow_factory: UnitOfWorkFactory, name: str, *, requests_per_hour: int = DEFAULT_PER_HOUR
) -> str:
    """Create a key named ``name``; returns the key itself (never stored)."""
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise DomainError("El nombre de la clave debe tener entre 1 y 80 caracteres.")
    if requests_per_hour < 1:
        raise DomainError("El límite debe ser de al menos una solicitud por hora.")
    key = PREFIX + secrets.token_urlsafe(32)
    async with uow_factory() as uow:
        if await uow.session.scalar(select(Open311KeyRow.id).where(Open311KeyRow.name == name)):
            raise DomainError(f"Ya existe una clave llamada «{name}».")
        uow.session.add(
            Open311KeyRow(
                name=name,
                prefix=key[: len(PREFIX) + 4],
                key_hash=key_hash(key),
                requests_per_hour=requests_per_hour,
            )
        )
        await uow.commit()
    return key


async def list_api_keys(uow_factory: UnitOfWorkFactory) -> list[ApiKeyView]:
    async with uow_factory() as uow:
        rows = (await uow.session.scalars(select(Open311KeyRow).order_by(Open311KeyRow.id))).all()
    return [
        ApiKeyView(r.id, r.name, r.prefix, r.requests_per_hour, r.created_at, r.revoked_at)
        for r in rows
    ]


async def revoke_api_key(uow_factory: UnitOfWorkFactory, name: str, *, now: datetime) -> None:
    async with uow_factory() as uow:
        row = await uow.session.scalar(select(Open311KeyRow).where(Open311KeyRow.name == name))
        if row is None:
            raise NotFound(f"No existe la clave «{name}».")
        if row.revoked_at is None:
            row.revoked_at = now
        await uow.commit()


async def authenticate(uow_factory: UnitOfWorkFactory, key: str) -> Open311KeyRow | None:
    """The live key row for ``key``, or None (unknown or revoked)."""
    if not key or not key.startswith(PREFIX) or len(key) > 100:
        return None
    async with uow_factory() as uow:
        row = await uow.session.scalar(
            select(Open311KeyRow).where(Open311KeyRow.key_hash == key_hash(key))
        )
    return row if row is not None and row.revoked_at is None else None


async def over_limit(uow_factory: UnitOfWorkFactory, key: Open311KeyRow, *, now: datetime) -> bool:
    """True when the key already made its hourly number of POSTs."""
    async with uow_factory() as uow:
        count = await uow.session.scalar(
            select(func.count()).where(
                Open311PostRow.api_key_id == key.id, Open311PostRow.at > now - timedelta(hours=1)
            )
        )
    return (count or 0) >= key.requests_per_hour


async def log_post(
    uow_factory: UnitOfWorkFactory,
    *,
    now: datetime,
    api_key_id: int | None,
    outcome: str,
    http_status: int,
    case_id: int | None = None,
) -> None:
    """One row per POST, whatever came of it."""
    async with uow_factory() as uow:
        uow.session.add(
            Open311PostRow(
                at=now,
                api_key_id=api_key_id,
                outcome=outcome[:24],
                http_status=http_status,
                case_id=case_id,
            )
        )
        await uow.commit()


async def rotate_api_key(
    uow_factory: UnitOfWorkFactory, name: str, *, requests_per_hour: int = DEFAULT_PER_HOUR
) -> str:
    """A fresh key under ``name`` (created, or replacing and un-revoking the old one)."""
    key = PREFIX + secrets.token_urlsafe(32)
    async with uow_factory() as uow:
        row = await uow.session.scalar(select(Open311KeyRow).where(Open311KeyRow.name == name))
        if row is None:
            row = Open311KeyRow(name=name)
            uow.session.add(row)
        row.prefix, row.key_hash = key[: len(PREFIX) + 4], key_hash(key)
        row.requests_per_hour, row.revoked_at = requests_per_hour, None
        await uow.commit()
    return key
