"""Login throttling and lockout (issue 11).

Before any password is checked: an account locked after N failures in a row, or an address
with too many recent failures, is refused at once, without spending Argon2 time on it. Every
attempt is recorded in ``login_attempts`` (user name typed, client address, outcome; never
the password) for the administrators' page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from case_core.db.models import UserRow
from case_core.db.models.admin import LoginAttemptRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.passwords import ThrottlePolicy, is_locked

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    reason: str  # "locked" or "throttled"
    message: str  # Spanish, for the login page


def _minutes(delta_seconds: float) -> int:
    return max(1, int(delta_seconds // 60) + (1 if delta_seconds % 60 else 0))


async def refusal_before_check(
    uow_factory: UnitOfWorkFactory,
    *,
    username: str,
    ip: str,
    now: datetime,
    policy: ThrottlePolicy,
) -> Refusal | None:
    """Why this attempt is refused before its password is looked at (None: go on)."""
    async with uow_factory() as uow:
        recent = await uow.session.scalar(
            select(func.count())
            .select_from(LoginAttemptRow)
            .where(
                LoginAttemptRow.ip == ip,
                LoginAttemptRow.at > now - policy.ip_window,
                LoginAttemptRow.ok.is_(False),
            )
        )
        locked_until = (
            await uow.session.scalar(
                select(UserRow.locked_until).where(UserRow.username == username)
            )
            if username
            else None
        )
    if policy.ip_blocked(int(recent or 0)):
        return Refusal(
            "throttled",
            "Demasiados intentos fallidos desde esta dirección. "
            f"Espere {_minutes(policy.ip_window.total_seconds())} minutos e intente de nuevo.",
        )
    if is_locked(locked_until, now):
        assert locked_until is not None
        return Refusal(
            "locked",
            "La cuenta está bloqueada por intentos fallidos. Intente de nuevo en "
            f"{_minutes((locked_until - now).total_seconds())} minutos o pida a un "
            "administrador que restablezca su contraseña.",
        )
    return None


async def record_attempt(
    uow_factory: UnitOfWorkFactory,
    *,
    username: str,
    ip: str,
    ok: bool,
    reason: str,
    now: datetime,
    policy: ThrottlePolicy,
) -> datetime | None:
    """Record one attempt; a failure counts against the account (locking it after N in a
    row), a success clears the count. Returns the new ``locked_until`` if this locked it."""
    locked = None
    async with uow_factory() as uow:
        uow.session.add(
            LoginAttemptRow(at=now, username=username[:60], ip=ip[:64], ok=ok, reason=reason)
        )
        if username and ok:
            await uow.session.execute(
                update(UserRow)
                .where(UserRow.username == username)
                .values(failed_logins=0, locked_until=None)
            )
        elif username and reason in ("bad_password", "bad_code", "code_missing"):
            failures = await uow.session.scalar(
                update(UserRow)
                .where(UserRow.username == username)
                .values(failed_logins=UserRow.failed_logins + 1)
                .returning(UserRow.failed_logins)
            )
            if failures is not None:
                locked = policy.locked_until_after_failure(failures, now)
                if locked is not None:
                    await uow.session.execute(
                        update(UserRow)
                        .where(UserRow.username == username)
                        .values(locked_until=locked, failed_logins=0)
                    )
        await uow.commit()
    if not ok:
        # The user name and address, never the password.
        log.warning("login refused for user %r from %s: %s", username[:60], ip, reason)
    return locked


async def recent_failures(
    uow_factory: UnitOfWorkFactory, *, limit: int = 200
) -> Sequence[LoginAttemptRow]:
    """The latest failed attempts, newest first (the administrators' page)."""
    async with uow_factory() as uow:
        stmt = (
            select(LoginAttemptRow)
            .where(LoginAttemptRow.ok.is_(False))
            .order_by(LoginAttemptRow.at.desc(), LoginAttemptRow.id.desc())
            .limit(limit)
        )
        return (await uow.session.scalars(stmt)).all()


KEEP_ATTEMPTS = timedelta(days=90)


async def purge_old_attempts(
    uow_factory: UnitOfWorkFactory, *, now: datetime, keep: timedelta = KEEP_ATTEMPTS
) -> int:
    """Delete login attempts older than ``keep`` (the table must not grow without bound);
    returns how many."""
    async with uow_factory() as uow:
        gone = await uow.session.scalars(
            delete(LoginAttemptRow)
            .where(LoginAttemptRow.at < now - keep)
            .returning(LoginAttemptRow.id)
        )
        count = len(gone.all())
        await uow.commit()
    return count
