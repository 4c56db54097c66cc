"""The login checks of issue 11: throttling and lockout before Argon2, the optional TOTP
code, and the steps a user must take before any other page (a new password, 2FA setup)."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pyotp
from aiohttp import web

from agent_desktop.keys import CLOCK, SETTINGS, UOW
from agent_desktop.sessions import SessionInfo
from case_core.db.models import UserRow
from case_core.domain.passwords import ThrottlePolicy
from case_core.domain.roles import Role
from case_core.security import (
    HashingBusy,
    hash_password_async,
    needs_rehash,
    verify_password_async,
)
from case_core.services.login_guard import record_attempt, refusal_before_check

# Verified against when the user does not exist, so both cases take the same time.
DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$kq0GIaqN1ENKHf+IxlU6KQ$"
    "TUdRkwNTbX44D6TiwTc77rCFp1203KC3e64qH4Zmhlg"
)
CHANGE_PASSWORD_PATH = "/cuenta/contrasena"
TOTP_SETUP_PATH = "/cuenta/2fa"
TWO_FACTOR_ROLES = (Role.ADMIN, Role.SUPERVISOR)
# A refused login answers only after this delay (a tarpit): it costs no CPU here, and it caps
# how fast one connection can guess, so a flood of failing logins cannot keep the event loop
# busy for the agents' pages.
FAILURE_DELAY_SECONDS = 1.0
# Paths a user with a pending step may still reach.
OPEN_PATHS = ("/login", "/logout", "/static/", "/health", "/cuenta/")


def client_ip(request: web.Request) -> str:
    """The peer address. (Behind a reverse proxy this is the proxy: configure the proxy to
    limit logins too, or extend this to a trusted X-Forwarded-For.)"""
    return (request.remote or "desconocida")[:64]


def policy_of(request: web.Request) -> ThrottlePolicy:
    settings = request.config_dict[SETTINGS]
    return ThrottlePolicy(
        max_user_failures=settings.login_max_failures,
        lockout=timedelta(minutes=settings.login_lockout_minutes),
    )


async def check_login(
    request: web.Request, username: str, password: str, code: str
) -> UserRow | web.Response:
    """The user if name, password (and TOTP code when set up) are right; else the login
    page with a Spanish error (401, 429 when throttled or locked, 503 when busy)."""
    checked = await _check_login(request, username, password, code)
    if isinstance(checked, web.Response):
        await asyncio.sleep(FAILURE_DELAY_SECONDS)
    return checked


async def _check_login(
    request: web.Request, username: str, password: str, code: str
) -> UserRow | web.Response:
    from agent_desktop.handlers.auth import BAD_LOGIN, login_page

    config = request.config_dict
    uow_factory, now, ip, policy = (
        config[UOW],
        config[CLOCK](),
        client_ip(request),
        policy_of(request),
    )
    refusal = await refusal_before_check(
        uow_factory, username=username, ip=ip, now=now, policy=policy
    )
    if refusal is not None:
        await record_attempt(
            uow_factory,
            username=username,
            ip=ip,
            ok=False,
            reason=refusal.reason,
            now=now,
            policy=policy,
        )
        return login_page(request, error=refusal.message, status=429)
    async with uow_factory() as uow:
        user = await uow.users.by_username(username) if username else None
    usable = user is not None and user.active
    try:
        ok = await verify_password_async(user.password_hash if usable else DUMMY_HASH, password)  # type: ignore[union-attr]
    except HashingBusy:
        # Counts against the address (a flood gets throttled), not against the account.
        await record_attempt(
            uow_factory, username=username, ip=ip, ok=False, reason="busy", now=now, policy=policy
        )
        return login_page(
            request,
            error="Hay muchos intentos de entrada en este momento. Intente en unos segundos.",
            status=503,
        )
    reason = "ok" if ok and usable else ("unknown_user" if not usable else "bad_password")
    if reason == "ok" and user is not None and user.totp_secret:
        if not code:
            reason = "code_missing"
        elif not await accept_totp(uow_factory, user.id, user.totp_secret, code, now):
            reason = "bad_code"
    if reason != "ok":
        await record_attempt(
            uow_factory, username=username, ip=ip, ok=False, reason=reason, now=now, policy=policy
        )
        # One message for every failure: a different one for a missing or wrong code would
        # tell a guesser that the password was right.
        return login_page(request, error=BAD_LOGIN, status=401)
    await record_attempt(
        uow_factory, username=username, ip=ip, ok=True, reason="ok", now=now, policy=policy
    )
    assert user is not None
    if needs_rehash(user.password_hash):
        await _upgrade_hash(uow_factory, user, password)
    return user


async def _upgrade_hash(uow_factory, user: UserRow, password: str) -> None:  # type: ignore[no-untyped-def]
    """Re-hash a password made with older Argon2 parameters, now that it is known."""
    try:
        new_hash = await hash_password_async(password)
    except (HashingBusy, ValueError):
        return  # next time
    async with uow_factory() as uow:
        row = await uow.session.get(UserRow, user.id, with_for_update=True)
        if row is not None and row.password_hash == user.password_hash:
            row.password_hash = new_hash
            await uow.commit()


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The 30-second step (this one or a neighbour, for clock drift) whose code is ``code``."""
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // totp.interval
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


async def accept_totp(uow_factory, user_id: int, secret: str, code: str, now: datetime) -> bool:  # type: ignore[no-untyped-def]
    """Accept ``code`` once: a step already used (or older) is refused, so a code seen over
    a shoulder or in a proxy log cannot be replayed."""
    from sqlalchemy import or_, update

    step = matching_step(secret, code, now)
    if step is None:
        return False
    async with uow_factory() as uow:
        claimed = await uow.session.scalar(
            update(UserRow)
            .where(
                UserRow.id == user_id,
                or_(UserRow.totp_last_step.is_(None), UserRow.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .returning(UserRow.id)
        )
        await uow.commit()
    return claimed is not None


def needs_totp_setup(request: web.Request, role: Role | str, has_totp: bool) -> bool:
    settings = request.config_dict[SETTINGS]
    return settings.require_2fa and role in TWO_FACTOR_ROLES and not has_totp


def first_step_after_login(request: web.Request, user: UserRow) -> str | None:
    """Where a user must go before anything else, if anywhere."""
    if user.must_change_password:
        return CHANGE_PASSWORD_PATH
    if needs_totp_setup(request, user.role, bool(user.totp_secret)):
        return TOTP_SETUP_PATH
    return None


def pending_step(request: web.Request, session: SessionInfo) -> str | None:
    if session.must_change_password:
        return CHANGE_PASSWORD_PATH
    if needs_totp_setup(request, session.actor.role, session.has_totp):
        return TOTP_SETUP_PATH
    return None


@web.middleware
async def pending_step_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A user who must change the password (or set up 2FA) reaches no other page."""
    from agent_desktop.auth import current_session, wants_json

    if request.path.startswith(OPEN_PATHS) or request.path == "/":
        return await handler(request)
    session = await current_session(request)
    step = pending_step(request, session) if session is not None else None
    if step is None:
        return await handler(request)
    if wants_json(request) or request.method != "GET" or request.path.startswith("/ws"):
        raise web.HTTPForbidden(text="Primero cambie su contraseña o configure la verificación.")
    raise web.HTTPFound(step)
