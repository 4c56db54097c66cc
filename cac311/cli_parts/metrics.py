"""``cac311 metrics rollup --from YYYY-MM-DD --to YYYY-MM-DD``: rebuild the 15-minute call
roll-up of a period of local days (after a bulk import or a correction of call rows)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime, time, timedelta

from cac311.config import Settings


def _rollup(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import database
    from case_core.metrics.rollup import rebuild_rollup
    from case_core.metrics.service_level import Thresholds

    try:
        first, last = date.fromisoformat(args.start), date.fromisoformat(args.end)
    except ValueError:
        print("Error: las fechas deben ser AAAA-MM-DD.", file=sys.stderr)
        return 2
    if last < first:
        print("Error: --to no puede ser anterior a --from.", file=sys.stderr)
        return 2
    start = datetime.combine(first, time(0), tzinfo=settings.tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=settings.tz)

    async def run() -> int:
        async with database(settings) as uow_factory:
            quarters = await rebuild_rollup(
                uow_factory,
                start,
                end,
                now=datetime.now(UTC),
                thresholds=Thresholds.from_settings(settings),
            )
        print(f"Resumen de llamadas recalculado: {quarters} cuartos de hora ({first} a {last}).")
        return 0

    return asyncio.run(run())


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``metrics rollup``."""
    metrics = sub.add_parser("metrics", help="call metrics maintenance")
    metrics_sub = metrics.add_subparsers(dest="metrics_command", required=True)
    rollup = metrics_sub.add_parser("rollup", help="recalcular el resumen de 15 minutos")
    rollup.add_argument("--from", dest="start", required=True, help="primer día local, AAAA-MM-DD")
    rollup.add_argument("--to", dest="end", required=True, help="último día local, AAAA-MM-DD")
    rollup.set_defaults(handler=_rollup)
