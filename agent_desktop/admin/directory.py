"""``/directorio``: the entity directory and SLA templates, and the proposals awaiting a
3-1-1 supervisor. 3-1-1 (supervisors, admins) sees every entity; an entity's liaisons see
their own (its Enlace Ejecutivo proposes service changes; any liaison proposes articles)."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from agent_desktop.admin.common import actor_of, date_field, roles_required
from agent_desktop.auth import session_of
from agent_desktop.csrf import check_form
from agent_desktop.handlers.common import (
    bool_field,
    int_field,
    local,
    path_int,
    read_form,
    render,
    text_field,
)
from agent_desktop.keys import CLOCK, SETTINGS, UOW
from case_core.db.models import EntityRow, KnowledgeArticleRow, OfficeRow, ServiceRow
from case_core.db.models.admin import EntityContactRow
from case_core.domain.errors import DomainError, NotFound
from case_core.domain.roles import LIAISON_ROLES, Role
from case_core.services import directory_admin as d

KEEPERS = (Role.ADMIN, Role.SUPERVISOR, *sorted(LIAISON_ROLES))


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/directorio", directory_home)
    r.add_get("/directorio/entidades/{entity_id}", entity_page)
    r.add_post("/directorio/entidades/{entity_id}", update_entity)
    r.add_post("/directorio/entidades/{entity_id}/oficinas", add_office)
    r.add_post("/directorio/entidades/{entity_id}/contactos", add_contact)
    r.add_post("/directorio/entidades/{entity_id}/articulos", propose_article)
    r.add_post(
        "/directorio/{kind:oficinas|contactos}/{item_id}/{state:desactivar|activar}",
        set_item_active,
    )
    r.add_post("/directorio/servicios/{service_id}", update_service)
    r.add_post("/directorio/servicios/{service_id}/revisado", mark_reviewed)
    r.add_get("/directorio/propuestas", proposals_page)
    r.add_post("/directorio/propuestas/{change_id}/{decision:aprobar|rechazar}", decide)


def _entity_visible(request: web.Request, entity_id: int) -> None:
    actor = actor_of(request)
    if not d.is_311(actor) and actor.entity_id != entity_id:
        raise NotFound("La entidad no existe.")


async def _checked_form(request: web.Request):  # type: ignore[no-untyped-def]
    form = await read_form(request)
    check_form(request, form, session_of(request).csrf_token)
    return form


def _back(path: str, message: str) -> web.HTTPFound:
    return web.HTTPFound(f"{path}?hecho={quote(message)}")


@roles_required(*KEEPERS)
async def directory_home(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    if not d.is_311(actor):
        raise web.HTTPFound(f"/directorio/entidades/{actor.entity_id}")
    async with request.config_dict[UOW]() as uow:
        entities = (
            await uow.session.scalars(select(EntityRow).order_by(EntityRow.short_name))
        ).all()
    now = request.config_dict[CLOCK]()
    stale = await d.stale_entities(request.config_dict[UOW], now=now)
    async with request.config_dict[UOW]() as uow:
        due_articles = (
            await uow.session.execute(
                select(KnowledgeArticleRow, EntityRow.short_name)
                .join(EntityRow, EntityRow.id == KnowledgeArticleRow.entity_id)
                .where(
                    KnowledgeArticleRow.status == "publicado",
                    KnowledgeArticleRow.review_on
                    <= now.astimezone(request.config_dict[SETTINGS].tz).date(),
                )
                .order_by(KnowledgeArticleRow.review_on)
                .limit(100)
            )
        ).all()
    pending = await d.list_changes(request.config_dict[UOW], status="pendiente")
    return render(
        request,
        "directorio.html",
        {
            "entities": entities,
            "stale": stale,
            "due_articles": due_articles,
            "pending": len(pending),
            "local": lambda at: local(at, request, "%d/%m/%Y") if at else "nunca",
        },
    )


async def _entity_page(request: web.Request, entity_id: int, *, error: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    _entity_visible(request, entity_id)
    async with request.config_dict[UOW]() as uow:
        entity = await uow.session.get(EntityRow, entity_id)
        if entity is None:
            raise NotFound("La entidad no existe.")
        services = (
            await uow.session.scalars(
                select(ServiceRow)
                .where(ServiceRow.entity_id == entity_id)
                .order_by(ServiceRow.name)
            )
        ).all()
        offices = (
            await uow.session.scalars(
                select(OfficeRow).where(OfficeRow.entity_id == entity_id).order_by(OfficeRow.name)
            )
        ).all()
        contacts = (
            await uow.session.scalars(
                select(EntityContactRow)
                .where(EntityContactRow.entity_id == entity_id)
                .order_by(EntityContactRow.name)
            )
        ).all()
        articles = (
            await uow.session.scalars(
                select(KnowledgeArticleRow)
                .where(KnowledgeArticleRow.entity_id == entity_id)
                .order_by(KnowledgeArticleRow.title)
            )
        ).all()
    actor = actor_of(request)
    changes = await d.list_changes(request.config_dict[UOW], entity_id=entity_id)
    return render(
        request,
        "directorio_entidad.html",
        {
            "entity": entity,
            "services": services,
            "offices": offices,
            "contacts": contacts,
            "articles": articles,
            "changes": changes,
            "is_311": d.is_311(actor),
            "can_keep": d.can_keep_entity(actor, entity_id),
            "can_propose_article": d.can_propose_article(actor, entity_id),
            "error": error,
            "done": request.query.get("hecho", "")[:200],
            "local": lambda at: local(at, request, "%d/%m/%Y") if at else "nunca",
        },
        status=status,
    )


@roles_required(*KEEPERS)
async def entity_page(request: web.Request) -> web.StreamResponse:
    return await _entity_page(request, path_int(request, "entity_id"))


@roles_required(Role.ADMIN, Role.SUPERVISOR)
async def update_entity(request: web.Request) -> web.StreamResponse:
    entity_id = path_int(request, "entity_id")
    form = await _checked_form(request)
    try:
        await d.update_entity(
            request.config_dict[UOW],
            actor=actor_of(request),
            entity_id=entity_id,
            kind=text_field(form, "tipo", max_length=20),
            province=text_field(form, "provincia", max_length=60) or None,
            active=bool_field(form, "activa"),
            now=request.config_dict[CLOCK](),
        )
    except DomainError as err:
        return await _entity_page(request, entity_id, error=str(err), status=400)
    raise _back(f"/directorio/entidades/{entity_id}", "Entidad actualizada.")


async def _add_to_entity(  # type: ignore[no-untyped-def]
    request: web.Request, entity_id: int, add, values: dict[str, object], done: str
) -> web.StreamResponse:
    """Run ``d.add_office`` or ``d.add_contact``; a refusal shows the entity page with the
    reason (400), success goes back to it with ``done``."""
    try:
        await add(
            request.config_dict[UOW],
            actor=actor_of(request),
            entity_id=entity_id,
            values=values,
            now=request.config_dict[CLOCK](),
        )
    except DomainError as err:
        return await _entity_page(request, entity_id, error=str(err), status=400)
    raise _back(f"/directorio/entidades/{entity_id}", done)


@roles_required(*KEEPERS)
async def add_office(request: web.Request) -> web.StreamResponse:
    entity_id = path_int(request, "entity_id")
    _entity_visible(request, entity_id)
    form = await _checked_form(request)
    values = {
        k: text_field(form, f, max_length=1000)
        for k, f in (
            ("name", "nombre"),
            ("kind", "tipo"),
            ("province", "provincia"),
            ("district", "distrito"),
            ("address", "direccion"),
            ("hours", "horario"),
            ("phones", "telefonos"),
            ("email", "correo"),
        )
    }
    return await _add_to_entity(request, entity_id, d.add_office, values, "Oficina agregada.")


@roles_required(*KEEPERS)
async def add_contact(request: web.Request) -> web.StreamResponse:
    entity_id = path_int(request, "entity_id")
    _entity_visible(request, entity_id)
    form = await _checked_form(request)
    values = {
        "name": text_field(form, "nombre", max_length=120),
        "position": text_field(form, "cargo", max_length=120),
        "phone": text_field(form, "telefono", max_length=40),
        "email": text_field(form, "correo", max_length=200),
        "office_id": int_field(form, "oficina"),
    }
    return await _add_to_entity(request, entity_id, d.add_contact, values, "Contacto agregado.")


@roles_required(*KEEPERS)
async def update_service(request: web.Request) -> web.StreamResponse:
    service_id = path_int(request, "service_id")
    form = await _checked_form(request)
    async with request.config_dict[UOW]() as uow:
        service = await uow.session.get(ServiceRow, service_id)
    if service is None:
        raise NotFound("El servicio no existe.")
    _entity_visible(request, service.entity_id)
    values = {
        "name": text_field(form, "nombre", max_length=200),
        "sla_days": text_field(form, "plazo", max_length=4),
        "who_answers": text_field(form, "responde", max_length=200),
        "required_info": text_field(form, "requisitos", max_length=4000),
        "active": bool_field(form, "activo"),
    }
    try:
        proposal = await d.update_service(
            request.config_dict[UOW],
            actor=actor_of(request),
            service_id=service_id,
            values=values,
            now=request.config_dict[CLOCK](),
        )
    except DomainError as err:
        return await _entity_page(request, service.entity_id, error=str(err), status=400)
    message = (
        "Servicio actualizado."
        if proposal is None
        else "Propuesta enviada: el cambio se aplicará cuando el 3-1-1 la apruebe."
    )
    raise _back(f"/directorio/entidades/{service.entity_id}", message)


@roles_required(Role.ADMIN, Role.SUPERVISOR)
async def mark_reviewed(request: web.Request) -> web.StreamResponse:
    service_id = path_int(request, "service_id")
    await _checked_form(request)
    await d.mark_reviewed(
        request.config_dict[UOW],
        actor=actor_of(request),
        service_id=service_id,
        now=request.config_dict[CLOCK](),
    )
    async with request.config_dict[UOW]() as uow:
        service = await uow.session.get(ServiceRow, service_id)
    raise _back(f"/directorio/entidades/{service.entity_id}", "Plantilla marcada como revisada.")  # type: ignore[union-attr]


@roles_required(*KEEPERS)
async def propose_article(request: web.Request) -> web.StreamResponse:
    entity_id = path_int(request, "entity_id")
    _entity_visible(request, entity_id)
    form = await _checked_form(request)
    actor = actor_of(request)
    review_on = date_field(form, "revision")
    values = {
        "title": text_field(form, "titulo", max_length=200),
        "body": text_field(form, "cuerpo", max_length=20000),
        "service_id": int_field(form, "servicio"),
        "review_on": review_on.isoformat() if review_on else None,
    }
    now = request.config_dict[CLOCK]()
    try:
        change_id = await d.propose_article(
            request.config_dict[UOW],
            actor=actor,
            entity_id=entity_id,
            values=values,
            now=now,
            article_id=int_field(form, "articulo"),
        )
        if d.is_311(actor):  # 3-1-1 publishes its own articles at once
            await d.decide_change(
                request.config_dict[UOW], actor=actor, change_id=change_id, approve=True, now=now
            )
    except DomainError as err:
        return await _entity_page(request, entity_id, error=str(err), status=400)
    message = (
        "Artículo publicado."
        if d.is_311(actor)
        else "Artículo propuesto: se publicará cuando el 3-1-1 lo apruebe."
    )
    raise _back(f"/directorio/entidades/{entity_id}", message)


@roles_required(*KEEPERS)
async def proposals_page(request: web.Request) -> web.StreamResponse:
    actor = actor_of(request)
    status = request.query.get("estado", "pendiente")
    if status not in ("pendiente", "aprobado", "rechazado"):
        status = "pendiente"
    changes = await d.list_changes(
        request.config_dict[UOW],
        status=status,
        entity_id=None if d.is_311(actor) else actor.entity_id,
    )
    return render(
        request,
        "directorio_propuestas.html",
        {
            "changes": changes,
            "status": status,
            "is_311": d.is_311(actor),
            "done": request.query.get("hecho", "")[:200],
            "local": lambda at: local(at, request),
        },
    )


@roles_required(Role.ADMIN, Role.SUPERVISOR)
async def decide(request: web.Request) -> web.StreamResponse:
    change_id = path_int(request, "change_id")
    form = await _checked_form(request)
    approve = request.match_info["decision"] == "aprobar"
    await d.decide_change(
        request.config_dict[UOW],
        actor=actor_of(request),
        change_id=change_id,
        approve=approve,
        now=request.config_dict[CLOCK](),
        note=text_field(form, "nota", max_length=2000),
    )
    raise _back(
        "/directorio/propuestas", "Propuesta aprobada." if approve else "Propuesta rechazada."
    )


@roles_required(*KEEPERS)
async def set_item_active(request: web.Request) -> web.StreamResponse:
    """POST /directorio/oficinas|contactos/{id}/desactivar|activar."""
    await _checked_form(request)
    kind = "office" if request.match_info["kind"] == "oficinas" else "entity_contact"
    active = request.match_info["state"] == "activar"
    entity_id = await d.set_directory_item_active(
        request.config_dict[UOW],
        actor=actor_of(request),
        kind=kind,
        item_id=path_int(request, "item_id"),
        active=active,
        now=request.config_dict[CLOCK](),
    )
    raise _back(f"/directorio/entidades/{entity_id}", "Directorio actualizado.")
