"""Replay the attacks of issue 15 against a running ``cac311 serve`` and say which are closed.

Run before a release, against a test installation (never production: it opens hundreds of
connections and tries to forge callback sessions)::

    python bench/abuse.py --fastagi 127.0.0.1:4573 --http 127.0.0.1:8080 \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/cac311

Attacks (findings of issue 15):

1. **FastAGI reply flood.** A peer that answers the first command with ``520-`` and then
   endless usage lines (and one that sends endless ``HANGUP`` lines). Closed when the server
   drops the peer within a few hundred KiB and ``/health`` answers quickly meanwhile.
2. **Forged callback session.** A ``satisfaction`` and a ``followup`` session with
   ``CAC311_CALLBACK_ID`` 1..N and keys pressed. Closed when every session is refused
   (connection refused by the allow-list, or the apology prompt and no case read out).
6. **Slow HTTP clients.** ``--slow`` connections sending one header line every few
   seconds. Closed when the server has closed them all after ``--slow-wait`` seconds.

Exit status 0 when every attack is closed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asterisk_sim.agi import CallerScript, Press, SimulatedAgiCall  # noqa: E402

USAGE = b"      Usage: GET DATA <file to be streamed> [timeout] [maxdigits]\n"


def host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


async def health_latency(http: tuple[str, int], limit: float = 10.0) -> float:
    """Seconds for ``GET /health`` (``limit`` when it does not answer in time)."""
    t0 = time.monotonic()
    try:
        async with asyncio.timeout(limit):
            reader, writer = await asyncio.open_connection(*http)
            writer.write(b"GET /health HTTP/1.1\r\nHost: abuse\r\nConnection: close\r\n\r\n")
            await writer.drain()
            await reader.read()
            writer.close()
    except (TimeoutError, OSError):
        return limit
    return time.monotonic() - t0


async def flood(fastagi: tuple[str, int], http: tuple[str, int], line: bytes, megabytes: int):
    """Finding 1: returns (bytes accepted before the server dropped us, worst /health)."""
    try:
        reader, writer = await asyncio.open_connection(*fastagi)
    except OSError:
        return 0, 0.0, "refused"
    writer.write(
        b"agi_network: yes\nagi_network_script: inbound\nagi_request: agi://abuse/inbound\n"
        b"agi_channel: PJSIP/abuse-00000001\nagi_uniqueid: 1796000000.1\n"
        b"agi_callerid: 61230000\n\n"
    )
    await writer.drain()
    try:
        await asyncio.wait_for(reader.readline(), 10)  # the first command
    except (TimeoutError, OSError):
        writer.close()
        return 0, 0.0, "no command"
    if line == USAGE:
        writer.write(b"520-Invalid command syntax.  Proper usage follows:\n")
    sent, worst, block = 0, 0.0, line * 1024
    health = asyncio.create_task(asyncio.sleep(0))
    try:
        while sent < megabytes * 1024 * 1024:
            if reader.at_eof():
                break
            writer.write(block)
            await asyncio.wait_for(writer.drain(), 10)
            sent += len(block)
            if health.done():
                worst = max(worst, health.result() or 0.0)
                health = asyncio.create_task(health_latency(http))
    except (OSError, TimeoutError):
        pass
    with contextlib.suppress(Exception):
        worst = max(worst, await health or 0.0)
    # Dropped = the server closed the connection (EOF or reset) within 5 s of the flood.
    how = "kept"
    try:
        while await asyncio.wait_for(reader.read(65536), 5):
            pass
        how = "dropped"
    except (OSError, ConnectionError):
        how = "dropped"
    except TimeoutError:
        pass
    writer.close()
    return sent, worst, how


async def forged_sessions(fastagi: tuple[str, int], ids: list[int]) -> tuple[int, int]:
    """Finding 2: (sessions trusted, sessions tried)."""
    trusted = 0
    tried = 0
    for callback_id in ids:
        for route, kind in (("satisfaction", "satisfaccion"), ("followup", "seguimiento")):
            tried += 1
            call = SimulatedAgiCall(
                fastagi[0],
                fastagi[1],
                route,
                caller=CallerScript([Press("1"), Press("5"), Press("1")]),
                context="cac311-callback",
                extension="s",
                callerid="311",
                variables={
                    "CAC311_CALLBACK_ID": str(callback_id),
                    "CAC311_CALLBACK_KIND": kind,
                    "CAC311_CALLBACK_TOKEN": "forged",
                },
                call_timeout=30,
            )
            await call.run()
            reads_case = any(c.startswith("SAY DIGITS") for c in call.commands)
            asks = any("encuesta-" in c or "seguimiento-" in c for c in call.commands)
            if reads_case or asks:
                trusted += 1
    return trusted, tried


async def plant_callbacks(database_url: str) -> tuple[list[int], object]:
    """A pending follow-up and a pending survey (the targets of the finding); returns their
    ids and a coroutine function that removes them."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import delete

    from case_core.db.engine import make_engine, make_sessionmaker
    from case_core.db.models import (
        CallbackRow,
        CaseRow,
        IvrSessionRow,
        SurveyAnswerRow,
    )
    from case_core.db.uow import UnitOfWorkFactory

    engine = make_engine(database_url, pool_size=1)
    uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
    now = datetime.now(UTC)
    async with uow_factory() as uow:
        entity = await uow.directory.entity_by_code("MUPA")
        if entity is None:
            raise SystemExit("--database-url: run `cac311 seed` on that database first")
        case = CaseRow(
            number=f"2099{int(now.timestamp()) % 1_000_000:06d}",
            type="denuncia",
            channel="telefono",
            status="asignado",
            entity_id=entity.id,
            description="abuse.py: caso de prueba confidencial",
            confidential=True,
            sla_days=10,
            opened_at=now,
            due_at=now + timedelta(days=10),
        )
        await uow.cases.add(case)
        ids = []
        for kind in ("seguimiento", "satisfaccion"):
            row = CallbackRow(
                case_id=case.id,
                kind=kind,
                phone="+50761230000",
                window_start_at=now,
                window_end_at=now + timedelta(days=3),
                next_attempt_at=now + timedelta(days=1),
                status="pendiente",
            )
            uow.session.add(row)
            await uow.session.flush()
            ids.append(row.id)
        await uow.commit()
        case_id = case.id

    async def remove() -> None:
        async with uow_factory() as uow:
            await uow.session.execute(
                delete(IvrSessionRow).where(IvrSessionRow.callback_id.in_(ids))
            )
            await uow.session.execute(
                delete(SurveyAnswerRow).where(SurveyAnswerRow.callback_id.in_(ids))
            )
            await uow.session.execute(delete(CallbackRow).where(CallbackRow.id.in_(ids)))
            await uow.session.execute(delete(CaseRow).where(CaseRow.id == case_id))
            await uow.commit()
        await engine.dispose()

    return ids, remove


async def slow_clients(http: tuple[str, int], count: int, every: float, wait: float) -> int:
    """Finding 6: how many slow connections are still open after ``wait`` seconds."""
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    for _ in range(count):
        try:
            conns.append(await asyncio.open_connection(*http))
        except OSError:
            break
    for _, writer in conns:
        writer.write(b"GET / HTTP/1.1\r\nHost: abuse\r\n")
    deadline = time.monotonic() + wait
    n = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(every)
        n += 1
        for _, writer in conns:
            if not writer.is_closing():
                with contextlib.suppress(OSError):
                    writer.write(b"X-Slow-%d: 1\r\n" % n)
    open_now = 0
    for reader, writer in conns:
        with contextlib.suppress(OSError):
            writer.write(b"X-Still: 1\r\n")
            await asyncio.sleep(0)
        if not reader.at_eof() and not writer.is_closing():
            try:
                data = await asyncio.wait_for(reader.read(1), 0.05)
                if data:
                    open_now += 1  # got a response byte: it was answered, still open
            except TimeoutError:
                open_now += 1
            except OSError:
                pass
        writer.close()
    return open_now


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fastagi", type=host_port, default=("127.0.0.1", 4573))
    parser.add_argument("--http", type=host_port, default=("127.0.0.1", 8080))
    parser.add_argument("--flood-mb", type=int, default=4, help="bytes of flood per attack")
    parser.add_argument("--callback-ids", type=int, default=5, help="try ids 1..N")
    parser.add_argument(
        "--database-url",
        help="the server's database: plant a pending follow-up and survey of a confidential "
        "case to forge sessions for (removed afterwards); without it ids 1..N are tried",
    )
    parser.add_argument("--slow", type=int, default=200, help="slow HTTP connections")
    parser.add_argument("--slow-every", type=float, default=5.0)
    parser.add_argument("--slow-wait", type=float, default=30.0)
    args = parser.parse_args()

    results: list[tuple[str, bool, str]] = []
    for _ in range(60):  # the server may still be starting
        if await health_latency(args.http, 1.0) < 1.0:
            break
        await asyncio.sleep(1)
    base = await health_latency(args.http)
    for name, line in (("520 usage flood", USAGE), ("HANGUP flood", b"HANGUP\n")):
        sent, worst, how = await flood(args.fastagi, args.http, line, args.flood_mb)
        closed = how in ("dropped", "refused") and worst < max(1.0, 10 * base)
        detail = (
            f"{how} ({sent / 1024:.0f} KiB written before the drop was seen); "
            f"/health worst {worst:.2f}s (idle {base:.2f}s)"
        )
        results.append((f"1 FastAGI {name}", closed, detail))
    ids = list(range(1, args.callback_ids + 1))
    remove = None
    if args.database_url:
        planted, remove = await plant_callbacks(args.database_url)
        ids = planted + ids
    try:
        trusted, tried = await forged_sessions(args.fastagi, ids)
    finally:
        if remove is not None:
            await remove()  # type: ignore[operator]
    results.append(("2 forged callback sessions", trusted == 0, f"{trusted} of {tried} trusted"))
    still = await slow_clients(args.http, args.slow, args.slow_every, args.slow_wait)
    detail = f"{still} of {args.slow} open after {args.slow_wait:.0f}s"
    results.append(("6 slow HTTP clients", still == 0, detail))

    width = max(len(r[0]) for r in results)
    for name, closed, detail in results:
        verdict = "closed" if closed else "OPEN  "
        print(f"{name:<{width}}  {verdict}  {detail}")
    return 0 if all(closed for _, closed, _ in results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
