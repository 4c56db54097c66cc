"""``cac311 demo``: the whole system with a private PostgreSQL and simulated telephony."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from cac311.config import PREFIX, ConfigError, HostPort, Settings, _host_port


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "demo",
        help="run everything with a private PostgreSQL and simulated calls",
        description="Arranca cac311 completo con PostgreSQL privado y llamadas simuladas.",
    )
    parser.add_argument(
        "--calls-per-minute", type=float, default=6.0, help="simulated arrivals (default 6)"
    )
    parser.add_argument(
        "--http", default="127.0.0.1:8080", help="HOST:PORT of the desktop (default %(default)s)"
    )
    parser.add_argument(
        "--data", type=Path, default=Path("var/demo"), help="data directory (default var/demo)"
    )
    parser.add_argument("--reset", action="store_true", help="start from an empty database")
    parser.add_argument("--bots", type=int, default=2, help="simulated agents (default 2)")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="time factor of simulated durations"
    )
    parser.add_argument(
        "--agent-talk-seconds",
        type=float,
        default=120.0,
        help="how long a call offered to a person stays connected (default 120)",
    )
    parser.set_defaults(handler=_demo)


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from cac311.demo import DemoOptions, run_demo
    from cac311.embedded_pg import EmbeddedPgError

    try:
        http: HostPort = _host_port("HTTP_BIND", args.http)
    except ConfigError:
        print(f"--http debe ser HOST:PUERTO, no {args.http!r}", file=sys.stderr)
        return 2
    if args.calls_per_minute < 0 or args.speed <= 0 or args.bots < 0:
        print("--calls-per-minute y --bots no pueden ser negativos; --speed > 0", file=sys.stderr)
        return 2
    options = DemoOptions(
        calls_per_minute=args.calls_per_minute,
        http=http,
        data_dir=args.data,
        reset=args.reset,
        bots=args.bots,
        speed=args.speed,
        human_talk_seconds=args.agent_talk_seconds,
    )
    external = os.environ.get(PREFIX + "DATABASE_URL")
    if not args.verbose:
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        return asyncio.run(
            run_demo(settings, options, database_url=settings.database_url if external else None)
        )
    except EmbeddedPgError as err:
        print(f"No se pudo iniciar PostgreSQL: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"No se pudo iniciar la demostración: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
