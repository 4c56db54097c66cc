#!/usr/bin/env python3
"""Citizen-history lookup for the screen pop, with 2 million citizens and 10 million cases.

Creates ``cac311_bench_big``, applies the production migrations (so the indexes are exactly
the migrations' ones), seeds the directory, then loads synthetic data with set-based SQL
(``INSERT ... SELECT ... FROM generate_series``, in chunks, FK triggers off during the load):

- citizens: ``2,000,000 x scale``, canonical cédulas ``P-T-A`` (all distinct);
- citizen_phones: one mobile each (``+5076xxxxxxx``) plus, for one citizen in five, a home
  landline shared by four citizens (the case where the pop lists several people);
- cases: ``10,000,000 x scale`` over ten years of numbers; 12 % without a citizen, 10 % on a
  set of frequent callers (1 % of the citizens, about 50 cases each), the rest uniform
  (about 4.4 each); 80 % closed.

Then it times, one at a time, the real calls the pop makes: ``identify_by_cedula`` (citizen,
phones and last 20 cases), ``identify_by_caller_id`` (``citizen_phones.e164``) and
``CaseRepository.for_citizen``, each over ``--lookups`` random keys, and prints p50/p99 and the
``EXPLAIN (ANALYZE, BUFFERS)`` of the statements actually sent (captured from SQLAlchemy).

    python bench/history_lookup.py --scale 0.01     # 20k citizens, 100k cases, seconds
    python bench/history_lookup.py                  # full size (several minutes to load)
    python bench/history_lookup.py --reuse --keep   # time again on a kept database
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import asyncpg  # noqa: E402
from _common import (  # noqa: E402
    Stopwatch,
    add_db_args,
    db_url,
    drop_database,
    dsn,
    machine,
    recreate_database,
    summary,
)
from sqlalchemy import event  # noqa: E402

FIRST_NAMES = [
    "Juan",
    "María",
    "José",
    "Ana",
    "Luis",
    "Carmen",
    "Carlos",
    "Rosa",
    "Pedro",
    "Yarisel",
    "Jorge",
    "Itzel",
    "Ricardo",
    "Yamileth",
    "Eduardo",
    "Migdalia",
]
LAST_NAMES = [
    "Pérez",
    "González",
    "Rodríguez",
    "Sánchez",
    "Castillo",
    "Batista",
    "Herrera",
    "Morales",
    "Samudio",
    "Quintero",
    "Delgado",
    "Pinzón",
    "Jaén",
    "Vergara",
    "Domínguez",
    "Saldaña",
    "Ortega",
]
TYPES = ["queja", "denuncia", "sugerencia", "solicitud", "consulta"]
OPEN_STATUSES = ["registrado", "asignado", "en_proceso", "devuelto_311"]
TOMO_MAX = 9999
CHUNK = 1_000_000


def cedula_of(i: int) -> str:
    """The cédula generated for citizen ``i`` (same formula as the SQL)."""
    return f"{1 + i % 13}-{1 + (i // 13) % TOMO_MAX}-{1 + i // (13 * TOMO_MAX)}"


def mobile_of(i: int) -> str:
    """Caller ID (national form, as Asterisk sends it) of citizen ``i``'s mobile."""
    return f"6{i:07d}"


def landline_of(i: int) -> str | None:
    """Caller ID of the home phone citizen ``i`` shares with three others (1 in 5 have one)."""
    return None if i % 5 else f"{2_000_000 + i // 20}"


def _sql_array(values: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


CITIZENS_SQL = f"""
INSERT INTO citizens (id, cedula, first_name, last_name, province, district, corregimiento,
                      callback_consent, created_at)
SELECT i,
       (1 + i % 13) || '-' || (1 + (i / 13) % {TOMO_MAX}) || '-' || (1 + i / {13 * TOMO_MAX}),
       ({_sql_array(FIRST_NAMES)})[1 + i % {len(FIRST_NAMES)}],
       ({_sql_array(LAST_NAMES)})[1 + (i / 7) % {len(LAST_NAMES)}],
       'Panamá', 'Panamá', 'Bella Vista', (i % 10) <> 0,
       timestamptz '2016-01-01 00:00+00' + (i % 3000) * interval '1 day'
FROM generate_series($1::int, $2::int) AS i
"""

PHONES_SQL = """
INSERT INTO citizen_phones (citizen_id, e164, kind)
SELECT i, '+5076' || lpad(i::text, 7, '0'), 'movil' FROM generate_series($1::int, $2::int) i
UNION ALL
SELECT i, '+507' || (2000000 + i / 20)::text, 'fijo'
FROM generate_series($1::int, $2::int) i WHERE i % 5 = 0
"""

# h: a cheap deterministic hash of i (Knuth's multiplicative constant), spread over columns.
CASES_SQL = f"""
INSERT INTO cases (id, number, type, channel, status, citizen_id, entity_id, description,
                   confidential, anonymous, sla_days, opened_at, due_at, closed_at,
                   resolved_at_first_contact, needs_review, created_at)
SELECT i, num, typ, 'telefono', st, cit, ($4::int[])[1 + (h / 7) % array_length($4::int[], 1)],
       'Caso generado para la prueba de rendimiento del historial ciudadano, número ' || num,
       typ = 'denuncia', false, 10, opened, opened + interval '14 days',
       CASE WHEN st = 'cerrado' THEN opened + interval '5 days' END, false, false, opened
FROM (
    SELECT i, h, typ,
           ((2017 + (i - 1) / 999999)::text || lpad((1 + (i - 1) % 999999)::text, 6, '0')) num,
           make_timestamptz(2017 + (i - 1) / 999999, 1, 1, 12, 0, 0, 'UTC')
               + ((i - 1) % 999999) * interval '31 seconds' AS opened,
           CASE WHEN (h / 100) % 10 < 8 THEN 'cerrado'
                ELSE ({_sql_array(OPEN_STATUSES)})[1 + (h / 1000) % 4] END AS st,
           CASE WHEN h % 100 < 12 THEN NULL
                WHEN h % 100 < 22 THEN 1 + (h / 100) % greatest($3::int / 100, 1)
                ELSE 1 + (h / 100) % $3::int END AS cit
    FROM (
        SELECT i, (i::bigint * 2654435761) % 4294967296 AS h,
               ({_sql_array(TYPES)})[1 + (i * 7) % 5] AS typ
        FROM generate_series($1::int, $2::int) AS i
    ) g
) c
"""


async def _load(conn: asyncpg.Connection, what: str, sql: str, total: int, *extra: Any) -> None:
    start = time.perf_counter()
    for lo in range(1, total + 1, CHUNK):
        hi = min(lo + CHUNK - 1, total)
        await conn.execute(sql, lo, hi, *extra)
        print(f"  {what}: {hi:,}/{total:,}  ({time.perf_counter() - start:.0f} s)", flush=True)


async def build(args: argparse.Namespace) -> tuple[str, dict[str, float]]:
    """Create, migrate, seed and fill the database; returns its URL and load timings."""
    from datetime import UTC, datetime

    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.migrate import upgrade_async
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.seed.loader import seed

    n_cit, n_cases = int(2_000_000 * args.scale), int(10_000_000 * args.scale)
    timings: dict[str, float] = {}
    url = await recreate_database(args.server_url, args.db_name)
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        await seed(
            UnitOfWorkFactory(make_sessionmaker(engine)),
            now=datetime(2026, 11, 2, 13, 0, tzinfo=UTC),
            demo_users=True,
        )
    finally:
        await engine.dispose()
    conn = await asyncpg.connect(dsn(url))
    try:
        # The seed added 4 demo citizens; ours start after them.
        await conn.execute("DELETE FROM citizen_phones; DELETE FROM citizens")
        entity_ids = await conn.fetchval("SELECT array_agg(id ORDER BY id) FROM entities")
        await conn.execute("SET session_replication_role = replica")  # no FK triggers
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '512MB'")
        print(f"loading {n_cit:,} citizens and {n_cases:,} cases into {args.db_name}")
        with Stopwatch() as sw:
            await _load(conn, "citizens", CITIZENS_SQL, n_cit)
        timings["citizens"] = sw.seconds
        with Stopwatch() as sw:
            await _load(conn, "citizen_phones (by citizen)", PHONES_SQL, n_cit)
        timings["citizen_phones"] = sw.seconds
        with Stopwatch() as sw:
            await _load(conn, "cases", CASES_SQL, n_cases, n_cit, entity_ids)
        timings["cases"] = sw.seconds
        await conn.execute("SET session_replication_role = origin")
        for table in ("citizens", "citizen_phones", "cases"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        with Stopwatch() as sw:
            await conn.execute("VACUUM ANALYZE citizens")
            await conn.execute("VACUUM ANALYZE citizen_phones")
            await conn.execute("VACUUM ANALYZE cases")
        timings["vacuum analyze"] = sw.seconds
    finally:
        await conn.close()
    return url, timings


async def sizes(url: str) -> list[str]:
    conn = await asyncpg.connect(dsn(url))
    try:
        rows = await conn.fetch(
            """
            SELECT c.relname, c.reltuples::bigint AS n,
                   pg_size_pretty(pg_relation_size(c.oid)) AS heap,
                   pg_size_pretty(pg_indexes_size(c.oid)) AS idx,
                   (SELECT string_agg(indexrelid::regclass::text, ', ' ORDER BY 1)
                      FROM pg_index WHERE indrelid = c.oid) AS indexes
            FROM pg_class c WHERE c.relname IN ('citizens', 'citizen_phones', 'cases')
            ORDER BY c.relname
            """
        )
    finally:
        await conn.close()
    return [
        f"{r['relname']}: ~{r['n']:,} rows, heap {r['heap']}, indexes {r['idx']} ({r['indexes']})"
        for r in rows
    ]


class Capture:
    """Records the SQL statements SQLAlchemy sends (for EXPLAIN of the real queries)."""

    def __init__(self, engine: Any) -> None:
        self.on = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, params: Any, *a: Any) -> None:
        if self.on:
            self.statements.append((statement, params))


async def time_lookups(url: str, args: argparse.Namespace) -> None:
    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.services.citizens import identify_by_caller_id, identify_by_cedula

    conn = await asyncpg.connect(dsn(url))
    try:
        n_cit = await conn.fetchval("SELECT max(id) FROM citizens")
    finally:
        await conn.close()
    engine = make_engine(url, pool_size=2)
    capture = Capture(engine)
    uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
    rng = random.Random(311)

    async def for_citizen(citizen_id: int) -> int:
        async with uow_factory() as uow:
            return len(await uow.cases.for_citizen(citizen_id))

    async def by_cedula(i: int) -> int:
        view = await identify_by_cedula(uow_factory, cedula_of(i))
        assert view is not None and view.id == i, (i, view)
        return len(view.cases)

    async def by_caller_id(i: int, *, home: bool | None = None) -> int:
        landline = landline_of(i)
        if home is None:
            home = rng.random() < 0.5
        number = landline if landline and home else mobile_of(i)
        views = await identify_by_caller_id(uow_factory, number)
        assert any(v.id == i for v in views), (i, number)
        return len(views)

    lookups = [
        ("identify_by_cedula (citizen + phones + 20 cases)", by_cedula),
        ("identify_by_caller_id (citizen_phones.e164)", by_caller_id),
        ("CaseRepository.for_citizen (limit 20)", for_citizen),
    ]
    print(
        f"\nHistory lookup [{machine()}]  {n_cit:,} citizens; "
        f"{args.lookups} random lookups each, one at a time, after {args.warmup} warm-up"
    )
    try:
        for label, fn in lookups:
            for _ in range(args.warmup):
                await fn(rng.randint(1, n_cit))
            times: list[float] = []
            found = 0
            for _ in range(args.lookups):
                key = rng.randint(1, n_cit)
                t0 = time.perf_counter()
                found += await fn(key)
                times.append(time.perf_counter() - t0)
            print(f"  {label:52s} {summary(times)}  avg rows {found / args.lookups:.1f}")
        # Frequent callers: the longest histories.
        times = []
        for _ in range(args.lookups // 10 or 1):
            cid = rng.randint(1, max(n_cit // 100, 1))
            t0 = time.perf_counter()
            await for_citizen(cid)
            times.append(time.perf_counter() - t0)
        print(f"  {'for_citizen, frequent callers (~50 cases each)':52s} {summary(times)}")

        # EXPLAIN the statements the services really sent.
        capture.on = True
        await by_cedula(1)  # citizen 1 is among the frequent callers
        await by_caller_id(20, home=True)  # a shared landline: four citizens
        capture.on = False
        raw = await engine.raw_connection()
        try:
            apg = raw.driver_connection
            seen: set[str] = set()
            for statement, params in capture.statements:
                if not statement.lstrip().upper().startswith("SELECT") or statement in seen:
                    continue
                seen.add(statement)
                plan = await apg.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *(params or ()))
                flat = " ".join(statement.split())
                print("\n  -- " + re.sub(r"^SELECT .*? FROM", "SELECT <columns> FROM", flat))
                print(f"  -- params {tuple(params or ())}")
                for row in plan:
                    print("     " + row[0])
        finally:
            raw.close()
    finally:
        await engine.dispose()


async def main_async(args: argparse.Namespace) -> int:
    url = db_url(args.server_url, args.db_name)
    try:
        if not args.reuse:
            with Stopwatch() as total:
                url, timings = await build(args)
            print(
                "load times: "
                + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
                + f"; total with migrate+seed {total.seconds:.0f} s"
            )
        for line in await sizes(url):
            print("  " + line)
        await time_lookups(url, args)
    finally:
        if not args.keep:
            await drop_database(args.server_url, args.db_name)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--scale", type=float, default=1.0, help="fraction of 2M citizens / 10M cases (%(default)s)"
    )
    p.add_argument("--lookups", type=int, default=1000, help="per query (%(default)s)")
    p.add_argument("--warmup", type=int, default=100, help="per query (%(default)s)")
    p.add_argument(
        "--reuse", action="store_true", help="do not rebuild: time an existing (kept) database"
    )
    add_db_args(p, "cac311_bench_big")
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
