"""The ``cac311`` command: one entry point for every job."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from cac311.config import ConfigError, Settings, load_settings
from cac311.logs import configure_logging


def _db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from case_core.db.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    print("Base de datos al día (migraciones aplicadas).")
    return 0


def _seed(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import database
    from case_core.seed.loader import seed

    async def run() -> None:
        async with database(settings) as uow_factory:
            report = await seed(uow_factory, now=datetime.now(UTC), demo_users=args.demo_users)
        print(
            "Directorio cargado: "
            f"{report.entities} entidades, {report.services} servicios, "
            f"{report.articles} artículos, {report.announcements} anuncios, "
            f"{report.users} usuarios, {report.citizens} ciudadanos nuevos."
        )

    asyncio.run(run())
    return 0


COMMANDS = {"db upgrade": _db_upgrade, "seed": _seed}
EXTRA_COMMANDS: dict[str, tuple[str, object]] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cac311", description="cac311: 3-1-1 contact center")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="heads")
    up.set_defaults(handler=_db_upgrade)

    seed = sub.add_parser("seed", help="load the directory of entities (no users)")
    seed.add_argument(
        "--demo-users",
        action="store_true",
        help="also create the demo users (known password: development only)",
    )
    seed.set_defaults(handler=_seed)

    from cac311 import commands

    commands.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = load_settings()
    except ConfigError as err:
        print(f"Error de configuración: {err}", file=sys.stderr)
        return 2
    try:
        return int(args.handler(settings, args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
