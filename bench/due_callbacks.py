#!/usr/bin/env python3
"""Picking due callbacks from 1 million pending: ``claim_due_callbacks`` under load.

Creates ``cac311_bench_callbacks`` (production migrations, seeded directory), then with
set-based SQL: ``--callbacks`` open cases (1,000,000 by default), a citizen for every five
cases (consent given), and one pending ``seguimiento`` callback per case, ``--due-percent``
of them due now (``next_attempt_at`` spread over the last 24 h) and the rest due later.

For each batch size (``--batches``, default 10 and 100) it runs 1 and then 2 concurrent
claimers - separate processes, like two dialer instances - each calling
``case_core.services.callbacks.claim_due_callbacks(uow_factory, now, limit)`` in a loop for
``--seconds``. It prints callbacks claimed per second, p50/p99 latency of one claim (one
transaction: SELECT ... FOR UPDATE SKIP LOCKED, UPDATE, COMMIT), checks that no callback was
claimed twice, and EXPLAINs (ANALYZE, BUFFERS) the claim query actually sent. Between runs the
table is VACUUMed (as autovacuum eventually would) so each run starts alike; ``--no-vacuum``
shows the drift caused by dead index entries instead.

    python bench/due_callbacks.py                    # 1M pending
    python bench/due_callbacks.py --callbacks 100000 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    percentile,
    recreate_database,
    summary,
)

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in Panama: calling hours
CHUNK = 500_000

CITIZENS_SQL = """
INSERT INTO citizens (id, cedula, first_name, last_name, callback_consent, created_at)
SELECT i, '8-' || (1 + i / 100000) || '-' || (1 + i % 100000), 'Ciudadano', 'Prueba', true,
       $3::timestamptz - interval '400 days'
FROM generate_series($1::int, $2::int) i
"""

CASES_SQL = """
INSERT INTO cases (id, number, type, channel, status, citizen_id, entity_id, description,
                   confidential, anonymous, sla_days, opened_at, due_at,
                   resolved_at_first_contact, needs_review, created_at)
SELECT i, (2016 + (i - 1) / 999999)::text || lpad((1 + (i - 1) % 999999)::text, 6, '0'),
       'queja', 'telefono', 'asignado', 1 + (i - 1) / 5,
       ($4::int[])[1 + i % array_length($4::int[], 1)],
       'Caso generado para la prueba de devoluciones de llamada', false, false, 10,
       $3::timestamptz - (i % 10) * interval '1 day',
       $3::timestamptz + interval '10 days', false, false, $3::timestamptz
FROM generate_series($1::int, $2::int) i
"""

CALLBACKS_SQL = """
INSERT INTO callbacks (id, case_id, kind, phone, window_start_at, window_end_at,
                       next_attempt_at, attempts, max_attempts, status, updated_at, created_at)
SELECT i, i, 'seguimiento', '+5076' || lpad((i % 10000000)::text, 7, '0'),
       $3::timestamptz - interval '1 day', $3::timestamptz + interval '10 days',
       CASE WHEN (i::bigint * 2654435761) % 100 < $4::int
            THEN $3::timestamptz - ((i::bigint * 40503) % 86400) * interval '1 second'
            ELSE $3::timestamptz + (1 + (i::bigint * 40503) % 432000) * interval '1 second'
       END,
       0, 4, 'pendiente', $3::timestamptz, $3::timestamptz
FROM generate_series($1::int, $2::int) i
"""


async def _load(conn: asyncpg.Connection, what: str, sql: str, total: int, *extra: Any) -> None:
    start = time.perf_counter()
    for lo in range(1, total + 1, CHUNK):
        hi = min(lo + CHUNK - 1, total)
        await conn.execute(sql, lo, hi, *extra)
        print(f"  {what}: {hi:,}/{total:,}  ({time.perf_counter() - start:.0f} s)", flush=True)


async def build(args: argparse.Namespace) -> str:
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.migrate import upgrade_async
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.seed.loader import seed

    url = await recreate_database(args.server_url, args.db_name)
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        await seed(UnitOfWorkFactory(make_sessionmaker(engine)), now=NOW, demo_users=True)
    finally:
        await engine.dispose()
    n = args.callbacks
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.execute("DELETE FROM citizen_phones; DELETE FROM citizens")  # seed's demo
        entity_ids = await conn.fetchval("SELECT array_agg(id ORDER BY id) FROM entities")
        await conn.execute("SET session_replication_role = replica")  # no FK triggers
        await conn.execute("SET synchronous_commit = off")
        print(f"loading {n:,} cases and pending callbacks ({args.due_percent} % due now)")
        with Stopwatch() as sw:
            await _load(conn, "citizens", CITIZENS_SQL, (n + 4) // 5, NOW)
            await _load(conn, "cases", CASES_SQL, n, NOW, entity_ids)
            await _load(conn, "callbacks", CALLBACKS_SQL, n, NOW, args.due_percent)
            await conn.execute("SET session_replication_role = origin")
            for table in ("citizens", "cases", "callbacks"):
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            for table in ("citizens", "cases", "callbacks"):
                await conn.execute(f"VACUUM ANALYZE {table}")
        print(f"load + vacuum: {sw.seconds:.0f} s")
    finally:
        await conn.close()
    return url


# ---- claimer processes --------------------------------------------------------------------


def claimer_process(url: str, batch: int, seconds: float, start: Any, conn: Any) -> None:
    asyncio.run(_claimer(url, batch, seconds, start, conn))


async def _claimer(url: str, batch: int, seconds: float, start: Any, conn: Any) -> None:
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.services.callbacks import claim_due_callbacks

    engine = make_engine(url, pool_size=2)
    uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
    await claim_due_callbacks(uow_factory, NOW, 0)  # imports done; limit 0 claims nothing
    async with engine.connect():
        pass  # one pooled connection ready
    conn.send("ready")
    start.wait()
    samples: list[tuple[float, float, int]] = []
    ids: list[int] = []
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        t = time.perf_counter()
        claimed = await claim_due_callbacks(uow_factory, NOW, batch)
        samples.append((t - t0, time.perf_counter() - t, len(claimed)))
        ids += [c.id for c in claimed]
        if not claimed:
            break  # nothing due any more
    wall = time.perf_counter() - t0
    await engine.dispose()
    conn.send({"samples": samples, "ids": ids, "wall": wall})


def run_claimers(url: str, batch: int, claimers: int, seconds: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs, pipes = [], []
    for _ in range(claimers):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=claimer_process, args=(url, batch, seconds, start, child))
        p.start()
        procs.append(p)
        pipes.append(parent)
    for pipe in pipes:
        assert pipe.recv() == "ready"
    start.set()
    results = [pipe.recv() for pipe in pipes]
    for p in procs:
        p.join(10)
    samples = [s for r in results for s in r["samples"]]
    ids = [i for r in results for i in r["ids"]]
    wall = max(r["wall"] for r in results)
    return {"samples": samples, "ids": ids, "wall": wall}


async def remaining_due(url: str) -> int:
    conn = await asyncpg.connect(dsn(url))
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM callbacks WHERE status = 'pendiente' AND next_attempt_at <= $1",
            NOW,
        )
    finally:
        await conn.close()


async def vacuum(url: str) -> None:
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.execute("VACUUM ANALYZE callbacks")
    finally:
        await conn.close()


async def explain_claim(url: str, batch: int) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) the SELECT claim_due_callbacks sends, then roll back."""
    from sqlalchemy import event

    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.services.callbacks import claim_due_callbacks

    engine = make_engine(url, pool_size=1)
    captured: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *a: Any) -> None:
        if "FOR UPDATE" in statement:
            captured.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await claim_due_callbacks(UnitOfWorkFactory(make_sessionmaker(engine)), NOW, batch)
    finally:
        await engine.dispose()
    if not captured:
        print("  (no claim query captured)")
        return
    statement, params = captured[0]
    conn = await asyncpg.connect(dsn(url))
    try:
        tr = conn.transaction()
        await tr.start()
        plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *(params or ()))
        await tr.rollback()
    finally:
        await conn.close()
    print("\n  -- " + " ".join(statement.split()))
    print(f"  -- params {tuple(params or ())}")
    for row in plan:
        print("     " + row[0])


async def main_async(args: argparse.Namespace) -> int:
    from _common import db_url

    url = db_url(args.server_url, args.db_name)
    try:
        if not args.reuse:
            url = await build(args)
        due = await remaining_due(url)
        print(f"\nDue callbacks [{machine()}]  due now: {due:,}; each run {args.seconds:.0f} s")
        rows = []
        for batch in args.batches:
            for claimers in (1, 2):
                if not args.no_vacuum:
                    await vacuum(url)
                r = run_claimers(url, batch, claimers, args.seconds)
                lat = [s[1] for s in r["samples"]]
                n_rows = len(r["ids"])
                dupes = n_rows - len(set(r["ids"]))
                first = sorted(r["samples"])[: max(len(lat) // 5, 1)]
                last = sorted(r["samples"])[-max(len(lat) // 5, 1) :]
                drift = (
                    f"p50 first 20 % {percentile([s[1] for s in first], 50) * 1000:.1f} ms, "
                    f"last 20 % {percentile([s[1] for s in last], 50) * 1000:.1f} ms"
                )
                rows.append(
                    f"  batch {batch:>4}, {claimers} claimer(s): {n_rows / r['wall']:8.0f} "
                    f"callbacks/s  {len(lat) / r['wall']:6.0f} claims/s  latency "
                    f"{summary(lat)}  duplicates {dupes}  [{drift}]"
                )
                print(rows[-1], flush=True)
        print(f"due now after the runs: {await remaining_due(url):,}")
        await explain_claim(url, args.batches[-1])
    finally:
        if not args.keep:
            await drop_database(args.server_url, args.db_name)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--callbacks", type=int, default=1_000_000, help="pending (%(default)s)")
    p.add_argument("--due-percent", type=int, default=50, help="due now (%(default)s)")
    p.add_argument("--batches", type=int, nargs="+", default=[10, 100], help="claim limits")
    p.add_argument("--seconds", type=float, default=10.0, help="per run (%(default)s)")
    p.add_argument("--no-vacuum", action="store_true", help="do not VACUUM between runs")
    p.add_argument("--reuse", action="store_true", help="use a kept database as it is")
    add_db_args(p, "cac311_bench_callbacks")
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
