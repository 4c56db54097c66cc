"""Staff access to case attachments, with the access rules of call recordings.

Supervisors and admins open any; auditors those of non-confidential cases; an agent those of
a case they registered, or of a non-confidential case nobody registered (web, app, e-mail:
somebody has to classify it); a liaison those of a non-confidential case of their entity.
Every opening is written to ``attachment_access_log``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from agent_desktop.auth import current_actor, desktop_required, session_of, wants_json
from agent_desktop.citizen.keys import TEMPLATES
from agent_desktop.csrf import check_form
from agent_desktop.handlers.common import (
    BadRequest,
    int_field,
    json_response,
    read_form,
    text_field,
)
from agent_desktop.keys import CLOCK, SETTINGS, UOW
from case_core.db.models import AttachmentAccessRow, CaseAttachmentRow, CaseRow, EntityRow
from case_core.domain.case import TYPE_LABELS, CaseType
from case_core.domain.roles import Actor, Role, is_liaison
from case_core.domain.tracking import spaced_code
from case_core.services.cases import classify_case, reset_tracking_code
from case_core.services.citizen_cases import search_public_services
from case_core.services.citizen_mail import citizen_address
from mailer.intake import TO_CLASSIFY_CODE
from recordings import attachments as files


def may_open_attachment(actor: Actor, case: CaseRow) -> bool:
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        return True
    if actor.role is Role.AUDITOR:
        return not case.confidential
    if actor.role is Role.AGENT:
        if case.registered_by_user_id is not None:
            return case.registered_by_user_id == actor.user_id
        return not case.confidential
    if is_liaison(actor.role):
        return not case.confidential and actor.entity_id == case.entity_id
    return False


@desktop_required
async def to_classify(request: web.Request) -> web.StreamResponse:
    """GET /correo/por-clasificar[?q=]: e-mail cases waiting for an agent to route them."""
    config = request.config_dict
    query = request.query.get("q", "").replace("\x00", "").strip()[:80]
    uow_factory = config[UOW]
    tz = config[SETTINGS].tz
    async with uow_factory() as uow:
        rows = (
            (
                await uow.session.execute(
                    select(CaseRow)
                    .join(EntityRow, EntityRow.id == CaseRow.entity_id)
                    .where(EntityRow.code == TO_CLASSIFY_CODE, CaseRow.status == "registrado")
                    .order_by(CaseRow.opened_at)
                    .limit(50)
                )
            )
            .scalars()
            .all()
        )
        attachments = (
            await uow.session.scalars(
                select(CaseAttachmentRow)
                .where(CaseAttachmentRow.case_id.in_([r.id for r in rows]))
                .order_by(CaseAttachmentRow.id)
            )
        ).all()
    by_case: dict[int, list[dict]] = {}
    for a in attachments:
        by_case.setdefault(a.case_id, []).append(
            {"id": a.id, "filename": a.filename, "size": a.size_bytes}
        )
    cases = [
        {
            "id": r.id,
            "number": r.number,
            "opened": r.opened_at.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
            "sender": " ".join(
                p for p in (r.declared_name, f"<{r.contact_email}>" if r.contact_email else "") if p
            ),
            "description": r.description,
            "attachments": by_case.get(r.id, []),
        }
        for r in rows
    ]
    services = await search_public_services(uow_factory, query) if query else []
    session = session_of(request)
    html = (
        request.app[TEMPLATES]
        .get_template("por_clasificar.html")
        .render(
            session=session,
            csrf_token=session.csrf_token,
            cases=cases,
            services=services,
            q=query,
            message=request.query.get("ok") and "Caso clasificado y enviado a la entidad.",
            case_types={t.value: label for t, label in TYPE_LABELS.items()},
        )
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8")


@desktop_required
async def classify(request: web.Request) -> web.StreamResponse:
    """POST /casos/{case_id}/clasificar: type + service, then the case goes to its entity."""
    form = await read_form(request)
    session = session_of(request)
    check_form(request, form, session.csrf_token)
    config = request.config_dict
    try:
        case_type = CaseType(text_field(form, "tipo", max_length=20))
    except ValueError:
        raise BadRequest("Elija el tipo de caso.") from None
    service_id = int_field(form, "servicio_id", required=True)
    await classify_case(
        config[UOW],
        case_id=int(request.match_info["case_id"]),
        service_id=service_id or 0,
        case_type=case_type,
        actor=session.actor,
        now=config[CLOCK](),
        tz=config[SETTINGS].tz,
    )
    raise web.HTTPSeeOther("/correo/por-clasificar?ok=1")


@desktop_required
async def new_tracking_code(request: web.Request) -> web.StreamResponse:
    """POST /casos/codigo (numero): a new code for a citizen who lost theirs, read to them
    by the agent after identifying them."""
    form = await read_form(request)
    session = session_of(request)
    check_form(request, form, session.csrf_token)
    config = request.config_dict
    number = text_field(form, "numero", max_length=20)
    case_id, code = await reset_tracking_code(
        config[UOW], number=number, actor=session.actor, now=config[CLOCK]()
    )
    async with config[UOW]() as uow:
        row = await uow.cases.get(case_id)
        emailed = row is not None and await citizen_address(uow.session, row) is not None
    result = {"ok": True, "number": number, "code": spaced_code(code), "emailed": emailed}
    if wants_json(request):
        return json_response({**result, "tracking_code": code})
    html = (
        request.app[TEMPLATES]
        .get_template("codigo_nuevo.html")
        .render(session=session, csrf_token=session.csrf_token, **result)
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8")


async def attachment(request: web.Request) -> web.StreamResponse:
    """GET /casos/{case_id}/adjuntos/{attachment_id}: the file, as a download."""
    actor = await current_actor(request)
    if actor is None:
        raise web.HTTPUnauthorized(text="Inicie sesión.")
    config = request.config_dict
    case_id = int(request.match_info["case_id"])
    attachment_id = int(request.match_info["attachment_id"])
    async with config[UOW]() as uow:
        row = await uow.session.get(CaseAttachmentRow, attachment_id)
        case = await uow.session.get(CaseRow, case_id)
        if row is None or case is None or row.case_id != case.id:
            raise web.HTTPNotFound(text="El adjunto no existe.")
        if not may_open_attachment(actor, case):
            raise web.HTTPForbidden(text="No tiene permiso para ver este adjunto.")
        uow.session.add(
            AttachmentAccessRow(
                at=config[CLOCK](),
                attachment_id=row.id,
                user_id=actor.user_id,
                username=actor.username[:60],
                role=str(actor.role),
            )
        )
        await uow.commit()
    data = await asyncio.to_thread(
        files.open_stored, Path(config[SETTINGS].recordings_dir), row.relative_path
    )
    if data is None:
        raise web.HTTPNotFound(text="El archivo del adjunto ya no está disponible.")
    # Never rendered inline from our origin: a download, with the type we sniffed.
    return web.Response(
        body=data,
        content_type=row.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="adjunto-{row.id}"',
            "Cache-Control": "no-store",
        },
    )
