"""Citizen search (``search_citizens``) over 2 M citizens: a name, a partial cédula, a phone.

Loads ``--citizens`` citizens (2,000,000 by default) with Panamanian-style names (two given
names out of 60, two surnames out of 80: about 23 M combinations, so common names repeat as
they do in a real register), canonical cédulas, a mobile each and a landline shared by four
for one in five. The migrations build the trigram indexes after the load (the index build
time is printed). Then it times 1,000 random searches of each kind, one at a time, as the
agent desktop sends them, and prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the statements that
were really sent for one search of each kind.

Kinds: a given name plus a surname of a real citizen ("maria gonzalez", accents dropped as
agents type them), a given name and both surnames ("maria gonzalez perez"), a given name and
the first four letters of a surname ("maria gonz"), a surname alone, a given name alone
("maria"), the middle and last part of a real cédula ("1234-567"), and 7 digits of a real
mobile.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import unicodedata
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

GIVEN = (
    "Juan María José Ana Luis Carmen Carlos Rosa Pedro Yarisel Jorge Itzel Ricardo Yamileth "
    "Eduardo Migdalia Manuel Elena Francisco Isabel Antonio Gloria Miguel Lourdes Rafael "
    "Marta Roberto Patricia Fernando Sandra Alexis Yessenia Ernesto Katherine Ariel Dayana "
    "Rubén Maribel Abdiel Anayansi Omar Xiomara Iván Zuleika Edwin Yaritza Julio Nidia Félix "
    "Gisela Tomás Milagros Andrés Raquel Héctor Lucía Diego Sofía Samuel Valeria"
).split()
SURNAMES = (
    "Pérez González Rodríguez Sánchez Castillo Batista Herrera Morales Samudio Quintero "
    "Delgado Pinzón Jaén Vergara Domínguez Saldaña Ortega Martínez López Hernández Díaz "
    "Moreno Muñoz Romero Alvarado Torres Ramírez Flores Rivera Gómez Vásquez Cedeño Barría "
    "Villarreal Araúz Bósquez Caballero Chen Córdoba De León Espinosa Fernández Guerra "
    "Gutiérrez Jiménez Mendoza Montenegro Navarro Núñez Ríos Rosas Ruiz Serrano Solís Tejada "
    "Valdés Vega Aguilar Arosemena Cortés Duarte Escobar Franco Guevara Ibarra Lasso Mora "
    "Mosquera Osorio Pineda Quiroz Reyes Sáez Tapia Urriola Vargas Zamora Aparicio Bonilla"
).split()[:80]
TOMO_MAX = 9999
CHUNK = 500_000


def _arr(values: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _h(i: int, k: int) -> int:
    return (i * 2654435761 + k * 40503) % 4294967296


def given_of(i: int) -> str:
    return f"{GIVEN[_h(i, 1) % len(GIVEN)]} {GIVEN[_h(i, 2) // 7 % len(GIVEN)]}"


def surnames_of(i: int) -> str:
    return f"{SURNAMES[_h(i, 3) % len(SURNAMES)]} {SURNAMES[_h(i, 4) // 11 % len(SURNAMES)]}"


def cedula_of(i: int) -> str:
    return f"{1 + i % 13}-{1 + (i // 13) % TOMO_MAX}-{1 + i // (13 * TOMO_MAX)}"


def _sql_h(k: int) -> str:
    return f"((i::bigint * 2654435761 + {k * 40503}) % 4294967296)"


CITIZENS_SQL = f"""
INSERT INTO citizens (id, cedula, first_name, last_name, province, callback_consent, created_at)
SELECT i,
       (1 + i % 13) || '-' || (1 + (i / 13) % {TOMO_MAX}) || '-' || (1 + i / {13 * TOMO_MAX}),
       ({_arr(GIVEN)})[1 + {_sql_h(1)} % {len(GIVEN)}] || ' ' ||
       ({_arr(GIVEN)})[1 + {_sql_h(2)} / 7 % {len(GIVEN)}],
       ({_arr(SURNAMES)})[1 + {_sql_h(3)} % {len(SURNAMES)}] || ' ' ||
       ({_arr(SURNAMES)})[1 + {_sql_h(4)} / 11 % {len(SURNAMES)}],
       'Panamá', true, now()
FROM generate_series($1::int, $2::int) AS i
"""

PHONES_SQL = """
INSERT INTO citizen_phones (citizen_id, e164, kind)
SELECT i, '+5076' || lpad(i::text, 7, '0'), 'movil' FROM generate_series($1::int, $2::int) i
UNION ALL
SELECT i, '+507' || (2000000 + i / 20)::text, 'fijo'
FROM generate_series($1::int, $2::int) i WHERE i % 5 = 0
"""

TRIGRAM_INDEXES = (
    "ix_citizens_name_trgm",
    "ix_citizens_cedula_trgm",
    "ix_citizen_phones_e164_trgm",
    "ix_citizens_name_words",
    "ix_citizens_name_pairs",
    "ix_citizens_last_name_fold",
)


def plain(text: str) -> str:
    """As an agent types it: no accents, lower case."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


async def build(args: argparse.Namespace) -> str:
    from case_core.db.migrate import upgrade_async

    url = await recreate_database(args.server_url, args.db_name)
    # Migrate up to the search indexes' predecessor, load, then build the indexes: that is
    # how an existing register gets them, and it times the index build.
    await upgrade_async(url, "0010_rollup")
    conn = await asyncpg.connect(dsn(url))
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET session_replication_role = replica")
        for what, sql in (("citizens", CITIZENS_SQL), ("citizen_phones", PHONES_SQL)):
            with Stopwatch() as sw:
                for lo in range(1, args.citizens + 1, CHUNK):
                    await conn.execute(sql, lo, min(lo + CHUNK - 1, args.citizens))
            print(f"  loaded {what} in {sw.seconds:.0f} s", flush=True)
        await conn.execute("SET session_replication_role = origin")
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('citizens', 'id'), "
            "(SELECT max(id) FROM citizens))"
        )
    finally:
        await conn.close()
    with Stopwatch() as sw:
        await upgrade_async(url, "0010_citizen_search")
    print(f"  migration 0010_citizen_search (4 indexes): {sw.seconds:.0f} s", flush=True)
    with Stopwatch() as sw:
        await upgrade_async(url)
    print(f"  to head (0012_citizen_name_pairs: 2 indexes): {sw.seconds:.0f} s", flush=True)
    conn = await asyncpg.connect(dsn(url))
    try:
        with Stopwatch() as sw:
            await conn.execute("VACUUM ANALYZE citizens")
            await conn.execute("VACUUM ANALYZE citizen_phones")
        print(f"  VACUUM ANALYZE: {sw.seconds:.0f} s")
        for name in TRIGRAM_INDEXES:
            size = await conn.fetchval(
                "SELECT pg_size_pretty(pg_relation_size(CAST($1 AS regclass)))", name
            )
            print(f"  {name}: {size}")
    finally:
        await conn.close()
    return url


def queries(kind: str, n_cit: int, rng: random.Random) -> str:
    i = rng.randint(1, n_cit)
    if kind == "name":
        return plain(f"{given_of(i).split()[0]} {surnames_of(i).split()[0]}")
    if kind == "name3":
        return plain(f"{given_of(i).split()[0]} {surnames_of(i)}")
    if kind == "partial":
        return plain(f"{given_of(i).split()[0]} {surnames_of(i).split()[0][:4]}")
    if kind == "surname":
        return plain(surnames_of(i).split()[0])
    if kind == "given":
        return plain(given_of(i).split()[0])
    if kind == "cedula":
        return "-".join(cedula_of(i).split("-")[1:])
    return f"{i:07d}"  # 7 digits of the mobile +5076<i>


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def time_searches(url: str, args: argparse.Namespace) -> None:
    from sqlalchemy import event

    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.uow import UnitOfWorkFactory
    from case_core.services.citizens import search_citizens

    engine = make_engine(url)
    statements: list[tuple[str, Any]] = []
    capture = {"on": False}

    def record(conn: Any, cursor: Any, statement: str, params: Any, *a: Any) -> None:
        if capture["on"]:
            statements.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
    rng = random.Random(311)
    try:
        print(f"\nCitizen search [{machine()}] load average {_loadavg()}")
        for kind in ("name", "name3", "partial", "surname", "given", "cedula", "phone"):
            for _ in range(args.warmup):
                await search_citizens(uow_factory, queries(kind, args.citizens, rng))
            times, found = [], 0
            for _ in range(args.searches):
                q = queries(kind, args.citizens, rng)
                t0 = time.perf_counter()
                result = await search_citizens(uow_factory, q)
                times.append(time.perf_counter() - t0)
                found += bool(result)
            print(
                f"  {kind:8s} {summary(times)}; {found}/{args.searches} found someone",
                flush=True,
            )
        print(f"  load average after: {_loadavg()}")
        capture["on"] = True
        samples = {
            "name": "maria gonzalez",
            "name3": queries("name3", args.citizens, random.Random(18)),
            "partial": "maria gonz",
            "surname": "samudio",
            "given": "maria",
            "cedula": "1234-5",
            "phone": "1234567",
        }
        for q in samples.values():
            await search_citizens(uow_factory, q)
        capture["on"] = False
        raw = await engine.raw_connection()
        try:
            apg = raw.driver_connection
            for statement, params in statements:
                if "JOIN (" not in statement:
                    continue
                plan = await apg.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *(params or ()))
                print("\n  -- " + " ".join(statement.split()))
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
            with Stopwatch() as sw:
                url = await build(args)
            print(f"  build: {sw.seconds:.0f} s")
        await time_searches(url, args)
    finally:
        if not args.keep:
            await drop_database(args.server_url, args.db_name)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--citizens", type=int, default=2_000_000, help="(%(default)s)")
    p.add_argument("--searches", type=int, default=1000, help="per kind (%(default)s)")
    p.add_argument("--warmup", type=int, default=50, help="per kind (%(default)s)")
    p.add_argument("--reuse", action="store_true", help="time an existing (kept) database")
    add_db_args(p, "cac311_bench_search")
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
