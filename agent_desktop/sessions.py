"""Server-side web sessions in PostgreSQL (table ``web_sessions``).

The browser holds a random token in an HttpOnly cookie; the database holds only its SHA-256,
so a leaked table cannot be replayed. A session ends at its absolute expiry
(``Settings.session_max_age_seconds`` after login), after ``idle_timeout`` seconds without a
request, or at logout. ``last_seen_at`` is written at most once a minute.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import BigInteger

from case_core.db.models import UserRow
from case_core.db.models.desktop import WebSessionRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.roles import Actor, Role

TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionInfo:
    """A live session and who it belongs to."""

    id: int
    csrf_token: str
    actor: Actor
    full_name: str
    phone_interface: str | None
    expires_at: datetime
    must_change_password: bool = False  # issue 11: every page leads to the change form
    has_totp: bool = False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_session(
    uow_factory: UnitOfWorkFactory, *, user_id: int, now: datetime, max_age_seconds: int
) -> str:
    """Open a session for ``user_id``; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    async with uow_factory() as uow:
        uow.session.add(
            WebSessionRow(
                token_hash=hash_token(token),
                user_id=user_id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(seconds=max_age_seconds),
            )
        )
        await uow.commit()
    return token


async def load_session(
    uow_factory: UnitOfWorkFactory, token: str, *, now: datetime, idle_timeout: float
) -> SessionInfo | None:
    """The live session of ``token``; an expired one is deleted and None returned."""
    if not token or len(token) > 200:
        return None
    async with uow_factory() as uow:
        found = (
            await uow.session.execute(
                select(WebSessionRow, UserRow)
                .join(UserRow, UserRow.id == WebSessionRow.user_id)
                .where(WebSessionRow.token_hash == hash_token(token))
            )
        ).first()
        if found is None:
            return None
        row, user = found
        idle = now - row.last_seen_at > timedelta(seconds=idle_timeout)
        if row.expires_at <= now or idle or not user.active:
            await uow.session.delete(row)
            await uow.commit()
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
            await uow.commit()
        return SessionInfo(
            row.id,
            row.csrf_token,
            Actor(user.id, user.username, Role(user.role), user.entity_id, user.office_id),
            user.full_name,
            user.phone_interface,
            row.expires_at,
            must_change_password=user.must_change_password,
            has_totp=bool(user.totp_secret),
        )


async def keep_alive(uow_factory: UnitOfWorkFactory, session_id: int, *, now: datetime) -> bool:
    """For an open live socket: is its session still valid? Logout, the absolute expiry and
    a deactivated user end it; an open socket counts as activity, so it is touched."""
    async with uow_factory() as uow:
        found = (
            await uow.session.execute(
                select(WebSessionRow, UserRow)
                .join(UserRow, UserRow.id == WebSessionRow.user_id)
                .where(WebSessionRow.id == session_id)
            )
        ).first()
        if found is None:
            return False
        row, user = found
        if row.expires_at <= now or not user.active:
            await uow.session.delete(row)
            await uow.commit()
            return False
        row.last_seen_at = now
        await uow.commit()
        return True


_KEEP_ALIVE_MANY = (
    text(
        """
DELETE FROM web_sessions s USING users u
WHERE s.id = ANY(:ids) AND u.id = s.user_id AND (s.expires_at <= :now OR NOT u.active)
"""
    ).bindparams(bindparam("ids", type_=ARRAY(BigInteger))),
    text(
        "UPDATE web_sessions SET last_seen_at = :now WHERE id = ANY(:ids) RETURNING id"
    ).bindparams(bindparam("ids", type_=ARRAY(BigInteger))),
)


async def keep_alive_many(
    uow_factory: UnitOfWorkFactory, session_ids: list[int], *, now: datetime
) -> set[int]:
    """:func:`keep_alive` for many live sockets in one transaction: the ids still valid
    (touched); the ended ones are deleted, the unknown ones left out."""
    if not session_ids:
        return set()
    end, touch = _KEEP_ALIVE_MANY
    async with uow_factory() as uow:
        await uow.session.execute(end, {"ids": session_ids, "now": now})
        alive = set((await uow.session.scalars(touch, {"ids": session_ids, "now": now})).all())
        await uow.commit()
    return alive


async def end_session(uow_factory: UnitOfWorkFactory, token: str) -> None:
    """Logout: forget the session of ``token``."""
    async with uow_factory() as uow:
        await uow.session.execute(
            delete(WebSessionRow).where(WebSessionRow.token_hash == hash_token(token))
        )
        await uow.commit()


async def purge_expired(uow_factory: UnitOfWorkFactory, *, now: datetime) -> int:
    """Delete sessions past their absolute expiry; returns how many."""
    async with uow_factory() as uow:
        purged = await uow.session.scalars(
            delete(WebSessionRow).where(WebSessionRow.expires_at <= now).returning(WebSessionRow.id)
        )
        count = len(purged.all())
        await uow.commit()
        return count
