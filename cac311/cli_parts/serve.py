"""``cac311 serve``: run every part (or ``--only`` some) against a real Asterisk and PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import sys

from cac311.config import Settings


def parts_list(value: str) -> list[str]:
    """``--only`` value: one part or a comma list (``ami,web``), each a known part."""
    from cac311.bootstrap import PARTS

    parts = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if not parts or unknown:
        raise argparse.ArgumentTypeError(
            f"invalid part {', '.join(unknown) or repr(value)} (choose from {', '.join(PARTS)})"
        )
    return parts


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from cac311.bootstrap import PARTS

    parser = sub.add_parser("serve", help="run FastAGI, AMI tracking, desktop and dialer")
    parser.add_argument(
        "--only",
        action="append",
        type=parts_list,
        metavar="PART[,PART...]",
        help=f"run only these parts (a comma list, or repeat the option): {', '.join(PARTS)}",
    )
    parser.set_defaults(handler=_serve)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.bootstrap import PARTS, run_parts
    from cac311.first_start import refuse_unsafe_start

    if (refusal := refuse_unsafe_start(settings)) is not None:
        print(refusal, file=sys.stderr)
        return 3
    parts = {p for group in args.only or [PARTS] for p in group}
    return asyncio.run(run_parts(settings, parts))
