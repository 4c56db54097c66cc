"""``cac311 quality sample --week YYYY-Www`` (draw the week's audit and call samples) and
``cac311 quality assign --advisor USER --entity CODE --from YYYY-MM-DD [--to YYYY-MM-DD]``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime

from cac311.config import Settings


def _sample(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import database
    from case_core.domain import quality as q
    from case_core.services.quality import draw_weekly_call_sample, draw_weekly_sample

    try:
        week = args.week or q.previous_week(datetime.now(UTC), settings.tz)
        q.parse_week(week)
    except q.InvalidWeek as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    per_entity = settings.quality_sample_per_entity if args.per_entity is None else args.per_entity
    per_agent = settings.quality_calls_per_agent if args.per_agent is None else args.per_agent
    if per_entity < 1 or per_agent < 1:
        print("Error: la muestra debe tener al menos 1 caso o llamada.", file=sys.stderr)
        return 2

    async def run() -> int:
        now = datetime.now(UTC)
        async with database(settings) as uow_factory:
            report = await draw_weekly_sample(
                uow_factory, week=week, now=now, per_entity=per_entity, tz=settings.tz
            )
            calls = await draw_weekly_call_sample(
                uow_factory, week=week, now=now, per_agent=per_agent, tz=settings.tz
            )
        print(
            f"Muestra de la {q.week_label(week)}: {report.cases} casos nuevos de "
            f"{len(report.drawn)} entidades ({report.entities} con casos cerrados); "
            f"{sum(len(v) for v in calls.values())} llamadas de {len(calls)} agentes."
        )
        return 0

    return asyncio.run(run())


def _assign(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import database
    from case_core.domain.errors import DomainError
    from case_core.services.quality import assign_entity

    try:
        starts_on = date.fromisoformat(args.start)
        ends_on = date.fromisoformat(args.end) if args.end else None
    except ValueError:
        print("Error: las fechas deben tener la forma AAAA-MM-DD.", file=sys.stderr)
        return 2

    async def run() -> int:
        async with database(settings) as uow_factory:
            async with uow_factory() as uow:
                user = await uow.users.by_username(args.advisor)
                entity = await uow.directory.entity_by_code(args.entity)
            if user is None or entity is None:
                print("Error: el usuario o la entidad no existen.", file=sys.stderr)
                return 2
            try:
                await assign_entity(
                    uow_factory,
                    advisor_user_id=user.id,
                    entity_id=entity.id,
                    starts_on=starts_on,
                    ends_on=ends_on,
                    limit=args.limit,
                )
            except (DomainError, ValueError) as err:
                print(f"Error: {err}", file=sys.stderr)
                return 2
        print(f"{entity.name} asignada a {user.full_name} desde {starts_on:%d/%m/%Y}.")
        return 0

    return asyncio.run(run())


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``quality sample`` and ``quality assign``."""
    quality = sub.add_parser("quality", help="quality audits (asesores de calidad)")
    quality_sub = quality.add_subparsers(dest="quality_command", required=True)
    sample = quality_sub.add_parser("sample", help="draw a week's audit and call samples")
    sample.add_argument("--week", default=None, help="ISO week YYYY-Www (default: last week)")
    sample.add_argument(
        "--per-entity",
        dest="per_entity",
        type=int,
        default=None,
        help="closed cases per entity (default CAC311_QUALITY_SAMPLE_PER_ENTITY, 3)",
    )
    sample.add_argument(
        "--per-agent",
        dest="per_agent",
        type=int,
        default=None,
        help="calls per agent (default CAC311_QUALITY_CALLS_PER_AGENT, 2)",
    )
    sample.set_defaults(handler=_sample)
    assign = quality_sub.add_parser("assign", help="assign an entity to a quality advisor")
    assign.add_argument("--advisor", required=True, help="username of the advisor (auditor)")
    assign.add_argument("--entity", required=True, help="entity code")
    assign.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    assign.add_argument("--to", dest="end", default=None, help="last day, YYYY-MM-DD")
    assign.add_argument("--limit", type=int, default=25, help="most entities per advisor")
    assign.set_defaults(handler=_assign)
