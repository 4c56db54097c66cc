"""``cac311 web``: run only the agent desktop (and its recordings and wallboard pages).

It opens its own AMI connections for the agents' queue actions and the case-number
read-back; pops and agent states from a separate AMI process arrive through PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio

from cac311.config import Settings


def _web(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import run_parts

    return asyncio.run(run_parts(settings, {"web"}))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``cac311 web``."""
    parser = sub.add_parser("web", help="run the agent desktop (HTTP) only")
    parser.set_defaults(handler=_web)
