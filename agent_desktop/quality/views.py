"""Handlers of the quality pages (see the package docstring for the routes)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from sqlalchemy import select

from agent_desktop.auth import SESSION, login_required, session_of
from agent_desktop.csrf import check_form
from agent_desktop.handlers.common import BadRequest, int_field, path_int, read_form, text_field
from agent_desktop.keys import CLOCK, SETTINGS, UOW
from agent_desktop.quality.charts import bar_pairs, line_chart
from case_core.db.models import EntityRow, UserRow
from case_core.domain import quality as q
from case_core.domain.case import STATUS_LABELS, TYPE_LABELS, CaseStatus, CaseType
from case_core.domain.errors import AccessDenied, DomainError
from case_core.domain.roles import Role, can_see_case, can_supervise
from case_core.metrics.report import month_bounds
from case_core.metrics.scorecards import GOAL_CLOSED_30D_PERCENT, scorecards
from case_core.services import quality as svc
from case_core.services.escalation import LEVEL_LABELS, escalation_levels

HERE = Path(__file__).resolve().parent
QUALITY_TEMPLATES = web.AppKey("quality_templates", jinja2.Environment)
MAX_WEEKS = 26


def setup_quality_routes(app: web.Application) -> None:
    """Add the quality pages to the desktop app (its templates, sessions and CSRF)."""
    app[QUALITY_TEMPLATES] = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(HERE / "templates"),
                jinja2.FileSystemLoader(HERE.parent / "templates"),  # base.html
            ]
        ),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    r = app.router
    r.add_get("/calidad", week_page)
    r.add_get("/calidad/casos/{case_id}", audit_form)
    r.add_post("/calidad/casos/{case_id}", audit_save)
    r.add_post("/calidad/entidades/{entity_id}/publicar", publish)
    r.add_get("/calidad/entidades", entities_page)
    r.add_get("/calidad/entidades/{entity_id}", entity_page)
    r.add_post("/calidad/entidades/{entity_id}/planes", plan_create)
    r.add_post("/calidad/planes/{plan_id}", plan_update)
    r.add_get("/calidad/entidades/{entity_id}/vencidos", expired_page)
    r.add_get("/calidad/llamadas", calls_page)
    r.add_get("/calidad/llamadas/{call_id}", call_form)
    r.add_post("/calidad/llamadas/{call_id}", call_save)
    r.add_get("/mis-evaluaciones", my_evaluations)
    r.add_get("/supervisor/calidad", figures_page)
    r.add_get("/supervisor/calidad/asesores", assignments_page)
    r.add_post("/supervisor/calidad/asesores", assignment_create)
    r.add_post("/supervisor/calidad/asesores/{assignment_id}/fin", assignment_end)
    r.add_get("/enlace/auditorias", liaison_page)
    r.add_post("/enlace/auditorias/{audit_id}/respuesta", liaison_reply)


# --- helpers ---------------------------------------------------------------------------------


def _render(request: web.Request, template: str, context: dict[str, Any]) -> web.Response:
    env = request.config_dict[QUALITY_TEMPLATES]
    session = request.get(SESSION)
    tz = request.config_dict[SETTINGS].tz

    def local(at: datetime | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
        return at.astimezone(tz).strftime(fmt) if at else ""

    ctx = {
        "session": session,
        "csrf_token": session.csrf_token if session else "",
        "request": request,
        "local": local,
        "pct": _pct,
        "result_labels": {r.value: label for r, label in q.RESULT_LABELS.items()},
        "score_labels": {s.value: label for s, label in q.SCORE_LABELS.items()},
        **context,
    }
    html = env.get_template(template).render(ctx)
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def _render_form(request: web.Request, template: str, context: dict[str, Any]) -> web.Response:
    """A form page: status 400 when ``context["error"]`` says why the form was refused."""
    response = _render(request, template, context)
    if context["error"]:
        response.set_status(400)
    return response


def _checklist_answers(form: Any, criteria: tuple[q.Criterion, ...]) -> dict[str, str]:
    """The score chosen for each criterion, posted as ``c_<code>`` by the checklist forms."""
    return {c.code: text_field(form, f"c_{c.code}", max_length=12) for c in criteria}


def _week_nav(week: str) -> dict[str, str]:
    """The week, its label and the weeks either side, for the pages that page by week."""
    return {
        "week": week,
        "week_label": q.week_label(week),
        "previous": q.shift_week(week, -1),
        "next": q.shift_week(week, 1),
    }


def _pct(value: float | None) -> str:
    return "sin datos" if value is None else f"{value:.1f} %".replace(".", ",")


def _now(request: web.Request) -> datetime:
    return request.config_dict[CLOCK]()


def _tz(request: web.Request):  # type: ignore[no-untyped-def]
    return request.config_dict[SETTINGS].tz


def _week(request: web.Request, raw: str | None = None) -> str:
    value = (raw if raw is not None else request.query.get("semana", "")).strip()
    if not value:
        return q.previous_week(_now(request), _tz(request))
    try:
        q.parse_week(value)
    except q.InvalidWeek as err:
        raise BadRequest(str(err)) from None
    return value


def _month(request: web.Request) -> str:
    raw = request.query.get("mes", "").strip()
    if not raw:
        return _now(request).astimezone(_tz(request)).strftime("%Y-%m")
    try:
        month_bounds(raw, _tz(request))
    except ValueError:
        raise BadRequest("El mes debe tener la forma AAAA-MM.") from None
    return raw


def _quality_actor(request: web.Request):  # type: ignore[no-untyped-def]
    actor = session_of(request).actor
    if not q.can_do_quality(actor):
        raise web.HTTPForbidden(text="Esta página es para el equipo de calidad del 3-1-1.")
    return actor


async def _checked(request: web.Request) -> Any:
    form = await read_form(request)
    check_form(request, form, session_of(request).csrf_token)
    return form


# --- the weekly work list and the audit form -------------------------------------------------


@login_required
async def week_page(request: web.Request) -> web.StreamResponse:
    """GET /calidad: the week's sample of the advisor's entities."""
    actor = _quality_actor(request)
    week = _week(request)
    work = await svc.work_list(request.config_dict[UOW], actor=actor, week=week)
    return _render(
        request,
        "calidad_semana.html",
        {
            **_week_nav(week),
            "work": work,
            "done": request.query.get("hecho", ""),
        },
    )


@login_required
async def audit_form(request: web.Request) -> web.StreamResponse:
    """GET /calidad/casos/{id}: the checklist with the case and its recording."""
    actor = _quality_actor(request)
    subject = await svc.audit_subject(
        request.config_dict[UOW], actor=actor, case_id=path_int(request, "case_id")
    )
    return _audit_page(request, subject, error="", answers={})


def _audit_page(
    request: web.Request, subject: svc.AuditSubject, *, error: str, answers: dict[str, str]
) -> web.Response:
    case = subject.case
    return _render_form(
        request,
        "calidad_auditoria.html",
        {
            "s": subject,
            "case": case,
            "status_label": STATUS_LABELS[CaseStatus(case.status)],
            "type_label": TYPE_LABELS[CaseType(case.type)],
            "week_label": q.week_label(subject.week),
            "scores": list(q.SCORE_LABELS.items()),
            "results": list(q.RESULT_LABELS.items()),
            "answers": answers,
            "error": error,
            "audio_url": f"/grabaciones/llamada/{subject.call_id}/audio" if subject.call_id else "",
        },
    )


@login_required
async def audit_save(request: web.Request) -> web.StreamResponse:
    """POST /calidad/casos/{id}: save the audit (once) and go back to the week."""
    actor = _quality_actor(request)
    form = await _checked(request)
    case_id = path_int(request, "case_id")
    config = request.config_dict
    subject = await svc.audit_subject(config[UOW], actor=actor, case_id=case_id)
    answers = _checklist_answers(form, subject.criteria)
    try:
        await svc.save_audit(
            config[UOW],
            actor=actor,
            case_id=case_id,
            answers=answers,
            result=text_field(form, "resultado", max_length=20),
            comment=text_field(form, "comentario", max_length=4000),
            now=_now(request),
        )
    except (DomainError, ValueError) as err:
        return _audit_page(request, subject, error=str(err), answers=answers)
    raise web.HTTPSeeOther(f"/calidad?semana={subject.week}&hecho=auditoria")


@login_required
async def publish(request: web.Request) -> web.StreamResponse:
    """POST /calidad/entidades/{id}/publicar: the week's results to the entity."""
    actor = _quality_actor(request)
    form = await _checked(request)
    week = _week(request, text_field(form, "semana", max_length=8))
    origin = request.config_dict[SETTINGS].public_origin
    await svc.publish_week(
        request.config_dict[UOW],
        actor=actor,
        entity_id=path_int(request, "entity_id"),
        week=week,
        now=_now(request),
        portal_url=f"{origin}/enlace/auditorias",
    )
    raise web.HTTPSeeOther(f"/calidad?semana={week}&hecho=publicado")


# --- entities, scorecards, action plans, expired cases ---------------------------------------


@login_required
async def entities_page(request: web.Request) -> web.StreamResponse:
    """GET /calidad/entidades: the advisor's entities and their month's closing figure."""
    actor = _quality_actor(request)
    config = request.config_dict
    month = _month(request)
    start, end = month_bounds(month, _tz(request))
    today = _now(request).astimezone(_tz(request)).date()
    async with config[UOW]() as uow:
        allowed = await svc.visible_entity_ids(uow.session, actor, today)
    cards = await scorecards(config[UOW], start, end, _tz(request), now=_now(request))
    rows = [c for c in cards if allowed is None or c.entity_id in allowed]
    return _render(request, "calidad_entidades.html", {"month": month, "cards": rows})


async def _entity_context(request: web.Request, entity_id: int, month: str) -> dict[str, Any]:
    actor = session_of(request).actor
    config = request.config_dict
    tz = _tz(request)
    now = _now(request)
    today = now.astimezone(tz).date()
    async with config[UOW]() as uow:
        allowed = await svc.visible_entity_ids(uow.session, actor, today)
        if allowed is not None and entity_id not in allowed:
            raise AccessDenied(svc.NOT_YOURS)
        entity = await uow.directory.entity(entity_id)
        if entity is None:
            raise web.HTTPNotFound(text="La entidad no existe.")
        plans = await svc.entity_action_plans(uow.session, entity_id, today=today)
        open_cases = list(
            await uow.cases.for_entity(
                entity_id, statuses=[s.value for s in CaseStatus if s is not CaseStatus.CERRADO]
            )
        )
    levels = await escalation_levels(config[UOW], [c.id for c in open_cases])
    cases = [
        {
            "id": c.id,
            "number": c.number,
            "type_label": TYPE_LABELS[CaseType(c.type)],
            "status_label": STATUS_LABELS[CaseStatus(c.status)],
            "due_at": c.due_at,
            "overdue": c.due_at < now,
            "confidential": c.confidential,
            "can_open": can_see_case(actor, entity_id=entity_id, confidential=c.confidential),
            "escalations": [LEVEL_LABELS[level] for level in levels.get(c.id, [])],
        }
        for c in open_cases
    ]
    start, end = month_bounds(month, tz)
    cards = await scorecards(config[UOW], start, end, tz, entity_id=entity_id, now=now)
    card = cards[0] if cards else None
    return {
        "entity": entity,
        "month": month,
        "card": card,
        "goal": GOAL_CLOSED_30D_PERCENT,
        "plans": plans,
        "cases": cases,
        "statuses": list(q.PLAN_STATUS_LABELS.items()),
        "default_due": (today + timedelta(days=30)).isoformat(),
        "can_plan": actor.role in (Role.AUDITOR, Role.SUPERVISOR, Role.ADMIN),
        "error": "",
        "done": request.query.get("hecho", ""),
    }


@login_required
async def entity_page(request: web.Request) -> web.StreamResponse:
    """GET /calidad/entidades/{id}: the entity's scorecard for ``?mes`` and its plans."""
    _quality_actor(request)
    ctx = await _entity_context(request, path_int(request, "entity_id"), _month(request))
    return _render(request, "calidad_entidad.html", ctx)


def _date_field(form: Any, name: str) -> date:
    raw = text_field(form, name, max_length=10)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest("La fecha debe tener la forma AAAA-MM-DD.") from None


@login_required
async def plan_create(request: web.Request) -> web.StreamResponse:
    """POST /calidad/entidades/{id}/planes: a new action plan for a month below goal."""
    actor = _quality_actor(request)
    form = await _checked(request)
    entity_id = path_int(request, "entity_id")
    month = text_field(form, "mes", max_length=7)
    try:
        await svc.create_action_plan(
            request.config_dict[UOW],
            actor=actor,
            entity_id=entity_id,
            month=month,
            problem=text_field(form, "problema", max_length=4000),
            measures=text_field(form, "medidas", max_length=4000),
            owner=text_field(form, "responsable", max_length=160),
            due_on=_date_field(form, "vence"),
            now=_now(request),
            tz=_tz(request),
        )
    except q.PlanError as err:
        ctx = await _entity_context(
            request, entity_id, month if len(month) == 7 else _month(request)
        )
        ctx["error"] = str(err)
        response = _render(request, "calidad_entidad.html", ctx)
        response.set_status(400)
        return response
    raise web.HTTPSeeOther(f"/calidad/entidades/{entity_id}?mes={month}&hecho=plan")


@login_required
async def plan_update(request: web.Request) -> web.StreamResponse:
    """POST /calidad/planes/{id}: progress (a note and/or a new status)."""
    actor = _quality_actor(request)
    form = await _checked(request)
    plan_id = path_int(request, "plan_id")
    config = request.config_dict
    await svc.update_action_plan(
        config[UOW],
        actor=actor,
        plan_id=plan_id,
        status=text_field(form, "estado", max_length=12),
        note=text_field(form, "nota", max_length=4000),
        now=_now(request),
        tz=_tz(request),
    )
    entity_id = text_field(form, "entidad", max_length=12)
    target = f"/calidad/entidades/{int(entity_id)}" if entity_id.isdigit() else "/calidad/entidades"
    raise web.HTTPSeeOther(f"{target}?hecho=avance")


@login_required
async def expired_page(request: web.Request) -> web.StreamResponse:
    """GET /calidad/entidades/{id}/vencidos: open cases past due, by age (``?formato=csv``)."""
    actor = _quality_actor(request)
    entity_id = path_int(request, "entity_id")
    config = request.config_dict
    fmt = request.query.get("formato", "").strip().lower()
    if fmt not in ("", "html", "csv"):
        raise BadRequest("El formato debe ser «csv» o «html».")
    now = _now(request)
    rows = await svc.expired_cases(
        config[UOW], actor=actor, entity_id=entity_id, now=now, tz=_tz(request)
    )
    async with config[UOW]() as uow:
        entity = await uow.directory.entity(entity_id)
    if fmt == "csv":
        week = q.week_of(now, _tz(request))
        code = entity.code if entity else entity_id
        return web.Response(
            body=svc.expired_csv(rows, _tz(request)).encode("utf-8"),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="vencidos-{code}-{week}.csv"'},
        )
    bands = {band: [r for r in rows if r.band == band] for band in q.AGE_BANDS}
    return _render(
        request,
        "calidad_vencidos.html",
        {"entity": entity, "rows": rows, "bands": bands, "entity_id": entity_id},
    )


# --- call evaluations ------------------------------------------------------------------------


@login_required
async def calls_page(request: web.Request) -> web.StreamResponse:
    """GET /calidad/llamadas: the week's sampled calls per agent."""
    actor = _quality_actor(request)
    week = _week(request)
    calls = await svc.call_work_list(request.config_dict[UOW], actor=actor, week=week)
    return _render(
        request,
        "calidad_llamadas.html",
        {
            **_week_nav(week),
            "calls": calls,
        },
    )


def _call_page(
    request: web.Request, subject: svc.CallSubject, *, error: str, answers: dict[str, str]
) -> web.Response:
    return _render_form(
        request,
        "calidad_llamada.html",
        {
            "s": subject,
            "criteria": q.CALL_CRITERIA,
            "scores": list(q.SCORE_LABELS.items()),
            "answers": answers,
            "error": error,
            "audio_url": f"/grabaciones/llamada/{subject.call.id}/audio",
        },
    )


@login_required
async def call_form(request: web.Request) -> web.StreamResponse:
    actor = _quality_actor(request)
    subject = await svc.call_subject(
        request.config_dict[UOW], actor=actor, call_id=path_int(request, "call_id")
    )
    return _call_page(request, subject, error="", answers={})


@login_required
async def call_save(request: web.Request) -> web.StreamResponse:
    actor = _quality_actor(request)
    form = await _checked(request)
    call_id = path_int(request, "call_id")
    config = request.config_dict
    subject = await svc.call_subject(config[UOW], actor=actor, call_id=call_id)
    answers = _checklist_answers(form, q.CALL_CRITERIA)
    try:
        await svc.save_call_evaluation(
            config[UOW],
            actor=actor,
            call_id=call_id,
            answers=answers,
            comment=text_field(form, "comentario", max_length=4000),
            now=_now(request),
            tz=_tz(request),
        )
    except (DomainError, ValueError) as err:
        return _call_page(request, subject, error=str(err), answers=answers)
    raise web.HTTPSeeOther("/calidad/llamadas?hecho=evaluacion")


@login_required
async def my_evaluations(request: web.Request) -> web.StreamResponse:
    """GET /mis-evaluaciones: the agent's own call evaluations."""
    actor = session_of(request).actor
    if actor.role is not Role.AGENT or actor.user_id is None:
        raise web.HTTPForbidden(text="Esta página es para los agentes del 3-1-1.")
    rows = await svc.agent_evaluations(request.config_dict[UOW], agent_user_id=actor.user_id)
    labels = {c.code: c.label for c in q.CALL_CRITERIA}
    return _render(request, "calidad_mis_evaluaciones.html", {"rows": rows, "labels": labels})


# --- the supervisor's figures ----------------------------------------------------------------


@login_required
async def figures_page(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/calidad: audits done vs due, % criteria met, trend, team, plans."""
    actor = session_of(request).actor
    if not can_supervise(actor):
        raise web.HTTPForbidden(text="Esta página es solo para supervisores.")
    raw = request.query.get("semanas", "8").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_WEEKS:
        raise BadRequest(f"«semanas» debe ser un número entre 1 y {MAX_WEEKS}.")
    last = _week(request)
    weeks = [q.shift_week(last, -i) for i in range(int(raw) - 1, -1, -1)]
    config = request.config_dict
    figures = await svc.quality_figures(config[UOW], weeks=weeks)
    today = _now(request).astimezone(_tz(request)).date()
    async with config[UOW]() as uow:
        plans = await svc.open_action_plans(uow.session, today=today)
    latest = [a for a in figures.advisors if a.week == last]
    by_entity: dict[int, dict[str, Any]] = {}
    for e in figures.entities:
        row = by_entity.setdefault(
            e.entity_id, {"name": e.entity_name, "met": 0, "scored": 0, "weeks": {}}
        )
        row["met"] += e.met
        row["scored"] += e.scored
        row["weeks"][e.week] = e.percent
    return _render(
        request,
        "calidad_supervisor.html",
        {
            "weeks": weeks,
            "last": last,
            "figures": figures,
            "entities": sorted(by_entity.values(), key=lambda r: r["name"]),
            "plans": plans,
            "trend_svg": line_chart(
                figures.trend,
                title="Porcentaje de criterios cumplidos por semana",
                goal=q.GOAL_CRITERIA_MET_PERCENT,
            ),
            "advisor_svg": bar_pairs(
                [(a.advisor, a.due, a.done) for a in latest],
                title=f"Auditorías hechas frente a las debidas, {q.week_label(last)}",
            ),
            "last_label": q.week_label(last),
        },
    )


# --- advisors and their entities (supervisors) -----------------------------------------------


def _supervisor(request: web.Request):  # type: ignore[no-untyped-def]
    actor = session_of(request).actor
    if not can_supervise(actor):
        raise web.HTTPForbidden(text="Esta página es solo para supervisores.")
    return actor


async def _assignments_page(request: web.Request, error: str = "") -> web.Response:
    config = request.config_dict
    today = _now(request).astimezone(_tz(request)).date()
    lines = await svc.assignments(config[UOW], today=today)
    async with config[UOW]() as uow:
        advisors = (
            await uow.session.execute(
                select(UserRow.id, UserRow.full_name)
                .where(UserRow.role == Role.AUDITOR.value, UserRow.active)
                .order_by(UserRow.full_name)
            )
        ).all()
        entities = (
            await uow.session.execute(
                select(EntityRow.id, EntityRow.name)
                .where(EntityRow.active)
                .order_by(EntityRow.name)
            )
        ).all()
    counts: dict[int, int] = {}
    for line in lines:
        if line.active:
            counts[line.advisor_user_id] = counts.get(line.advisor_user_id, 0) + 1
    return _render_form(
        request,
        "calidad_asesores.html",
        {
            "lines": lines,
            "advisors": advisors,
            "entities": entities,
            "counts": counts,
            "limit": q.MAX_ENTITIES_PER_ADVISOR,
            "today": today.isoformat(),
            "error": error,
            "done": request.query.get("hecho", ""),
        },
    )


@login_required
async def assignments_page(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/calidad/asesores: who audits which entity, with the history."""
    _supervisor(request)
    return await _assignments_page(request)


@login_required
async def assignment_create(request: web.Request) -> web.StreamResponse:
    """POST /supervisor/calidad/asesores: put an entity in an advisor's charge."""
    _supervisor(request)
    form = await _checked(request)
    advisor = int_field(form, "asesor", required=True)
    entity = int_field(form, "entidad", required=True)
    ends = text_field(form, "hasta", max_length=10)
    try:
        await svc.assign_entity(
            request.config_dict[UOW],
            advisor_user_id=advisor,  # type: ignore[arg-type]
            entity_id=entity,  # type: ignore[arg-type]
            starts_on=_date_field(form, "desde"),
            ends_on=_date_field(form, "hasta") if ends else None,
        )
    except (DomainError, ValueError) as err:
        return await _assignments_page(request, str(err))
    raise web.HTTPSeeOther("/supervisor/calidad/asesores?hecho=asignada")


@login_required
async def assignment_end(request: web.Request) -> web.StreamResponse:
    """POST /supervisor/calidad/asesores/{id}/fin: end an assignment (rotation)."""
    _supervisor(request)
    form = await _checked(request)
    try:
        await svc.end_assignment(
            request.config_dict[UOW],
            assignment_id=path_int(request, "assignment_id"),
            ends_on=_date_field(form, "hasta"),
        )
    except q.AssignmentError as err:
        return await _assignments_page(request, str(err))
    raise web.HTTPSeeOther("/supervisor/calidad/asesores?hecho=terminada")


# --- the liaisons' side ----------------------------------------------------------------------


def _liaison_actor(request: web.Request):  # type: ignore[no-untyped-def]
    actor = session_of(request).actor
    if actor.entity_id is None or not q.can_read_entity_audits(actor, actor.entity_id):
        raise web.HTTPForbidden(
            text="Esta página es para el Enlace Ejecutivo y los Enlaces Operativos."
        )
    return actor


@login_required
async def liaison_page(request: web.Request) -> web.StreamResponse:
    """GET /enlace/auditorias: the entity's published audit findings with their replies."""
    actor = _liaison_actor(request)
    config = request.config_dict
    findings = await svc.published_findings(config[UOW], actor=actor)
    async with config[UOW]() as uow:
        entity = await uow.directory.entity(actor.entity_id)
    weeks: dict[str, list[svc.Finding]] = {}
    for f in findings:
        weeks.setdefault(f.week, []).append(f)
    return _render(
        request,
        "enlace_auditorias.html",
        {
            "entity": entity,
            "weeks": [(w, q.week_label(w), fs) for w, fs in weeks.items()],
            "done": request.query.get("hecho", ""),
        },
    )


@login_required
async def liaison_reply(request: web.Request) -> web.StreamResponse:
    """POST /enlace/auditorias/{id}/respuesta: the entity answers a finding."""
    actor = _liaison_actor(request)
    form = await _checked(request)
    audit_id = path_int(request, "audit_id")
    await svc.reply_to_audit(
        request.config_dict[UOW],
        actor=actor,
        audit_id=audit_id,
        reply=text_field(form, "respuesta", max_length=4000),
        now=_now(request),
    )
    raise web.HTTPSeeOther(f"/enlace/auditorias?hecho=respuesta#auditoria-{audit_id}")
