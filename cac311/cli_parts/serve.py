"""``cac311 serve``: run every part (or ``--only`` some) against a real Asterisk and PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import sys

from cac311.config import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from cac311.bootstrap import PARTS

    parser = sub.add_parser("serve", help="run FastAGI, AMI tracking, desktop and dialer")
    parser.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        metavar="PART",
        help=f"run only this part (repeatable): {', '.join(PARTS)}",
    )
    parser.set_defaults(handler=_serve)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import PARTS, run_parts
    from cac311.first_start import refuse_unsafe_start

    if (refusal := refuse_unsafe_start(settings)) is not None:
        print(refusal, file=sys.stderr)
        return 3
    parts = set(args.only or PARTS)
    return asyncio.run(run_parts(settings, parts))
