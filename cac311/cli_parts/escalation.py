"""``cac311 cases escalate``: one run of the SLA escalation job (schedule it, e.g. hourly)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from cac311.config import Settings


def _cases_commands(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    """The subcommands of ``cases``, reusing the parser if another module created it."""
    parser = sub.choices.get("cases")
    if parser is None:
        parser = sub.add_parser("cases", help="periodic case jobs (escalation)")
        return parser.add_subparsers(dest="cases_command", required=True)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="cases_command", required=True)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``cases escalate``."""
    escalate = _cases_commands(sub).add_parser(
        "escalate", help="escalate open cases at SLA risk, overdue or without first action"
    )
    escalate.add_argument(
        "--now",
        type=_aware,
        default=None,
        help="evaluate as of this ISO-8601 moment with offset (default: the current time)",
    )
    escalate.set_defaults(handler=_escalate)


def _aware(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("use ISO-8601, e.g. 2026-11-30T08:00:00-05:00") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("the moment needs a UTC offset, e.g. -05:00")
    return moment.astimezone(UTC)


def _escalate(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import database
    from case_core.services.escalation_mail import escalate_and_notify

    now = args.now or datetime.now(UTC)

    async def run() -> None:
        async with database(settings) as uow_factory:
            report = await escalate_and_notify(
                uow_factory,
                now,
                settings.tz,
                public_origin=settings.public_origin,
                at_risk_percent=settings.at_risk_percent,
                at_risk_min_days=settings.at_risk_min_days,
            )
        print(
            f"Casos escalados: {report.total} (sin primera acción: {report.first_action}; "
            f"en riesgo: {report.at_risk}; vencidos: {report.overdue})."
        )

    asyncio.run(run())
    return 0
