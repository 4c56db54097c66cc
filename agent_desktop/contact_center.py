"""The Centro de Contactos pages: callbacks to work, manual calls, and the callback figures.

- ``GET /contactos``: callbacks due now, in progress, handed over to a human
  (``tarea_humana``) and not reached (``no_contactado``), with the month's figures. Phone
  numbers are masked to their last four digits, except for the agent working the callback
  (the one whose manual call is in progress). A confidential case the user may not see
  (``roles.can_see_case``) is listed without its number and cannot be called.
- ``POST /contactos/{id}/llamar``: a manual call. The attempt is written first
  (``services.contact_center.start_manual_call``), then ``QueueControl`` rings the agent's own
  phone and, once answered, Asterisk dials the citizen. If the telephony side fails the
  attempt is undone (nothing recorded) and the answer is a 502 with a Spanish message.
- ``POST /contactos/{id}/resultado`` (field ``resultado``): contactado, ocupado, no_contesta,
  fallo or no_desea (see ``services.contact_center``).
- ``GET /contactos/cifras?desde=AAAA-MM-DD&hasta=AAAA-MM-DD``: the figures per entity.

Agents, supervisors and admins only. Every POST carries the session's CSRF token; browsers
get a redirect back to ``/contactos``, API clients (``Accept: application/json``) JSON.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from agent_desktop.auth import desktop_required, session_of, wants_json
from agent_desktop.csrf import check_form
from agent_desktop.handlers.common import (
    MAX_BIGINT_ID,
    json_response,
    local,
    path_int,
    read_form,
    render,
    text_field,
)
from agent_desktop.keys import CLOCK, QUEUE_CONTROL, SETTINGS, UOW
from agent_desktop.supervisor import local_today, parse_period, pct
from case_core.domain.callbacks import (
    CallbackKind,
    CallbackStatus,
    check_survey_answer,
    make_policy,
)
from case_core.domain.errors import DomainError
from case_core.domain.roles import Actor
from case_core.metrics.callbacks import (
    CALLBACK_FIGURE_DEFINITIONS,
    CallbackFigures,
    callback_figures,
)
from case_core.services.contact_center import (
    MANUAL_STATUSES,
    RESULT_LABELS,
    ContactLine,
    ManualResult,
    contact_board,
    record_manual_result,
    release_manual_call,
    start_manual_call,
)
from case_core.services.manual_survey import call_contexts, record_manual_survey

log = logging.getLogger(__name__)

KIND_LABELS = {CallbackKind.SEGUIMIENTO: "Seguimiento", CallbackKind.SATISFACCION: "Satisfacción"}
STATUS_LABELS = {
    CallbackStatus.PENDIENTE: "Pendiente",
    CallbackStatus.EN_CURSO: "En curso",
    CallbackStatus.COMPLETADA: "Completada",
    CallbackStatus.NO_CONTACTADO: "No contactado",
    CallbackStatus.TAREA_HUMANA: "Tarea del Centro de Contactos",
    CallbackStatus.CANCELADA: "Cancelada",
    CallbackStatus.REEMPLAZADA: "Reemplazada",
}
OUTCOME_LABELS = {
    "answered": "Contestó",
    "busy": "Ocupado",
    "no_answer": "No contestó",
    "failed": "Falló",
    "congestion": "Red congestionada",
    "sin_resultado": "Sin resultado (interrumpida)",
    "ventana_vencida": "Plazo vencido",
    "contactado_agente": "Contactado por un agente",
    "no_desea_llamadas": "No desea más llamadas",
}
DONE_MESSAGES = {
    "llamando": "Su teléfono contestó: se está llamando al ciudadano. Registre el resultado.",
    "registrado": "Resultado registrado.",
}
CALL_FAILED = (
    "No se pudo hacer la llamada: su teléfono no contestó o la central telefónica no "
    "respondió. No se registró ningún intento; intente de nuevo en un momento."
)
NO_PHONE = "Su usuario no tiene un teléfono asignado; consulte a su supervisor."


def setup_contact_center_routes(app: web.Application) -> None:
    """Add the Centro de Contactos pages to the desktop app."""
    r = app.router
    r.add_get("/contactos", board_page)
    r.add_get("/contactos/cifras", figures_page)
    r.add_post("/contactos/{callback_id}/llamar", call_callback)
    r.add_post("/contactos/{callback_id}/resultado", record_result)


def mask_phone(phone: str) -> str:
    """Only the last four digits: ``****4567``."""
    digits = [c for c in phone if c.isdigit()]
    return "****" + "".join(digits[-4:])


def _row(line: ContactLine, actor: Actor, request: web.Request) -> dict[str, Any]:
    visible = line.visible_to(actor)
    mine = line.worked_by(actor)
    return {
        "id": line.id,
        "case_id": line.case_id,
        "visible": visible,
        "is_survey": line.kind is CallbackKind.SATISFACCION,
        "case": line.case_number if visible else "Caso confidencial",
        "entity": line.entity_name,
        "kind": KIND_LABELS[line.kind],
        "status": STATUS_LABELS[line.status],
        "window_end": local(line.window_end_at, request),
        "next_attempt": local(line.next_attempt_at, request),
        "last_attempt": local(line.last_attempt_at, request),
        "attempts": f"{line.attempts} de {line.max_attempts}",
        "outcome": OUTCOME_LABELS.get(line.outcome or "", line.outcome or "—"),
        "phone": line.phone if mine else mask_phone(line.phone),
        "mine": mine,
        "can_call": visible and line.status in MANUAL_STATUSES,
    }


def _figure_rows(figures: list[CallbackFigures]) -> list[dict[str, Any]]:
    def avg(value: float | None) -> str:
        return "sin datos" if value is None else f"{value:.2f}".replace(".", ",")

    return [
        {
            "name": "Todas las entidades" if f.overall else (f.entity_name or "—"),
            "overall": f.overall,
            "satisfaction": pct(f.satisfaction_percent),
            "satisfaction_counts": f"{f.satisfaction_done} de {f.satisfaction_decided}",
            "satisfaction_pending": f.satisfaction_pending,
            "followup": pct(f.followup_percent),
            "followup_counts": f"{f.followup_done} de {f.followup_decided}",
            "followup_pending": f.followup_pending,
            "average": avg(f.satisfaction_avg),
            "answers": f.satisfaction_answers,
        }
        for f in figures
    ]


@desktop_required
async def board_page(request: web.Request) -> web.StreamResponse:
    """GET /contactos: the four lists and this month's overall figures."""
    config = request.config_dict
    actor = session_of(request).actor
    now = config[CLOCK]()
    board = await contact_board(config[UOW], now=now)
    today = local_today(request)
    period = parse_period(request, today.replace(day=1), today)
    figures = await callback_figures(config[UOW], period.start, period.end, now=now)
    rows = {
        name: [_row(line, actor, request) for line in lines]
        for name, lines in (
            ("due", board.due),
            ("in_progress", board.in_progress),
            ("handed_over", board.handed_over),
            ("not_reached", board.not_reached),
        )
    }
    mine = [r for r in rows["in_progress"] if r["mine"]]
    contexts = await call_contexts(
        config[UOW], [r["case_id"] for r in mine], now=now, tz=config[SETTINGS].tz
    )
    return render(
        request,
        "contactos.html",
        {
            "rows": rows,
            "mine": mine,
            "contexts": contexts,
            "results": [(r.value, label) for r, label in RESULT_LABELS.items()],
            "overall": _figure_rows(figures[:1])[0],
            "period": period,
            "now": local(now, request),
            "done": DONE_MESSAGES.get(request.query.get("hecho", ""), ""),
            "has_phone": bool(session_of(request).phone_interface),
        },
    )


@desktop_required
async def figures_page(request: web.Request) -> web.StreamResponse:
    """GET /contactos/cifras: the figures per entity for ``?desde=&hasta=`` (this month)."""
    config = request.config_dict
    today = local_today(request)
    period = parse_period(request, today.replace(day=1), today)
    now = config[CLOCK]()
    figures = await callback_figures(config[UOW], period.start, period.end, now=now)
    return render(
        request,
        "contactos_cifras.html",
        {
            "period": period,
            "rows": _figure_rows(figures),
            "definitions": CALLBACK_FIGURE_DEFINITIONS,
            "as_of": local(min(now, period.end), request),
        },
    )


def _done(request: web.Request, done: str, callback_id: int, status: str) -> web.StreamResponse:
    if wants_json(request):
        return json_response(
            {"ok": True, "callback_id": callback_id, "status": status,
             "message": DONE_MESSAGES[done]}
        )  # fmt: skip
    raise web.HTTPSeeOther(f"/contactos?hecho={done}#devolucion-{callback_id}")


def _failed(request: web.Request, status: int, message: str) -> web.Response:
    if wants_json(request):
        return json_response({"ok": False, "error": message}, status=status)
    return render(request, "error.html", {"status": status, "message": message}, status=status)


@desktop_required
async def call_callback(request: web.Request) -> web.StreamResponse:
    """POST /contactos/{id}/llamar: ring the agent's phone, then the citizen."""
    form = await read_form(request)
    session = session_of(request)
    check_form(request, form, session.csrf_token)
    callback_id = path_int(request, "callback_id", maximum=MAX_BIGINT_ID)
    interface = session.phone_interface
    if not interface:
        raise DomainError(NO_PHONE)
    config = request.config_dict
    claim = await start_manual_call(
        config[UOW], callback_id=callback_id, actor=session.actor, now=config[CLOCK]()
    )
    try:
        await config[QUEUE_CONTROL].originate_manual_callback(
            interface, claim.phone, claim.callback_id
        )
    except Exception as err:  # the telephony boundary: any failure becomes one message
        log.warning("manual callback %s failed: %s", claim.callback_id, type(err).__name__)
        await release_manual_call(config[UOW], claim)
        return _failed(request, 502, CALL_FAILED)
    return _done(request, "llamando", callback_id, CallbackStatus.EN_CURSO.value)


def _policy(request: web.Request):  # type: ignore[no-untyped-def]
    settings = request.config_dict[SETTINGS]
    return make_policy(
        settings.tz,
        calling_hours=settings.calling_hours,
        weekdays=settings.calling_weekdays,
        holidays=settings.holidays,
    )


@desktop_required
async def record_result(request: web.Request) -> web.StreamResponse:
    """POST /contactos/{id}/resultado (field ``resultado``)."""
    form = await read_form(request)
    session = session_of(request)
    check_form(request, form, session.csrf_token)
    callback_id = path_int(request, "callback_id", maximum=MAX_BIGINT_ID)
    raw = text_field(form, "resultado", max_length=20)
    try:
        result = ManualResult(raw)
    except ValueError:
        raise DomainError("Elija el resultado de la llamada.") from None
    config = request.config_dict
    # A satisfaction survey taken by the agent (fields resuelto, satisfaccion, comentario):
    # checked before anything is recorded, stored like the IVR's answers.
    survey = {k: text_field(form, k, max_length=1000) for k in SURVEY_FIELDS}
    if result is ManualResult.CONTACTADO and (survey["resuelto"] or survey["satisfaccion"]):
        check_survey_answer("resuelto", survey["resuelto"])
        check_survey_answer("satisfaccion", survey["satisfaccion"])
    else:
        survey = {}
    now = config[CLOCK]()
    status = await record_manual_result(
        config[UOW],
        callback_id=callback_id,
        actor=session.actor,
        result=result,
        now=now,
        policy=_policy(request),
    )
    if survey:
        await record_manual_survey(
            config[UOW],
            callback_id=callback_id,
            actor=session.actor,
            resolved=survey["resuelto"],
            score=survey["satisfaccion"],
            comment=survey["comentario"],
            now=now,
        )
    return _done(request, "registrado", callback_id, status.value)


SURVEY_FIELDS = ("resuelto", "satisfaccion", "comentario")
