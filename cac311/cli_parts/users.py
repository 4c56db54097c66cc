"""``cac311 users``: the first administrator and every other user, from the terminal.

Passwords are never taken from the command line (they would stay in the shell history and
in ``ps``): they are asked twice on the terminal, or read from the first line of a file
(``--password-file``, e.g. a secret mounted by the orchestrator).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from cac311.config import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``users`` subcommands."""
    parser = sub.add_parser("users", help="users and access")
    commands = parser.add_subparsers(dest="users_command", required=True)

    def with_password(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--password-file", type=Path, help="read the password from this file's first line"
        )

    admin = commands.add_parser("create-admin", help="create an administrator")
    admin.add_argument("username")
    admin.add_argument("--name", default="Administración 3-1-1", help="full name")
    with_password(admin)
    admin.set_defaults(handler=_create_admin)

    create = commands.add_parser("create", help="create a user of any role")
    create.add_argument("username")
    create.add_argument("--name", required=True, help="full name")
    create.add_argument("--role", required=True, help="agent, supervisor, liaison, ...")
    create.add_argument("--entity", help="entity code (liaison roles)")
    create.add_argument("--office", help="office name of the entity (Enlace de Contacto)")
    create.add_argument("--interface", help="phone interface of an agent, e.g. PJSIP/1001")
    with_password(create)
    create.set_defaults(handler=_create)

    listing = commands.add_parser("list", help="list users")
    listing.set_defaults(handler=_list)

    disable = commands.add_parser("disable", help="disable a user (ends their sessions)")
    disable.add_argument("username")
    disable.set_defaults(handler=_disable)

    enable = commands.add_parser("enable", help="enable a disabled user again")
    enable.add_argument("username")
    enable.set_defaults(handler=_enable)

    reset = commands.add_parser("reset-password", help="set a temporary password")
    reset.add_argument("username")
    with_password(reset)
    reset.set_defaults(handler=_reset)

    role = commands.add_parser("set-role", help="change a user's role and scope")
    role.add_argument("username")
    role.add_argument("--role", required=True)
    role.add_argument("--entity")
    role.add_argument("--office")
    role.add_argument("--interface")
    role.set_defaults(handler=_set_role)


class CliError(Exception):
    """A Spanish message for the operator; the command exits with status 1."""


def _cli_actor():  # type: ignore[no-untyped-def]
    from case_core.domain.roles import Actor, Role

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = str(os.getuid())
    return Actor(None, f"terminal:{who}"[:60], Role.ADMIN)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        try:
            lines = args.password_file.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise CliError(f"No se pudo leer {args.password_file}: {err.strerror}") from None
        if not lines or not lines[0]:
            raise CliError(f"El archivo {args.password_file} no tiene contraseña.")
        return lines[0]
    if not sys.stdin.isatty():
        raise CliError(
            "Escriba la contraseña en una terminal o use --password-file ARCHIVO "
            "(nunca como argumento)."
        )
    first = getpass.getpass("Contraseña: ")
    if getpass.getpass("Repita la contraseña: ") != first:
        raise CliError("Las contraseñas no coinciden.")
    return first


async def _scope(uow_factory, entity_code: str | None, office_name: str | None):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from case_core.db.models import OfficeRow

    if not entity_code:
        if office_name:
            raise CliError("--office requiere --entity.")
        return None, None
    async with uow_factory() as uow:
        entity = await uow.directory.entity_by_code(entity_code.upper())
        if entity is None:
            raise CliError(f"La entidad «{entity_code}» no existe en el directorio.")
        office_id = None
        if office_name:
            office_id = await uow.session.scalar(
                select(OfficeRow.id).where(
                    OfficeRow.entity_id == entity.id, OfficeRow.name == office_name
                )
            )
            if office_id is None:
                raise CliError(f"La oficina «{office_name}» no es de {entity.short_name}.")
        return entity.id, office_id


def _run(settings: Settings, work) -> int:  # type: ignore[no-untyped-def]
    from cac311.bootstrap import database
    from case_core.domain.errors import DomainError

    async def run() -> None:
        async with database(settings) as uow_factory:
            await work(uow_factory)

    try:
        asyncio.run(run())
    except (CliError, DomainError) as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    return 0


def _create_admin(settings: Settings, args: argparse.Namespace) -> int:
    from case_core.domain.roles import Role
    from case_core.services.user_admin import create_user

    try:
        password = _read_password(args)
    except CliError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1

    async def work(uow_factory) -> None:  # type: ignore[no-untyped-def]
        await create_user(
            uow_factory,
            actor=_cli_actor(),
            username=args.username,
            full_name=args.name,
            role=Role.ADMIN,
            password=password,
            now=datetime.now(UTC),
            must_change_password=False,  # chosen by the administrator at the terminal
        )
        print(f"Administrador «{args.username}» creado.")

    return _run(settings, work)


def _create(settings: Settings, args: argparse.Namespace) -> int:
    from case_core.services.user_admin import create_user, parse_role

    try:
        role = parse_role(args.role)
        password = _read_password(args)
    except Exception as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1

    async def work(uow_factory) -> None:  # type: ignore[no-untyped-def]
        entity_id, office_id = await _scope(uow_factory, args.entity, args.office)
        await create_user(
            uow_factory,
            actor=_cli_actor(),
            username=args.username,
            full_name=args.name,
            role=role,
            password=password,
            now=datetime.now(UTC),
            entity_id=entity_id,
            office_id=office_id,
            phone_interface=args.interface,
        )
        print(f"Usuario «{args.username}» creado; cambiará la contraseña al entrar.")

    return _run(settings, work)


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from case_core.services.user_admin import list_users

    async def work(uow_factory) -> None:  # type: ignore[no-untyped-def]
        users = await list_users(uow_factory)
        print(f"Usuarios ({len(users)})")
        for u in users:
            scope = " / ".join(x for x in (u.entity, u.office, u.phone_interface) if x)
            state = "activo" if u.active else "desactivado"
            if u.must_change_password:
                state += ", debe cambiar la contraseña"
            print(f"  {u.username:<20} {u.role_label:<20} {scope:<30} {state}")

    return _run(settings, work)


def _disable(settings: Settings, args: argparse.Namespace) -> int:
    from case_core.services.user_admin import disable_user

    async def work(uow_factory) -> None:  # type: ignore[no-untyped-def]
        done = await disable_user(
            uow_factory, actor=_cli_actor(), username=args.username, now=datetime.now(UTC)
        )
        print(f"Usuario «{args.username}» desactivado; sesiones cerradas: {done.sessions_ended}.")

    return _run(settings, work)


def _enable(settings: Settings, args: argparse.Namespace) -> int:
    from case_core.services.user_admin import enable_user

    async def work(uow_factory) -> None:  # type: ignore[no-untyped-def]
        await enable_user(
            uow_factory, actor=_cli_actor(), username=args.username, now=datetime.now(UTC)
        )
        print(f"Usuario «{args.username}» activado.")

    return _run(settings, work)


def _reset(settings: Settings, args: argparse.Namespace) -> int:
    from case_core.services.user_admin import reset_password

    try:
        password = _read_password(args)
    except CliError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1

    async def work(uow_factory) -> None:  # type: ignore[no-untyped-def]
        await reset_password(
            uow_factory,
            actor=_cli_actor(),
            username=args.username,
            password=password,
            now=datetime.now(UTC),
        )
        print(f"Contraseña temporal puesta; «{args.username}» la cambiará al entrar.")

    return _run(settings, work)


def _set_role(settings: Settings, args: argparse.Namespace) -> int:
    from case_core.services.user_admin import parse_role, set_role

    async def work(uow_factory) -> None:  # type: ignore[no-untyped-def]
        role = parse_role(args.role)
        entity_id, office_id = await _scope(uow_factory, args.entity, args.office)
        await set_role(
            uow_factory,
            actor=_cli_actor(),
            username=args.username,
            role=role,
            now=datetime.now(UTC),
            entity_id=entity_id,
            office_id=office_id,
            phone_interface=args.interface,
        )
        print(f"Rol de «{args.username}» cambiado a {args.role}.")

    return _run(settings, work)
