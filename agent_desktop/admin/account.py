"""``/cuenta``: change one's own password (forced after creation or reset) and set up the
TOTP second factor (required for admins and supervisors when CAC311_REQUIRE_2FA=1)."""

from __future__ import annotations

import pyotp
from aiohttp import web

from agent_desktop.admin.login import TWO_FACTOR_ROLES, matching_step, pending_step
from agent_desktop.auth import login_required, session_of
from agent_desktop.csrf import check_form
from agent_desktop.handlers.auth import home_path
from agent_desktop.handlers.common import read_form, render, text_field
from agent_desktop.keys import CLOCK, UOW
from case_core.domain.errors import DomainError
from case_core.domain.roles import is_liaison
from case_core.services.audit import record_change

ISSUER = "CAC 3-1-1"


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/cuenta/contrasena", password_form)
    r.add_post("/cuenta/contrasena", change_password)
    r.add_get("/cuenta/2fa", totp_form)
    r.add_post("/cuenta/2fa", enable_totp)


@login_required
async def password_form(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    return render(
        request, "cuenta_contrasena.html", {"forced": session.must_change_password, "error": ""}
    )


@login_required
async def change_password(request: web.Request) -> web.StreamResponse:
    from case_core.services.user_admin import change_own_password

    session = session_of(request)
    form = await read_form(request)
    check_form(request, form, session.csrf_token)
    current = text_field(form, "actual", max_length=200)
    new = text_field(form, "nueva", max_length=200)
    if new != text_field(form, "repetir", max_length=200):
        error = "Las contraseñas nuevas no coinciden."
    else:
        try:
            await change_own_password(
                request.config_dict[UOW],
                user_id=session.actor.user_id,  # type: ignore[arg-type]
                current=current,
                new=new,
                now=request.config_dict[CLOCK](),
            )
        except DomainError as err:
            error = str(err)
        else:
            raise web.HTTPFound(_next_after_change(request, session))
    return render(
        request,
        "cuenta_contrasena.html",
        {"forced": session.must_change_password, "error": error},
        status=400,
    )


def _next_after_change(request: web.Request, session) -> str:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    step = pending_step(request, replace(session, must_change_password=False))
    home = home_path(session.actor.role)
    if home == "/escritorio" and is_liaison(session.actor.role):
        home = "/directorio"  # the entity's own directory page; the desktop is not theirs
    return step or home


def _pending_secret(request: web.Request, session) -> str:  # type: ignore[no-untyped-def]
    """The secret offered for setup: derived per session so a reload shows the same one."""
    import base64
    import hashlib

    digest = hashlib.sha256(f"totp-setup:{session.csrf_token}".encode()).digest()
    return base64.b32encode(digest[:20]).decode()


def _totp_page(  # type: ignore[no-untyped-def]
    request: web.Request, session, secret: str, *, error: str = "", status: int = 200
) -> web.StreamResponse:
    """The two-step setup page: the secret as text and as a provisioning URI (QR)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=session.actor.username, issuer_name=ISSUER)
    return render(
        request,
        "cuenta_2fa.html",
        {
            "secret": secret,
            "uri": uri,
            "has_totp": session.has_totp,
            "required": session.actor.role in TWO_FACTOR_ROLES,
            "error": error,
        },
        status=status,
    )


@login_required
async def totp_form(request: web.Request) -> web.StreamResponse:
    session = session_of(request)
    return _totp_page(request, session, _pending_secret(request, session))


@login_required
async def enable_totp(request: web.Request) -> web.StreamResponse:
    from case_core.db.models import UserRow

    session = session_of(request)
    form = await read_form(request)
    check_form(request, form, session.csrf_token)
    secret = _pending_secret(request, session)
    now = request.config_dict[CLOCK]()
    code = text_field(form, "codigo", max_length=10)
    step = matching_step(secret, code, now)
    if step is None:
        return _totp_page(
            request,
            session,
            secret,
            error="El código no es correcto. Revise la hora de su teléfono.",
            status=400,
        )
    async with request.config_dict[UOW]() as uow:
        user = await uow.session.get(UserRow, session.actor.user_id, with_for_update=True)
        assert user is not None
        user.totp_secret = secret
        user.totp_last_step = step  # the code used to set it up cannot log in
        await record_change(
            uow.session,
            actor=session.actor,
            action="user.enable_totp",
            object_type="user",
            object_id=user.id,
            before={"totp": session.has_totp},
            after={"totp": True},
            now=now,
        )
        await uow.commit()
    raise web.HTTPFound(home_path(session.actor.role))
