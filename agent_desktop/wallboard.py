"""The supervisors' live wallboard (``/supervisor/tablero``) and the supervisor pages' routes.

What the board shows (one JSON *snapshot*, see :func:`wallboard_snapshot`), as of the app's
clock ``now``:

- **waiting now**: inbound calls that entered the queue, are not answered, not ended and not
  abandoned. Rows that entered more than ``WAITING_HORIZON`` ago are left out: a caller never
  waits that long, such a row is a hangup the AMI link never reported. The longest current
  wait is ``now`` minus the oldest of their ``entered_at``.
- **agents**: the latest ``agent_state_events`` row per interface (states as Asterisk reported
  them, ``case_core.services.agents``); active agents with a phone and no event at all are
  shown as logged out.
- **today** (local day of ``Settings.timezone``): ``case_core.metrics.call_metrics`` per hour
  evaluated as of ``now``: the headline service level (formula ``sl_311``, named on the page)
  against the 90 % goal, abandoned calls (count, and % of the calls offered), average speed of
  answer, and the same per hour for the chart; intervals overlapping an AMI outage are flagged
  ``incompleto``.

Push: one dedicated asyncpg connection LISTENs on ``cac311_calls`` (``save_call``) and
``cac311_agent_state`` (``record_agent_state``) and reconnects with backoff. A notification
only marks the board dirty; one task recomputes at most every ``MIN_INTERVAL`` seconds (and
every ``REFRESH_EVERY`` seconds anyway, so waits and the day roll on) and offers the whole
snapshot to every socket. Each socket has its own writer task and bounded queue
(``agent_desktop.ws.Hub``); a socket that stops reading is closed and the browser reconnects.
After the LISTEN connection is re-established the board is recomputed (NOTIFY is not durable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from aiohttp import WSMsgType, web
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from agent_desktop.auth import current_session
from agent_desktop.handlers.common import json_response, render
from agent_desktop.keys import CLOCK, ENGINE, SETTINGS, UOW
from agent_desktop.pg_listen import PgListener
from agent_desktop.supervisor import (
    FORBIDDEN,
    SL_GOAL_PERCENT,
    helpers,
    pct,
    setup_supervisor_report_routes,
    supervisor_required,
)
from agent_desktop.ws import Hub, origin_allowed, watch_session
from cac311.config import Settings
from case_core.db.models import UserRow
from case_core.db.models.desktop import AgentStateEventRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.roles import can_supervise
from case_core.metrics.calls import IntervalMetrics
from case_core.metrics.rollup import rolled_up_call_metrics
from case_core.metrics.service_level import (
    FORMULAS,
    HEADLINE,
    CallCounts,
    describe,
    service_level,
)
from case_core.services.agents import STATE_LABELS, AgentState, view_of
from case_core.services.calls import CALLS_CHANNEL

log = logging.getLogger(__name__)

GOAL_PERCENT = SL_GOAL_PERCENT
WAITING_HORIZON = timedelta(hours=12)
MIN_INTERVAL = 0.25  # at most ~4 recomputations a second
REFRESH_EVERY = 10.0
CHART_INTERVAL = "15min"  # the intraday charts; hours are summed from the quarters
CHANNELS = (CALLS_CHANNEL, "cac311_agent_state")
STATE_ORDER = (
    AgentState.AVAILABLE,
    AgentState.IN_CALL,
    AgentState.RINGING,
    AgentState.PAUSED,
    AgentState.UNAVAILABLE,
    AgentState.LOGGED_OUT,
)

_WAITING_SQL = text(
    """
SELECT count(*) AS waiting, min(c.entered_at) AS oldest
FROM calls c
WHERE c.direction = 'inbound' AND c.entered_at IS NOT NULL
  AND c.entered_at <= :now AND c.entered_at > :horizon
  AND (c.answered_at IS NULL OR c.answered_at > :now)
  AND (c.ended_at IS NULL OR c.ended_at > :now)
  AND NOT c.abandoned
"""
)


def _iso(at: datetime | None, tz: Any) -> str | None:
    return None if at is None else at.astimezone(tz).isoformat(timespec="seconds")


async def _agents(uow_factory: UnitOfWorkFactory, now: datetime, tz: Any) -> list[dict[str, Any]]:
    ev = AgentStateEventRow
    latest = (
        select(
            ev.id,
            func.row_number()
            .over(partition_by=ev.interface, order_by=(ev.at.desc(), ev.id.desc()))
            .label("rn"),
        )
        .where(ev.at <= now)
        .subquery()
    )
    async with uow_factory() as uow:
        rows = (
            await uow.session.execute(
                select(ev, UserRow.full_name)
                .join(latest, (latest.c.id == ev.id) & (latest.c.rn == 1))
                .outerjoin(UserRow, UserRow.phone_interface == ev.interface)
            )
        ).all()
        silent = (
            await uow.session.execute(
                select(UserRow.phone_interface, UserRow.full_name).where(
                    UserRow.role == "agent",
                    UserRow.active.is_(True),
                    UserRow.phone_interface.is_not(None),
                )
            )
        ).all()
    agents = []
    for row, full_name in rows:
        view = view_of(row)
        agents.append(
            {
                "interface": view.interface,
                # By name, never by the phone interface (a phone with no user says so).
                "name": full_name or "Teléfono sin agente asignado",
                "state": view.state.value,
                "label": view.label,
                "reason": view.reason_label,
                "since": _iso(view.at, tz),
            }
        )
    seen = {a["interface"] for a in agents}
    for interface, full_name in silent:
        if interface not in seen:
            agents.append(
                {
                    "interface": interface,
                    "name": full_name,
                    "state": AgentState.LOGGED_OUT.value,
                    "label": STATE_LABELS[AgentState.LOGGED_OUT],
                    "reason": None,
                    "since": None,
                }
            )
    order: dict[str, int] = {s.value: i for i, s in enumerate(STATE_ORDER)}
    agents.sort(key=lambda a: (order.get(str(a["state"]), 99), str(a["name"])))
    return agents


async def wallboard_snapshot(
    uow_factory: UnitOfWorkFactory, settings: Settings, now: datetime
) -> dict[str, Any]:
    """The whole board as JSON-ready data, as of ``now`` (aware UTC)."""
    tz = settings.tz
    async with uow_factory() as uow:
        waiting = (
            await uow.session.execute(_WAITING_SQL, {"now": now, "horizon": now - WAITING_HORIZON})
        ).one()
    agents = await _agents(uow_factory, now, tz)

    local_now = now.astimezone(tz)
    day_start = datetime.combine(local_now.date(), time(0), tzinfo=tz)
    day_end = datetime.combine(local_now.date() + timedelta(days=1), time(0), tzinfo=tz)
    report = await rolled_up_call_metrics(
        uow_factory,
        day_start.astimezone(UTC),
        day_end.astimezone(UTC),
        CHART_INTERVAL,
        tz,
        settings,
        as_of=now,
    )
    quarters = report.intervals
    hours = _hours(quarters)
    elapsed = [i for i in quarters if i.start <= now]
    counts = sum((i.counts for i in elapsed), CallCounts())
    headline = service_level(HEADLINE, counts)
    sl_pct = headline.percent
    return {
        "type": "snapshot",
        "generated_at": _iso(now, tz),
        "day": local_now.date().isoformat(),
        "waiting": {
            "count": int(waiting.waiting),
            "longest_seconds": (
                None if waiting.oldest is None else (now - waiting.oldest).total_seconds()
            ),
            "oldest_entered_at": _iso(waiting.oldest, tz),
        },
        "agents": {
            "counts": {s.value: sum(a["state"] == s.value for a in agents) for s in STATE_ORDER},
            "labels": {s.value: STATE_LABELS[s] for s in STATE_ORDER},
            "list": agents,
        },
        "service_level": {
            "formula": HEADLINE,
            "label": FORMULAS[HEADLINE].label,
            "description": describe(HEADLINE, report.thresholds),
            "numerator": headline.numerator,
            "denominator": headline.denominator,
            "percent": sl_pct,
            "goal": GOAL_PERCENT,
            "meets_goal": None if sl_pct is None else sl_pct >= GOAL_PERCENT,
        },
        "offered": counts.offered,
        "answered": counts.answered,
        "abandoned": {
            "count": counts.abandoned,
            "short": counts.short_abandons,
            "percent": 100.0 * counts.abandoned / counts.offered if counts.offered else None,
        },
        "asa_seconds": counts.average_speed_of_answer,
        "incomplete": any(i.incomplete for i in elapsed),
        "alerts": _alerts(
            waiting_seconds=(
                None if waiting.oldest is None else (now - waiting.oldest).total_seconds()
            ),
            threshold=report.thresholds.service_level_seconds,
            percent=sl_pct,
        ),
        "thresholds": {"service_level_seconds": report.thresholds.service_level_seconds},
        "quarters": [
            {
                "start": _iso(i.start, tz),
                "label": i.start.astimezone(tz).strftime("%H:%M"),
                "offered": i.counts.offered,
                "waiting": i.counts.waiting,
                "numerator": i.headline.numerator,
                "denominator": i.headline.denominator,
                "percent": i.headline.percent,
                "incomplete": i.incomplete,
                "future": i.start > now,
            }
            for i in quarters
        ],
        "intervals": [
            {
                "start": _iso(i.start, tz),
                "label": i.start.astimezone(tz).strftime("%H:%M"),
                "offered": i.counts.offered,
                "numerator": i.headline.numerator,
                "denominator": i.headline.denominator,
                "percent": i.headline.percent,
                "incomplete": i.incomplete,
                "future": i.start > now,
            }
            for i in hours
        ],
    }


def _hours(quarters: list[IntervalMetrics]) -> list[IntervalMetrics]:
    """Hourly figures summed from 15-minute ones (one metrics query for both charts)."""
    hours: list[IntervalMetrics] = []
    for i in range(0, len(quarters), 4):
        group = quarters[i : i + 4]
        hours.append(
            IntervalMetrics(
                start=group[0].start,
                end=group[-1].end,
                counts=sum((q.counts for q in group), CallCounts()),
                incomplete=any(q.incomplete for q in group),
            )
        )
    return hours


def _alerts(
    *, waiting_seconds: float | None, threshold: int, percent: float | None
) -> list[dict[str, str]]:
    """Threshold alerts for the floor: a caller waiting past the service-level threshold, the
    day's service level under the goal."""
    alerts = []
    if waiting_seconds is not None and waiting_seconds > threshold:
        alerts.append(
            {
                "kind": "espera",
                "text": f"Hay una llamada esperando más de {threshold} s "
                "(umbral del nivel de servicio).",
            }
        )
    if percent is not None and percent < GOAL_PERCENT:
        alerts.append(
            {
                "kind": "meta",
                "text": f"El nivel de servicio del día ({pct(percent)}) está bajo la meta "
                f"de {pct(GOAL_PERCENT)}.",
            }
        )
    return alerts


def _pg_dsn(engine: AsyncEngine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class Wallboard:
    """The live board of one app: its sockets, its listener and the recompute task."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        settings: Settings,
        clock: Callable[[], datetime],
        *,
        min_interval: float = MIN_INTERVAL,
        refresh_every: float = REFRESH_EVERY,
    ) -> None:
        self.uow_factory = uow_factory
        self.settings = settings
        self.clock = clock
        self.min_interval = min_interval
        self.refresh_every = refresh_every
        self.hub = Hub()
        self.listener: PgListener | None = None
        self.recomputations = 0
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Something changed: recompute soon (coalesced)."""
        self._dirty.set()

    async def snapshot(self) -> dict[str, Any]:
        return await wallboard_snapshot(self.uow_factory, self.settings, self.clock())

    async def start(self, dsn: str) -> None:
        # Every notification, and every (re)connection (notifications may have been missed),
        # marks the board for recomputation.
        self.listener = PgListener(
            dsn,
            CHANNELS,
            lambda _channel, _payload: self.poke(),
            lambda _n: self.poke(),
            name="wallboard",
        )
        await self.listener.start()
        self._task = asyncio.create_task(self._run(), name="wallboard-recompute")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.listener is not None:
            await self.listener.stop()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), self.refresh_every)
            self._dirty.clear()
            if self.hub.clients:
                try:
                    message = await self.snapshot()
                    self.recomputations += 1
                    for client in list(self.hub.clients):
                        client.offer(message)
                except Exception:
                    log.exception("wallboard recomputation failed")
            await asyncio.sleep(self.min_interval)


WALLBOARD = web.AppKey("supervisor_wallboard", Wallboard)


@supervisor_required
async def wallboard_page(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/tablero: the live board (first snapshot rendered server-side)."""
    snapshot = await request.config_dict[WALLBOARD].snapshot()
    return render(
        request,
        "wallboard.html",
        {
            "snap": snapshot,
            # "<" escaped: the JSON sits in a <script type="application/json"> element
            "snapshot_json": json.dumps(snapshot, ensure_ascii=False).replace("<", "\\u003c"),
            "nav": "tablero",
            **helpers(),
        },
    )


@supervisor_required
async def wallboard_json(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/tablero.json: the same snapshot the socket pushes."""
    return json_response(await request.config_dict[WALLBOARD].snapshot())


async def wallboard_ws(request: web.Request) -> web.StreamResponse:
    """GET /supervisor/tablero/ws: Origin and role checked, then snapshots pushed."""
    if not origin_allowed(request):
        raise web.HTTPForbidden(text="Origen no permitido para la conexión en vivo.")
    info = await current_session(request)
    if info is None:
        raise web.HTTPUnauthorized(text="Su sesión terminó. Inicie sesión de nuevo.")
    if not can_supervise(info.actor):
        raise web.HTTPForbidden(text=FORBIDDEN)
    board = request.config_dict[WALLBOARD]
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4 * 1024)
    await ws.prepare(request)
    client = board.hub.add(ws, None)
    watcher = asyncio.create_task(watch_session(request, info, ws, client))
    try:
        client.offer(await board.snapshot())
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data == '{"type":"ping"}':
                client.offer({"type": "pong"})
    finally:
        watcher.cancel()
        await board.hub.remove(client)
        if not ws.closed:
            await ws.close()
    return ws


async def _wallboard_ctx(app: web.Application) -> AsyncIterator[None]:
    board = app[WALLBOARD]
    await board.start(_pg_dsn(app[ENGINE]))
    yield
    await board.stop()


async def _close_sockets(app: web.Application) -> None:
    await app[WALLBOARD].hub.close_all()


def setup_wallboard_routes(app: web.Application) -> None:
    """Add the wallboard and the supervisor report pages to the desktop app (before start)."""
    app[WALLBOARD] = Wallboard(app[UOW], app[SETTINGS], app[CLOCK])
    app.cleanup_ctx.append(_wallboard_ctx)
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/supervisor", _redirect_to_board)
    app.router.add_get("/supervisor/tablero", wallboard_page)
    app.router.add_get("/supervisor/tablero.json", wallboard_json)
    app.router.add_get("/supervisor/tablero/ws", wallboard_ws)
    setup_supervisor_report_routes(app)


async def _redirect_to_board(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/supervisor/tablero")
