"""The write-behind IVR session journal (``ivr.journal``) against PostgreSQL: steps in order
and complete after a flush, a flow that does not wait on the database to log, an outage
that loses no step once the database is back, and the bound of the queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from asterisk_sim.agi import Press
from case_core.db.engine import make_engine, make_sessionmaker
from case_core.db.models import IvrSessionRow, IvrStepRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.privacy import caller_hash
from ivr.backend import DatabaseBackend
from ivr.journal import JournalFull, SessionJournal
from tests.integration.test_ivr_flows import NOW, PANAMA, _call, _session, serving

KEY = b"k" * 32


async def _rows(uow_factory, session_id):  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        session = await uow.session.get(IvrSessionRow, session_id)
        steps = (
            await uow.session.scalars(select(IvrStepRow).where(IvrStepRow.session_id == session_id))
        ).all()
    return session, sorted((s.seq, s.step, s.digits, s.result) for s in steps)


def _dsn(engine) -> str:  # type: ignore[no-untyped-def]
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def _steps_locked(engine) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    """Another connection holds ivr_steps locked: every journal batch blocks behind it."""
    conn = await asyncpg.connect(_dsn(engine))
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("LOCK TABLE ivr_steps IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            await tx.rollback()
    finally:
        await conn.close()


async def _writer_blocked(engine) -> None:  # type: ignore[no-untyped-def]
    """Wait until a journal statement waits on the lock (the writer is stuck); a bound on
    the wait only, so that a writer that never comes fails the test instead of hanging it."""
    conn = await asyncpg.connect(_dsn(engine))
    try:
        async with asyncio.timeout(30):
            while not await conn.fetchval(  # noqa: ASYNC110
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'INSERT INTO ivr_%'"
            ):
                await asyncio.sleep(0.01)
    finally:
        await conn.close()


async def test_given_steps_queued_when_flushed_then_they_are_stored_in_order(seeded):
    journal = SessionJournal(seeded, caller_hash_key=KEY)
    sid = await journal.start(
        route="inbound", uniqueid="1.1", linkedid="1.1", caller_number="61234567", now=NOW
    )
    for i in range(30):
        journal.step(sid, step=f"paso{i}", now=NOW + timedelta(seconds=i), digits=str(i % 10))
        if i == 10:
            await journal.flush()  # some in one batch, the rest in later ones
    journal.step(sid, step="intencion", now=NOW, result="queja", intent="queja")
    journal.end(sid, outcome="cola", now=NOW + timedelta(minutes=1))
    journal.step(sid, step="tarde", now=NOW)  # after the end: ignored
    await journal.flush()
    session, steps = await _rows(seeded, sid)
    assert [s[1] for s in steps] == [f"paso{i}" for i in range(30)] + ["intencion"]
    assert [s[0] for s in steps] == list(range(1, 32))
    assert (session.intent, session.outcome) == ("queja", "cola")
    assert session.ended_at == NOW + timedelta(minutes=1)
    assert session.caller_number == "61234567"
    await journal.close()


@pytest.mark.parametrize("flush_before", [False, True])
async def test_given_an_anonymous_denuncia_then_only_the_keyed_hash_is_stored(seeded, flush_before):
    journal = SessionJournal(seeded, caller_hash_key=KEY)
    sid = await journal.start(
        route="inbound", uniqueid="1.2", linkedid=None, caller_number="61234567", now=NOW
    )
    if flush_before:  # the number is in the database already: it is erased
        await journal.flush()
    journal.step(sid, step="anonimo", now=NOW, result="anonima", anonymous=True)
    journal.end(sid, outcome="cola", now=NOW)
    await journal.flush()
    session, _ = await _rows(seeded, sid)
    assert session.anonymous and session.caller_number is None
    assert session.caller_hash == caller_hash("61234567", KEY)
    await journal.close()


async def test_given_the_writer_is_blocked_when_a_call_runs_then_it_does_not_wait(seeded, engine):
    backend = DatabaseBackend(seeded, tz=PANAMA, clock=lambda: NOW)
    async with serving(backend) as srv:
        await _call(srv, [Press("6")])  # ids reserved, announcements cached
        async with _steps_locked(engine):
            call = await _call(srv, [Press("1"), Press("8*123*4567#")], callerid="62220000")
            # The whole call ran while no step could be written.
            assert call.variables["CAC311_NEXT"] == "queue"
            await _writer_blocked(engine)
            assert backend.journal.pending > 0
        session, steps = await _session(seeded, call.uniqueid)
    assert str(session.id) == call.variables["CAC311_IVR_SESSION"]
    assert [s[0] for s in steps] == ["menu", "intencion", "identificado", "salida"]
    assert (session.intent, session.cedula, session.outcome) == ("queja", "8-123-4567", "cola")


class _Link:
    """A TCP relay to PostgreSQL that can be cut (connections reset, new ones refused)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        await self._server.wait_closed()
        self._server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}


async def test_given_an_outage_during_a_call_when_the_database_is_back_then_no_step_is_lost(
    seeded, engine, caplog
):
    url = make_url(engine.url.render_as_string(hide_password=False))
    link = _Link(url.host or "127.0.0.1", url.port or 5432)
    await link.up()
    relayed = make_engine(url.set(port=link.port).render_as_string(False), connect_timeout=1)
    backend = DatabaseBackend(
        UnitOfWorkFactory(make_sessionmaker(relayed)),
        tz=PANAMA,
        clock=lambda: NOW,
        journal={"retry_min": 0.05, "retry_max": 0.2},
    )
    caplog.set_level(logging.WARNING)
    try:
        async with serving(backend) as srv:
            await _call(srv, [Press("6")])  # ids reserved
            await backend.flush()
            await link.down()
            call = await _call(
                srv, [Press("2"), Press("2"), Press("8*123*4567#")], callerid="62220000"
            )
            assert call.variables["CAC311_NEXT"] == "queue"
            assert "CAC311_IVR_SESSION" in call.variables  # from the reserved block
            async with asyncio.timeout(30):  # a bound on the wait, not a timed assertion
                while not backend.journal.retries:  # noqa: ASYNC110 (the writer met the outage)
                    await asyncio.sleep(0.01)
            await link.up()
            await backend.flush()
    finally:
        await relayed.dispose()
        if link._server is not None:
            await link.down()
    session, steps = await _session(seeded, call.uniqueid)
    assert str(session.id) == call.variables["CAC311_IVR_SESSION"]
    assert [s[0] for s in steps] == ["menu", "intencion", "anonimo", "identificado", "salida"]
    assert (session.intent, session.outcome) == ("denuncia", "cola")
    assert session.ended_at == NOW
    assert backend.journal.dropped == 0
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "62220000" not in text and "8-123-4567" not in text


async def test_given_a_full_queue_then_items_are_dropped_counted_and_the_call_goes_on(
    seeded, engine, caplog
):
    journal = SessionJournal(seeded, max_pending=5)
    first = await journal.start(
        route="inbound", uniqueid="2.1", linkedid=None, caller_number=None, now=NOW
    )
    await journal.flush()
    caplog.set_level(logging.WARNING)
    async with _steps_locked(engine):
        for i in range(8):  # 5 fit, 3 are dropped
            journal.step(first, step=f"paso{i}", now=NOW)
        assert journal.pending == 5 and journal.dropped == 3
        with pytest.raises(JournalFull):  # no room for a new session either
            await journal.start(
                route="inbound", uniqueid="2.2", linkedid=None, caller_number=None, now=NOW
            )
        assert journal.dropped == 4
        dropped = [r for r in caplog.records if "journal full" in r.getMessage()]
        assert len(dropped) == 4 and all(r.levelno == logging.WARNING for r in dropped)
    await journal.flush()
    _, steps = await _rows(seeded, first)
    assert [s[1] for s in steps] == [f"paso{i}" for i in range(5)]
    await journal.close()


async def test_given_the_database_refuses_a_session_then_only_that_session_is_dropped(seeded):
    journal = SessionJournal(seeded)
    bad = await journal.start(
        route="satisfaction",
        uniqueid="3.1",
        linkedid=None,
        caller_number=None,
        now=NOW,
        callback_id=999_999,  # no such callback: the foreign key refuses the row
    )
    good = await journal.start(
        route="inbound", uniqueid="3.2", linkedid=None, caller_number=None, now=NOW
    )
    journal.step(bad, step="x", now=NOW)
    journal.step(good, step="menu", now=NOW, digits="1")
    await journal.flush()
    assert (await _rows(seeded, bad))[0] is None
    assert (await _rows(seeded, good))[1] == [(1, "menu", "1", None)]
    assert journal.dropped == 2
    await journal.close()
