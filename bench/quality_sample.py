#!/usr/bin/env python3
"""The weekly quality sample over a year of closed cases: ``draw_weekly_sample`` under load.

Creates ``cac311_bench_quality`` (production migrations, seeded directory), then loads with
set-based SQL ``--cases`` closed cases (2,000,000 by default: about 38,000 a week) spread
over the 52 weeks before 2026-W48 and over every seeded entity, types cycling.

It times ``case_core.services.quality.draw_weekly_sample`` for ``--weeks`` weeks (the first
draw of a week, then the same week again, which must add nothing), and EXPLAINs (ANALYZE,
BUFFERS) the candidate query, which should use ``ix_cases_closed_at``.

    python bench/quality_sample.py                  # 2 M closed cases
    python bench/quality_sample.py --cases 200000   # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import asyncpg  # noqa: E402
from _common import (  # noqa: E402
    Stopwatch,
    add_db_args,
    drop_database,
    dsn,
    machine,
    recreate_database,
)

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
CHUNK = 500_000

CASES_SQL = """
INSERT INTO cases (id, number, type, channel, status, entity_id, description, confidential,
                   anonymous, sla_days, opened_at, due_at, first_action_at, closed_at,
                   resolved_at_first_contact, needs_review, created_at)
SELECT i, (2016 + (i - 1) / 999999)::text || lpad((1 + (i - 1) % 999999)::text, 6, '0'),
       (ARRAY['queja','solicitud','consulta','sugerencia'])[1 + i % 4], 'telefono', 'cerrado',
       ($4::int[])[1 + i % array_length($4::int[], 1)], 'Caso de la prueba de calidad',
       false, false, 10,
       $3::timestamptz - ((i::bigint * 40503) % (364 * 86400)) * interval '1 second'
         - interval '3 days',
       $3::timestamptz, $3::timestamptz,
       $3::timestamptz - ((i::bigint * 40503) % (364 * 86400)) * interval '1 second',
       false, false, $3::timestamptz
FROM generate_series($1::int, $2::int) i
"""

CANDIDATES_SQL = """
EXPLAIN (ANALYZE, BUFFERS)
SELECT c.id, c.entity_id, c.type FROM cases c
WHERE c.status = 'cerrado' AND c.closed_at >= $1 AND c.closed_at < $2
  AND NOT EXISTS (SELECT 1 FROM quality_samples s WHERE s.case_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM case_audits a WHERE a.case_id = c.id)
"""


async def build(args: argparse.Namespace) -> str:
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.migrate import upgrade_async
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.seed.loader import seed

    url = await recreate_database(args.server_url, args.db_name)
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        await seed(UnitOfWorkFactory(make_sessionmaker(engine)), now=NOW)
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(dsn(url))
    try:
        entity_ids = await conn.fetchval("SELECT array_agg(id ORDER BY id) FROM entities")
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("SET synchronous_commit = off")
        with Stopwatch() as sw:
            for lo in range(1, args.cases + 1, CHUNK):
                hi = min(lo + CHUNK - 1, args.cases)
                await conn.execute(CASES_SQL, lo, hi, NOW, entity_ids)
                print(f"  cases: {hi:,}/{args.cases:,}", flush=True)
            await conn.execute("SET session_replication_role = origin")
            await conn.execute(
                "SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))"
            )
            await conn.execute("VACUUM ANALYZE cases")
        print(f"load + vacuum: {sw.seconds:.0f} s ({len(entity_ids)} entities)")
    finally:
        await conn.close()
    return url


async def run(args: argparse.Namespace) -> None:
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.domain import quality as q
    from case_core.services.quality import PANAMA, draw_weekly_sample

    print(machine())
    url = await build(args)
    engine = make_engine(url)
    uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
    try:
        last = q.previous_week(NOW, PANAMA)
        for k in range(args.weeks):
            week = q.shift_week(last, -k)
            t0 = time.perf_counter()
            report = await draw_weekly_sample(uow_factory, week=week, now=NOW)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            again = await draw_weekly_sample(uow_factory, week=week, now=NOW)
            second = time.perf_counter() - t0
            assert again.cases == 0, "a second draw of the same week added cases"
            print(
                f"{week}: {report.cases} cases for {len(report.drawn)} entities drawn in "
                f"{first * 1000:.0f} ms; the same week again in {second * 1000:.0f} ms"
            )
        conn = await asyncpg.connect(dsn(url))
        try:
            start, end = q.week_bounds(last, PANAMA)
            plan = await conn.fetch(CANDIDATES_SQL, start, end)
            print("\n".join(r[0] for r in plan))
        finally:
            await conn.close()
    finally:
        await engine.dispose()
        if not args.keep:
            await drop_database(args.server_url, args.db_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_db_args(parser, "cac311_bench_quality")
    parser.add_argument("--cases", type=int, default=2_000_000, help="closed cases to load")
    parser.add_argument("--weeks", type=int, default=3, help="weeks to draw")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
