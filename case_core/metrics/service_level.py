"""Service level: the ONE place where every figure's formula is defined. Pure, no I/O.

Classifying a queued call (one row of ``calls`` with ``direction = 'inbound'`` and an
``entered_at``), evaluated *as of* a moment ``as_of`` (by default the end of the period asked
for, so a published period never changes when later calls end):

- **wait** = ``hold_seconds`` (Asterisk's own ``HoldTime`` from AgentConnect or
  QueueCallerAbandon: whole seconds, truncated), else the time from ``entered_at`` to
  ``answered_at`` / ``ended_at``; for a call still waiting, ``as_of - entered_at``.
- **offered**: every call that entered the queue in the interval (calls are bucketed by
  ``entered_at``, never by their outcome time).
- **answered**: ``answered_at <= as_of``.
- **abandoned**: not answered, ``abandoned`` is true and the abandon happened by ``as_of``.
  A queue timeout (``EXITWITHTIMEOUT``) is an abandon too, as app_queue counts it.
- **short abandon**: abandoned with ``wait < short_abandon_seconds`` (default 5 s; 0 disables).
- **waiting**: neither answered nor abandoned and not ended by ``as_of`` (still in queue at the
  end of the period). **other**: ended without answer or abandon (e.g. ``end_unknown`` after
  an AMI reconnect). Both are offered, never answered nor abandoned.
- **answered within threshold**: answered with ``wait <= service_level_seconds`` (default 15 s;
  ``<=`` like app_queue, which tests ``holdtime <= servicelevel`` at connect).
- **abandoned within threshold**: abandoned with ``wait <= service_level_seconds`` (app_queue's
  ``callsabandonedinsl``, also ``<=``).

Formulas (``FORMULAS``; each figure carries its id and Spanish label):

=================  =======================================================================
``sl_311``         HEADLINE. answered-in-threshold / (answered + abandoned - short abandons).
                   Waiting and "other" calls are in neither part.
``sl_answered``    answered-in-threshold / answered. Asterisk's ``ServicelevelPerf``.
``sl_asterisk2``   (answered-in-threshold + abandoned-in-threshold) / (answered + abandoned).
                   Asterisk's ``ServicelevelPerf2``; short abandons count like any abandon.
``sl_offered``     answered-in-threshold / offered. Waiting and "other" calls count in the
                   denominator (they were offered and not answered in time so far).
=================  =======================================================================

A figure with a zero denominator is ``None`` ("sin llamadas"), never 0 % nor 100 %;
:func:`asterisk_format` prints ``0.0`` there, as QueueStatus does.

Differences from app_queue that reconciliation must respect: Asterisk adds a call to
``callscompleted`` only when the answered call ENDS (and tests the threshold at connect), and
its counters cover the time since the last reload/reset; we count a call as answered from
``answered_at`` and over any period. For calls that have ended, the figures are equal.
Asterisk computes the percentages in single precision and prints them with ``%2.1f``;
:func:`asterisk_format` does the same.

Average speed of answer = mean wait of answered calls. Longest wait = max wait of any offered
call, including abandoned calls and calls still waiting. Average handle time = mean
``talk_seconds`` of answered calls whose talk time is known (after-call work is not tracked,
so handle time = talk time).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

HEADLINE = "sl_311"


@dataclass(frozen=True)
class Formula:
    """A service-level formula: id, Spanish label and Spanish description."""

    id: str
    label: str
    description: str


FORMULAS: dict[str, Formula] = {
    f.id: f
    for f in (
        Formula(
            "sl_311",
            "Nivel de servicio 3-1-1",
            "Llamadas atendidas en {sl} s o menos ÷ (atendidas + abandonadas después de {sa} s)",
        ),
        Formula(
            "sl_answered",
            "Nivel de servicio sobre atendidas (ServicelevelPerf de Asterisk)",
            "Llamadas atendidas en {sl} s o menos ÷ llamadas atendidas",
        ),
        Formula(
            "sl_asterisk2",
            "Nivel de servicio con abandonos (ServicelevelPerf2 de Asterisk)",
            "(Atendidas en {sl} s o menos + abandonadas en {sl} s o menos) ÷ "
            "(atendidas + abandonadas)",
        ),
        Formula(
            "sl_offered",
            "Nivel de servicio sobre ofrecidas",
            "Llamadas atendidas en {sl} s o menos ÷ llamadas ofrecidas",
        ),
    )
}


@dataclass(frozen=True)
class Thresholds:
    """Service-level threshold and short-abandon threshold, in seconds."""

    service_level_seconds: int = 15
    short_abandon_seconds: int = 5

    @classmethod
    def from_settings(cls, settings: object) -> Thresholds:
        """Read ``service_level_seconds`` and ``short_abandon_seconds`` from Settings."""
        return cls(
            int(getattr(settings, "service_level_seconds", 15)),
            int(getattr(settings, "short_abandon_seconds", 5)),
        )


@dataclass(frozen=True)
class CallCounts:
    """Counts of one interval (or a whole period); the inputs of every formula."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    answered_in_threshold: int = 0
    abandoned_in_threshold: int = 0
    waiting: int = 0
    other: int = 0
    wait_answered_sum: float = 0.0
    talk_sum: float = 0.0
    talk_count: int = 0
    longest_wait: float | None = None

    def __add__(self, other: CallCounts) -> CallCounts:
        waits = [w for w in (self.longest_wait, other.longest_wait) if w is not None]
        return CallCounts(
            offered=self.offered + other.offered,
            answered=self.answered + other.answered,
            abandoned=self.abandoned + other.abandoned,
            short_abandons=self.short_abandons + other.short_abandons,
            answered_in_threshold=self.answered_in_threshold + other.answered_in_threshold,
            abandoned_in_threshold=self.abandoned_in_threshold + other.abandoned_in_threshold,
            waiting=self.waiting + other.waiting,
            other=self.other + other.other,
            wait_answered_sum=self.wait_answered_sum + other.wait_answered_sum,
            talk_sum=self.talk_sum + other.talk_sum,
            talk_count=self.talk_count + other.talk_count,
            longest_wait=max(waits) if waits else None,
        )

    @property
    def average_speed_of_answer(self) -> float | None:
        """Mean wait of answered calls, seconds."""
        return self.wait_answered_sum / self.answered if self.answered else None

    @property
    def average_handle_time(self) -> float | None:
        """Mean talk time of answered calls with a known talk time, seconds."""
        return self.talk_sum / self.talk_count if self.talk_count else None


@dataclass(frozen=True)
class ServiceLevel:
    """One service-level figure: which formula, its parts and the percentage (None if 0/0)."""

    formula: str
    label: str
    numerator: int
    denominator: int

    @property
    def percent(self) -> float | None:
        """100 × numerator ÷ denominator, or None without calls."""
        if not self.denominator:
            return None
        return 100.0 * self.numerator / self.denominator

    def asterisk(self) -> str:
        """The percentage as app_queue prints it (float, ``%2.1f``; ``0.0`` without calls)."""
        return asterisk_format(self.numerator, self.denominator)


def _parts(formula: str, c: CallCounts) -> tuple[int, int]:
    if formula == "sl_311":
        return c.answered_in_threshold, c.answered + c.abandoned - c.short_abandons
    if formula == "sl_answered":
        return c.answered_in_threshold, c.answered
    if formula == "sl_asterisk2":
        return c.answered_in_threshold + c.abandoned_in_threshold, c.answered + c.abandoned
    if formula == "sl_offered":
        return c.answered_in_threshold, c.offered
    raise KeyError(f"unknown service-level formula {formula!r}")


def service_level(formula: str, counts: CallCounts) -> ServiceLevel:
    """The figure of ``formula`` (an id of FORMULAS) for ``counts``."""
    numerator, denominator = _parts(formula, counts)
    return ServiceLevel(formula, FORMULAS[formula].label, numerator, denominator)


def all_service_levels(counts: CallCounts) -> dict[str, ServiceLevel]:
    """Every formula's figure, keyed by formula id (headline first)."""
    return {fid: service_level(fid, counts) for fid in FORMULAS}


def describe(formula: str, thresholds: Thresholds) -> str:
    """The Spanish description of a formula with the thresholds filled in."""
    return FORMULAS[formula].description.format(
        sl=thresholds.service_level_seconds, sa=thresholds.short_abandon_seconds
    )


def _f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def asterisk_format(numerator: int, denominator: int) -> str:
    """``ServicelevelPerf`` text: app_queue's single-precision ratio printed with ``%2.1f``."""
    if denominator <= 0:
        return "0.0"
    value = _f32(100 * _f32(_f32(float(numerator)) / _f32(float(denominator))))
    return "%2.1f" % value  # noqa: UP031 (the same printf format as app_queue)


# --- Reference classification in plain Python (tests and the benchmark compare SQL to it) ---


@dataclass(frozen=True)
class QueuedCall:
    """The columns of ``calls`` that the formulas read."""

    entered_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    hold_seconds: int | None = None
    talk_seconds: int | None = None
    abandoned: bool = False


def _seconds(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def classify(call: QueuedCall, as_of: datetime, thresholds: Thresholds) -> CallCounts:
    """Counts contributed by one call (entered before ``as_of``) as of ``as_of``."""
    sl = thresholds.service_level_seconds
    if call.answered_at is not None and call.answered_at <= as_of:
        wait = (
            float(call.hold_seconds)
            if call.hold_seconds is not None
            else _seconds(call.entered_at, call.answered_at)
        )
        talk = call.talk_seconds
        return CallCounts(
            offered=1,
            answered=1,
            answered_in_threshold=int(wait <= sl),
            wait_answered_sum=wait,
            talk_sum=float(talk or 0),
            talk_count=int(talk is not None),
            longest_wait=wait,
        )
    if call.abandoned:
        # The abandon happened at entered_at + HoldTime (or at the hangup when unknown).
        if call.hold_seconds is not None:
            abandon_at = call.entered_at + timedelta(seconds=call.hold_seconds)
            wait = float(call.hold_seconds)
        else:
            abandon_at = call.ended_at or call.entered_at
            wait = _seconds(call.entered_at, abandon_at)
        if abandon_at <= as_of:
            return CallCounts(
                offered=1,
                abandoned=1,
                short_abandons=int(wait < thresholds.short_abandon_seconds),
                abandoned_in_threshold=int(wait <= sl),
                longest_wait=wait,
            )
    if call.ended_at is None or call.ended_at > as_of:
        return CallCounts(offered=1, waiting=1, longest_wait=_seconds(call.entered_at, as_of))
    wait = (
        float(call.hold_seconds)
        if call.hold_seconds is not None
        else _seconds(call.entered_at, call.ended_at)
    )
    return CallCounts(offered=1, other=1, longest_wait=wait)


def count_calls(calls: Iterable[QueuedCall], as_of: datetime, thresholds: Thresholds) -> CallCounts:
    """Sum of :func:`classify` over calls: the plain-Python pass the SQL must agree with."""
    total = CallCounts()
    for call in calls:
        total = total + classify(call, as_of, thresholds)
    return total


# --- The same classification in SQL (PostgreSQL); calls.py wraps it in its interval query ---

# Inner rows: one per queued call matching ``{where}``; ``{bucket}`` is the interval key.
# Bind parameters: :as_of (timestamptz) plus whatever ``{where}``/``{bucket}`` use.
CLASSIFIED_CALLS_SQL = """
SELECT k.*,
       CASE
         WHEN k.ans THEN COALESCE(k.hold_seconds::float8,
                                  EXTRACT(EPOCH FROM k.answered_at - k.entered_at)::float8)
         WHEN k.abn THEN COALESCE(k.hold_seconds::float8,
                                  EXTRACT(EPOCH FROM COALESCE(k.ended_at, k.entered_at)
                                                     - k.entered_at)::float8)
         WHEN NOT k.ended THEN EXTRACT(EPOCH FROM CAST(:as_of AS timestamptz)
                                                  - k.entered_at)::float8
         ELSE COALESCE(k.hold_seconds::float8,
                       EXTRACT(EPOCH FROM k.ended_at - k.entered_at)::float8)
       END AS wait
FROM (
  SELECT j.*, (NOT j.ans AND j.abn_raw) AS abn
  FROM (
    SELECT {bucket} AS bucket,
           c.entered_at, c.answered_at, c.ended_at, c.hold_seconds, c.talk_seconds,
           (c.answered_at IS NOT NULL
            AND c.answered_at <= CAST(:as_of AS timestamptz)) AS ans,
           (c.abandoned
            AND COALESCE(c.entered_at + make_interval(secs => c.hold_seconds),
                         c.ended_at, c.entered_at) <= CAST(:as_of AS timestamptz)) AS abn_raw,
           (c.ended_at IS NOT NULL AND c.ended_at <= CAST(:as_of AS timestamptz)) AS ended
    FROM calls c
    WHERE {where}
  ) j
) k
"""

# Aggregates over classified rows, named like the fields of CallCounts.
# Bind parameters: :sl (service_level_seconds), :sa (short_abandon_seconds).
COUNTS_SQL = """
count(*) AS offered,
count(*) FILTER (WHERE ans) AS answered,
count(*) FILTER (WHERE abn) AS abandoned,
count(*) FILTER (WHERE abn AND wait < CAST(:sa AS float8)) AS short_abandons,
count(*) FILTER (WHERE ans AND wait <= CAST(:sl AS float8)) AS answered_in_threshold,
count(*) FILTER (WHERE abn AND wait <= CAST(:sl AS float8)) AS abandoned_in_threshold,
count(*) FILTER (WHERE NOT ans AND NOT abn AND NOT ended) AS waiting,
count(*) FILTER (WHERE NOT ans AND NOT abn AND ended) AS other,
COALESCE(sum(wait) FILTER (WHERE ans), 0)::float8 AS wait_answered_sum,
COALESCE(sum(talk_seconds) FILTER (WHERE ans), 0)::float8 AS talk_sum,
count(talk_seconds) FILTER (WHERE ans) AS talk_count,
max(wait) AS longest_wait
"""


def counts_from_row(row: object) -> CallCounts:
    """CallCounts from a result row carrying the COUNTS_SQL columns (NULLs as zero)."""
    m = row._mapping  # type: ignore[attr-defined]
    longest = m["longest_wait"]
    return CallCounts(
        offered=int(m["offered"] or 0),
        answered=int(m["answered"] or 0),
        abandoned=int(m["abandoned"] or 0),
        short_abandons=int(m["short_abandons"] or 0),
        answered_in_threshold=int(m["answered_in_threshold"] or 0),
        abandoned_in_threshold=int(m["abandoned_in_threshold"] or 0),
        waiting=int(m["waiting"] or 0),
        other=int(m["other"] or 0),
        wait_answered_sum=float(m["wait_answered_sum"] or 0),
        talk_sum=float(m["talk_sum"] or 0),
        talk_count=int(m["talk_count"] or 0),
        longest_wait=None if longest is None else float(longest),
    )
