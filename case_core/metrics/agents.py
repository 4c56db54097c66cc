"""Agent figures for a period, computed in PostgreSQL in one query.

Per agent: calls handled (inbound calls ANSWERED in the period), talk time, pause time and the
time from screen pop to registered case (``cases.pop_to_save_seconds`` of cases the agent
registered in the period) against the 4-minute goal ("within goal" = 240 s or less).

An agent is a user when one can be told: ``calls.agent_user_id``, else the user whose
``phone_interface`` is the call's ``agent_interface``; otherwise the queue member interface.
Pause time comes from ``agent_state_events`` (states as Asterisk reported them): each event
lasts until the next event of the same interface; the time in state ``paused`` is clipped to
the period and to ``as_of`` (default: the end of the period, or now if earlier).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text

from case_core.db.uow import UnitOfWorkFactory

POP_TO_SAVE_GOAL_SECONDS = 240

_SQL = """
WITH call_agents AS (
  SELECT COALESCE(c.agent_user_id, u.id) AS user_id,
         CASE WHEN COALESCE(c.agent_user_id, u.id) IS NULL THEN c.agent_interface END
           AS interface,
         max(c.agent_name) AS agent_name,
         count(*) AS calls_handled,
         COALESCE(sum(c.talk_seconds), 0) AS talk_seconds,
         count(c.talk_seconds) AS talk_count
  FROM calls c
  LEFT JOIN users u ON c.agent_user_id IS NULL AND u.phone_interface = c.agent_interface
  WHERE c.direction = 'inbound' AND c.answered_at IS NOT NULL
    AND c.answered_at >= :start AND c.answered_at < :until
    AND (c.agent_user_id IS NOT NULL OR c.agent_interface IS NOT NULL)
  GROUP BY 1, 2
),
case_agents AS (
  SELECT k.registered_by_user_id AS user_id,
         count(*) AS cases_registered,
         count(k.pop_to_save_seconds) AS timed_cases,
         count(*) FILTER (WHERE k.pop_to_save_seconds <= :goal) AS within_goal,
         avg(k.pop_to_save_seconds) AS avg_pop_to_save
  FROM cases k
  WHERE k.registered_by_user_id IS NOT NULL
    AND k.opened_at >= :start AND k.opened_at < :until
  GROUP BY 1
),
state_events AS (
  SELECT e.id, e.interface, e.state, e.at FROM agent_state_events e
  WHERE e.at >= :start AND e.at < :until
  UNION ALL
  SELECT * FROM (
    SELECT DISTINCT ON (e.interface) e.id, e.interface, e.state, e.at
    FROM agent_state_events e WHERE e.at < :start
    ORDER BY e.interface, e.at DESC, e.id DESC
  ) before_start
),
spans AS (
  SELECT s.interface, s.state, s.at,
         LEAD(s.at) OVER (PARTITION BY s.interface ORDER BY s.at, s.id) AS next_at
  FROM state_events s
),
pause_agents AS (
  SELECT u.id AS user_id,
         CASE WHEN u.id IS NULL THEN p.interface END AS interface,
         sum(EXTRACT(EPOCH FROM LEAST(COALESCE(p.next_at, :until), :until)
                                - GREATEST(p.at, :start)))::float8 AS pause_seconds
  FROM spans p
  LEFT JOIN users u ON u.phone_interface = p.interface
  WHERE p.state = 'paused' AND COALESCE(p.next_at, :until) > :start
  GROUP BY 1, 2
),
keyed AS (
  SELECT COALESCE('u' || user_id, 'i' || interface) AS k, * FROM call_agents
),
keyed_pauses AS (
  SELECT COALESCE('u' || user_id, 'i' || interface) AS k, * FROM pause_agents
)
SELECT COALESCE(ca.user_id, ka.user_id, pa.user_id) AS user_id,
       COALESCE(ca.interface, pa.interface) AS interface,
       COALESCE(us.full_name, ca.agent_name, ca.interface, pa.interface) AS agent_name,
       us.username,
       COALESCE(ca.calls_handled, 0) AS calls_handled,
       COALESCE(ca.talk_seconds, 0) AS talk_seconds,
       COALESCE(ca.talk_count, 0) AS talk_count,
       COALESCE(pa.pause_seconds, 0) AS pause_seconds,
       COALESCE(ka.cases_registered, 0) AS cases_registered,
       COALESCE(ka.timed_cases, 0) AS timed_cases,
       COALESCE(ka.within_goal, 0) AS within_goal,
       ka.avg_pop_to_save
FROM keyed ca
FULL JOIN case_agents ka ON ka.user_id = ca.user_id
FULL JOIN keyed_pauses pa ON pa.k = COALESCE(ca.k, 'u' || ka.user_id)
LEFT JOIN users us ON us.id = COALESCE(ca.user_id, ka.user_id, pa.user_id)
ORDER BY agent_name
"""


@dataclass(frozen=True)
class AgentFigures:
    """One agent's figures for a period (times in seconds)."""

    user_id: int | None
    username: str | None
    interface: str | None
    name: str
    calls_handled: int
    talk_seconds: float
    pause_seconds: float
    cases_registered: int
    timed_cases: int
    cases_within_goal: int
    average_pop_to_save: float | None

    @property
    def average_talk(self) -> float | None:
        """Mean talk time per handled call."""
        return self.talk_seconds / self.calls_handled if self.calls_handled else None

    @property
    def within_goal_percent(self) -> float | None:
        """Share (%) of timed cases registered within 4 minutes of the pop."""
        return 100.0 * self.cases_within_goal / self.timed_cases if self.timed_cases else None


async def agent_figures(
    uow_factory: UnitOfWorkFactory,
    start: datetime,
    end: datetime,
    *,
    as_of: datetime | None = None,
    goal_seconds: int = POP_TO_SAVE_GOAL_SECONDS,
) -> list[AgentFigures]:
    """Per-agent figures of [start, min(end, as_of)), ordered by name."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("agent_figures needs time-zone-aware datetimes")
    until = min(end, as_of) if as_of else end
    async with uow_factory() as uow:
        rows = (
            await uow.session.execute(
                text(_SQL),
                {
                    "start": start.astimezone(UTC),
                    "until": until.astimezone(UTC),
                    "goal": float(goal_seconds),
                },
            )
        ).all()
    return [
        AgentFigures(
            user_id=r.user_id,
            username=r.username,
            interface=r.interface,
            name=r.agent_name or "",
            calls_handled=int(r.calls_handled),
            talk_seconds=float(r.talk_seconds),
            pause_seconds=float(r.pause_seconds),
            cases_registered=int(r.cases_registered),
            timed_cases=int(r.timed_cases),
            cases_within_goal=int(r.within_goal),
            average_pop_to_save=None if r.avg_pop_to_save is None else float(r.avg_pop_to_save),
        )
        for r in rows
    ]
