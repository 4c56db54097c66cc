"""Call metrics per interval, computed in PostgreSQL in one query.

Calls are bucketed by ``entered_at`` (when they joined the queue) into intervals aligned in
LOCAL time (``tz``, America/Panama by default): 15 min / 30 min / hour by ``date_bin`` from a
local midnight, day and week (Monday) by ``date_bin``, month by ``date_trunc``. Every interval
of the period is returned, with zeros where no call entered (``generate_series``). The first
and last intervals are clipped to the period when ``start``/``end`` are not aligned.

The classification of a call and every formula live in :mod:`case_core.metrics.service_level`.
An interval that overlaps an AMI link outage (``ami_link_outages``) comes back with
``incomplete=True``: calls may be missing from it, its figures are not to be trusted.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import text

from case_core.db.uow import UnitOfWorkFactory
from case_core.metrics.service_level import (
    CLASSIFIED_CALLS_SQL,
    COUNTS_SQL,
    FORMULAS,
    HEADLINE,
    CallCounts,
    ServiceLevel,
    Thresholds,
    all_service_levels,
    counts_from_row,
    describe,
)

Interval = Literal["15min", "30min", "hour", "day", "week", "month"]

STRIDES: dict[str, str] = {
    "15min": "15 minutes",
    "30min": "30 minutes",
    "hour": "1 hour",
    "day": "1 day",
    "week": "7 days",
    "month": "1 month",
}

# A Monday at local midnight: day and week buckets start at midnight, weeks on Monday.
_ORIGIN = "TIMESTAMP '2000-01-03 00:00:00'"


def tz_name(tz: tzinfo | str) -> str:
    """The IANA name PostgreSQL needs for ``AT TIME ZONE``."""
    if isinstance(tz, str):
        return ZoneInfo(tz).key
    key = getattr(tz, "key", None)
    if not key:
        raise ValueError("tz must be an IANA time zone (zoneinfo.ZoneInfo)")
    return str(key)


def _bucket(interval: str, local_ts: str) -> str:
    if interval == "month":
        return f"date_trunc('month', {local_ts})"
    return f"date_bin(CAST(CAST(:stride AS text) AS interval), {local_ts}, {_ORIGIN})"


@dataclass(frozen=True)
class IntervalMetrics:
    """Figures of one interval: counts, derived averages, service levels, completeness."""

    start: datetime
    end: datetime
    counts: CallCounts
    incomplete: bool

    @property
    def service_levels(self) -> dict[str, ServiceLevel]:
        """Every formula's figure, keyed by formula id."""
        return all_service_levels(self.counts)

    @property
    def headline(self) -> ServiceLevel:
        """The 3-1-1 headline service level (formula ``sl_311``)."""
        return self.service_levels[HEADLINE]


@dataclass(frozen=True)
class CallMetrics:
    """The answer of :func:`call_metrics`: the intervals and the whole period's totals."""

    start: datetime
    end: datetime
    interval: str
    timezone: str
    as_of: datetime
    thresholds: Thresholds
    queue: str | None
    intervals: list[IntervalMetrics] = field(default_factory=list)

    @property
    def total(self) -> IntervalMetrics:
        """The whole period (counts summed; incomplete if any interval is)."""
        counts = CallCounts()
        for item in self.intervals:
            counts = counts + item.counts
        return IntervalMetrics(
            self.start, self.end, counts, any(i.incomplete for i in self.intervals)
        )

    def formula_descriptions(self) -> dict[str, str]:
        """Spanish description of each formula with this report's thresholds."""
        return {fid: describe(fid, self.thresholds) for fid in FORMULAS}


def checked_arguments(
    start: datetime,
    end: datetime,
    interval: Interval | str,
    tz: tzinfo | str,
    settings: object | None,
    as_of: datetime | None,
    thresholds: Thresholds | None,
) -> tuple[Thresholds, datetime, str]:
    """Check a call-metrics request; its thresholds, ``as_of`` (default ``end``) and zone."""
    if interval not in STRIDES:
        raise ValueError(f"interval must be one of {', '.join(STRIDES)}; got {interval!r}")
    for moment in (start, end) + ((as_of,) if as_of else ()):
        if moment.tzinfo is None:
            raise ValueError("call_metrics needs time-zone-aware datetimes")
    if end <= start:
        raise ValueError("end must be after start")
    th = thresholds or (Thresholds.from_settings(settings) if settings else Thresholds())
    return th, as_of or end, tz_name(tz)


async def call_metrics(
    uow_factory: UnitOfWorkFactory,
    start: datetime,
    end: datetime,
    interval: Interval | str,
    tz: tzinfo | str,
    settings: object | None = None,
    *,
    queue: str | None = None,
    as_of: datetime | None = None,
    thresholds: Thresholds | None = None,
) -> CallMetrics:
    """Inbound call metrics of [start, end) per ``interval`` in local time ``tz``.

    Outcomes are evaluated as of ``as_of`` (default: ``end``), so calls still in the queue
    then count as waiting. Thresholds come from ``settings`` (service_level_seconds,
    short_abandon_seconds) unless ``thresholds`` is given.
    """
    th, as_of, zone = checked_arguments(start, end, interval, tz, settings, as_of, thresholds)

    where = (
        "c.direction = 'inbound' AND c.entered_at IS NOT NULL "
        "AND c.entered_at >= CAST(:start AS timestamptz) "
        "AND c.entered_at < CAST(:end AS timestamptz) "
        "AND c.entered_at <= CAST(:as_of AS timestamptz)"
    )
    if queue is not None:
        where += " AND c.queue = :queue"
    classified = CLASSIFIED_CALLS_SQL.format(
        bucket=_bucket(interval, "(c.entered_at AT TIME ZONE :tz)"), where=where
    )
    first_bucket = _bucket(interval, "(CAST(:start AS timestamptz) AT TIME ZONE :tz)")
    sql = f"""
WITH buckets AS (
  SELECT g.b AS local_start, g.b + CAST(CAST(:stride AS text) AS interval) AS local_end
  FROM generate_series({first_bucket},
                       CAST(:end AS timestamptz) AT TIME ZONE :tz,
                       CAST(CAST(:stride AS text) AS interval)) AS g(b)
  WHERE g.b < CAST(:end AS timestamptz) AT TIME ZONE :tz
),
classified AS ({classified}),
agg AS (SELECT bucket, {COUNTS_SQL} FROM classified GROUP BY bucket),
spans AS (
  SELECT bk.local_start,
         GREATEST(bk.local_start AT TIME ZONE :tz, CAST(:start AS timestamptz)) AS start_at,
         LEAST(bk.local_end AT TIME ZONE :tz, CAST(:end AS timestamptz)) AS end_at
  FROM buckets bk
)
SELECT s.start_at, s.end_at,
       EXISTS (
         SELECT 1 FROM ami_link_outages o
         WHERE o.down_at < s.end_at AND COALESCE(o.up_at, 'infinity') > s.start_at
       ) AS incomplete,
       agg.*
FROM spans s LEFT JOIN agg ON agg.bucket = s.local_start
ORDER BY s.local_start
"""
    params: dict[str, object] = {
        "start": start,
        "end": end,
        "as_of": as_of,
        "tz": zone,
        "stride": STRIDES[interval],
        "sl": th.service_level_seconds,
        "sa": th.short_abandon_seconds,
    }
    if queue is not None:
        params["queue"] = queue
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(sql), params)).all()
    intervals = [
        IntervalMetrics(
            row.start_at.astimezone(UTC),
            row.end_at.astimezone(UTC),
            counts_from_row(row),
            bool(row.incomplete),
        )
        for row in rows
    ]
    return CallMetrics(start, end, str(interval), zone, as_of, th, queue, intervals)


# --- CSV export for historical views ---

CALL_METRICS_COLUMNS: tuple[str, ...] = (
    "inicio",
    "fin",
    "incompleto",
    "ofrecidas",
    "atendidas",
    "abandonadas",
    "abandonos_cortos",
    "atendidas_en_umbral",
    "abandonadas_en_umbral",
    "en_espera_al_cierre",
    "otras_sin_atender",
    "nivel_servicio_311_pct",
    "nivel_servicio_atendidas_pct",
    "nivel_servicio_asterisk2_pct",
    "nivel_servicio_ofrecidas_pct",
    "asa_segundos",
    "espera_maxima_segundos",
    "tmo_segundos",
)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def call_metrics_rows(report: CallMetrics, *, include_total: bool = True) -> list[dict[str, str]]:
    """One dict per interval (and a total row), columns CALL_METRICS_COLUMNS, local times."""
    zone = ZoneInfo(report.timezone)
    items = list(report.intervals) + ([report.total] if include_total else [])
    rows = []
    for item in items:
        c = item.counts
        sls = item.service_levels
        rows.append(
            {
                "inicio": item.start.astimezone(zone).isoformat(),
                "fin": item.end.astimezone(zone).isoformat(),
                "incompleto": "si" if item.incomplete else "no",
                "ofrecidas": str(c.offered),
                "atendidas": str(c.answered),
                "abandonadas": str(c.abandoned),
                "abandonos_cortos": str(c.short_abandons),
                "atendidas_en_umbral": str(c.answered_in_threshold),
                "abandonadas_en_umbral": str(c.abandoned_in_threshold),
                "en_espera_al_cierre": str(c.waiting),
                "otras_sin_atender": str(c.other),
                "nivel_servicio_311_pct": _pct(sls["sl_311"].percent),
                "nivel_servicio_atendidas_pct": _pct(sls["sl_answered"].percent),
                "nivel_servicio_asterisk2_pct": _pct(sls["sl_asterisk2"].percent),
                "nivel_servicio_ofrecidas_pct": _pct(sls["sl_offered"].percent),
                "asa_segundos": _secs(c.average_speed_of_answer),
                "espera_maxima_segundos": _secs(c.longest_wait),
                "tmo_segundos": _secs(c.average_handle_time),
            }
        )
    return rows


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run (issue 15, finding 8).

    Text starting with ``= + - @``, a tab or a line break is a formula to Excel, LibreOffice
    and Google Sheets (``=HYPERLINK(...)`` typed as a district): it is prefixed with ``'``,
    as OWASP recommends. Plain numbers (``-3``, ``12.5``) stay numbers.
    """
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def to_csv(rows: list[dict[str, str]], columns: tuple[str, ...]) -> str:
    """CSV text (UTF-8, comma, header line, ``\\r\\n`` line ends) of ``rows``; every cell
    goes through `safe_cell`, so no export of cac311 carries a live formula."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: safe_cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def call_metrics_csv(report: CallMetrics) -> str:
    """The CSV export of a call-metrics view (intervals plus a total row)."""
    return to_csv(call_metrics_rows(report), CALL_METRICS_COLUMNS)
