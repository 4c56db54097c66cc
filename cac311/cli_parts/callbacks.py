"""``cac311 callbacks schedule`` (one scheduler run) and ``cac311 callbacks list``."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from cac311.config import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``callbacks`` subcommands."""
    parser = sub.add_parser("callbacks", help="follow-up and satisfaction callbacks")
    commands = parser.add_subparsers(dest="callbacks_command", required=True)
    schedule = commands.add_parser("schedule", help="run the callback scheduler once")
    schedule.set_defaults(handler=_schedule)
    listing = commands.add_parser("list", help="pending callbacks and human tasks")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=_list)


def _schedule(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import database
    from case_core.services.callbacks import schedule_callbacks

    async def run() -> None:
        async with database(settings) as uow_factory:
            r = await schedule_callbacks(uow_factory, datetime.now(UTC), settings)
        print(
            f"Seguimientos creados: {r.created_followups}; satisfacción: "
            f"{r.created_satisfaction}; recuperadas: {r.recovered}; reemplazadas: "
            f"{r.replaced}; canceladas: {r.cancelled}; a Centro de Contactos: "
            f"{r.handed_over}; no contactadas: {r.not_reached}."
        )

    asyncio.run(run())
    return 0


def _mask(phone: str) -> str:
    return "•••" + phone[-4:]


def _list(settings: Settings, args: argparse.Namespace) -> int:
    from agent_desktop.contact_center import KIND_LABELS, OUTCOME_LABELS, STATUS_LABELS
    from cac311.bootstrap import database
    from case_core.domain.callbacks import CallbackStatus
    from case_core.services.callbacks import human_tasks, list_callbacks

    tz = settings.tz

    def show(title: str, views: list) -> None:  # type: ignore[type-arg]
        print(f"{title} ({len(views)})")
        for v in views:
            when = v.next_attempt_at or v.window_end_at
            kind = KIND_LABELS.get(v.kind, v.kind.value)
            status = STATUS_LABELS.get(v.status, v.status.value)
            outcome = OUTCOME_LABELS.get(v.outcome or "", v.outcome or "")
            print(
                f"  #{v.id:<6} caso {v.case_number}  {kind:<12} {status:<12} "
                f"{_mask(v.phone)}  intento {v.attempts}/{v.max_attempts}  "
                f"{when.astimezone(tz):%Y-%m-%d %H:%M}  {outcome}"
            )

    async def run() -> None:
        async with database(settings) as uow_factory:
            pending = await list_callbacks(
                uow_factory,
                statuses=[CallbackStatus.PENDIENTE, CallbackStatus.EN_CURSO],
                limit=args.limit,
            )
            tasks = await human_tasks(uow_factory, limit=args.limit)
        show("Pendientes y en curso", pending)
        show("Tareas para el Centro de Contactos", tasks)

    asyncio.run(run())
    return 0
