"""A 15-minute roll-up of inbound calls, so a month of figures reads ~3,000 rows, not
millions of calls.

``call_rollup_15m`` holds, per UTC quarter hour and queue, the fields of
:class:`~case_core.metrics.service_level.CallCounts`, computed by the one classification
of :mod:`~case_core.metrics.service_level` (its SQL). ``call_rollup_buckets`` says when each
quarter hour was computed and whether it is final: ``open_calls`` counts its calls whose
outcome was not yet known then, ``settled_at`` is the latest outcome time of its calls. A
quarter hour is used for a query *as of* ``as_of`` only when ``open_calls = 0``,
``settled_at <= as_of`` and the thresholds match: then every call in it is classified as
of ``as_of`` exactly as when it was rolled up, so :func:`rolled_up_call_metrics` returns the
same counts as :func:`~case_core.metrics.calls.call_metrics` (the reference; tests compare
them interval by interval). Every other quarter hour (still open, changed since, never
rolled up, or cut by the period's start or end) is computed from ``calls`` as before.

Maintenance: :func:`mark_dirty_many` is called in the transaction that writes calls
(``save_calls``); the periodic job ``call_rollup`` (:func:`refresh_dirty`) recomputes the
quarter hours marked since. ``cac311 metrics rollup --from --to`` rebuilds a period.

UTC quarter hours coincide with local quarter hours, hours and days wherever the offset
from UTC is a multiple of 15 minutes (America/Panama: -5 h); elsewhere the reference runs.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.uow import UnitOfWorkFactory
from case_core.metrics.calls import (
    STRIDES,
    CallMetrics,
    Interval,
    IntervalMetrics,
    _bucket,
    call_metrics,
    checked_arguments,
)
from case_core.metrics.service_level import (
    CLASSIFIED_CALLS_SQL,
    COUNTS_SQL,
    CallCounts,
    Thresholds,
    counts_from_row,
)

QUARTER = timedelta(minutes=15)
_ANY_BUCKET = "ANY(CAST(:buckets AS timestamptz[]))"
_EPOCH = datetime(2000, 1, 3, tzinfo=UTC)
BUCKET_SQL = "date_bin(CAST('15 minutes' AS interval), {col}, TIMESTAMPTZ '2000-01-03 00:00+00')"
COUNT_FIELDS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandons",
    "answered_in_threshold",
    "abandoned_in_threshold",
    "waiting",
    "other",
    "wait_answered_sum",
    "talk_sum",
    "talk_count",
)
# When a call's classification stops depending on "as of": its last outcome time.
_SETTLE = (
    "GREATEST(c.entered_at, c.answered_at, c.ended_at, "
    "CASE WHEN c.abandoned THEN c.entered_at + make_interval(secs => c.hold_seconds) END)"
)


def floor_quarter(at: datetime) -> datetime:
    return _EPOCH + (at - _EPOCH) // QUARTER * QUARTER


def ceil_quarter(at: datetime) -> datetime:
    floor = floor_quarter(at)
    return floor if floor == at else floor + QUARTER


# --------------------------------------------------------------------------- maintenance


async def mark_dirty_many(session: AsyncSession, entered: set[datetime]) -> None:
    """Flag the quarter hours of calls just written, in the caller's transaction.

    DO UPDATE (not DO NOTHING) takes the row lock, so a concurrent recomputation that deleted
    the flag waits for this transaction and then sees the new call rows. Quarter-hour order:
    concurrent writers take the locks in the same order."""
    quarters = sorted({floor_quarter(at) for at in entered})
    await session.execute(
        text(
            "INSERT INTO call_rollup_dirty (bucket_start) "
            "SELECT q FROM unnest(CAST(:quarters AS timestamptz[])) q ORDER BY q "
            "ON CONFLICT (bucket_start) DO UPDATE SET marked_at = now()"
        ),
        {"quarters": quarters},
    )


_RECOMPUTE_COUNTS = f"""
INSERT INTO call_rollup_15m (bucket_start, queue, {", ".join(COUNT_FIELDS)}, longest_wait)
SELECT bucket, rq, {", ".join(COUNT_FIELDS)}, longest_wait
FROM (SELECT bucket, rq, {{counts}} FROM ({{classified}}) cl GROUP BY bucket, rq) agg
"""

_RECOMPUTE_BUCKETS = f"""
INSERT INTO call_rollup_buckets
  (bucket_start, service_level_seconds, short_abandon_seconds, open_calls, settled_at,
   computed_at)
SELECT g.b, :sl, :sa, COALESCE(x.open_calls, 0), x.settled_at, CAST(:as_of AS timestamptz)
FROM unnest(CAST(:buckets AS timestamptz[])) AS g(b)
LEFT JOIN (
  SELECT {BUCKET_SQL.format(col="c.entered_at")} AS b,
         count(*) FILTER (WHERE c.ended_at IS NULL
                          OR {_SETTLE} > CAST(:as_of AS timestamptz)) AS open_calls,
         max({_SETTLE}) AS settled_at
  FROM calls c WHERE {{where}} GROUP BY 1
) x ON x.b = g.b
ON CONFLICT (bucket_start) DO UPDATE SET
  service_level_seconds = excluded.service_level_seconds,
  short_abandon_seconds = excluded.short_abandon_seconds,
  open_calls = excluded.open_calls, settled_at = excluded.settled_at,
  computed_at = excluded.computed_at
"""


async def _recompute(
    session: AsyncSession, buckets: list[datetime], as_of: datetime, th: Thresholds
) -> None:
    """Recompute these quarter hours from ``calls`` (in the caller's transaction)."""
    if not buckets:
        return
    buckets = sorted(set(buckets))
    where = (
        "c.direction = 'inbound' AND c.entered_at IS NOT NULL "
        "AND c.entered_at >= CAST(:lo AS timestamptz) AND c.entered_at < CAST(:hi AS timestamptz) "
        f"AND {BUCKET_SQL.format(col='c.entered_at')} = ANY(CAST(:buckets AS timestamptz[]))"
    )
    params = {
        "buckets": buckets,
        "lo": buckets[0],
        "hi": buckets[-1] + QUARTER,
        "as_of": as_of,
        "sl": th.service_level_seconds,
        "sa": th.short_abandon_seconds,
    }
    # The flags go first: a call written from now on flags its quarter hour again.
    await session.execute(
        text(f"DELETE FROM call_rollup_dirty WHERE bucket_start = {_ANY_BUCKET}"),
        {"buckets": buckets},
    )
    await session.execute(
        text(f"DELETE FROM call_rollup_15m WHERE bucket_start = {_ANY_BUCKET}"),
        {"buckets": buckets},
    )
    # The shared classification, with the queue carried along: "{bucket} AS bucket" in
    # CLASSIFIED_CALLS_SQL becomes "COALESCE(c.queue, '') AS rq, <quarter> AS bucket".
    classified = CLASSIFIED_CALLS_SQL.format(
        bucket="COALESCE(c.queue, '') AS rq, " + BUCKET_SQL.format(col="c.entered_at"),
        where=where + " AND c.entered_at <= CAST(:as_of AS timestamptz)",
    )
    await session.execute(
        text(_RECOMPUTE_COUNTS.format(counts=COUNTS_SQL, classified=classified)), params
    )
    await session.execute(text(_RECOMPUTE_BUCKETS.format(where=where)), params)


async def rebuild_rollup(
    uow_factory: UnitOfWorkFactory,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    thresholds: Thresholds | None = None,
    chunk: timedelta = timedelta(days=1),
) -> int:
    """Recompute every quarter hour overlapping [start, end), one day per transaction;
    returns the number of quarter hours."""
    th = thresholds or Thresholds()
    lo, hi = floor_quarter(start), ceil_quarter(end)
    total = 0
    while lo < hi:
        upto = min(hi, lo + chunk)
        buckets = []
        at = lo
        while at < upto:
            buckets.append(at)
            at += QUARTER
        async with uow_factory() as uow:
            await _recompute(uow.session, buckets, now, th)
            await uow.commit()
        total += len(buckets)
        lo = upto
    return total


async def refresh_dirty(
    uow_factory: UnitOfWorkFactory,
    *,
    now: datetime,
    thresholds: Thresholds | None = None,
    limit: int = 500,
    recent: timedelta = timedelta(hours=2),
) -> int:
    """The periodic job: recompute the quarter hours flagged since the last run, plus the
    recent ones never rolled up (quarter hours without calls get their zero row too)."""
    th = thresholds or Thresholds()
    async with uow_factory() as uow:
        flagged = list(
            (
                await uow.session.scalars(
                    text(
                        "SELECT bucket_start FROM call_rollup_dirty "
                        "ORDER BY bucket_start LIMIT :limit"
                    ),
                    {"limit": limit},
                )
            ).all()
        )
        missing = list(
            (
                await uow.session.scalars(
                    text(
                        "SELECT g.b FROM generate_series(CAST(:lo AS timestamptz), "
                        "CAST(:hi AS timestamptz), CAST('15 minutes' AS interval)) g(b) "
                        "WHERE NOT EXISTS (SELECT 1 FROM call_rollup_buckets r "
                        "                  WHERE r.bucket_start = g.b)"
                    ),
                    {"lo": floor_quarter(now - recent), "hi": floor_quarter(now) - QUARTER},
                )
            ).all()
        )
        buckets = flagged + missing
        await _recompute(uow.session, buckets, now, th)
        await uow.commit()
    return len(set(buckets))


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Piece:
    start: datetime
    end: datetime


def _offsets_are_quarters(tz: tzinfo, start: datetime, end: datetime) -> bool:
    for at in (start, end):
        offset = at.astimezone(tz).utcoffset() or timedelta(0)
        if offset % QUARTER:
            return False
    return True


async def rolled_up_call_metrics(
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
    """The same answer as :func:`~case_core.metrics.calls.call_metrics`, read from the
    roll-up wherever a quarter hour is final and from ``calls`` elsewhere."""
    th, as_of, zone = checked_arguments(start, end, interval, tz, settings, as_of, thresholds)
    from zoneinfo import ZoneInfo

    if not _offsets_are_quarters(ZoneInfo(zone), start, end):
        return await call_metrics(
            uow_factory, start, end, interval, tz, queue=queue, as_of=as_of, thresholds=th
        )
    async with uow_factory() as uow:
        # One snapshot for every read below: a quarter hour flagged between two statements
        # must not be counted twice or not at all.
        await uow.session.execute(
            text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        )
        spans = await _spans(uow.session, start, end, interval, zone)
        lo, hi = ceil_quarter(start), floor_quarter(end)
        unusable = await _unusable(uow.session, lo, hi, as_of, th) if lo < hi else []
        runs = _raw_runs(start, end, lo, hi, unusable)
        hull = None
        if len(runs) > 8:
            # Scattered gaps: one scan over their hull beats many small scans.
            hull = (runs[0][0].start, runs[-1][-1].end)
            runs = [_quarters(*hull)]
        starts = [s[0] for s in spans]
        totals = [CallCounts() for _ in spans]
        if lo < hi:
            for i, counts in await _rolled(uow.session, lo, hi, as_of, th, queue, starts, hull):
                totals[i] = totals[i] + counts
        for at, counts in await _raw(uow.session, runs, as_of, th, queue):
            i = bisect.bisect_right(starts, at) - 1
            totals[i] = totals[i] + counts
    intervals = [
        IntervalMetrics(s.astimezone(UTC), e.astimezone(UTC), totals[i], incomplete)
        for i, (s, e, incomplete) in enumerate(spans)
    ]
    return CallMetrics(start, end, str(interval), zone, as_of, th, queue, intervals)


async def _spans(
    session: AsyncSession, start: datetime, end: datetime, interval: str, zone: str
) -> list[tuple[datetime, datetime, bool]]:
    """The intervals of the period exactly as call_metrics builds them, with their outage
    flag; no call is read."""
    first_bucket = _bucket(interval, "(CAST(:start AS timestamptz) AT TIME ZONE :tz)")
    sql = f"""
WITH buckets AS (
  SELECT g.b AS local_start, g.b + CAST(CAST(:stride AS text) AS interval) AS local_end
  FROM generate_series({first_bucket},
                       CAST(:end AS timestamptz) AT TIME ZONE :tz,
                       CAST(CAST(:stride AS text) AS interval)) AS g(b)
  WHERE g.b < CAST(:end AS timestamptz) AT TIME ZONE :tz
),
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
       ) AS incomplete
FROM spans s ORDER BY s.local_start
"""
    params = {"start": start, "end": end, "tz": zone, "stride": STRIDES[interval]}
    rows = (await session.execute(text(sql), params)).all()
    return [(r.start_at, r.end_at, bool(r.incomplete)) for r in rows]


# A quarter hour of the roll-up that answers a query as of :as_of exactly.
_USABLE = """
b.open_calls = 0 AND (b.settled_at IS NULL OR b.settled_at <= CAST(:as_of AS timestamptz))
AND b.service_level_seconds = :sl AND b.short_abandon_seconds = :sa
AND NOT EXISTS (SELECT 1 FROM call_rollup_dirty d WHERE d.bucket_start = b.bucket_start)
"""


async def _unusable(
    session: AsyncSession, lo: datetime, hi: datetime, as_of: datetime, th: Thresholds
) -> list[datetime]:
    """The whole quarter hours of [lo, hi) that must be read from ``calls``."""
    sql = f"""
SELECT g.q FROM generate_series(CAST(:lo AS timestamptz), CAST(:hi AS timestamptz)
                                - CAST('15 minutes' AS interval),
                                CAST('15 minutes' AS interval)) AS g(q)
WHERE NOT EXISTS (SELECT 1 FROM call_rollup_buckets b WHERE b.bucket_start = g.q AND {_USABLE})
ORDER BY g.q
"""
    params = {"lo": lo, "hi": hi, "as_of": as_of, **_th(th)}
    return list((await session.scalars(text(sql), params)).all())


def _th(th: Thresholds) -> dict[str, int]:
    return {"sl": th.service_level_seconds, "sa": th.short_abandon_seconds}


async def _rolled(
    session: AsyncSession,
    lo: datetime,
    hi: datetime,
    as_of: datetime,
    th: Thresholds,
    queue: str | None,
    span_starts: list[datetime],
    hull: tuple[datetime, datetime] | None,
) -> list[tuple[int, CallCounts]]:
    """The usable quarter hours of [lo, hi) (outside ``hull``) summed per output interval."""
    sums = ", ".join(f"COALESCE(sum(r.{f}), 0) AS {f}" for f in COUNT_FIELDS)
    where = "r.bucket_start >= :lo AND r.bucket_start < :hi"
    params: dict[str, object] = {"lo": lo, "hi": hi, "as_of": as_of, "spans": span_starts}
    params |= _th(th)
    if queue is not None:
        where += " AND r.queue = :queue"
        params["queue"] = queue
    if hull is not None:
        where += " AND NOT (r.bucket_start >= :hull_lo AND r.bucket_start < :hull_hi)"
        params |= {"hull_lo": hull[0], "hull_hi": hull[1]}
    sql = f"""
SELECT width_bucket(r.bucket_start, CAST(:spans AS timestamptz[])) AS span,
       {sums}, max(r.longest_wait) AS longest_wait
FROM call_rollup_15m r JOIN call_rollup_buckets b ON b.bucket_start = r.bucket_start
WHERE {where} AND {_USABLE}
GROUP BY 1
"""
    rows = (await session.execute(text(sql), params)).all()
    return [(row.span - 1, counts_from_row(row)) for row in rows]


def _quarters(lo: datetime, hi: datetime) -> list[_Piece]:
    """[lo, hi) cut at quarter hours (the first and last pieces may be shorter)."""
    pieces = []
    at = lo
    while at < hi:
        nxt = min(hi, floor_quarter(at) + QUARTER)
        pieces.append(_Piece(at, nxt))
        at = nxt
    return pieces


def _raw_runs(
    start: datetime, end: datetime, lo: datetime, hi: datetime, unusable: list[datetime]
) -> list[list[_Piece]]:
    """What the roll-up does not answer, as runs of contiguous pieces: the cut edges of the
    period and the unusable quarter hours (each run is read with one range scan)."""
    pieces = []
    if lo >= hi:
        pieces = _quarters(start, end)
    else:
        pieces = _quarters(start, lo) + [_Piece(q, q + QUARTER) for q in unusable]
        pieces += _quarters(hi, end)
    runs: list[list[_Piece]] = []
    for piece in pieces:
        if runs and runs[-1][-1].end == piece.start:
            runs[-1].append(piece)
        else:
            runs.append([piece])
    return runs


async def _raw(
    session: AsyncSession,
    runs: list[list[_Piece]],
    as_of: datetime,
    th: Thresholds,
    queue: str | None,
) -> list[tuple[datetime, CallCounts]]:
    """Counts per piece from ``calls``, with the reference classification."""
    out: list[tuple[datetime, CallCounts]] = []
    for run in runs:
        bounds = [p.start for p in run] + [run[-1].end]
        where = (
            "c.direction = 'inbound' AND c.entered_at IS NOT NULL "
            "AND c.entered_at >= CAST(:start AS timestamptz) "
            "AND c.entered_at < CAST(:end AS timestamptz) "
            "AND c.entered_at <= CAST(:as_of AS timestamptz)"
        )
        if queue is not None:
            where += " AND c.queue = :queue"
        classified = CLASSIFIED_CALLS_SQL.format(
            bucket="width_bucket(c.entered_at, CAST(:bounds AS timestamptz[]))", where=where
        )
        sql = f"SELECT bucket, {COUNTS_SQL} FROM ({classified}) cl GROUP BY bucket"
        params: dict[str, object] = {
            "start": bounds[0],
            "end": bounds[-1],
            "as_of": as_of,
            "bounds": bounds,
            "sl": th.service_level_seconds,
            "sa": th.short_abandon_seconds,
        }
        if queue is not None:
            params["queue"] = queue
        for row in (await session.execute(text(sql), params)).all():
            # width_bucket numbers from 1; pieces of a hull outside its runs are never hit.
            out.append((bounds[row.bucket - 1], counts_from_row(row)))
    return out
