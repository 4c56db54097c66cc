"""``/anuncios``: announcements (afectaciones) made by 3-1-1 or an entity, and the desktop's
live socket ``/ws/anuncios`` (see ``admin.live``)."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from agent_desktop.admin.common import actor_of, datetime_field, roles_required
from agent_desktop.admin.live import announcements_socket
from agent_desktop.auth import session_of
from agent_desktop.csrf import check_form
from agent_desktop.handlers.common import (
    BadRequest,
    int_field,
    local,
    path_int,
    read_form,
    render,
    text_field,
)
from agent_desktop.keys import CLOCK, SETTINGS, UOW
from case_core.db.models import EntityRow
from case_core.domain.errors import DomainError
from case_core.domain.roles import Role
from case_core.services import announcements as svc

ANNOUNCERS = (Role.ADMIN, Role.SUPERVISOR, Role.LIAISON_EXEC, Role.LIAISON)


def setup(app: web.Application) -> None:
    app.router.add_get("/anuncios", page)
    app.router.add_post("/anuncios", create)
    app.router.add_post("/anuncios/{announcement_id}/terminar", end)
    app.router.add_post("/anuncios/{announcement_id}/grabacion", upload_recording)
    app.router.add_get("/ws/anuncios", announcements_socket)


async def _page(request: web.Request, *, error: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    actor = actor_of(request)
    own = None if actor.role in (Role.ADMIN, Role.SUPERVISOR) else actor.entity_id
    rows = await svc.list_announcements(request.config_dict[UOW], entity_id=own)
    async with request.config_dict[UOW]() as uow:
        stmt = select(EntityRow).where(EntityRow.active).order_by(EntityRow.short_name)
        if own is not None:
            stmt = stmt.where(EntityRow.id == own)
        entities = (await uow.session.scalars(stmt)).all()
    now = request.config_dict[CLOCK]()
    return render(
        request,
        "anuncios.html",
        {
            "rows": [
                (a, e, svc.area_label(a), a.valid_to is None or a.valid_to > now) for a, e in rows
            ],
            "entities": entities,
            "error": error,
            "done": request.query.get("hecho", "")[:200],
            "local": lambda at: local(at, request) if at else "sin fin",
        },
        status=status,
    )


@roles_required(*ANNOUNCERS)
async def page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@roles_required(*ANNOUNCERS)
async def create(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    check_form(request, form, session_of(request).csrf_token)
    tz = request.config_dict[SETTINGS].tz
    now = request.config_dict[CLOCK]()
    try:
        start = datetime_field(form, "inicio", tz) or now
        finish = datetime_field(form, "fin", tz)
        if finish is None:
            raise BadRequest("Indique cuándo termina la afectación.")
        entity_id = int_field(form, "entidad", required=True)
        await svc.create_announcement(
            request.config_dict[UOW],
            actor=actor_of(request),
            entity_id=entity_id,  # type: ignore[arg-type]
            text_es=text_field(form, "texto", max_length=2000),
            valid_from=start,
            valid_to=finish,
            now=now,
            province=text_field(form, "provincia", max_length=60),
            district=text_field(form, "distrito", max_length=80),
            corregimiento=text_field(form, "corregimiento", max_length=80),
        )
    except (DomainError, BadRequest) as err:
        return await _page(request, error=str(err), status=400)
    message = (
        "Afectación publicada: ya aparece en los escritorios. Para que el IVR la lea, "
        "genere su audio con «cac311 prompts build»."
    )
    raise web.HTTPFound(f"/anuncios?hecho={quote(message)}")


@roles_required(*ANNOUNCERS)
async def end(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    check_form(request, form, session_of(request).csrf_token)
    await svc.end_announcement(
        request.config_dict[UOW],
        actor=actor_of(request),
        announcement_id=path_int(request, "announcement_id"),
        now=request.config_dict[CLOCK](),
    )
    raise web.HTTPFound(f"/anuncios?hecho={quote('Afectación terminada.')}")


MAX_UPLOAD = 4 * 1024 * 1024  # 8 kHz 16-bit mono: about 4 minutes


@roles_required(*ANNOUNCERS)
async def upload_recording(request: web.Request) -> web.StreamResponse:
    """POST /anuncios/{id}/grabacion (multipart: csrf_token, grabacion): a recorded WAV
    replaces the synthesized prompt. Read as a stream, at most MAX_UPLOAD bytes."""
    announcement_id = path_int(request, "announcement_id")
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise BadRequest("Envíe el archivo con el formulario de la página.") from None
    csrf, data = "", b""
    while (part := await reader.next()) is not None:
        if part.name == "csrf_token":  # type: ignore[union-attr]
            csrf = (await part.read(decode=True))[:200].decode("utf-8", "replace")  # type: ignore[union-attr]
        elif part.name == "grabacion":  # type: ignore[union-attr]
            chunks, size = [], 0
            while chunk := await part.read_chunk(64 * 1024):  # type: ignore[union-attr]
                size += len(chunk)
                if size > MAX_UPLOAD:
                    raise BadRequest("La grabación es demasiado grande (máximo 4 MB).")
                chunks.append(chunk)
            data = b"".join(chunks)
    check_form(request, {"csrf_token": csrf}, session_of(request).csrf_token)
    if not data:
        return await _page(request, error="Elija un archivo WAV.", status=400)
    try:
        seconds = await svc.attach_recording(
            request.config_dict[UOW],
            actor=actor_of(request),
            announcement_id=announcement_id,
            data=data,
            prompts_dir=request.config_dict[SETTINGS].prompts_dir,
            now=request.config_dict[CLOCK](),
        )
    except DomainError as err:
        return await _page(request, error=str(err), status=400)
    message = f"Grabación guardada ({seconds:.0f} s): el IVR la reproduce desde ahora."
    raise web.HTTPFound(f"/anuncios?hecho={quote(message)}")
