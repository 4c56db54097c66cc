#!/usr/bin/env python3
"""Private case status: cost of the tracking-code hash, and of a lookup through the service.

Prints the scrypt hash and verify times (what a registration and a correct lookup pay), the
offline cost of trying every six-digit code against one stolen hash, and p50/p99 of
``private_status`` (the IVR's and the web's call) on a bench database, for a right code and a
wrong one (a wrong one also writes its rate-limit event).

    python bench/case_status_lookup.py --lookups 200
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from _common import add_db_args, drop_database, machine, ms, recreate_database, summary  # noqa: E402

from case_core.domain.tracking import hash_tracking_code, new_tracking_code, verify_tracking_code  # noqa: E402

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
PANAMA = ZoneInfo("America/Panama")


def hash_costs(n: int) -> tuple[float, float]:
    code = new_tracking_code()
    t = time.perf_counter()
    hashes = [hash_tracking_code(code) for _ in range(n)]
    hashing = (time.perf_counter() - t) / n
    t = time.perf_counter()
    for h in hashes:
        assert verify_tracking_code(code, h)
    return hashing, (time.perf_counter() - t) / n


async def lookups(args: argparse.Namespace) -> tuple[list[float], list[float]]:
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.migrate import upgrade_async
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.domain.case import CaseType, Channel
    from case_core.domain.roles import Actor, Role
    from case_core.seed.loader import seed
    from case_core.services.case_status import private_status
    from case_core.services.cases import RegisterCase, register_case

    url = await recreate_database(args.server_url, args.db_name)
    await upgrade_async(url)
    engine = make_engine(url)
    right, wrong = [], []
    try:
        uow = UnitOfWorkFactory(make_sessionmaker(engine))
        await seed(uow, now=NOW)
        async with uow() as u:
            idaan = await u.directory.entity_by_code("IDAAN")
            service = await u.directory.service_by_code(idaan.id, "fuga")
        case = await register_case(
            uow,
            RegisterCase(
                type=CaseType.QUEJA,
                channel=Channel.TELEFONO,
                entity_id=idaan.id,
                service_id=service.id,
                description="Fuga en la vía principal.",
            ),
            actor=Actor(None, "agente1", Role.AGENT),
            now=NOW,
            tz=PANAMA,
        )
        bad = f"{(int(case.tracking_code) + 1) % 10**6:06d}"
        for i in range(args.lookups):
            t = time.perf_counter()
            found = await private_status(
                uow,
                number=case.number,
                secret=case.tracking_code,
                source=f"bench:{i}",
                now=NOW,
                tz=PANAMA,
            )
            right.append(time.perf_counter() - t)
            assert found is not None
            t = time.perf_counter()
            # A new source each time, and no more wrong ones than the per-case limit allows.
            refused = await private_status(
                uow,
                number=case.number,
                secret=bad,
                source=f"bench-bad:{i}",
                now=NOW,
                tz=PANAMA,
            )
            wrong.append(time.perf_counter() - t)
            assert refused is None
    finally:
        await engine.dispose()
        if not args.keep:
            await drop_database(args.server_url, args.db_name)
    return right, wrong


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hashes", type=int, default=20)
    p.add_argument("--lookups", type=int, default=9, help="(at most 9: the per-case limit)")
    add_db_args(p, "cac311_bench_status")
    args = p.parse_args()
    args.lookups = min(args.lookups, 9)
    print(machine())
    hashing, verify = hash_costs(args.hashes)
    print(f"scrypt hash (registration): {ms(hashing)}; verify (lookup): {ms(verify)}")
    hours = verify * 1e6 / 3600
    print(f"offline search of all 10^6 codes for one stolen hash: {hours:.1f} core-hours")
    right, wrong = asyncio.run(lookups(args))
    print(f"private_status, right code ({len(right)}): {summary(right)}")
    print(f"private_status, wrong code ({len(wrong)}): {summary(wrong)}")


if __name__ == "__main__":
    main()
