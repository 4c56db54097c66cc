"""Handlers of the case workspace. They parse, call ``case_core.services`` and render.

Access: ``case_access.may_open_case`` decides who opens a case (a case one may not see is a
404, so its existence does not leak); every action re-checks in the service. Every POST
carries the session's CSRF token and redirects back to the case page (303), so a double
click or the back button never repeats an action silently: a repeated status move is
refused by the transition table with a Spanish message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from agent_desktop.auth import login_required, session_of
from agent_desktop.csrf import check_form
from agent_desktop.handlers.common import (
    BadRequest,
    int_field,
    json_response,
    read_form,
    render,
    search_query,
    text_field,
)
from agent_desktop.keys import CLOCK, SETTINGS, TEMPLATES, UOW
from agent_desktop.liaison import risk_policy
from case_core.domain.case import CaseAction, CaseStatus, parse_case_number
from case_core.domain.case_access import (
    STAFF_311,
    may_add_note,
    may_manage_case,
    may_open_case,
)
from case_core.domain.errors import AccessDenied, NotFound
from case_core.domain.roles import Role, is_liaison
from case_core.services.case_actions import mark_case, merge_case
from case_core.services.case_search import find
from case_core.services.case_workspace import facts, open_case, reassignment_choices
from case_core.services.cases import act_on_case, add_note
from case_core.services.work_queues import QUEUE_TITLES, work_queues

HERE = Path(__file__).resolve().parent
DONE = {
    "nota": "Nota agregada.",
    "reasignar": "El caso fue reasignado.",
    "cerrar": "El caso quedó cerrado.",
    "reabrir": "El caso fue reabierto.",
    "marcar": "Se actualizó la confidencialidad del caso.",
    "fusionar": "El duplicado se fusionó en este caso.",
}


def setup_case_workspace_routes(app: web.Application) -> None:
    """Register the routes and add this package's templates to the desktop's loader."""
    env: jinja2.Environment = app[TEMPLATES]
    own = jinja2.FileSystemLoader(HERE / "templates")
    env.loader = jinja2.ChoiceLoader([env.loader, own] if env.loader else [own])
    r = app.router
    r.add_get("/buscar", search_page)
    r.add_get("/colas", queues_page)
    r.add_get("/api/colas", queues_api)
    r.add_get(r"/casos/{number:[0-9 .\-]{10,40}}", case_page)
    for action in ("nota", "reasignar", "cerrar", "reabrir", "marcar", "fusionar"):
        r.add_post(rf"/casos/{{number:\d{{10}}}}/{action}", ACTION_HANDLERS[action])


def _staff_only(request: web.Request) -> None:
    if session_of(request).actor.role not in STAFF_311 | {Role.AUDITOR}:
        raise web.HTTPForbidden(text="Esta página es para el personal del 3-1-1.")


@login_required
async def case_page(request: web.Request) -> web.StreamResponse:
    """GET /casos/{número}: the case, its SLA clock, its timeline and the actions allowed."""
    raw = request.match_info["number"]
    number = parse_case_number(raw)
    if number is None:
        raise NotFound("El caso no existe.")
    if number != raw:
        raise web.HTTPFound(f"/casos/{number}")
    config = request.config_dict
    actor = session_of(request).actor
    sheet = await open_case(
        config[UOW],
        number=number,
        actor=actor,
        now=config[CLOCK](),
        tz=config[SETTINGS].tz,
        risk=risk_policy(request),
    )
    tz = config[SETTINGS].tz
    choices: list[Any] = []
    if CaseAction.REASSIGN in sheet.allowed:
        choices = await reassignment_choices(config[UOW])
    return render(
        request,
        "caso.html",
        {
            "case": sheet,
            "timeline": [
                {"entry": e, "at": e.at.astimezone(tz).strftime("%d/%m/%Y %H:%M")}
                for e in sheet.timeline
            ],
            "A": CaseAction,
            "S": CaseStatus,
            "can_note": may_add_note(actor) and sheet.status is not CaseStatus.CERRADO,
            "can_manage": may_manage_case(actor),
            "choices": choices,
            "is_liaison": is_liaison(actor.role),
            "done": DONE.get(request.query.get("hecho", ""), ""),
        },
    )


async def _form(request: web.Request) -> tuple[Any, str]:
    form = await read_form(request)
    check_form(request, form, session_of(request).csrf_token)
    return form, request.match_info["number"]


def _back(number: str, done: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/casos/{number}?hecho={done}")


async def _open_for(request: web.Request, number: str) -> int:
    """The case id when the actor may open the case (404 otherwise, as on the page)."""
    async with request.config_dict[UOW]() as uow:
        row = await uow.cases.by_number(number)
    if row is None or not may_open_case(session_of(request).actor, facts(row)):
        raise NotFound("El caso no existe.")
    return row.id


@login_required
async def note_action(request: web.Request) -> web.StreamResponse:
    """POST /casos/{número}/nota: a public (the citizen sees it) or internal note."""
    form, number = await _form(request)
    actor = session_of(request).actor
    if not may_add_note(actor):
        raise AccessDenied("Su rol no permite escribir notas en esta página.")
    visibility = text_field(form, "visibilidad", max_length=10)
    if visibility not in ("publica", "interna"):
        raise BadRequest("Elija si la nota es pública (la verá el ciudadano) o interna.")
    config = request.config_dict
    await add_note(
        config[UOW],
        case_id=await _open_for(request, number),
        actor=actor,
        note=text_field(form, "nota", max_length=4000),
        public=visibility == "publica",
        now=config[CLOCK](),
    )
    raise _back(number, "nota")


def _manager(request: web.Request) -> None:
    if not may_manage_case(session_of(request).actor):
        raise AccessDenied("Solo un supervisor del 3-1-1 puede hacer esto.")


async def _status_action(
    request: web.Request, action: CaseAction, done: str, **extra: Any
) -> web.StreamResponse:
    form, number = await _form(request)
    _manager(request)
    config = request.config_dict
    note_field = "motivo" if action in (CaseAction.REOPEN, CaseAction.REASSIGN) else "nota"
    kwargs = dict(extra)
    if action is CaseAction.REASSIGN:
        service_id = int_field(form, "servicio", required=True)
        async with config[UOW]() as uow:
            service = await uow.directory.service(service_id)  # type: ignore[arg-type]
        if service is None:
            raise NotFound("El servicio elegido no existe.")
        kwargs |= {"new_entity_id": service.entity_id, "new_service_id": service.id}
    await act_on_case(
        config[UOW],
        case_id=await _open_for(request, number),
        action=action,
        actor=session_of(request).actor,
        now=config[CLOCK](),
        note=text_field(form, note_field, max_length=4000),
        public=True,
        tz=config[SETTINGS].tz,
        **kwargs,
    )
    raise _back(number, done)


@login_required
async def reassign_action(request: web.Request) -> web.StreamResponse:
    """POST /casos/{número}/reasignar: a returned case to another entity and service."""
    return await _status_action(request, CaseAction.REASSIGN, "reasignar")


@login_required
async def close_action(request: web.Request) -> web.StreamResponse:
    """POST /casos/{número}/cerrar: with the answer given to the citizen (public)."""
    return await _status_action(request, CaseAction.CLOSE, "cerrar")


@login_required
async def reopen_action(request: web.Request) -> web.StreamResponse:
    """POST /casos/{número}/reabrir: after a negative survey or a citizen's new call."""
    return await _status_action(request, CaseAction.REOPEN, "reabrir")


@login_required
async def mark_action(request: web.Request) -> web.StreamResponse:
    """POST /casos/{número}/marcar: confidential or sensitive on/off, with a reason."""
    form, number = await _form(request)
    _manager(request)
    config = request.config_dict
    value = text_field(form, "valor", max_length=3)
    if value not in ("si", "no"):
        raise BadRequest("Elija si se marca o se desmarca.")
    await mark_case(
        config[UOW],
        case_id=await _open_for(request, number),
        mark=text_field(form, "marca", max_length=20),
        on=value == "si",
        reason=text_field(form, "motivo", max_length=2000),
        actor=session_of(request).actor,
        now=config[CLOCK](),
    )
    raise _back(number, "marcar")


@login_required
async def merge_action(request: web.Request) -> web.StreamResponse:
    """POST /casos/{número}/fusionar: this case is a duplicate of ``destino``."""
    form, number = await _form(request)
    _manager(request)
    config = request.config_dict
    survivor = await merge_case(
        config[UOW],
        duplicate_id=await _open_for(request, number),
        survivor_number=text_field(form, "destino", max_length=40),
        actor=session_of(request).actor,
        now=config[CLOCK](),
        reason=text_field(form, "motivo", max_length=2000) or None,
    )
    raise _back(survivor, "fusionar")


ACTION_HANDLERS = {
    "nota": note_action,
    "reasignar": reassign_action,
    "cerrar": close_action,
    "reabrir": reopen_action,
    "marcar": mark_action,
    "fusionar": merge_action,
}


@login_required
async def search_page(request: web.Request) -> web.StreamResponse:
    """GET /buscar?q=: a case number opens the case; a cédula, phone or name lists cases."""
    _staff_only(request)
    query = search_query(request)
    config = request.config_dict
    result = await find(config[UOW], query, actor=session_of(request).actor, tz=config[SETTINGS].tz)
    if result.exact:
        raise web.HTTPSeeOther(f"/casos/{result.exact}")
    return render(request, "buscar.html", {"query": query, "result": result})


async def _queues(request: web.Request, *, limit: int = 200):  # type: ignore[no-untyped-def]
    actor = session_of(request).actor
    if actor.role not in STAFF_311:
        raise web.HTTPForbidden(text="Las colas de trabajo son del personal del 3-1-1.")
    config = request.config_dict
    return await work_queues(config[UOW], now=config[CLOCK](), tz=config[SETTINGS].tz, limit=limit)


@login_required
async def queues_page(request: web.Request) -> web.StreamResponse:
    """GET /colas[?cola=clave]: the 3-1-1 work queues with their counts; each row opens the
    case."""
    queues = await _queues(request)
    chosen = request.query.get("cola", "")
    if chosen and chosen not in QUEUE_TITLES:
        raise BadRequest("Esa cola no existe.")
    return render(
        request,
        "colas.html",
        {
            "queues": queues,
            "chosen": chosen,
            "can_manage": may_manage_case(session_of(request).actor),
        },
    )


@login_required
async def queues_api(request: web.Request) -> web.StreamResponse:
    """GET /api/colas: the count of each queue (the desktop's navigation shows them)."""
    queues = await _queues(request, limit=0)
    return json_response(
        {"colas": [{"clave": q.key, "titulo": q.title, "casos": q.count} for q in queues]}
    )


__all__ = ["setup_case_workspace_routes"]
