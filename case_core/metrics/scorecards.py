"""Entity scorecards: how entities answer the cases 3-1-1 sends them. One PostgreSQL query.

The cohort is the cases the entity RECEIVED in [start, end): ``assigned_at`` (its opening,
or the reassignment that gave it to the entity that holds it now). Consultas 3-1-1 resolved
at first contact never reached an entity and are not in any scorecard; a case returned to
3-1-1 (``devuelto_311``) is held by 3-1-1, not by the entity that returned it, and counts
again for the entity it is reassigned to, whose clocks run from the reassignment. Everything
is evaluated as of ``as_of`` (default: the end of the period, or now if that is earlier), so
a past month's figures are reproducible (except that the holder is the current one).
Definitions (also in ``SCORECARD_DEFINITIONS``, in Spanish, for every page):

- ``received``: cases of the cohort.
- ``closed_within_30d``: closed (``closed_at <= as_of``) no later than the end of the local
  calendar day 30 days after the entity received it (the same rule as
  ``case_core.domain.sla.due_at``: the Constitution's 30 days). ``closed_30d_decided`` =
  cases whose 30-day outcome is known at ``as_of``: closed, or open with the 30 days over.
  ``closed_within_30d_pct`` =
  closed_within_30d ÷ closed_30d_decided; cases still within their 30 days are in neither.
- ``first_action_within_24h``: the entity's first action (``first_action_at``, or the closing
  if it came first) no later than 24 h after the entity received the case.
  ``first_action_decided`` = cases with an action by ``as_of`` or whose 24 h are over.
  Share = within ÷ decided.
- ``open_past_due``: cases of the group (opened at any time before ``as_of``, not only the
  cohort) still open at ``as_of`` with ``due_at`` before ``as_of``: the backlog.
- ``satisfaction_avg``: mean of survey answers to question ``satisfaccion`` ('1'..'5')
  given by ``as_of`` for cohort cases; ``satisfaction_answers`` how many.
- ``callbacks_completed``: callbacks with status ``completada`` for cohort cases.
- ``below_goal``: ``closed_within_30d_pct`` below 70 % (no flag when nothing is decided yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal

from sqlalchemy import text

from case_core.db.uow import UnitOfWorkFactory
from case_core.metrics.calls import tz_name

GOAL_CLOSED_30D_PERCENT = 70.0
LEGAL_DAYS = 30
FIRST_ACTION_HOURS = 24

GroupBy = Literal["entity", "province", "district", "entity_district", "type", "type_district"]

SCORECARD_DEFINITIONS: dict[str, str] = {
    "received": (
        "Casos recibidos: casos que la entidad recibió en el período (al registrarse o al "
        "serle reasignados). No se cuentan las consultas resueltas por el 3-1-1 en el primer "
        "contacto ni los casos devueltos al 3-1-1 mientras no se reasignen."
    ),
    "closed_within_30d": (
        "Cerrados en 30 días: casos cerrados a más tardar al final del día calendario 30 "
        "después de que la entidad los recibió (hora de Panamá). El porcentaje se calcula "
        "sobre los casos cuyo resultado ya se conoce (cerrados, o abiertos con el plazo de "
        "30 días vencido); los casos que aún están dentro de sus 30 días no se cuentan."
    ),
    "first_action_within_24h": (
        "Primera acción en 24 horas: la entidad actuó (o cerró el caso) dentro de las 24 "
        "horas siguientes a recibirlo, sobre los casos cuyo resultado ya se conoce."
    ),
    "open_past_due": (
        "Abiertos vencidos: casos de la entidad, abiertos en cualquier fecha, que seguían "
        "abiertos con la fecha de vencimiento superada a la fecha de corte."
    ),
    "satisfaction_avg": (
        "Satisfacción: promedio de las respuestas (1 a 5) a la encuesta telefónica de "
        "satisfacción de los casos del período."
    ),
    "callbacks_completed": "Llamadas de seguimiento completadas para casos del período.",
    "goal": "Meta: 70 % o más de casos cerrados en 30 días.",
}

_GROUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "entity": ("entity_id",),
    "province": ("province",),
    "district": ("province", "district"),
    "entity_district": ("entity_id", "province", "district"),
    "type": ("type",),
    "type_district": ("type", "province", "district"),
}

_SQL = """
WITH held AS (
  -- the cases an entity holds, with the moment it received them
  SELECT k.*, COALESCE(k.assigned_at, k.opened_at) AS received_at
  FROM cases k
  WHERE NOT k.resolved_at_first_contact AND k.status <> 'devuelto_311'
),
cohort AS (
  SELECT k.id, k.entity_id, k.province, k.district, k.type, k.received_at,
         CASE WHEN k.closed_at <= :as_of THEN k.closed_at END AS closed_at,
         ((date_trunc('day', k.received_at AT TIME ZONE :tz) + interval '{days1} days')
           AT TIME ZONE :tz) AS legal_deadline,
         k.received_at + interval '{hours} hours' AS action_deadline,
         LEAST(CASE WHEN k.first_action_at <= :as_of THEN k.first_action_at END,
               CASE WHEN k.closed_at <= :as_of THEN k.closed_at END) AS acted_at
  FROM held k
  WHERE k.received_at >= :start AND k.received_at < :end AND k.received_at <= :as_of
),
case_figures AS (
  SELECT {group_cols},
         count(*) AS received,
         count(*) FILTER (WHERE closed_at IS NOT NULL) AS closed,
         count(*) FILTER (WHERE closed_at < legal_deadline) AS closed_within_30d,
         count(*) FILTER (WHERE closed_at IS NOT NULL OR legal_deadline <= :as_of)
           AS closed_30d_decided,
         count(*) FILTER (WHERE acted_at <= action_deadline) AS first_action_within_24h,
         count(*) FILTER (WHERE acted_at IS NOT NULL OR action_deadline <= :as_of)
           AS first_action_decided
  FROM cohort GROUP BY {group_cols}
),
survey AS (
  SELECT {group_cols_c}, count(*) AS satisfaction_answers,
         avg(s.answer::int)::float8 AS satisfaction_avg
  FROM survey_answers s JOIN cohort c ON c.id = s.case_id
  WHERE s.question = 'satisfaccion' AND s.answer IN ('1','2','3','4','5')
    AND s.answered_at <= :as_of
  GROUP BY {group_cols_c}
),
callbacks_done AS (
  SELECT {group_cols_c}, count(*) AS callbacks_completed
  FROM callbacks b JOIN cohort c ON c.id = b.case_id
  WHERE b.status = 'completada'
  GROUP BY {group_cols_c}
),
backlog AS (
  SELECT {group_cols_k}, count(*) AS open_past_due
  FROM held k
  WHERE k.received_at <= :as_of AND (k.closed_at IS NULL OR k.closed_at > :as_of)
    AND k.due_at < :as_of
  GROUP BY {group_cols_k}
),
groups AS (
  {groups_source}
)
SELECT {select_keys},
       COALESCE(f.received, 0) AS received,
       COALESCE(f.closed, 0) AS closed,
       COALESCE(f.closed_within_30d, 0) AS closed_within_30d,
       COALESCE(f.closed_30d_decided, 0) AS closed_30d_decided,
       COALESCE(f.first_action_within_24h, 0) AS first_action_within_24h,
       COALESCE(f.first_action_decided, 0) AS first_action_decided,
       COALESCE(b.open_past_due, 0) AS open_past_due,
       COALESCE(s.satisfaction_answers, 0) AS satisfaction_answers,
       s.satisfaction_avg,
       COALESCE(cb.callbacks_completed, 0) AS callbacks_completed
FROM groups g
LEFT JOIN case_figures f ON {join_f}
LEFT JOIN survey s ON {join_s}
LEFT JOIN callbacks_done cb ON {join_cb}
LEFT JOIN backlog b ON {join_b}
{entity_join}
ORDER BY {order}
"""


def _build_sql(by: str, entity_id: int | None) -> str:
    cols = _GROUP_COLUMNS[by]

    def join(alias: str) -> str:
        return " AND ".join(f"{alias}.{c} IS NOT DISTINCT FROM g.{c}" for c in cols)

    union_parts = [
        f"SELECT {', '.join(cols)} FROM case_figures",
        f"SELECT {', '.join(cols)} FROM backlog",
    ]
    if by == "entity":
        # Every active entity appears, with zeros when it received nothing.
        union_parts.append("SELECT id AS entity_id FROM entities WHERE active")
    groups_source = "\n  UNION\n  ".join(union_parts)
    if entity_id is not None and "entity_id" in cols:
        groups_source = f"SELECT * FROM ({groups_source}) u WHERE u.entity_id = :entity_id"
    has_entity = "entity_id" in cols
    keys = [f"g.{c}" for c in cols]
    if has_entity:
        keys += ["e.code AS entity_code", "e.name AS entity_name", "e.short_name AS entity_short"]
    order = ", ".join(
        (["e.name"] if has_entity else []) + [f"g.{c} NULLS LAST" for c in cols if c != "entity_id"]
    )
    return _SQL.format(
        days1=LEGAL_DAYS + 1,
        hours=FIRST_ACTION_HOURS,
        group_cols=", ".join(cols),
        group_cols_c=", ".join(f"c.{c}" for c in cols),
        group_cols_k=", ".join(f"k.{c}" for c in cols),
        groups_source=groups_source,
        select_keys=", ".join(keys),
        join_f=join("f"),
        join_s=join("s"),
        join_cb=join("cb"),
        join_b=join("b"),
        entity_join="JOIN entities e ON e.id = g.entity_id" if has_entity else "",
        order=order,
    )


@dataclass(frozen=True)
class Scorecard:
    """One group's figures (an entity, a province, a district, or an entity in a district)."""

    entity_id: int | None
    entity_code: str | None
    entity_name: str | None
    province: str | None
    district: str | None
    received: int
    closed: int
    closed_within_30d: int
    closed_30d_decided: int
    first_action_within_24h: int
    first_action_decided: int
    open_past_due: int
    satisfaction_answers: int
    satisfaction_avg: float | None
    callbacks_completed: int
    case_type: str | None = None  # when grouped by type

    @property
    def closed_within_30d_percent(self) -> float | None:
        """closed_within_30d ÷ closed_30d_decided × 100, None when nothing is decided."""
        if not self.closed_30d_decided:
            return None
        return 100.0 * self.closed_within_30d / self.closed_30d_decided

    @property
    def first_action_within_24h_percent(self) -> float | None:
        """first_action_within_24h ÷ first_action_decided × 100, None when none decided."""
        if not self.first_action_decided:
            return None
        return 100.0 * self.first_action_within_24h / self.first_action_decided

    @property
    def below_goal(self) -> bool:
        """True when the 30-day share is known and below the 70 % goal."""
        pct = self.closed_within_30d_percent
        return pct is not None and pct < GOAL_CLOSED_30D_PERCENT


async def scorecards(
    uow_factory: UnitOfWorkFactory,
    start: datetime,
    end: datetime,
    tz: tzinfo | str,
    *,
    by: GroupBy = "entity",
    as_of: datetime | None = None,
    now: datetime | None = None,
    entity_id: int | None = None,
) -> list[Scorecard]:
    """Scorecards of cases opened in [start, end), grouped ``by``, evaluated as of ``as_of``.

    ``as_of`` defaults to ``min(end, now)`` (``now`` defaults to the current time).
    """
    if by not in _GROUP_COLUMNS:
        raise ValueError(f"by must be one of {', '.join(_GROUP_COLUMNS)}; got {by!r}")
    for moment in (start, end):
        if moment.tzinfo is None:
            raise ValueError("scorecards needs time-zone-aware datetimes")
    if as_of is None:
        as_of = min(end, now or datetime.now(UTC))
    params: dict[str, object] = {
        "start": start.astimezone(UTC),
        "end": end.astimezone(UTC),
        "as_of": as_of.astimezone(UTC),
        "tz": tz_name(tz),
    }
    if entity_id is not None:
        params["entity_id"] = entity_id
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(_build_sql(by, entity_id)), params)).all()
    result = []
    for r in rows:
        m = r._mapping
        result.append(
            Scorecard(
                entity_id=m.get("entity_id"),
                entity_code=m.get("entity_code"),
                entity_name=m.get("entity_name"),
                province=m.get("province"),
                district=m.get("district"),
                received=int(m["received"]),
                closed=int(m["closed"]),
                closed_within_30d=int(m["closed_within_30d"]),
                closed_30d_decided=int(m["closed_30d_decided"]),
                first_action_within_24h=int(m["first_action_within_24h"]),
                first_action_decided=int(m["first_action_decided"]),
                open_past_due=int(m["open_past_due"]),
                satisfaction_answers=int(m["satisfaction_answers"]),
                satisfaction_avg=(
                    None if m["satisfaction_avg"] is None else float(m["satisfaction_avg"])
                ),
                callbacks_completed=int(m["callbacks_completed"]),
                case_type=m.get("type"),
            )
        )
    return result
