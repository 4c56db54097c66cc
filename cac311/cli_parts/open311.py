"""``cac311 open311 keys create NAME [--per-hour N] | list | revoke NAME``."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from cac311.config import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``open311`` subcommands."""
    parser = sub.add_parser("open311", help="Open311 GeoReport v2 API")
    commands = parser.add_subparsers(dest="open311_command", required=True)
    keys = commands.add_parser("keys", help="API keys for POST requests")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="create a key (printed once)")
    create.add_argument("name")
    create.add_argument("--per-hour", type=int, default=60, help="POSTs allowed per hour")
    create.set_defaults(handler=_create)
    listing = key_commands.add_parser("list", help="list keys (never the keys themselves)")
    listing.set_defaults(handler=_list)
    revoke = key_commands.add_parser("revoke", help="revoke a key by name")
    revoke.add_argument("name")
    revoke.set_defaults(handler=_revoke)


def _run(settings: Settings, work) -> int:  # type: ignore[no-untyped-def]
    from cac311.bootstrap import database
    from case_core.domain.errors import DomainError

    async def run() -> int:
        async with database(settings) as uow_factory:
            try:
                await work(uow_factory)
            except DomainError as err:
                print(f"Error: {err}")
                return 1
        return 0

    return asyncio.run(run())


def _create(settings: Settings, args: argparse.Namespace) -> int:
    from case_core.services.api_keys import create_api_key

    async def work(uow_factory) -> None:  # type: ignore[no-untyped-def]
        key = await create_api_key(uow_factory, args.name, requests_per_hour=args.per_hour)
        print(f"Clave «{args.name}» creada ({args.per_hour} solicitudes por hora).")
        print(f"  {key}")
        print("Guárdela ahora: no se vuelve a mostrar (solo se guarda su huella SHA-256).")

    return _run(settings, work)


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from case_core.services.api_keys import list_api_keys

    async def work(uow_factory) -> None:  # type: ignore[no-untyped-def]
        keys = await list_api_keys(uow_factory)
        if not keys:
            print("No hay claves de Open311.")
        for k in keys:
            state = (
                f"revocada {k.revoked_at.astimezone(settings.tz):%Y-%m-%d %H:%M}"
                if k.revoked_at
                else "activa"
            )
            print(f"  {k.name:<30} {k.prefix}…  {k.requests_per_hour}/h  {state}")

    return _run(settings, work)


def _revoke(settings: Settings, args: argparse.Namespace) -> int:
    from case_core.services.api_keys import revoke_api_key

    async def work(uow_factory) -> None:  # type: ignore[no-untyped-def]
        await revoke_api_key(uow_factory, args.name, now=datetime.now(UTC))
        print(f"Clave «{args.name}» revocada.")

    return _run(settings, work)
