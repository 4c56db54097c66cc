"""``/admin``: users (create, role and scope, disable, enable, temporary password), the
audit of every admin change, and failed logins. Admins manage users; supervisors read the
audit."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from agent_desktop.admin.common import actor_of, roles_required
from agent_desktop.csrf import check_form
from agent_desktop.handlers.common import int_field, local, read_form, render, text_field
from agent_desktop.keys import CLOCK, UOW
from agent_desktop.sessions import SessionInfo
from case_core.db.models import EntityRow, OfficeRow
from case_core.domain.errors import DomainError
from case_core.domain.roles import ROLE_LABELS, Role
from case_core.services import user_admin
from case_core.services.audit import recent_changes
from case_core.services.login_guard import recent_failures


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/admin", admin_home)
    r.add_get("/admin/usuarios", users_page)
    r.add_post("/admin/usuarios", create_user)
    r.add_post("/admin/usuarios/{username}/rol", set_role)
    r.add_post("/admin/usuarios/{username}/desactivar", disable_user)
    r.add_post("/admin/usuarios/{username}/activar", enable_user)
    r.add_post("/admin/usuarios/{username}/contrasena", reset_password)
    r.add_get("/admin/auditoria", audit_page)
    r.add_get("/admin/accesos", failures_page)


def _session(request: web.Request) -> SessionInfo:
    from agent_desktop.auth import session_of

    return session_of(request)


@roles_required(Role.ADMIN, Role.SUPERVISOR)
async def admin_home(request: web.Request) -> web.StreamResponse:
    target = "/admin/usuarios" if actor_of(request).role is Role.ADMIN else "/admin/auditoria"
    raise web.HTTPFound(target)


async def _choices(request: web.Request) -> dict[str, object]:
    async with request.config_dict[UOW]() as uow:
        entities = (
            await uow.session.scalars(select(EntityRow).order_by(EntityRow.short_name))
        ).all()
        offices = (
            await uow.session.execute(
                select(OfficeRow, EntityRow.short_name)
                .join(EntityRow, EntityRow.id == OfficeRow.entity_id)
                .order_by(EntityRow.short_name, OfficeRow.name)
            )
        ).all()
    return {
        "roles": [(r.value, ROLE_LABELS[r]) for r in Role],
        "entities": entities,
        "offices": offices,
    }


async def _users_page(request: web.Request, *, error: str = "", done: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    users = await user_admin.list_users(request.config_dict[UOW])
    return render(
        request,
        "admin_usuarios.html",
        {
            "users": users,
            "error": error,
            "done": done or request.query.get("hecho", "")[:200],
            "local": lambda at: local(at, request),
            **await _choices(request),
        },
        status=status,
    )


@roles_required(Role.ADMIN)
async def users_page(request: web.Request) -> web.StreamResponse:
    return await _users_page(request)


async def _form(request: web.Request):  # type: ignore[no-untyped-def]
    form = await read_form(request)
    check_form(request, form, _session(request).csrf_token)
    return form


def _done(message: str) -> web.HTTPFound:
    from urllib.parse import quote

    return web.HTTPFound(f"/admin/usuarios?hecho={quote(message)}")


def _scope_fields(form) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The scope fields of the create and role forms: entity, office, phone interface."""
    return {
        "entity_id": int_field(form, "entidad"),
        "office_id": int_field(form, "oficina"),
        "phone_interface": text_field(form, "interfaz", max_length=80) or None,
    }


@roles_required(Role.ADMIN)
async def create_user(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    username = text_field(form, "usuario", max_length=60)
    try:
        await user_admin.create_user(
            request.config_dict[UOW],
            actor=actor_of(request),
            username=username,
            full_name=text_field(form, "nombre", max_length=120),
            role=user_admin.parse_role(text_field(form, "rol", max_length=20)),
            password=text_field(form, "contrasena", max_length=200),
            now=request.config_dict[CLOCK](),
            **_scope_fields(form),
        )
    except DomainError as err:
        return await _users_page(request, error=str(err), status=400)
    raise _done(f"Usuario «{username.lower()}» creado. Cambiará la contraseña al entrar.")


@roles_required(Role.ADMIN)
async def set_role(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    username = request.match_info["username"]
    try:
        await user_admin.set_role(
            request.config_dict[UOW],
            actor=actor_of(request),
            username=username,
            role=user_admin.parse_role(text_field(form, "rol", max_length=20)),
            now=request.config_dict[CLOCK](),
            **_scope_fields(form),
        )
    except DomainError as err:
        return await _users_page(request, error=str(err), status=400)
    raise _done(f"Rol de «{username}» cambiado.")


@roles_required(Role.ADMIN)
async def disable_user(request: web.Request) -> web.StreamResponse:
    await _form(request)
    username = request.match_info["username"]
    try:
        done = await user_admin.disable_user(
            request.config_dict[UOW],
            actor=actor_of(request),
            username=username,
            now=request.config_dict[CLOCK](),
        )
    except DomainError as err:
        return await _users_page(request, error=str(err), status=400)
    raise _done(f"Usuario «{username}» desactivado; sesiones cerradas: {done.sessions_ended}.")


@roles_required(Role.ADMIN)
async def enable_user(request: web.Request) -> web.StreamResponse:
    await _form(request)
    username = request.match_info["username"]
    try:
        await user_admin.enable_user(
            request.config_dict[UOW],
            actor=actor_of(request),
            username=username,
            now=request.config_dict[CLOCK](),
        )
    except DomainError as err:
        return await _users_page(request, error=str(err), status=400)
    raise _done(f"Usuario «{username}» activado.")


@roles_required(Role.ADMIN)
async def reset_password(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    username = request.match_info["username"]
    try:
        await user_admin.reset_password(
            request.config_dict[UOW],
            actor=actor_of(request),
            username=username,
            password=text_field(form, "contrasena", max_length=200),
            now=request.config_dict[CLOCK](),
        )
    except DomainError as err:
        return await _users_page(request, error=str(err), status=400)
    raise _done(f"Contraseña temporal de «{username}» puesta; la cambiará al entrar.")


ACTION_LABELS = {
    "user.create": "Usuario creado",
    "user.disable": "Usuario desactivado",
    "user.enable": "Usuario activado",
    "user.reset_password": "Contraseña temporal puesta",
    "user.set_role": "Rol cambiado",
    "user.change_password": "Contraseña cambiada por el usuario",
    "user.enable_totp": "Verificación en dos pasos activada",
    "service.update": "Servicio cambiado por el 3-1-1",
    "service.review": "Plantilla de ANS revisada",
    "service.propose": "Cambio de servicio propuesto",
    "service.approve": "Cambio de servicio aprobado",
    "service.reject": "Cambio de servicio rechazado",
    "article.propose": "Artículo propuesto",
    "article.approve": "Artículo publicado",
    "article.reject": "Artículo rechazado",
    "entity.update": "Entidad cambiada",
    "office.create": "Oficina agregada",
    "contact.create": "Contacto agregado",
    "office.disable": "Oficina desactivada",
    "office.enable": "Oficina activada",
    "contact.disable": "Contacto desactivado",
    "contact.enable": "Contacto activado",
    "announcement.create": "Afectación publicada",
    "announcement.end": "Afectación terminada",
    "announcement.recording": "Grabación de afectación subida",
}


@roles_required(Role.ADMIN, Role.SUPERVISOR)
async def audit_page(request: web.Request) -> web.StreamResponse:
    rows = await recent_changes(request.config_dict[UOW])
    return render(
        request,
        "admin_auditoria.html",
        {"rows": rows, "labels": ACTION_LABELS, "local": lambda at: local(at, request)},
    )


@roles_required(Role.ADMIN)
async def failures_page(request: web.Request) -> web.StreamResponse:
    rows = await recent_failures(request.config_dict[UOW])
    return render(
        request, "admin_accesos.html", {"rows": rows, "local": lambda at: local(at, request)}
    )
