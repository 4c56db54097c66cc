"""Supervisor report pages (Spanish): agent figures, entity scorecards, historical call metrics.

Every page takes a period of whole local days (America/Panama, ``Settings.timezone``):
``?desde=AAAA-MM-DD&hasta=AAAA-MM-DD`` (both included; default today, or this month for the
scorecards) and ``?formato=csv`` for a CSV download with the columns documented below.
Malformed or out-of-range parameters are a 400 with a Spanish message. The figures come from
:mod:`case_core.metrics` (computed in PostgreSQL); this module only parses and renders.

CSV columns (UTF-8, comma, header line, empty cell = no data, times in seconds):

- ``/supervisor/agentes``: ``AGENT_COLUMNS``.
- ``/supervisor/entidades``: ``SCORECARD_COLUMNS`` (the open-data columns of
  ``case_core.metrics.report`` plus the grouping: ``agrupacion``, ``provincia``, ``distrito``).
- ``/supervisor/historico``: ``case_core.metrics.calls.CALL_METRICS_COLUMNS`` (one row per
  interval, then a total row; one column per service-level formula).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from agent_desktop.auth import Handler, login_required, session_of
from agent_desktop.charts import bar_chart
from agent_desktop.handlers.common import BadRequest, render
from agent_desktop.keys import CLOCK, SETTINGS, UOW
from agent_desktop.text import count, percent
from case_core.domain.case import TYPE_LABELS
from case_core.domain.roles import can_supervise
from case_core.domain.wrapup import WRAPUP_LABELS, WrapupCode
from case_core.metrics.agents import POP_TO_SAVE_GOAL_SECONDS, AgentFigures, agent_figures
from case_core.metrics.calls import CALL_METRICS_COLUMNS, call_metrics_csv, to_csv
from case_core.metrics.report import FIGURE_COLUMNS
from case_core.metrics.rollup import rolled_up_call_metrics
from case_core.metrics.scorecards import (
    GOAL_CLOSED_30D_PERCENT,
    SCORECARD_DEFINITIONS,
    Scorecard,
    scorecards,
)
from case_core.metrics.service_level import FORMULAS, HEADLINE, describe
from case_core.services.wrapups import wrapup_counts

# The 3-1-1 goal: 90 % of calls answered within the service-level threshold (the wallboard's too).
SL_GOAL_PERCENT = 90.0

FORBIDDEN = "Esta página es solo para supervisores y administradores del 3-1-1."

AGENT_COLUMNS: tuple[str, ...] = (
    "desde",
    "hasta",
    "agente",
    "usuario",
    "interfaz",
    "llamadas_atendidas",
    "tiempo_conversacion_segundos",
    "conversacion_promedio_segundos",
    "tiempo_pausa_segundos",
    "casos_registrados",
    "casos_con_tiempo",
    "casos_en_meta_4min",
    "casos_en_meta_pct",
    "pop_a_caso_promedio_segundos",
    # Wrap-up codes of the period (case_core.domain.wrapup), one column per code.
    *(f"cierres_{code.value}" for code in WrapupCode),
)

SCORECARD_COLUMNS: tuple[str, ...] = (
    "desde",
    "hasta",
    "fecha_corte",
    "agrupacion",
    "entidad_codigo",
    "entidad_nombre",
    "provincia",
    "distrito",
    *FIGURE_COLUMNS,
    "tipo",  # the case type when grouped by type (added last: columns are stable)
)

# ?por= values (English as documented, Spanish accepted) -> scorecards(by=...)
GROUPINGS: dict[str, str] = {
    "entity": "entity",
    "entidad": "entity",
    "province": "province",
    "provincia": "province",
    "district": "district",
    "distrito": "district",
    "type": "type",
    "tipo": "type",
}
GROUPING_LABELS = {
    "entity": "Entidad",
    "province": "Provincia",
    "district": "Distrito",
    "type": "Tipo de caso",
}

# ?intervalo= values -> call_metrics interval, label, longest period allowed (days)
INTERVALS: dict[str, tuple[str, str, int]] = {
    "15min": ("15min", "15 minutos", 31),
    "hora": ("hour", "Hora", 93),
    "hour": ("hour", "Hora", 93),
    "dia": ("day", "Día", 3 * 366),
    "day": ("day", "Día", 3 * 366),
    "mes": ("month", "Mes", 10 * 366),
    "month": ("month", "Mes", 10 * 366),
}
MAX_DAYS = 366


def supervisor_required(handler: Handler) -> Handler:
    """Supervisors and admins (``roles.can_supervise``); others 403, nobody 302 to login."""

    @functools.wraps(handler)
    async def check(request: web.Request) -> web.StreamResponse:
        if not can_supervise(session_of(request).actor):
            raise web.HTTPForbidden(text=FORBIDDEN)
        return await handler(request)

    return login_required(check)


# --- parameters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole local days [first, last] and their UTC bounds [start, end)."""

    first: date
    last: date
    start: datetime
    end: datetime


def local_today(request: web.Request) -> date:
    """Today's date in the configured time zone, by the app's clock."""
    return request.config_dict[CLOCK]().astimezone(zone_of(request)).date()


def zone_of(request: web.Request) -> ZoneInfo:
    return request.config_dict[SETTINGS].tz


def _parse_day(raw: str, name: str) -> date:
    try:
        if len(raw) != 10:
            raise ValueError
        day = date.fromisoformat(raw)
        if not 1900 <= day.year <= 2999:  # 9999-12-31 + 1 day would overflow (a 500)
            raise ValueError
        return day
    except ValueError:
        raise BadRequest(
            f"La fecha «{name}» no es válida: use el formato AAAA-MM-DD (por ejemplo 2026-11-02)."
        ) from None


def parse_period(
    request: web.Request, default_first: date, default_last: date, max_days: int = MAX_DAYS
) -> Period:
    """``?desde=&hasta=`` as whole local days; a 400 (BadRequest) when malformed."""
    q = request.query
    raw_first, raw_last = q.get("desde", "").strip(), q.get("hasta", "").strip()
    first = _parse_day(raw_first, "desde") if raw_first else default_first
    last = _parse_day(raw_last, "hasta") if raw_last else default_last
    if last < first:
        raise BadRequest("La fecha «hasta» es anterior a la fecha «desde».")
    if (last - first).days + 1 > max_days:
        raise BadRequest(f"El período es demasiado largo: como máximo {max_days} días.")
    tz = zone_of(request)
    start = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return Period(first, last, start, end)


CSV_BOM = b"\xef\xbb\xbf"


def wants_csv(request: web.Request) -> bool:
    """``?formato=csv`` (or ``html``/nothing for the page); anything else is a 400."""
    fmt = request.query.get("formato", "").strip().lower()
    if fmt not in ("", "html", "csv"):
        raise BadRequest("El formato debe ser «csv» o «html».")
    return fmt == "csv"


def csv_response(body: str, filename: str) -> web.Response:
    # A UTF-8 byte order mark: without it Excel opens the file as ANSI and breaks accents.
    return web.Response(
        body=CSV_BOM + body.encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- formatting (Spanish: decimal comma) ------------------------------------------------------


def pct(value: float | None) -> str:
    """``87.5 %`` (es_PA, through Babel) or ``sin datos``; ``value`` is in percent."""
    return "sin datos" if value is None else percent(value / 100)


def duration(seconds: float | None) -> str:
    """``1 h 02 min``, ``3 min 05 s``, ``12 s`` or ``—``."""
    if seconds is None:
        return "—"
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} h {m:02d} min"
    if m:
        return f"{m} min {s:02d} s"
    return f"{s} s"


def _num(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def helpers() -> dict[str, Any]:
    return {"pct": pct, "duration": duration, "cantidad": count}


# --- /supervisor/agentes ----------------------------------------------------------------------


def agent_rows(
    period: Period,
    figures: list[AgentFigures],
    wrapups: dict[int, dict[str, int]] | None = None,
) -> list[dict[str, str]]:
    """CSV rows (AGENT_COLUMNS) of agent figures."""
    wrapups = wrapups or {}
    return [
        {
            "desde": period.first.isoformat(),
            "hasta": period.last.isoformat(),
            "agente": f.name,
            "usuario": f.username or "",
            "interfaz": f.interface or "",
            "llamadas_atendidas": str(f.calls_handled),
            "tiempo_conversacion_segundos": _num(f.talk_seconds, 0),
            "conversacion_promedio_segundos": _num(f.average_talk),
            "tiempo_pausa_segundos": _num(f.pause_seconds, 0),
            "casos_registrados": str(f.cases_registered),
            "casos_con_tiempo": str(f.timed_cases),
            "casos_en_meta_4min": str(f.cases_within_goal),
            "casos_en_meta_pct": _num(f.within_goal_percent),
            "pop_a_caso_promedio_segundos": _num(f.average_pop_to_save),
            **{
                f"cierres_{code.value}": str(wrapups.get(f.user_id or 0, {}).get(code.value, 0))
                for code in WrapupCode
            },
        }
        for f in figures
    ]


@supervisor_required
async def agents_page(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/agentes: calls handled, talk and pause time, pop-to-case time."""
    today = local_today(request)
    period = parse_period(request, today, today)
    csv_wanted = wants_csv(request)
    now = request.config_dict[CLOCK]()
    figures = await agent_figures(request.config_dict[UOW], period.start, period.end, as_of=now)
    wrapups = await wrapup_counts(request.config_dict[UOW], period.start, period.end)
    if csv_wanted:
        name = f"cac311-agentes-{period.first}-{period.last}.csv"
        return csv_response(to_csv(agent_rows(period, figures, wrapups), AGENT_COLUMNS), name)
    return render(
        request,
        "supervisor_agents.html",
        {
            "period": period,
            "figures": figures,
            "goal_minutes": POP_TO_SAVE_GOAL_SECONDS // 60,
            "wrapups": wrapups,
            "wrapup_labels": {c.value: label for c, label in WRAPUP_LABELS.items()},
            "nav": "agentes",
            **helpers(),
        },
    )


# --- /supervisor/entidades --------------------------------------------------------------------


def scorecard_rows(
    period: Period, by: str, as_of_local: str, cards: list[Scorecard]
) -> list[dict[str, str]]:
    """CSV rows (SCORECARD_COLUMNS) of scorecards."""
    rows = []
    for c in cards:
        rows.append(
            {
                "desde": period.first.isoformat(),
                "hasta": period.last.isoformat(),
                "fecha_corte": as_of_local,
                "agrupacion": by,
                "entidad_codigo": c.entity_code or "",
                "entidad_nombre": c.entity_name or "",
                "provincia": c.province or "",
                "distrito": c.district or "",
                "casos_recibidos": str(c.received),
                "casos_cerrados": str(c.closed),
                "cerrados_30d": str(c.closed_within_30d),
                "cerrados_30d_base": str(c.closed_30d_decided),
                "cerrados_30d_pct": _num(c.closed_within_30d_percent),
                "primera_accion_24h": str(c.first_action_within_24h),
                "primera_accion_24h_base": str(c.first_action_decided),
                "primera_accion_24h_pct": _num(c.first_action_within_24h_percent),
                "abiertos_vencidos": str(c.open_past_due),
                "encuestas_satisfaccion": str(c.satisfaction_answers),
                "satisfaccion_promedio": _num(c.satisfaction_avg, 2),
                "seguimientos_completados": str(c.callbacks_completed),
                "bajo_meta": "si" if c.below_goal else "no",
                "tipo": c.case_type or "",
            }
        )
    return rows


@supervisor_required
async def entities_page(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/entidades: scorecards (?por=entity|province|district) as of now, or as
    of the end of the local day ``?corte=AAAA-MM-DD`` (reproducible figures)."""
    today = local_today(request)
    period = parse_period(request, today.replace(day=1), today)
    raw_by = request.query.get("por", "entity").strip().lower() or "entity"
    by = GROUPINGS.get(raw_by)
    if by is None:
        raise BadRequest("El parámetro «por» debe ser entity, province, district o type.")
    csv_wanted = wants_csv(request)
    tz = zone_of(request)
    as_of = request.config_dict[CLOCK]()
    raw_cut = request.query.get("corte", "").strip()
    if raw_cut:
        cut = _parse_day(raw_cut, "corte")
        if cut < period.first:
            raise BadRequest("La fecha de corte es anterior al inicio del período.")
        as_of = min(as_of, datetime.combine(cut + timedelta(days=1), time(0), tzinfo=tz))
    cards = await scorecards(
        request.config_dict[UOW],
        period.start,
        period.end,
        tz,
        by=by,  # type: ignore[arg-type]
        as_of=as_of,
    )
    as_of_local = as_of.astimezone(tz).isoformat(timespec="seconds")
    if csv_wanted:
        spanish = GROUPING_LABELS[by].lower()  # file names in Spanish: "entidades-distrito"
        name = f"cac311-entidades-{spanish}-{period.first}-{period.last}.csv"
        rows = scorecard_rows(period, by, as_of_local, cards)
        return csv_response(to_csv(rows, SCORECARD_COLUMNS), name)
    return render(
        request,
        "supervisor_entities.html",
        {
            "period": period,
            "by": by,
            "groupings": GROUPING_LABELS,
            "type_labels": {t.value: label for t, label in TYPE_LABELS.items()},
            "cards": cards,
            "goal": GOAL_CLOSED_30D_PERCENT,
            "definitions": SCORECARD_DEFINITIONS,
            "as_of": as_of.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
            "cut": raw_cut,
            "nav": "entidades",
            **helpers(),
        },
    )


# --- /supervisor/historico --------------------------------------------------------------------


@supervisor_required
async def history_page(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/historico: call metrics per interval with every service-level formula."""
    raw_interval = request.query.get("intervalo", "hora").strip().lower() or "hora"
    if raw_interval not in INTERVALS:
        raise BadRequest("El intervalo debe ser 15min, hora, dia o mes.")
    interval, interval_label, max_days = INTERVALS[raw_interval]
    today = local_today(request)
    period = parse_period(request, today, today, max_days)
    csv_wanted = wants_csv(request)
    settings = request.config_dict[SETTINGS]
    now = request.config_dict[CLOCK]()
    report = await rolled_up_call_metrics(
        request.config_dict[UOW],
        period.start,
        period.end,
        interval,
        settings.tz,
        settings,
        as_of=min(period.end, max(now, period.start)),
    )
    if csv_wanted:
        name = f"cac311-historico-{raw_interval}-{period.first}-{period.last}.csv"
        return csv_response(call_metrics_csv(report), name)
    tz = settings.tz
    fmt = {"month": "%m/%Y", "day": "%d/%m/%Y"}.get(interval, "%d/%m/%Y %H:%M")
    short = {"month": "%m/%Y", "day": "%d/%m"}.get(interval, "%H:%M")
    every = max(1, len(report.intervals) // 12)
    sl_points = []
    volume_points = []
    for i in report.intervals:
        label = i.start.astimezone(tz).strftime(short)
        level = i.headline.percent
        sl_points.append((label, level, f"{label}: {pct(level)}"))
        offered = count(i.counts.offered, "llamada ofrecida", "llamadas ofrecidas")
        abandoned = count(i.counts.abandoned, "abandonada", "abandonadas")
        volume_points.append((label, float(i.counts.offered), f"{label}: {offered}, {abandoned}"))
    charts = {
        "sl": bar_chart(
            sl_points,
            maximum=100,
            tick_format="{:.0f} %",
            goal=SL_GOAL_PERCENT,
            goal_label="Meta " + pct(SL_GOAL_PERCENT),
            label_every=every,
        ),
        "volume": bar_chart(
            volume_points,
            maximum=max([p[1] or 0 for p in volume_points] + [4]),
            css="barra-volumen",
            label_every=every,
        ),
    }
    return render(
        request,
        "supervisor_history.html",
        {
            "period": period,
            "report": report,
            "interval": raw_interval,
            "interval_label": interval_label,
            "intervals": [(k, INTERVALS[k][1]) for k in ("15min", "hora", "dia", "mes")],
            "rows": [(i, i.start.astimezone(tz).strftime(fmt)) for i in report.intervals],
            "total": report.total,
            "formulas": [
                (fid, FORMULAS[fid].label, describe(fid, report.thresholds), fid == HEADLINE)
                for fid in FORMULAS
            ],
            "columns": CALL_METRICS_COLUMNS,
            "charts": charts,
            "nav": "historico",
            **helpers(),
        },
    )


def setup_supervisor_report_routes(app: web.Application) -> None:
    """Add the period report pages to the desktop app."""
    app.router.add_get("/supervisor/agentes", agents_page)
    app.router.add_get("/supervisor/entidades", entities_page)
    app.router.add_get("/supervisor/historico", history_page)
