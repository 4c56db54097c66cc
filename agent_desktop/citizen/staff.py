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

from agent_desktop.auth import current_actor
from agent_desktop.keys import CLOCK, SETTINGS, UOW
from case_core.db.models import AttachmentAccessRow, CaseAttachmentRow, CaseRow
from case_core.domain.roles import Actor, Role, is_liaison
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
