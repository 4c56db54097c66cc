#!/usr/bin/env python3
"""A month of inbound calls (3.6 million): ``call_metrics`` in SQL against a plain Python pass.

Creates ``cac311_bench_metrics`` (production migrations, ``case_core.db.migrate.upgrade``) and
loads ``--calls x --scale`` inbound rows into ``calls`` for one month (``--month``, November
2026 by default), one ``INSERT ... SELECT ... generate_series`` per local day. The data are
synthetic, with these shapes:

- arrivals follow a daily curve in America/Panama (quarter-hour weights interpolated from
  hourly ones: quiet at night, peaks at 10:00 and 14:00), Mondays 10 % busier, Saturdays
  55 %, Sundays 40 %, national holidays of November 50 % of a weekday; uniform inside each
  quarter hour, microsecond timestamps;
- 85 % answered: ``hold_seconds`` lognormal, median 3 s at night to 9 s at the peak, tail to
  minutes (capped at 599 s); talk lognormal, median 170 s; one of 120 agents; 1 % without
  ``hold_seconds`` (wait from the timestamps), 0.5 % without talk time;
- 10 % abandoned: a quarter of them short (0-4 s), the rest lognormal around 40 s, capped at
  600 s (a queue timeout, which counts as abandoned); 1 % without ``hold_seconds``;
- 4.5 % left the queue for a callback and 0.5 % ended unknown (``end_unknown``): "other";
- the table is a snapshot taken at the period end: a call whose outcome comes after it has no
  outcome yet (still waiting), an answered call still talking has no ``ended_at``.

Then it times ``call_metrics(uow_factory, start, end, interval, "America/Panama")`` for
each ``--intervals`` (day, hour, 15min), ``--repeat`` times each, and one plain Python pass:
the same rows (same WHERE) streamed from a server-side asyncpg cursor in batches of
``--fetch-batch``, ordered by ``entered_at``, grouped into local quarter hours and counted with
the project's reference ``case_core.metrics.service_level.count_calls``; quarter hours are
summed into hours and days. Every interval of both must agree (counts exactly, sums of seconds
to 1e-9); the script prints the month's totals of both and exits 1 if they differ.

    python bench/month_metrics.py                 # 3.6 M calls
    python bench/month_metrics.py --scale 0.01    # 36 k calls, seconds
    python bench/month_metrics.py --reuse --keep  # time again on a kept database
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import math
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import asyncpg  # noqa: E402
from _common import (  # noqa: E402
    Stopwatch,
    add_db_args,
    db_url,
    drop_database,
    dsn,
    machine,
    recreate_database,
)

from case_core.metrics.service_level import (  # noqa: E402
    CallCounts,
    QueuedCall,
    Thresholds,
    count_calls,
)

PANAMA = ZoneInfo("America/Panama")
THRESHOLDS = Thresholds(15, 5)

# Relative arrivals per local hour (0-23) at a 3-1-1 line open around the clock.
HOURLY = [0.15, 0.10, 0.08, 0.07, 0.08, 0.15, 0.35, 0.70, 1.10, 1.40, 1.50, 1.40,
          1.15, 1.20, 1.35, 1.30, 1.15, 0.95, 0.75, 0.60, 0.50, 0.40, 0.30, 0.20]  # fmt: skip
WEEKDAY = [1.10, 1.0, 1.0, 1.0, 1.0, 0.55, 0.40]  # Monday .. Sunday
HOLIDAY = 0.50
# Panama's national holidays by (month, day); only November has several.
HOLIDAYS = {(1, 1), (1, 9), (5, 1), (11, 3), (11, 4), (11, 5), (11, 10), (11, 28), (12, 8),
            (12, 20), (12, 25)}  # fmt: skip
AGENTS = 120
FIRST_NAMES = ["Ana", "Luis", "María", "Carlos", "Yarisel", "José", "Itzel", "Ricardo",
               "Yamileth", "Eduardo", "Migdalia", "Jorge"]  # fmt: skip
LAST_NAMES = ["Batista", "Herrera", "Pérez", "González", "Samudio", "Quintero", "Pinzón",
              "Jaén", "Vergara", "Saldaña"]  # fmt: skip

# One local day. $1 local midnight, $2 arrivals per quarter hour, $3 load per quarter hour
# (0..1), $4 first id - 1, $5 period end (the snapshot moment), $6 agent names.
# `r` draws every random number once (MATERIALIZED), `d` derives the call from them.
DAY_SQL = """
WITH r AS MATERIALIZED (
  SELECT $4::bigint + row_number() OVER () AS id,
         $1::timestamptz + ((s.q - 1) * 900 + random() * 900) * interval '1 second'
           AS entered_at,
         s.load, random() AS u_kind, random() AS u_short, random() AS u_null,
         random() AS u_frac1, random() AS u_frac2, random() AS u_agent, random() AS u_ivr,
         sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z1,
         sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z2
  FROM unnest($2::int[], $3::float8[]) WITH ORDINALITY AS s(n, load, q)
  CROSS JOIN LATERAL generate_series(1, s.n) AS g(k)
),
k AS (
  SELECT r.*,
         CASE WHEN u_kind < 0.85 THEN 'answered' WHEN u_kind < 0.95 THEN 'abandoned'
              WHEN u_kind < 0.995 THEN 'callback' ELSE 'unknown' END AS kind,
         LEAST(599, floor((3 + 6 * load) * exp(z1)))::int AS answer_hold,
         CASE WHEN u_short < 0.25 THEN floor(u_short * 20)::int
              ELSE LEAST(600, floor(40 * exp(0.9 * z1)))::int END AS abandon_hold,
         GREATEST(5, floor(170 * exp(0.7 * z2)))::int AS talk
  FROM r
),
d AS (
  SELECT k.*,
         CASE WHEN kind IN ('answered', 'abandoned')
              THEN entered_at + (CASE WHEN kind = 'answered' THEN answer_hold
                                      ELSE abandon_hold END + u_frac1) * interval '1 second'
              WHEN kind = 'callback' THEN entered_at + 60 * exp(0.6 * z1) * interval '1 second'
              ELSE entered_at + 30 * exp(z1) * interval '1 second' END AS outcome_at
  FROM k
),
c AS (
  SELECT d.*, outcome_at <= $5::timestamptz AS done,
         entered_at - (20 + 100 * u_ivr) * interval '1 second' AS started_at,
         CASE WHEN kind = 'answered'
              THEN outcome_at + (talk + u_frac2) * interval '1 second' END AS hangup_at
  FROM d
)
INSERT INTO calls (id, server, uniqueid, linkedid, direction, caller_number, queue, started_at,
                   entered_at, answered_at, ended_at, hold_seconds, talk_seconds, ring_seconds,
                   agent_interface, agent_name, abandoned, end_unknown, hangup_cause,
                   ivr_variables, created_at)
SELECT id, 'pbx1', uid, uid, 'inbound',
       '+5076' || lpad(((id * 7919) % 10000000)::text, 7, '0'), 'cac311', started_at,
       entered_at,
       CASE WHEN done AND kind = 'answered' THEN outcome_at END,
       CASE WHEN NOT done THEN NULL
            WHEN kind = 'answered' THEN CASE WHEN hangup_at <= $5::timestamptz THEN hangup_at END
            ELSE outcome_at END,
       CASE WHEN NOT done OR kind NOT IN ('answered', 'abandoned') OR u_null < 0.01 THEN NULL
            WHEN kind = 'answered' THEN answer_hold ELSE abandon_hold END,
       CASE WHEN done AND kind = 'answered' AND hangup_at <= $5::timestamptz
                 AND NOT (u_null >= 0.01 AND u_null < 0.015) THEN talk END,
       CASE WHEN done AND kind = 'answered' THEN floor(u_frac2 * 6)::int END,
       CASE WHEN done AND kind = 'answered' THEN 'PJSIP/' || (1001 + agent) END,
       CASE WHEN done AND kind = 'answered' THEN ($6::text[])[1 + agent] END,
       done AND kind = 'abandoned', done AND kind = 'unknown',
       CASE WHEN done AND kind <> 'unknown' THEN 16 END,
       '{}'::jsonb, entered_at
FROM (
  SELECT c.*, floor(u_agent * $7::int)::int AS agent,
         floor(extract(epoch FROM started_at))::bigint::text || '.' || id AS uid
  FROM c
) x
"""

# The rows call_metrics reads: the same WHERE (inbound, entered in [start, end), by as_of).
PYTHON_PASS_SQL = """
SELECT entered_at, answered_at, ended_at, hold_seconds, talk_seconds, abandoned
FROM calls
WHERE direction = 'inbound' AND entered_at IS NOT NULL
  AND entered_at >= $1 AND entered_at < $2 AND entered_at <= $3
ORDER BY entered_at
"""

COUNT_FIELDS = ("offered", "answered", "abandoned", "short_abandons", "answered_in_threshold",
                "abandoned_in_threshold", "waiting", "other", "talk_count")  # fmt: skip
SUM_FIELDS = ("wait_answered_sum", "talk_sum", "longest_wait")


# ---- the month's shape ---------------------------------------------------------------------


def month_bounds(month: str) -> tuple[datetime, datetime, list[date]]:
    """Local start and end of ``YYYY-MM`` and its days."""
    year, mon = (int(x) for x in month.split("-"))
    days = [date(year, mon, d) for d in range(1, calendar.monthrange(year, mon)[1] + 1)]
    start = datetime(year, mon, 1, tzinfo=PANAMA)
    nxt = days[-1] + timedelta(days=1)
    return start, datetime(nxt.year, nxt.month, nxt.day, tzinfo=PANAMA), days


def quarter_weights() -> list[float]:
    """96 quarter-hour weights, linear between the hourly ones (taken at each hour's middle)."""
    out = []
    for q in range(96):
        x = (q + 0.5) / 4 - 0.5  # hours from the middle of hour 0
        lo = math.floor(x)
        f = x - lo
        out.append(HOURLY[lo % 24] * (1 - f) + HOURLY[(lo + 1) % 24] * f)
    return out


def day_factor(day: date) -> float:
    if (day.month, day.day) in HOLIDAYS:
        return HOLIDAY
    return WEEKDAY[day.weekday()]


def arrivals(total: int, days: list[date]) -> list[list[int]]:
    """Calls per quarter hour of each day, summing exactly to ``total`` (largest remainder)."""
    qw = quarter_weights()
    weights = [day_factor(d) * w for d in days for w in qw]
    scale = total / sum(weights)
    exact = [w * scale for w in weights]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return [counts[i * 96 : (i + 1) * 96] for i in range(len(days))]


# ---- loading -------------------------------------------------------------------------------


async def build(args: argparse.Namespace, total: int) -> tuple[str, float]:
    """Create, migrate and fill the database; returns its URL and the load time."""
    from case_core.db.migrate import upgrade

    url = await recreate_database(args.server_url, args.db_name)
    await asyncio.to_thread(upgrade, url)
    start, end, days = month_bounds(args.month)
    per_day = arrivals(total, days)
    qw = quarter_weights()
    peak = max(qw)
    load = [w / peak for w in qw]
    names = [
        f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[i // len(FIRST_NAMES) % 10]}"
        for i in range(AGENTS)
    ]
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET session_replication_role = replica")  # no FK triggers
        await conn.execute("SELECT setseed(0.311)")  # the same month every run
        print(f"loading {total:,} calls for {args.month} into {args.db_name}")
        with Stopwatch() as sw:
            first_id = 0
            for i, (day, counts) in enumerate(zip(days, per_day, strict=True)):
                midnight = datetime(day.year, day.month, day.day, tzinfo=PANAMA)
                await conn.execute(DAY_SQL, midnight, counts, load, first_id, end, names, AGENTS)
                first_id += sum(counts)
                if (i + 1) % 5 == 0 or i + 1 == len(days):
                    print(
                        f"  {first_id:,}/{total:,}  ({time.perf_counter() - sw.start:.0f} s)",
                        flush=True,
                    )
            await conn.execute("SET session_replication_role = origin")
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence('calls', 'id'), "
                "GREATEST((SELECT max(id) FROM calls), 1))"
            )
            await conn.execute("VACUUM ANALYZE calls")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('calls'))")
        print(f"load + VACUUM ANALYZE: {sw.seconds:.0f} s; calls table with indexes: {size}")
        await describe_data(conn, start, end)
    finally:
        await conn.close()
    return url, sw.seconds


async def describe_data(conn: asyncpg.Connection, start: datetime, end: datetime) -> None:
    """A few shape checks of what was generated."""
    row = await conn.fetchrow(
        """
        SELECT count(*) AS n,
               avg((answered_at IS NOT NULL)::int) AS answered,
               avg(abandoned::int) AS abandoned,
               avg((abandoned AND hold_seconds < 5)::int) AS short,
               count(*) FILTER (WHERE answered_at IS NULL AND ended_at IS NULL) AS waiting,
               percentile_cont(ARRAY[0.5, 0.8, 0.99])
                 WITHIN GROUP (ORDER BY hold_seconds) FILTER (WHERE answered_at IS NOT NULL)
                 AS hold_pct,
               max(hold_seconds) FILTER (WHERE answered_at IS NOT NULL) AS hold_max,
               avg((hold_seconds <= 15)::int) FILTER (WHERE answered_at IS NOT NULL) AS in_sl,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY talk_seconds) AS talk_p50,
               count(DISTINCT agent_name) AS agents
        FROM calls WHERE entered_at >= $1 AND entered_at < $2
        """,
        start,
        end,
    )
    hp = row["hold_pct"]
    print(
        f"  {row['n']:,} calls: answered {row['answered']:.1%}, abandoned {row['abandoned']:.1%}"
        f" (short {row['short']:.1%} of all), still waiting at the end {row['waiting']}; "
        f"answered hold p50/p80/p99/max {hp[0]:.0f}/{hp[1]:.0f}/{hp[2]:.0f}/{row['hold_max']} s,"
        f" {row['in_sl']:.1%} within 15 s; talk p50 {row['talk_p50']:.0f} s; "
        f"{row['agents']} agents"
    )
    busiest = await conn.fetch(
        """
        SELECT to_char(entered_at AT TIME ZONE 'America/Panama', 'HH24') AS h, count(*) AS n
        FROM calls GROUP BY 1 ORDER BY 1
        """
    )
    print("  calls per local hour: " + " ".join(f"{r['h']}h {r['n']:,}" for r in busiest))


# ---- timing --------------------------------------------------------------------------------


async def time_sql(
    url: str, start: datetime, end: datetime, intervals: list[str], repeat: int
) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """call_metrics for each interval, ``repeat`` times; the last report and every time."""
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.metrics.calls import call_metrics

    engine = make_engine(url, pool_size=1)
    uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
    reports: dict[str, Any] = {}
    times: dict[str, list[float]] = {}
    try:
        # connect and import outside the clock: a one-hour call on the empty hour before
        await call_metrics(uow_factory, start - timedelta(hours=1), start, "hour", PANAMA)
        for interval in intervals:
            times[interval] = []
            for _ in range(repeat):
                with Stopwatch() as sw:
                    reports[interval] = await call_metrics(
                        uow_factory, start, end, interval, PANAMA, thresholds=THRESHOLDS
                    )
                times[interval].append(sw.seconds)
                print(
                    f"  call_metrics {interval:>5}: {sw.seconds:6.2f} s "
                    f"({len(reports[interval].intervals):,} intervals)",
                    flush=True,
                )
    finally:
        await engine.dispose()
    return reports, times


async def time_rollup(
    url: str,
    start: datetime,
    end: datetime,
    intervals: list[str],
    repeat: int,
    reports: dict[str, Any],
) -> bool:
    """Rebuild the 15-minute roll-up of the month, time ``rolled_up_call_metrics`` for each
    interval and for one day as the wallboard asks it (as of noon), and compare every
    interval with the reference ``call_metrics``."""
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.metrics.calls import call_metrics
    from case_core.metrics.rollup import rebuild_rollup, rolled_up_call_metrics

    engine = make_engine(url, pool_size=1)
    uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
    ok = True
    try:
        print(f"load average before the roll-up: {_loadavg()}")
        with Stopwatch() as sw:
            quarters = await rebuild_rollup(uow_factory, start, end, now=end, thresholds=THRESHOLDS)
        print(f"  rebuild_rollup: {quarters:,} quarter hours in {sw.seconds:.1f} s", flush=True)
        for interval in intervals:
            best = math.inf
            for _ in range(repeat):
                with Stopwatch() as sw:
                    report = await rolled_up_call_metrics(
                        uow_factory, start, end, interval, PANAMA, thresholds=THRESHOLDS
                    )
                best = min(best, sw.seconds)
            bad = sum(
                not same(a.counts, b.counts)
                for a, b in zip(reports[interval].intervals, report.intervals, strict=True)
            )
            ok = ok and not bad
            ref = min(_TIMES.get(interval, [math.nan]))
            print(
                f"  rolled_up_call_metrics {interval:>5}: best {best * 1000:8.1f} ms "
                f"(reference best {ref:.2f} s, {ref / best:,.0f}x); "
                f"{bad} of {len(report.intervals):,} intervals differ from the reference",
                flush=True,
            )
        day = start + timedelta(days=14)
        noon = day + timedelta(hours=12)
        wall: list[float] = []
        for _ in range(max(repeat, 5)):
            with Stopwatch() as sw:
                board = await rolled_up_call_metrics(
                    uow_factory,
                    day,
                    day + timedelta(days=1),
                    "hour",
                    PANAMA,
                    as_of=noon,
                    thresholds=THRESHOLDS,
                )
            wall.append(sw.seconds)
        with Stopwatch() as ref_sw:
            reference = await call_metrics(
                uow_factory,
                day,
                day + timedelta(days=1),
                "hour",
                PANAMA,
                as_of=noon,
                thresholds=THRESHOLDS,
            )
        bad = sum(
            not same(a.counts, b.counts)
            for a, b in zip(reference.intervals, board.intervals, strict=True)
        )
        ok = ok and not bad
        print(
            f"  wallboard day (hour, as of noon): best {min(wall) * 1000:.1f} ms, "
            f"median {statistics.median(wall) * 1000:.1f} ms "
            f"(reference {ref_sw.seconds * 1000:.0f} ms);"
            f" {bad} of {len(board.intervals)} intervals differ"
        )
    finally:
        await engine.dispose()
    return ok


_TIMES: dict[str, list[float]] = {}


def quarter_of(entered_at: datetime) -> datetime:
    """The local (naive) start of the quarter hour a call entered in."""
    local = entered_at.astimezone(PANAMA)
    return local.replace(
        minute=local.minute - local.minute % 15, second=0, microsecond=0, tzinfo=None
    )


async def python_pass(
    url: str, start: datetime, end: datetime, batch: int
) -> tuple[dict[datetime, CallCounts], float, float, int]:
    """Stream the rows and count them per local quarter hour with ``count_calls``.

    Returns the quarter hours, the seconds spent waiting for rows (query, network, asyncpg
    decoding), the seconds of Python work, and the number of rows.
    """
    as_of = end
    quarters: dict[datetime, CallCounts] = {}
    current: datetime | None = None
    pending: list[QueuedCall] = []
    fetch_s = python_s = 0.0
    n = 0
    conn = await asyncpg.connect(dsn(url))
    try:
        async with conn.transaction():
            t = time.perf_counter()
            cursor = await conn.cursor(PYTHON_PASS_SQL, start, end, as_of)
            while True:
                rows = await cursor.fetch(batch)
                t2 = time.perf_counter()
                fetch_s += t2 - t
                if not rows:
                    break
                n += len(rows)
                for r in rows:
                    key = quarter_of(r[0])
                    if key != current:
                        if current is not None:
                            quarters[current] = count_calls(pending, as_of, THRESHOLDS)
                        current, pending = key, []
                    pending.append(QueuedCall(r[0], r[1], r[2], r[3], r[4], r[5]))
                t = time.perf_counter()
                python_s += t - t2
            t = time.perf_counter()
            if current is not None:
                quarters[current] = count_calls(pending, as_of, THRESHOLDS)
            python_s += time.perf_counter() - t
    finally:
        await conn.close()
    return quarters, fetch_s, python_s, n


def roll_up(quarters: dict[datetime, CallCounts], interval: str) -> dict[datetime, CallCounts]:
    """Quarter hours summed into 15min / 30min / hour / day buckets (local naive keys)."""
    out: dict[datetime, CallCounts] = {}
    for key, counts in quarters.items():
        if interval == "day":
            k = key.replace(hour=0, minute=0)
        elif interval == "hour":
            k = key.replace(minute=0)
        elif interval == "30min":
            k = key.replace(minute=key.minute - key.minute % 30)
        else:
            k = key
        out[k] = out[k] + counts if k in out else counts
    return out


def same(a: CallCounts, b: CallCounts) -> bool:
    if any(getattr(a, f) != getattr(b, f) for f in COUNT_FIELDS):
        return False
    for f in SUM_FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        if (x is None) != (y is None):
            return False
        if x is not None and not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6):
            return False
    return True


def compare(report: Any, python: dict[datetime, CallCounts]) -> int:
    """Intervals whose figures differ between call_metrics and the Python pass."""
    bad = 0
    for item in report.intervals:
        key = item.start.astimezone(PANAMA).replace(tzinfo=None)
        if not same(item.counts, python.get(key, CallCounts())):
            bad += 1
            if bad <= 3:
                print(f"    differs at {key}: SQL {item.counts} / Python {python.get(key)}")
    missing = set(python) - {
        i.start.astimezone(PANAMA).replace(tzinfo=None) for i in report.intervals
    }
    return bad + len(missing)


def print_sql_times(times: dict[str, list[float]], rows: int) -> None:
    print(f"\n  {'':<28}{'best':>9}{'median':>9}{'rows/s (best)':>16}")
    for interval, ts in times.items():
        best = min(ts)
        print(
            f"  call_metrics {interval:<15}{best:>8.2f}s{statistics.median(ts):>8.2f}s"
            f"{rows / best:>16,.0f}"
        )


async def apply_settings(server_url: str, name: str, settings: list[str]) -> None:
    """Reset the bench database's own settings, then ``ALTER DATABASE ... SET`` each one."""
    admin = await asyncpg.connect(dsn(server_url))
    try:
        await admin.execute(f'ALTER DATABASE "{name}" RESET ALL')
        for item in settings:
            key, _, value = item.partition("=")
            if not key.replace("_", "").isalnum() or not value:
                raise SystemExit(f"--set wants NAME=VALUE, got {item!r}")
            quoted = value.replace("'", "")
            await admin.execute(f"ALTER DATABASE \"{name}\" SET {key} = '{quoted}'")
            print(f"bench database setting: {key} = {value}")
    finally:
        await admin.close()


def print_totals(sql: CallCounts, py: CallCounts) -> None:
    print(f"\n  {'month total':<24}{'call_metrics (SQL)':>22}{'Python count_calls':>22}")
    for f in COUNT_FIELDS + SUM_FIELDS:
        x, y = getattr(sql, f), getattr(py, f)
        fmt = "{:>22,}" if isinstance(x, int) else "{:>22,.3f}"
        print(f"  {f:<24}" + fmt.format(x) + fmt.format(y))
    print(f"  {'sl_311 %':<24}{_pct(sql):>22}{_pct(py):>22}")
    asa_s, asa_p = sql.average_speed_of_answer or 0, py.average_speed_of_answer or 0
    print(f"  {'ASA s':<24}{asa_s:>22.3f}{asa_p:>22.3f}")


def _pct(c: CallCounts) -> str:
    from case_core.metrics.service_level import service_level

    p = service_level("sl_311", c).percent
    return "n/a" if p is None else f"{p:.3f}"


async def main_async(args: argparse.Namespace) -> int:
    total = int(args.calls * args.scale)
    start, end, _days = month_bounds(args.month)
    url = db_url(args.server_url, args.db_name)
    ok = True
    try:
        if not args.reuse:
            url, _ = await build(args, total)
        await apply_settings(args.server_url, args.db_name, args.set)
        rows = await _count(url, start, end)
        print(f"\nMonth metrics [{machine()}]  {rows:,} calls, {args.month} (America/Panama)")
        print(f"load average before the timings: {_loadavg()}")
        reports, times = await time_sql(url, start, end, args.intervals, args.repeat)
        _TIMES.update(times)
        if not args.skip_rollup:
            ok = await time_rollup(url, start, end, args.intervals, args.repeat, reports) and ok
        if args.skip_python:
            print_sql_times(times, rows)
            if args.explain:
                await explain(url, start, end, args.explain)
            return 0 if ok else 1
        print(f"load average before the Python pass: {_loadavg()}")
        with Stopwatch() as sw:
            quarters, fetch_s, python_s, n = await python_pass(url, start, end, args.fetch_batch)
        print(
            f"  Python pass: {sw.seconds:.2f} s for {n:,} rows (waiting for rows "
            f"{fetch_s:.2f} s, count_calls and bucketing {python_s:.2f} s)"
        )

        print_sql_times(times, rows)
        print(
            f"  {'Python pass (stream + ref.)':<28}{sw.seconds:>8.2f}s{'':>9}"
            f"{n / sw.seconds:>16,.0f}"
        )
        print(f"  {'  of which Python only':<28}{python_s:>8.2f}s{'':>9}{n / python_s:>16,.0f}")

        python_total = CallCounts()
        for c in quarters.values():
            python_total = python_total + c
        for interval, report in reports.items():
            bad = compare(report, roll_up(quarters, interval))
            agree = same(report.total.counts, python_total)
            ok = ok and not bad and agree
            print(
                f"  {interval:>5}: {len(report.intervals):,} intervals, {bad} differ from "
                f"Python; month total {'equal' if agree else 'DIFFERENT'}"
            )
        first = next(iter(reports.values()))
        print_totals(first.total.counts, python_total)
        print(f"\n{'OK: SQL and Python agree' if ok else 'MISMATCH between SQL and Python'}")
        if args.explain:
            await explain(url, start, end, args.explain)
    finally:
        if not args.keep:
            await drop_database(args.server_url, args.db_name)
    return 0 if ok else 1


async def _count(url: str, start: datetime, end: datetime) -> int:
    conn = await asyncpg.connect(dsn(url))
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM calls WHERE entered_at >= $1 AND entered_at < $2", start, end
        )
    finally:
        await conn.close()


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


async def explain(url: str, start: datetime, end: datetime, interval: str) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement call_metrics actually sends."""
    from sqlalchemy import event

    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.metrics.calls import call_metrics

    engine = make_engine(url, pool_size=1)
    captured: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *a: Any) -> None:
        if "ami_link_outages" in statement:
            captured.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
        await call_metrics(uow_factory, start, end, interval, PANAMA, thresholds=THRESHOLDS)
    finally:
        await engine.dispose()
    statement, params = captured[0]
    conn = await asyncpg.connect(dsn(url))
    try:
        plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *(params or ()))
    finally:
        await conn.close()
    print(f"\n  EXPLAIN (ANALYZE, BUFFERS) of call_metrics({interval!r}):")
    for row in plan:
        print("     " + row[0])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=3_600_000, help="calls in the month (%(default)s)")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of --calls (%(default)s)")
    p.add_argument("--month", default="2026-11", help="YYYY-MM, local time (%(default)s)")
    p.add_argument(
        "--intervals",
        nargs="+",
        default=["day", "hour", "15min"],
        choices=["15min", "30min", "hour", "day"],
        help="call_metrics intervals to time (%(default)s)",
    )
    p.add_argument("--repeat", type=int, default=3, help="runs per interval (%(default)s)")
    p.add_argument("--fetch-batch", type=int, default=20_000, help="cursor batch (%(default)s)")
    p.add_argument("--explain", metavar="INTERVAL", help="also EXPLAIN ANALYZE this interval")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="ALTER DATABASE SET for the timings, e.g. jit=off, work_mem=64MB (repeatable)",
    )
    p.add_argument("--skip-python", action="store_true", help="time call_metrics only")
    p.add_argument("--reuse", action="store_true", help="use a kept database as it is")
    p.add_argument("--skip-rollup", action="store_true", help="do not time the 15-min roll-up")
    add_db_args(p, "cac311_bench_metrics")
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
