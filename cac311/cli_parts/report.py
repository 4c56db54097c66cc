"""``cac311 report monthly --month YYYY-MM [--out DIR] [--as-of ISO]``: open-data files."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path

from cac311.config import Settings


def _as_of(raw: str, settings: Settings) -> datetime:
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=settings.tz)


def _monthly(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import database
    from case_core.metrics.report import month_bounds, write_monthly_report

    try:
        month_bounds(args.month, settings.tz)
        as_of = _as_of(args.as_of, settings) if args.as_of else None
    except ValueError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2

    async def run() -> int:
        async with database(settings) as uow_factory:
            report = await write_monthly_report(
                uow_factory, args.month, Path(args.out), settings.tz, as_of=as_of
            )
        print(
            f"Informe de {report.month}: {report.entities} entidades; "
            f"{report.csv_path}, {report.json_path} y {len(report.html_paths)} páginas."
        )
        return 0

    return asyncio.run(run())


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``report monthly``."""
    report = sub.add_parser("report", help="reports and open data")
    report_sub = report.add_subparsers(dest="report_command", required=True)
    monthly = report_sub.add_parser("monthly", help="datos abiertos del mes por entidad")
    monthly.add_argument("--month", required=True, help="mes de apertura de los casos, YYYY-MM")
    monthly.add_argument("--out", default="var/open-data", help="carpeta de salida")
    monthly.add_argument(
        "--as-of", dest="as_of", default=None, help="fecha de corte ISO (por omisión, fin de mes)"
    )
    monthly.set_defaults(handler=_monthly)
