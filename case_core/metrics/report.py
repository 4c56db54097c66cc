"""Monthly open-data publication of entity scorecards (``cac311 report monthly``).

Writes into ``out_dir``:

- ``cac311-entidades-YYYY-MM.csv``: one row per entity, columns ``ENTITY_COLUMNS`` (UTF-8,
  comma-separated, header line; empty cell = no data; percentages with one decimal).
- ``cac311-entidades-YYYY-MM.json``: ``{"mes", "fecha_corte", "generado", "zona_horaria",
  "meta_cerrados_30d_pct", "definiciones", "columnas", "entidades": [{column: value}]}``, with
  the same columns as the CSV (numbers as numbers, no data as ``null``, ``bajo_meta`` boolean).
- ``cac311-estadisticas-YYYY-MM.csv``: the same figures by case type, by province and by
  district (columns ``STATS_COLUMNS``: ``agrupacion`` is ``tipo``, ``provincia`` or
  ``distrito``; the JSON carries them under ``"estadisticas"``).
- ``entidades/<CODE>-YYYY-MM.html``: a printable Spanish page per entity for its
  transparency section, with the figures by province and district and the definitions.

Columns (stable; add new ones only at the end):

==============================  =============================================================
``mes``                         YYYY-MM of the cohort (cases received that month, Panama time)
``fecha_corte``                 as-of moment, ISO 8601 in America/Panama
``entidad_codigo``              entity code
``entidad_nombre``              entity name
``casos_recibidos``             cases the entity received in the month
``casos_cerrados``              of those, closed by the as-of moment
``cerrados_30d``                closed within 30 days (end of local day opened + 30)
``cerrados_30d_base``           cases whose 30-day outcome is known (the share's denominator)
``cerrados_30d_pct``            cerrados_30d ÷ cerrados_30d_base × 100
``primera_accion_24h``          first action (or closing) within 24 h of opening
``primera_accion_24h_base``     cases whose 24 h outcome is known
``primera_accion_24h_pct``      primera_accion_24h ÷ primera_accion_24h_base × 100
``abiertos_vencidos``           entity's cases (any month) open and past due at the as-of
``encuestas_satisfaccion``      number of satisfaction answers (1-5)
``satisfaccion_promedio``       mean satisfaction answer, 2 decimals
``seguimientos_completados``    callbacks with status completada
``bajo_meta``                   ``si`` when cerrados_30d_pct < 70, else ``no``
``auditoria_criterios_pct``     % of quality-audit criteria met in the audits of the entity's
                                cases closed that month (``case_core.metrics.audits``)
==============================  =============================================================
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.geography import is_official_district
from case_core.metrics.audits import audit_scores
from case_core.metrics.calls import to_csv, tz_name
from case_core.metrics.scorecards import (
    GOAL_CLOSED_30D_PERCENT,
    SCORECARD_DEFINITIONS,
    Scorecard,
    scorecards,
)

# The figures of a scorecard, in publication order (the web export reuses them).
FIGURE_COLUMNS: tuple[str, ...] = (
    "casos_recibidos",
    "casos_cerrados",
    "cerrados_30d",
    "cerrados_30d_base",
    "cerrados_30d_pct",
    "primera_accion_24h",
    "primera_accion_24h_base",
    "primera_accion_24h_pct",
    "abiertos_vencidos",
    "encuestas_satisfaccion",
    "satisfaccion_promedio",
    "seguimientos_completados",
    "bajo_meta",
)

ENTITY_COLUMNS: tuple[str, ...] = (
    "mes",
    "fecha_corte",
    "entidad_codigo",
    "entidad_nombre",
    *FIGURE_COLUMNS,
    "auditoria_criterios_pct",
)

MONTHS_ES = (
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
).split()


STATS_COLUMNS: tuple[str, ...] = (
    "mes",
    "fecha_corte",
    "agrupacion",
    "tipo",
    "provincia",
    "distrito",
    *FIGURE_COLUMNS,
)
# scorecards(by=...) -> the "agrupacion" value of the statistics file
STATS_GROUPINGS = {"type": "tipo", "province": "provincia", "district": "distrito"}


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first local midnight of YYYY-MM, first local midnight of the next month), in UTC."""
    try:
        year, mon = (int(p) for p in month.split("-"))
        first = date(year, mon, 1)
    except ValueError:
        raise ValueError(f"month must be YYYY-MM, got {month!r}") from None
    nxt = date(year + (mon == 12), mon % 12 + 1, 1)
    start = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(nxt, time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def entity_record(
    card: Scorecard, month: str, as_of_local: str, audit_pct: float | None = None
) -> dict[str, object]:
    """The open-data record (ENTITY_COLUMNS) of one entity scorecard; typed values."""
    return {
        "mes": month,
        "fecha_corte": as_of_local,
        "entidad_codigo": card.entity_code,
        "entidad_nombre": card.entity_name,
        "casos_recibidos": card.received,
        "casos_cerrados": card.closed,
        "cerrados_30d": card.closed_within_30d,
        "cerrados_30d_base": card.closed_30d_decided,
        "cerrados_30d_pct": _pct(card.closed_within_30d_percent),
        "primera_accion_24h": card.first_action_within_24h,
        "primera_accion_24h_base": card.first_action_decided,
        "primera_accion_24h_pct": _pct(card.first_action_within_24h_percent),
        "abiertos_vencidos": card.open_past_due,
        "encuestas_satisfaccion": card.satisfaction_answers,
        "satisfaccion_promedio": (
            None if card.satisfaction_avg is None else round(card.satisfaction_avg, 2)
        ),
        "seguimientos_completados": card.callbacks_completed,
        "bajo_meta": card.below_goal,
        "auditoria_criterios_pct": _pct(audit_pct),
    }


#: Smallest number of cases a published cell may show: fewer could single out one case
#: (a confidential denuncia in a small district, say). Issue 15, finding 8.
MIN_PUBLIC_COUNT = 5


def public_districts(rows: list[Scorecard]) -> tuple[list[Scorecard], int]:
    """The district rows fit for publication, and how many were held back.

    A row is published only when its district is in the official list (free text never
    reaches the open data) and it counts at least `MIN_PUBLIC_COUNT` cases.
    """
    shown = [
        r
        for r in rows
        if r.received >= MIN_PUBLIC_COUNT and is_official_district(r.province, r.district)
    ]
    return shown, len(rows) - len(shown)


def stats_record(card: Scorecard, grouping: str, month: str, as_of_local: str) -> dict[str, object]:
    """The open-data record (STATS_COLUMNS) of a scorecard by type, province or district."""
    record = entity_record(card, month, as_of_local)
    for key in ("entidad_codigo", "entidad_nombre"):
        record.pop(key)
    return {
        **record,
        "agrupacion": grouping,
        "tipo": card.case_type,
        "provincia": card.province,
        "distrito": card.district,
    }


def _csv_cell(column: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "si" if value else "no"
    if column.endswith("_pct"):
        return f"{float(value):.1f}"  # type: ignore[arg-type]
    if column == "satisfaccion_promedio":
        return f"{float(value):.2f}"  # type: ignore[arg-type]
    return str(value)


def scorecards_csv(records: list[dict[str, object]]) -> str:
    """CSV text of open-data records (ENTITY_COLUMNS); also the web app's export."""
    rows = [{k: _csv_cell(k, r.get(k)) for k in ENTITY_COLUMNS} for r in records]
    return to_csv(rows, ENTITY_COLUMNS)


@dataclass(frozen=True)
class MonthlyReport:
    """What ``write_monthly_report`` wrote."""

    month: str
    as_of: datetime
    csv_path: Path
    json_path: Path
    html_paths: list[Path]
    entities: int
    stats_path: Path | None = None


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("case_core.metrics", "templates"),
        autoescape=select_autoescape(["html"]),
    )

    def pct(value: float | None) -> str:
        return "sin datos" if value is None else f"{value:.1f} %".replace(".", ",")

    env.filters["pct"] = pct
    return env


def _write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(content, encoding="utf-8", newline="")
    os.replace(tmp, path)


async def write_monthly_report(
    uow_factory: UnitOfWorkFactory,
    month: str,
    out_dir: Path,
    tz: ZoneInfo | str = "America/Panama",
    *,
    as_of: datetime | None = None,
    now: datetime | None = None,
) -> MonthlyReport:
    """Write the month's CSV, JSON and per-entity HTML pages into ``out_dir``."""
    zone = ZoneInfo(tz_name(tz))
    now = now or datetime.now(UTC)
    start, end = month_bounds(month, zone)
    as_of = as_of or min(end, now)
    cards = await scorecards(uow_factory, start, end, zone, by="entity", as_of=as_of)
    by_district = await scorecards(uow_factory, start, end, zone, by="entity_district", as_of=as_of)
    as_of_local = as_of.astimezone(zone).isoformat(timespec="seconds")
    audits = await audit_scores(uow_factory, start, end, as_of=as_of)
    records = [entity_record(c, month, as_of_local, audits.get(c.entity_id or 0)) for c in cards]
    stats = [
        stats_record(card, label, month, as_of_local)
        for by, label in STATS_GROUPINGS.items()
        for card in await scorecards(uow_factory, start, end, zone, by=by, as_of=as_of)  # type: ignore[arg-type]
    ]

    out_dir = Path(out_dir)
    csv_path = out_dir / f"cac311-entidades-{month}.csv"
    json_path = out_dir / f"cac311-entidades-{month}.json"
    _write(csv_path, scorecards_csv(records))
    stats_path = out_dir / f"cac311-estadisticas-{month}.csv"
    stats_rows = [{k: _csv_cell(k, r.get(k)) for k in STATS_COLUMNS} for r in stats]
    _write(stats_path, to_csv(stats_rows, STATS_COLUMNS))
    document = {
        "mes": month,
        "fecha_corte": as_of_local,
        "generado": now.astimezone(zone).isoformat(timespec="seconds"),
        "zona_horaria": zone.key,
        "meta_cerrados_30d_pct": GOAL_CLOSED_30D_PERCENT,
        "definiciones": SCORECARD_DEFINITIONS,
        "columnas": list(ENTITY_COLUMNS),
        "entidades": [{k: r[k] for k in ENTITY_COLUMNS} for r in records],
        "estadisticas": {
            "columnas": list(STATS_COLUMNS),
            "filas": [{k: r[k] for k in STATS_COLUMNS} for r in stats],
        },
    }
    _write(json_path, json.dumps(document, ensure_ascii=False, indent=2) + "\n")

    template = _env().get_template("entity_month.html")
    year, mon = (int(p) for p in month.split("-"))
    month_label = f"{MONTHS_ES[mon - 1]} de {year}"
    html_paths = []
    for card in cards:
        districts, hidden = public_districts(
            [d for d in by_district if d.entity_id == card.entity_id]
        )
        html = template.render(
            card=card,
            districts=districts,
            hidden_districts=hidden,
            min_public_count=MIN_PUBLIC_COUNT,
            audit_pct=audits.get(card.entity_id or 0),
            month=month,
            month_label=month_label,
            as_of=as_of.astimezone(zone).strftime("%d/%m/%Y %H:%M"),
            generated=now.astimezone(zone).strftime("%d/%m/%Y %H:%M"),
            goal=GOAL_CLOSED_30D_PERCENT,
            definitions=SCORECARD_DEFINITIONS,
            csv_name=csv_path.name,
            json_name=json_path.name,
        )
        path = out_dir / "entidades" / f"{card.entity_code}-{month}.html"
        _write(path, html)
        html_paths.append(path)
    return MonthlyReport(
        month, as_of, csv_path, json_path, html_paths, len(cards), stats_path=stats_path
    )
