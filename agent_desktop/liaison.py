"""The liaison (enlace) portal and the supervisors' escalation list.

Liaisons work the cases of their own entity: ``/enlace`` lists the entity's open cases by
due date; ``/enlace/casos/{id}`` shows one with its full history and the forms to start
work, add a public or internal note, return the case to 3-1-1 (reason required) and close
it (public closing note required). A case of another entity answers 404, so a liaison cannot
even learn that it exists. Anonymous denuncias never show who reported them (no citizen, no
contact phone). Every POST carries the session's CSRF token.

Policy added here, beyond ``services.cases``: a case already returned to 3-1-1 is not closed
by the entity (3-1-1 reassigns or closes it).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from agent_desktop.auth import Handler, login_required, session_of
from agent_desktop.csrf import check_form
from agent_desktop.handlers.common import (
    BadRequest,
    int_field,
    path_int,
    read_form,
    render,
    text_field,
)
from agent_desktop.keys import CLOCK, SETTINGS, UOW
from case_core.db.models import CaseRow
from case_core.domain import sla
from case_core.domain.case import ACTION_LABELS as DOMAIN_ACTION_LABELS
from case_core.domain.case import STATUS_LABELS, TYPE_LABELS, CaseAction, CaseStatus, CaseType
from case_core.domain.case_access import may_open_case, may_pass_to_office
from case_core.domain.errors import DomainError, NotFound
from case_core.domain.roles import can_supervise, is_liaison
from case_core.services.case_actions import entity_offices, pass_to_office
from case_core.services.case_workspace import facts
from case_core.services.cases import act_on_case, add_note
from case_core.services.citizen_cases import case_attachments
from case_core.services.escalation import (
    LEVEL_LABELS,
    EscalationLevel,
    escalated_cases,
    escalation_levels,
)

# The entity works cases it holds; returned ones wait for 3-1-1 (shown apart).
WORK_STATUSES = (CaseStatus.REGISTRADO, CaseStatus.ASIGNADO, CaseStatus.EN_PROCESO)
NOT_FOUND = "El caso no existe."
DONE_MESSAGES = {
    "iniciar": "El caso quedó en proceso.",
    "nota": "Nota agregada.",
    "devolver": "El caso fue devuelto al 3-1-1.",
    "cerrar": "El caso quedó cerrado.",
    "oficina": "El caso se pasó a la oficina.",
}
ACTION_LABELS = DOMAIN_ACTION_LABELS


def setup_liaison_routes(app: web.Application) -> None:
    """Add the liaison portal and ``/supervisor/escalamientos`` to the desktop app."""
    r = app.router
    r.add_get("/enlace", cases_page)
    r.add_get("/enlace/casos/{case_id}", case_page)
    r.add_post("/enlace/casos/{case_id}/iniciar", start_case)
    r.add_post("/enlace/casos/{case_id}/nota", note_case)
    r.add_post("/enlace/casos/{case_id}/devolver", return_case)
    r.add_post("/enlace/casos/{case_id}/cerrar", close_case)
    r.add_post("/enlace/casos/{case_id}/oficina", office_case)
    r.add_get("/supervisor/escalamientos", escalations_page)


def risk_policy(request: web.Request) -> sla.RiskPolicy:
    """The configured "at risk" share of the SLA."""
    settings = request.config_dict[SETTINGS]
    return sla.RiskPolicy.from_percent(settings.at_risk_percent, settings.at_risk_min_days)


def liaison_required(handler: Handler) -> Handler:
    """The three liaison roles of an entity only; other roles get 403."""

    @login_required
    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        actor = session_of(request).actor
        if not is_liaison(actor.role) or actor.entity_id is None:
            raise web.HTTPForbidden(text="Esta página es solo para los enlaces de las entidades.")
        return await handler(request)

    return wrapper


@dataclass(frozen=True)
class CaseLine:
    """One case of the liaison's list, with its deadlines worked out."""

    id: int
    number: str
    type_label: str
    service: str
    status_label: str
    opened: str
    due: str
    days_left: int
    overdue: bool
    at_risk: bool
    first_action_pending: bool
    first_action_hours_left: int  # negative: hours since the 24 h ran out
    confidential: bool
    escalations: tuple[str, ...]
    office: str = ""


def _line(
    row: CaseRow,
    service: str,
    levels: list[EscalationLevel],
    now: datetime,
    request: web.Request,
    office: str = "",
) -> CaseLine:
    tz = request.config_dict[SETTINGS].tz
    pending = row.first_action_at is None and CaseStatus(row.status) in WORK_STATUSES
    hours_left = 0
    if pending:
        received = row.assigned_at or row.opened_at
        seconds = (sla.first_action_due_at(received) - now).total_seconds()
        hours_left = math.ceil(seconds / 3600) if seconds > 0 else -math.floor(-seconds / 3600)
    return CaseLine(
        id=row.id,
        number=row.number,
        type_label=TYPE_LABELS[CaseType(row.type)],
        service=service,
        status_label=STATUS_LABELS[CaseStatus(row.status)],
        opened=row.opened_at.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
        due=row.due_at.astimezone(tz).strftime("%d/%m/%Y"),
        days_left=sla.days_left(row.due_at, now, tz),
        overdue=now > row.due_at,
        at_risk=sla.at_risk(row.due_at, now, row.sla_days, policy=risk_policy(request)),
        first_action_pending=pending,
        first_action_hours_left=hours_left,
        confidential=row.confidential,
        escalations=tuple(LEVEL_LABELS[level] for level in levels),
        office=office,
    )


async def _service_names(uow: Any, rows: list[CaseRow]) -> dict[int, str]:
    names: dict[int, str] = {}
    for service_id in {r.service_id for r in rows if r.service_id is not None}:
        service = await uow.directory.service(service_id)
        if service is not None:
            names[service_id] = service.name
    return names


@liaison_required
async def cases_page(request: web.Request) -> web.StreamResponse:
    """GET /enlace: the entity's open cases, earliest due first."""
    actor = session_of(request).actor
    config = request.config_dict
    now = config[CLOCK]()
    assert actor.entity_id is not None
    async with config[UOW]() as uow:
        entity = await uow.directory.entity(actor.entity_id)
        work = list(
            await uow.cases.for_entity(actor.entity_id, statuses=[s.value for s in WORK_STATUSES])
        )
        returned = list(
            await uow.cases.for_entity(
                actor.entity_id, statuses=[CaseStatus.DEVUELTO_311.value], limit=50
            )
        )
        names = await _service_names(uow, work + returned)
    # An Enlace de Contacto works the cases passed to the regional office only.
    work = [r for r in work if may_open_case(actor, facts(r))]
    returned = [r for r in returned if may_open_case(actor, facts(r))]
    levels = await escalation_levels(config[UOW], [r.id for r in work + returned])
    offices = {o.id: o.name for o in await entity_offices(config[UOW], actor.entity_id)}

    def lines(rows: list[CaseRow]) -> list[CaseLine]:
        return [
            _line(
                r,
                names.get(r.service_id or 0, "—"),
                levels.get(r.id, []),
                now,
                request,
                offices.get(r.office_id or 0, ""),
            )
            for r in rows
        ]

    return render(
        request,
        "enlace.html",
        {
            "entity": entity,
            "cases": lines(work),
            "returned": lines(returned),
            "now": now.astimezone(config[SETTINGS].tz).strftime("%d/%m/%Y %H:%M"),
        },
    )


async def _own_case(request: web.Request) -> CaseRow:
    """The case of the path when it belongs to the liaison's entity; otherwise 404."""
    actor = session_of(request).actor
    case_id = path_int(request, "case_id")
    async with request.config_dict[UOW]() as uow:
        row = await uow.cases.get(case_id)
    if row is None or row.entity_id != actor.entity_id or not may_open_case(actor, facts(row)):
        raise NotFound(NOT_FOUND)
    return row


@liaison_required
async def case_page(request: web.Request) -> web.StreamResponse:
    """GET /enlace/casos/{id}: the case, its whole history and the liaison's forms."""
    row = await _own_case(request)
    config = request.config_dict
    tz = config[SETTINGS].tz
    now = config[CLOCK]()
    citizen = None
    async with config[UOW]() as uow:
        entity = await uow.directory.entity(row.entity_id)
        names = await _service_names(uow, [row])
        history = await uow.cases.history(row.id)
        if row.citizen_id is not None and not row.anonymous:
            citizen = await uow.citizens.get(row.citizen_id)
    levels = (await escalation_levels(config[UOW], [row.id])).get(row.id, [])
    status = CaseStatus(row.status)
    actor = session_of(request).actor
    offices = await entity_offices(config[UOW], row.entity_id)
    office_names = {o.id: o.name for o in offices}
    entries = [
        {
            "at": h.at.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
            "actor": h.actor_label,
            "action": ACTION_LABELS.get(h.action, h.action) if h.action else "",  # type: ignore[call-overload]
            "from": STATUS_LABELS[CaseStatus(h.from_status)] if h.from_status else "",
            "to": STATUS_LABELS[CaseStatus(h.to_status)] if h.to_status else "",
            "note": h.note or "",
            "public": h.public,
            "kind": h.kind,
        }
        for h in history
    ]
    return render(
        request,
        "enlace_caso.html",
        {
            "case": row,
            "line": _line(
                row,
                names.get(row.service_id or 0, "—"),
                levels,
                now,
                request,
                office_names.get(row.office_id or 0, ""),
            ),
            "offices": offices if may_pass_to_office(actor) else [],
            "can_pass": may_pass_to_office(actor)
            and status in (CaseStatus.ASIGNADO, CaseStatus.EN_PROCESO)
            and bool(offices),
            "entity": entity,
            "citizen": citizen,
            "contact_phone": None if row.anonymous else row.contact_phone,
            "history": entries,
            # Photos and e-mail files (issue 12); those of a confidential case stay closed.
            "attachments": [] if row.confidential else await case_attachments(config[UOW], row.id),
            "can_start": status is CaseStatus.ASIGNADO,
            "can_return": status in (CaseStatus.ASIGNADO, CaseStatus.EN_PROCESO),
            "can_close": status in (CaseStatus.ASIGNADO, CaseStatus.EN_PROCESO),
            "can_note": status is not CaseStatus.CERRADO,
            "done": DONE_MESSAGES.get(request.query.get("hecho", ""), ""),
        },
    )


async def _checked_form(request: web.Request) -> tuple[Any, CaseRow]:
    form = await read_form(request)
    check_form(request, form, session_of(request).csrf_token)
    return form, await _own_case(request)


def _back(row: CaseRow, done: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/enlace/casos/{row.id}?hecho={done}")


async def _act(
    request: web.Request, row: CaseRow, action: CaseAction, note: str | None, public: bool
) -> None:
    config = request.config_dict
    await act_on_case(
        config[UOW],
        case_id=row.id,
        action=action,
        actor=session_of(request).actor,
        now=config[CLOCK](),
        note=note,
        public=public,
    )


@liaison_required
async def start_case(request: web.Request) -> web.StreamResponse:
    """POST /enlace/casos/{id}/iniciar."""
    _, row = await _checked_form(request)
    await _act(request, row, CaseAction.START, None, True)
    raise _back(row, "iniciar")


@liaison_required
async def note_case(request: web.Request) -> web.StreamResponse:
    """POST /enlace/casos/{id}/nota: a public (the citizen hears it) or internal note."""
    form, row = await _checked_form(request)
    visibility = text_field(form, "visibilidad", max_length=10)
    if visibility not in ("publica", "interna"):
        raise BadRequest("Elija si la nota es pública (la verá el ciudadano) o interna.")
    config = request.config_dict
    await add_note(
        config[UOW],
        case_id=row.id,
        actor=session_of(request).actor,
        note=text_field(form, "nota", max_length=4000),
        public=visibility == "publica",
        now=config[CLOCK](),
    )
    raise _back(row, "nota")


@liaison_required
async def return_case(request: web.Request) -> web.StreamResponse:
    """POST /enlace/casos/{id}/devolver: not competent; the reason is required."""
    form, row = await _checked_form(request)
    reason = text_field(form, "motivo", max_length=4000)
    await _act(request, row, CaseAction.RETURN_TO_311, reason, True)
    raise _back(row, "devolver")


@liaison_required
async def close_case(request: web.Request) -> web.StreamResponse:
    """POST /enlace/casos/{id}/cerrar: with a public closing note for the citizen."""
    form, row = await _checked_form(request)
    note = text_field(form, "nota", max_length=4000)
    if not note:
        raise DomainError("Escriba la nota de cierre que escuchará el ciudadano.")
    if CaseStatus(row.status) is CaseStatus.DEVUELTO_311:
        raise DomainError("El caso ya fue devuelto al 3-1-1; el 3-1-1 lo reasigna o lo cierra.")
    await _act(request, row, CaseAction.CLOSE, note, True)
    raise _back(row, "cerrar")


@liaison_required
async def office_case(request: web.Request) -> web.StreamResponse:
    """POST /enlace/casos/{id}/oficina: pass the case to a department or regional office
    (field ``oficina``; empty: back to the central team), with an optional note."""
    form, row = await _checked_form(request)
    config = request.config_dict
    await pass_to_office(
        config[UOW],
        case_id=row.id,
        office_id=int_field(form, "oficina"),
        actor=session_of(request).actor,
        now=config[CLOCK](),
        note=text_field(form, "nota", max_length=2000) or None,
    )
    raise _back(row, "oficina")


@login_required
async def escalations_page(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/escalamientos: escalated open cases (``?todos=1`` adds closed ones)."""
    if not can_supervise(session_of(request).actor):
        raise web.HTTPForbidden(text="Esta página es solo para supervisores.")
    config = request.config_dict
    tz = config[SETTINGS].tz
    include_closed = request.query.get("todos") == "1"
    rows = await escalated_cases(
        config[UOW], now=config[CLOCK](), tz=tz, include_closed=include_closed
    )
    return render(
        request,
        "enlace_escalamientos.html",
        {
            "rows": [
                {
                    "number": e.number,
                    "entity": e.entity_name,
                    "status": e.status_label,
                    "due": e.due_at.astimezone(tz).strftime("%d/%m/%Y"),
                    "days_left": e.days_left,
                    "levels": e.level_labels,
                    "overdue": EscalationLevel.VENCIDO in e.levels,
                    "escalated": e.last_escalated_at.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
                    "confidential": e.confidential,
                }
                for e in rows
            ],
            "include_closed": include_closed,
        },
    )
