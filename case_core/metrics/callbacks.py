"""Centro de Contactos figures: did every citizen hear back in time? Computed in PostgreSQL.

Per entity (of the case) and overall, for a period [start, end), evaluated as of ``as_of``
(default ``min(end, now)``) so a past period's figures are reproducible:

- Satisfaction call within 3 days: the cohort is the cases whose (last) closing
  ``closed_at`` falls in the period. A case counts when a ``satisfaccion`` callback of it is
  ``completada`` at a moment in [closed_at, closed_at + 3 days] (and <= as_of). The share is
  over the *decided* cases: counted ones, plus those whose 3 days are over at ``as_of``;
  cases still inside their 3 days and not yet called are in neither (``pending``).
- Follow-up within 30 days: the cohort is the cases opened in the period; a case counts when a
  ``seguimiento`` callback of it is ``completada`` in [opened_at, opened_at + 30 days]. Same
  decided/pending rule. Every case is in the cohort, also those without a phone or consent
  and those closed before their follow-up (they get the satisfaction call instead).
- Satisfaction average: mean of the survey answers to ``satisfaccion`` ('1'..'5') given in
  the period (``answered_at``), by the entity of the answer's case.

The moment a callback was completed is its ``updated_at``: ``completada`` is final, and no
service touches a completed row again (see ``case_core.services.callbacks``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from case_core.db.uow import UnitOfWorkFactory

SATISFACTION_WITHIN = timedelta(days=3)
FOLLOWUP_WITHIN = timedelta(days=30)

CALLBACK_FIGURE_DEFINITIONS: dict[str, str] = {
    "satisfaction": (
        "Encuesta de satisfacción en 3 días: casos cerrados en el período con una llamada de "
        "satisfacción completada dentro de los 3 días siguientes al cierre. El porcentaje se "
        "calcula sobre los casos cuyo resultado ya se conoce; los cerrados hace menos de 3 "
        "días y aún sin llamada quedan pendientes."
    ),
    "followup": (
        "Seguimiento en 30 días: casos abiertos en el período con una llamada de seguimiento "
        "completada dentro de los 30 días siguientes a la apertura, sobre los casos cuyo "
        "resultado ya se conoce. Incluye los casos sin teléfono o sin consentimiento y los "
        "cerrados antes del seguimiento (reciben la llamada de satisfacción)."
    ),
    "average": (
        "Satisfacción promedio: promedio de las respuestas (1 a 5) dadas en el período a la "
        "pregunta de satisfacción, por entidad del caso."
    ),
}

_SQL = """
WITH closed AS (
  SELECT k.entity_id,
         EXISTS (SELECT 1 FROM callbacks b
                 WHERE b.case_id = k.id AND b.kind = 'satisfaccion' AND b.status = 'completada'
                   AND b.updated_at >= k.closed_at
                   AND b.updated_at <= k.closed_at + :sat_within
                   AND b.updated_at <= :as_of) AS done,
         k.closed_at + :sat_within <= :as_of AS over
  FROM cases k
  WHERE k.closed_at >= :start AND k.closed_at < :end AND k.closed_at <= :as_of
),
opened AS (
  SELECT k.entity_id,
         EXISTS (SELECT 1 FROM callbacks b
                 WHERE b.case_id = k.id AND b.kind = 'seguimiento' AND b.status = 'completada'
                   AND b.updated_at >= k.opened_at
                   AND b.updated_at <= k.opened_at + :fu_within
                   AND b.updated_at <= :as_of) AS done,
         k.opened_at + :fu_within <= :as_of AS over
  FROM cases k
  WHERE k.opened_at >= :start AND k.opened_at < :end AND k.opened_at <= :as_of
),
answers AS (
  SELECT k.entity_id, s.answer::int AS score
  FROM survey_answers s JOIN cases k ON k.id = s.case_id
  WHERE s.question = 'satisfaccion' AND s.answer IN ('1','2','3','4','5')
    AND s.answered_at >= :start AND s.answered_at < :end AND s.answered_at <= :as_of
),
sat AS (
  SELECT entity_id, GROUPING(entity_id) AS total, count(*) AS cohort,
         count(*) FILTER (WHERE done) AS done,
         count(*) FILTER (WHERE done OR over) AS decided
  FROM closed GROUP BY GROUPING SETS ((entity_id), ())
),
fu AS (
  SELECT entity_id, GROUPING(entity_id) AS total, count(*) AS cohort,
         count(*) FILTER (WHERE done) AS done,
         count(*) FILTER (WHERE done OR over) AS decided
  FROM opened GROUP BY GROUPING SETS ((entity_id), ())
),
avg_ AS (
  SELECT entity_id, GROUPING(entity_id) AS total, count(*) AS answers,
         avg(score)::float8 AS average
  FROM answers GROUP BY GROUPING SETS ((entity_id), ())
),
groups AS (
  SELECT id AS entity_id, 0 AS total FROM entities WHERE active
  UNION SELECT entity_id, total FROM sat
  UNION SELECT entity_id, total FROM fu
  UNION SELECT entity_id, total FROM avg_
  UNION SELECT NULL, 1
)
SELECT g.entity_id, g.total = 1 AS overall, e.code, e.name,
       COALESCE(sat.cohort, 0), COALESCE(sat.done, 0), COALESCE(sat.decided, 0),
       COALESCE(fu.cohort, 0), COALESCE(fu.done, 0), COALESCE(fu.decided, 0),
       COALESCE(avg_.answers, 0), avg_.average
FROM groups g
LEFT JOIN entities e ON e.id = g.entity_id
LEFT JOIN sat ON sat.total = g.total AND sat.entity_id IS NOT DISTINCT FROM g.entity_id
LEFT JOIN fu ON fu.total = g.total AND fu.entity_id IS NOT DISTINCT FROM g.entity_id
LEFT JOIN avg_ ON avg_.total = g.total AND avg_.entity_id IS NOT DISTINCT FROM g.entity_id
ORDER BY g.total DESC, e.name
"""


@dataclass(frozen=True)
class CallbackFigures:
    """The figures of one entity, or of all entities (``overall``, ``entity_id`` None)."""

    entity_id: int | None
    entity_code: str | None
    entity_name: str | None
    overall: bool
    closed_cases: int
    satisfaction_done: int
    satisfaction_decided: int
    opened_cases: int
    followup_done: int
    followup_decided: int
    satisfaction_answers: int
    satisfaction_avg: float | None

    @property
    def satisfaction_percent(self) -> float | None:
        """satisfaction_done ÷ satisfaction_decided × 100; None when nothing is decided."""
        return _pct(self.satisfaction_done, self.satisfaction_decided)

    @property
    def followup_percent(self) -> float | None:
        """followup_done ÷ followup_decided × 100; None when nothing is decided."""
        return _pct(self.followup_done, self.followup_decided)

    @property
    def satisfaction_pending(self) -> int:
        return self.closed_cases - self.satisfaction_decided

    @property
    def followup_pending(self) -> int:
        return self.opened_cases - self.followup_decided


def _pct(part: int, whole: int) -> float | None:
    return None if not whole else 100.0 * part / whole


async def callback_figures(
    uow_factory: UnitOfWorkFactory,
    start: datetime,
    end: datetime,
    *,
    as_of: datetime | None = None,
    now: datetime | None = None,
    satisfaction_within: timedelta = SATISFACTION_WITHIN,
    followup_within: timedelta = FOLLOWUP_WITHIN,
) -> list[CallbackFigures]:
    """The overall figures first, then one row per entity (every active entity, by name)."""
    for moment in (start, end):
        if moment.tzinfo is None:
            raise ValueError("callback_figures needs time-zone-aware datetimes")
    if as_of is None:
        as_of = min(end, now or datetime.now(UTC))
    params = {
        "start": start.astimezone(UTC),
        "end": end.astimezone(UTC),
        "as_of": as_of.astimezone(UTC),
        "sat_within": satisfaction_within,
        "fu_within": followup_within,
    }
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(_SQL), params)).all()
    return [
        CallbackFigures(
            entity_id=r[0],
            entity_code=r[2],
            entity_name=r[3],
            overall=bool(r[1]),
            closed_cases=r[4],
            satisfaction_done=r[5],
            satisfaction_decided=r[6],
            opened_cases=r[7],
            followup_done=r[8],
            followup_decided=r[9],
            satisfaction_answers=r[10],
            satisfaction_avg=r[11],
        )
        for r in rows
    ]
