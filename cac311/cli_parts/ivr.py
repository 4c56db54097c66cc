"""``cac311 ivr`` (the FastAGI server alone) and ``cac311 prompts build``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from cac311.config import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ivr = sub.add_parser("ivr", help="run the FastAGI server only")
    ivr.set_defaults(handler=_ivr)

    prompts = sub.add_parser("prompts", help="IVR prompts")
    prompts_sub = prompts.add_subparsers(dest="prompts_command", required=True)
    build = prompts_sub.add_parser("build", help="render every catalogued prompt to WAV")
    build.add_argument("--out", type=Path, help="sound directory (default: CAC311_PROMPTS_DIR)")
    build.add_argument(
        "--no-db",
        action="store_true",
        help="take entity names and announcements from the seed data, not the database",
    )
    build.set_defaults(handler=_prompts_build)
    moh = prompts_sub.add_parser("moh", help="render the queue's hold music (musiconhold.conf)")
    moh.add_argument(
        "--out",
        type=Path,
        required=True,
        help="the [default] class directory, e.g. /var/lib/asterisk/moh/cac311",
    )
    moh.set_defaults(handler=_prompts_moh)


def _ivr(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import run_parts

    return asyncio.run(run_parts(settings, {"ivr"}))


async def _database_prompts(settings: Settings) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from cac311.bootstrap import database
    from case_core.db.models import AnnouncementRow
    from ivr.prompts.catalogue import entity_prompts

    async with database(settings) as uow_factory, uow_factory() as uow:
        entities = await uow.directory.entities()
        announcements = (await uow.session.scalars(select(AnnouncementRow))).all()
        return entity_prompts((e.code, e.name) for e in entities) + [
            # An uploaded recording (issue 11) is never overwritten by synthesis.
            (a.prompt, a.text)
            for a in announcements
            if a.prompt and not a.recorded
        ]


def _seed_prompts() -> list[tuple[str, str]]:
    from case_core.seed.directory_data import ANNOUNCEMENTS, ENTITIES
    from ivr.prompts.catalogue import announcement_prompt_name, entity_prompts

    return entity_prompts((e[0], e[1]) for e in ENTITIES) + [
        (announcement_prompt_name(slug), text) for _, slug, text, _ in ANNOUNCEMENTS
    ]


def _prompts_build(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.prompts.build import PromptBuildError, build_prompts

    out = args.out or settings.prompts_dir
    if args.no_db:
        extra = _seed_prompts()
    else:
        try:
            extra = asyncio.run(_database_prompts(settings))
        except Exception as err:  # any database problem: say so and stop
            print(
                f"No se pudo leer la base de datos ({type(err).__name__}); "
                "use --no-db para tomar las entidades de los datos de ejemplo.",
                file=sys.stderr,
            )
            return 1
    try:
        files = build_prompts(out, extra=extra)
    except PromptBuildError as err:
        print(f"Error al generar los mensajes: {err}", file=sys.stderr)
        return 1
    print(f"{len(files)} mensajes de voz en {out}")
    return 0


def _prompts_moh(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.prompts.hold_music import write_hold_music

    path = write_hold_music(args.out)
    print(f"Música de espera en {path}")
    return 0
