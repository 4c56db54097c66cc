"""Login and logout."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from aiohttp import web

from agent_desktop.admin.login import check_login, first_step_after_login
from agent_desktop.auth import COOKIE, cookie_secure, current_session, login_required, session_of
from agent_desktop.csrf import LOGIN_COOKIE, MESSAGE, check_form, tokens_match
from agent_desktop.handlers.common import read_form, render, text_field
from agent_desktop.keys import CLOCK, SETTINGS, UOW
from agent_desktop.presence import PRESENCE, leave_queue
from agent_desktop.sessions import create_session, end_session
from case_core.domain.roles import Role

BAD_LOGIN = "Usuario, contraseña o código de verificación incorrectos."


def home_path(role: str) -> str:
    """Where a user lands: liaisons have their own portal (agent_desktop/liaison.py) and
    quality auditors the recordings they may hear."""
    if role == Role.LIAISON:
        return "/enlace"
    if role == Role.AUDITOR:
        return "/grabaciones"
    return "/escritorio"


def _safe_next(raw: str) -> str:
    """Only a local path: never redirect to another site after login."""
    parts = urlsplit(raw or "")
    if not raw.startswith("/") or raw.startswith("//") or parts.scheme or parts.netloc:
        return "/escritorio"
    return parts.path


def login_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {
            "login_csrf": token,
            "error": error,
            "next": _safe_next(request.query.get("siguiente", "")),
        },
        status=status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=cookie_secure(request),
        path="/login",
    )
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    """GET /login."""
    session = await current_session(request)
    if session is not None:
        raise web.HTTPFound(home_path(session.actor.role))
    return login_page(request)


async def login(request: web.Request) -> web.StreamResponse:
    """POST /login: check the password (Argon2id) and open a server-side session."""
    form = await read_form(request)
    if not tokens_match(request.cookies.get(LOGIN_COOKIE), form.get("csrf_token")):
        raise web.HTTPForbidden(text=MESSAGE)
    username = text_field(form, "usuario", max_length=60).lower()
    password = text_field(form, "contrasena", max_length=200)
    config = request.config_dict
    code = text_field(form, "codigo", max_length=10)
    checked = await check_login(request, username, password, code)
    if isinstance(checked, web.Response):
        return checked
    user = checked
    settings = config[SETTINGS]
    token = await create_session(
        config[UOW],
        user_id=user.id,
        now=config[CLOCK](),
        max_age_seconds=settings.session_max_age_seconds,
    )
    target = _safe_next(text_field(form, "siguiente", max_length=200))
    if target == "/escritorio":
        target = home_path(user.role)
    target = first_step_after_login(request, user) or target
    response = web.HTTPFound(target)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=cookie_secure(request),
        path="/",
        max_age=settings.session_max_age_seconds,
    )
    response.del_cookie(LOGIN_COOKIE, path="/login")
    raise response


@login_required
async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout."""
    form = await read_form(request)
    session = session_of(request)
    check_form(request, form, session.csrf_token)
    if session.phone_interface:  # no more calls for an agent who left
        request.config_dict[PRESENCE].forget(session.phone_interface)
        await leave_queue(request.config_dict, session.phone_interface, "logout")
    await end_session(request.config_dict[UOW], request.cookies.get(COOKIE, ""))
    response = web.HTTPFound("/login")
    response.del_cookie(COOKIE, path="/")
    raise response
