"""``cac311 recordings scan|purge|audit``: link files to calls, apply retention, read the log."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from cac311.config import Settings


def _scan(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import database
    from recordings.service import scan

    async def run() -> int:
        async with database(settings) as uow_factory:
            report = await scan(uow_factory, settings, now=datetime.now(UTC), recheck_all=args.all)
        print(
            f"Grabaciones revisadas: {report.checked}; vinculadas: {len(report.linked)}; "
            f"con problemas: {len(report.missing)}."
        )
        for call_id, problem in report.missing:
            print(f"  llamada {call_id}: {problem}")
        return 1 if report.missing else 0

    return asyncio.run(run())


def _purge(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import database
    from recordings.service import purge

    async def run() -> int:
        async with database(settings) as uow_factory:
            report = await purge(uow_factory, settings, datetime.now(UTC), args.dry_run)
        verb = "Se eliminarían" if report.dry_run else "Eliminadas"
        cutoff = report.cutoff.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
        print(
            f"Retención: {settings.recording_retention_days} días (antes de {cutoff}). "
            f"{verb}: {len(report.removed)} grabaciones, {report.bytes_removed} bytes; "
            f"retenidas por casos abiertos o recientes: {len(report.held)}; "
            f"fallidas: {len(report.failed)}."
        )
        for item in report.removed:
            note = "" if item.file_existed else " (el archivo ya no existía)"
            print(f"  llamada {item.call_id}: {item.relative_path or '—'}{note}")
        for call_id, error in report.failed:
            print(f"  llamada {call_id}: no se pudo eliminar ({error})")
        return 1 if report.failed else 0

    return asyncio.run(run())


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import database
    from recordings.service import access_log

    async def run() -> int:
        async with database(settings) as uow_factory:
            rows = await access_log(uow_factory, limit=args.limit, call_id=args.call)
        for r in rows:
            when = r.at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M:%S")
            print(
                f"{when}\t{r.username}\t{r.role}\tllamada {r.call_id}\t{r.action}\t"
                f"{r.remote_addr or '-'}"
            )
        if not rows:
            print("No hay accesos registrados.")
        return 0

    return asyncio.run(run())


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``recordings scan``, ``recordings purge`` and ``recordings audit``."""
    rec = sub.add_parser("recordings", help="call recordings")
    rec_sub = rec.add_subparsers(dest="recordings_command", required=True)

    scan = rec_sub.add_parser("scan", help="verify and link the recording files of calls")
    scan.add_argument("--all", action="store_true", help="re-verify every recording")
    scan.set_defaults(handler=_scan)

    purge = rec_sub.add_parser("purge", help="remove recordings past the retention period")
    purge.add_argument("--dry-run", action="store_true", help="only report what would go")
    purge.set_defaults(handler=_purge)

    audit = rec_sub.add_parser("audit", help="list who played or downloaded recordings")
    audit.add_argument("--limit", type=int, default=100)
    audit.add_argument("--call", type=int, default=None, help="only this call id")
    audit.set_defaults(handler=_audit)
