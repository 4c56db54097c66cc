"""A simulated month of callbacks: the issue's "done when", on real PostgreSQL.

A fake clock runs over 30 + 3 days from Monday 2 November 2026 (Panama), a month with five
national holidays (3, 4, 5, 10 and 28 November). 10,000 cases open around the clock during
the 30 days; about two thirds close along the way. A third of them can be called (the
citizen left a number and agreed: web, app, e-mail and social-media cases often leave
none). Cases reach the database in bulk SQL with their real opening and closing times (the
case history is not under test).

The real services drive the callbacks: ``schedule_callbacks`` every 4 h (00, 04, 08, 12,
16, 20 local); at every step (every 30 min from 08:00 to 20:30, and 00:00, 04:00) two dialer
*processes* call ``claim_due_callbacks`` at the same moment, the claims are checked while
every claimed call is still "ringing", then each records its outcomes with
``record_outcome``. Outcomes are drawn per ActionID from a fixed seed: 55 % answered, 15 %
busy, 25 % no answer, 5 % failed; 0.5 % of attempts lose their outcome (a dialer crash) and
are left to the scheduler's stale-attempt recovery. Answered satisfaction calls leave a
score (1–5).

Checked afterwards, against an independent reading of the rules (not the policy object):
every attempt inside calling hours (Mon–Sat 08–20 Panama, holidays honoured) and inside its
window, before the human margin; no callback claimed twice while in progress (attempts
numbered 1, 2, 3… and unique ActionIDs); every callback that ended unreached was handed
over to a human before its window closed, at the latest one scheduler period after its
automatic deadline, and was marked ``no_contactado`` only after the window closed; the
Centro de Contactos figures equal a plain-Python recomputation over the same rows.

Cost: each attempt is two committed transactions of the real services (~3 ms here), and
the scheduler scans every case (~45 ms at 10,000). Measured on the 2-core machine: about
35 s for the month (7,200 attempts), 38 s for the whole test. The database connections use
``synchronous_commit=off`` (same visibility, no wait for the disk at each commit).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time as clock
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from case_core.db.engine import make_sessionmaker
from case_core.db.models import CallbackRow, CaseRow, EntityRow, SurveyAnswerRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.callbacks import Outcome, make_policy
from case_core.metrics.callbacks import callback_figures
from case_core.services.callbacks import (
    claim_due_callbacks,
    record_outcome,
    schedule_callbacks,
)

PA = ZoneInfo("America/Panama")
HOLIDAYS = ("2026-11-03", "2026-11-04", "2026-11-05", "2026-11-10", "2026-11-28", "2026-12-08")
POLICY = make_policy(PA, holidays=HOLIDAYS)
T0 = datetime(2026, 11, 2, tzinfo=PA).astimezone(UTC)  # Monday 00:00 in Panama
MONTH = timedelta(days=30)
END = T0 + MONTH + timedelta(days=3)
CASES = 10_000
SEED = 311
OUTCOMES = [Outcome.ANSWERED, Outcome.BUSY, Outcome.NO_ANSWER, Outcome.FAILED]
WEIGHTS = [55, 15, 25, 5]
LOST = 0.005  # attempts whose outcome never arrives
CALLABLE = 0.35  # cases with a number and consent to be called
ROUND = 12  # calls each dialer claims at a time
DIALERS = 2


def step_times() -> list[tuple[datetime, bool]]:
    """(moment, run the scheduler?): 00:00 and 04:00, then every 30 min from 08:00 to 20:30
    local; the scheduler runs every 4 h (00, 04, 08, 12, 16, 20), the claims at every step."""
    times = []
    day = T0
    while day <= END:
        local = [timedelta(hours=0), timedelta(hours=4)]
        local += [timedelta(hours=8, minutes=30 * i) for i in range(26)]
        for offset in local:
            t = day + offset
            if t <= END:
                hour = t.astimezone(PA)
                times.append((t, hour.minute == 0 and hour.hour % SCHEDULE_HOURS == 0))
        day += timedelta(days=1)
    return times


SCHEDULE_HOURS = 4
LARGEST_STEP = timedelta(hours=SCHEDULE_HOURS)


def in_calling_hours(moment: datetime) -> bool:
    """The rule as the issue states it, written out independently of CallingHours."""
    local = moment.astimezone(PA)
    holidays = {date.fromisoformat(h) for h in HOLIDAYS}
    return local.weekday() < 6 and local.date() not in holidays and 8 <= local.hour < 20


def make_cases(rng: random.Random, entity_ids: list[int]) -> list[dict]:
    """10,000 cases, opened uniformly over the month; ~65 % close within their SLA or so."""
    cases = []
    for i in range(CASES):
        opened = T0 + timedelta(seconds=rng.uniform(0, MONTH.total_seconds()))
        sla = rng.choice((3, 5, 10, 15, 30))
        closed = None
        if rng.random() < 0.65:
            closed = opened + timedelta(hours=rng.uniform(4, 24 * sla * 1.3))
        cases.append(
            {
                "number": f"2026{i + 1:06d}",
                "type": "queja",
                "channel": "telefono",
                "status": "registrado",
                "entity_id": rng.choice(entity_ids),
                "description": "Caso simulado.",
                "confidential": False,
                "anonymous": False,
                "contact_phone": (
                    f"+5076{rng.randrange(10**7):07d}" if rng.random() < CALLABLE else None
                ),
                "sla_days": sla,
                "opened_at": opened,
                "due_at": opened + timedelta(days=sla),
                "resolved_at_first_contact": False,
                "needs_review": False,
                "_closed": closed,
            }
        )
    cases.sort(key=lambda c: c["opened_at"])
    return cases


async def _entities(uow_factory) -> list[int]:
    async with uow_factory() as uow:
        rows = [
            EntityRow(code=code, name=name, short_name=code, kind="institucion")
            for code, name in [
                ("IDAAN", "Instituto de Acueductos y Alcantarillados Nacionales"),
                ("MUPA", "Municipio de Panamá"),
                ("ATTT", "Autoridad de Tránsito y Transporte Terrestre"),
                ("AAUD", "Autoridad de Aseo Urbano y Domiciliario"),
                ("MINSA", "Ministerio de Salud"),
            ]
        ]
        uow.session.add_all(rows)
        await uow.commit()
        return [r.id for r in rows]


class Month:
    """The simulation's own record of what happened, kept apart from the database."""

    def __init__(self) -> None:
        self.attempts: list[tuple[int, int, datetime, str]] = []  # id, attempt, at, action
        self.in_flight: set[int] = set()
        self.lost: set[int] = set()
        self.double_claims: list[tuple[int, datetime]] = []
        self.first_handover: dict[int, datetime] = {}
        self.not_reached_at: dict[int, datetime] = {}
        self.seen_since = T0 - timedelta(days=1)

    def claimed(self, callbacks, at: datetime) -> None:
        for callback_id, _, _, attempt, action_id in callbacks:
            if callback_id in self.in_flight:
                self.double_claims.append((callback_id, at))
            self.in_flight.add(callback_id)
            self.attempts.append((callback_id, attempt, at, action_id))

    async def observe(self, uow_factory, until: datetime) -> None:
        """Status changes of this step: hand-overs, unreached, lost attempts resolved."""
        async with uow_factory() as uow:
            rows = (
                await uow.session.execute(
                    text(
                        "SELECT id, status, updated_at FROM callbacks "
                        "WHERE updated_at > :since AND updated_at <= :until"
                    ),
                    {"since": self.seen_since, "until": until},
                )
            ).all()
        for callback_id, status, at in rows:
            if status == "tarea_humana":
                self.first_handover.setdefault(callback_id, at)
            elif status == "no_contactado":
                self.not_reached_at.setdefault(callback_id, at)
            if status != "en_curso" and callback_id in self.lost:
                self.lost.discard(callback_id)
                self.in_flight.discard(callback_id)
        self.seen_since = until


def _engine(url: str, pool_size: int):  # type: ignore[no-untyped-def]
    """An engine that does not wait for the disk at each commit (``synchronous_commit=off``):
    what other transactions see is the same; only durability across a server crash is
    given up, and the month's ~15,000 commits run twice as fast."""
    return create_async_engine(
        url, pool_size=pool_size, connect_args={"server_settings": {"synchronous_commit": "off"}}
    )


def draw(action_id: str) -> tuple[bool, Outcome, str]:
    """(lost?, outcome, satisfaction score) of one attempt: seeded by its ActionID, so the
    month is the same whichever dialer process places the call."""
    rng = random.Random(f"{SEED}:{action_id}")
    return (
        rng.random() < LOST,
        rng.choices(OUTCOMES, WEIGHTS)[0],
        rng.choices("12345", [5, 5, 15, 35, 40])[0],
    )


def dialer_process(url: str, conn: Connection) -> None:
    """One dialer process (spawned): claims when told, then records the drawn outcomes."""
    asyncio.run(_dialer(url, conn))


async def _dialer(url: str, conn: Connection) -> None:
    engine = _engine(url, 2)
    uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
    loop = asyncio.get_running_loop()
    try:
        while (order := await loop.run_in_executor(None, conn.recv)) is not None:
            now, limit = order
            claimed = await claim_due_callbacks(uow_factory, now, limit, policy=POLICY)
            conn.send([(c.id, c.case_id, c.kind.value, c.attempt, c.action_id) for c in claimed])
            await loop.run_in_executor(None, conn.recv)  # both dialers have claimed
            at = now + timedelta(minutes=2)
            for c in claimed:
                lost, outcome, _ = draw(c.action_id)
                if not lost:
                    await record_outcome(
                        uow_factory, c.id, outcome, at, action_id=c.action_id, policy=POLICY
                    )
            conn.send(len(claimed))
    finally:
        await engine.dispose()


def _recv(conn: Connection) -> object:
    """The next message of a dialer process; a dead or stuck process fails the test."""
    if not conn.poll(120):
        raise TimeoutError("a dialer process stopped answering")
    return conn.recv()


class Dialers:
    """Two dialer processes driven in lock step by the fake clock."""

    def __init__(self, url: str, count: int = DIALERS) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs = []
        for _ in range(count):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=dialer_process, args=(url, theirs), daemon=True)
            proc.start()
            self.conns.append(ours)
            self.procs.append(proc)

    async def _recv_all(self) -> list:
        loop = asyncio.get_running_loop()
        waits = (loop.run_in_executor(None, _recv, c) for c in self.conns)
        return list(await asyncio.gather(*waits))

    async def step(self, now: datetime, month: Month) -> list[tuple]:
        """Rounds until nothing more is due: the dialers claim at ``now`` at the same moment,
        the claims are checked while every claimed call is still "ringing", then each
        dialer records the outcomes of its own calls."""
        calls: list[tuple] = []
        while True:
            for conn in self.conns:
                conn.send((now, ROUND))
            batches = await self._recv_all()
            for batch in batches:
                month.claimed(batch, now)
            for conn in self.conns:
                conn.send("go")
            await self._recv_all()
            calls += [c for batch in batches for c in batch]
            if all(len(batch) < ROUND for batch in batches):
                return calls  # every dialer found less than it asked for: nothing more due

    def close(self) -> None:
        for conn in self.conns:
            conn.send(None)
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


async def run_month(uow_factory, url: str) -> tuple[Month, dict]:
    rng = random.Random(SEED)
    entity_ids = await _entities(uow_factory)
    cases = make_cases(rng, entity_ids)
    month = Month()
    next_case = 0
    closing: list[tuple[datetime, str]] = []
    stats: dict[str, int] = defaultdict(int)
    dialers = Dialers(url)
    try:
        for now, run_scheduler in step_times():
            if run_scheduler:
                # What happened since the last run reaches the database in bulk: cases
                # opened (one INSERT) and closed (one UPDATE), with their real times.
                fresh = []
                while next_case < len(cases) and cases[next_case]["opened_at"] <= now:
                    fresh.append(cases[next_case])
                    next_case += 1
                closing += [(c["_closed"], c["number"]) for c in fresh if c["_closed"]]
                due = [(at, n) for at, n in closing if at <= now]
                closing = [(at, n) for at, n in closing if at > now]
                await _arrive_and_close(uow_factory, fresh, due)
                await schedule_callbacks(uow_factory, now, policy=POLICY)
            calls = await dialers.step(now, month)
            at = now + timedelta(minutes=2)
            scores = []
            for callback_id, case_id, kind, _, action_id in calls:
                lost, outcome, score = draw(action_id)
                stats["attempts"] += 1
                if lost:
                    month.lost.add(callback_id)
                    stats["lost"] += 1
                    continue
                month.in_flight.discard(callback_id)
                stats[outcome.value] += 1
                if outcome is Outcome.ANSWERED and kind == "satisfaccion":
                    scores.append(
                        {
                            "callback_id": callback_id,
                            "case_id": case_id,
                            "question": "satisfaccion",
                            "answer": score,
                            "answered_at": at - timedelta(minutes=1),
                        }
                    )
            if scores:
                async with uow_factory() as uow:
                    await uow.session.execute(insert(SurveyAnswerRow), scores)
                    await uow.commit()
                stats["scores"] += len(scores)
            if calls or run_scheduler:
                await month.observe(uow_factory, at)
    finally:
        dialers.close()
    assert next_case == CASES
    return month, stats


async def _arrive_and_close(uow_factory, fresh: list[dict], due: list[tuple]) -> None:
    """One INSERT … SELECT FROM unnest for the new cases, one UPDATE for the closings."""
    async with uow_factory() as uow:
        if fresh:
            columns = [k for k in fresh[0] if k[0] != "_"]
            types = {
                "opened_at": "timestamptz",
                "due_at": "timestamptz",
                "entity_id": "int",
                "sla_days": "int",
                "confidential": "bool",
                "anonymous": "bool",
                "resolved_at_first_contact": "bool",
                "needs_review": "bool",
            }
            arrays = ", ".join(f"CAST(:{c} AS {types.get(c, 'text')}[])" for c in columns)
            await uow.session.execute(
                text(f"INSERT INTO cases ({', '.join(columns)}) SELECT * FROM unnest({arrays})"),
                {c: [row[c] for row in fresh] for c in columns},
            )
        if due:
            await uow.session.execute(
                text(
                    "UPDATE cases SET status = 'cerrado', closed_at = d.at, updated_at = d.at "
                    "FROM unnest(CAST(:numbers AS text[]), CAST(:ats AS timestamptz[])) "
                    "AS d(number, at) WHERE cases.number = d.number"
                ),
                {"numbers": [n for _, n in due], "ats": [at for at, _ in due]},
            )
        await uow.commit()


async def test_a_simulated_month_keeps_every_callback_rule(uow_factory, migrated_database):
    engine = _engine(migrated_database, 4)  # the database uow_factory has just emptied
    uow_factory = UnitOfWorkFactory(make_sessionmaker(engine))
    started = clock.perf_counter()
    try:
        month, stats = await run_month(uow_factory, migrated_database)
        print(f"simulated month: {clock.perf_counter() - started:.1f} s, {dict(stats)}")
        await check_month(uow_factory, month, stats)
    finally:
        await engine.dispose()


async def check_month(uow_factory, month: Month, stats: dict) -> None:
    async with uow_factory() as uow:
        callbacks = {r.id: r for r in (await uow.session.scalars(select(CallbackRow))).all()}
        case_rows = {r.id: r for r in (await uow.session.scalars(select(CaseRow))).all()}
        answers = (await uow.session.scalars(select(SurveyAnswerRow))).all()

    # The month really happened, in realistic proportions.
    assert len(case_rows) == CASES
    assert stats["attempts"] > 6_000, stats
    assert 0.50 < stats["answered"] / stats["attempts"] < 0.60, stats
    assert stats["lost"] > 10
    by_status: dict[str, int] = defaultdict(int)
    for row in callbacks.values():
        by_status[row.status] += 1
    for status in ("completada", "tarea_humana", "no_contactado", "reemplazada", "pendiente"):
        assert by_status[status] > 0, by_status

    # Every attempt inside calling hours, inside its window, before the human margin.
    for callback_id, _, at, _ in month.attempts:
        row = callbacks[callback_id]
        margin = timedelta(hours=24 if row.kind == "seguimiento" else 12)
        assert in_calling_hours(at), (callback_id, at.astimezone(PA))
        assert row.window_start_at <= at <= row.window_end_at - margin, (callback_id, at)
    assert any(at.astimezone(PA).weekday() == 5 for _, _, at, _ in month.attempts)  # Saturdays

    # No callback claimed twice while in progress; attempts numbered 1, 2, 3… per callback.
    assert month.double_claims == []
    assert len({action for *_, action in month.attempts}) == len(month.attempts)
    numbers: dict[int, list[int]] = defaultdict(list)
    for callback_id, attempt, _, _ in month.attempts:
        numbers[callback_id].append(attempt)
    for callback_id, seen in numbers.items():
        assert seen == list(range(1, len(seen) + 1)), callback_id
        assert callbacks[callback_id].attempts == len(seen)
        assert len(seen) <= callbacks[callback_id].max_attempts

    # Every unreached callback was handed over in time, and marked unreached only after.
    unreached = [r for r in callbacks.values() if r.status == "no_contactado"]
    assert unreached
    for row in unreached:
        margin = timedelta(hours=24 if row.kind == "seguimiento" else 12)
        handed = month.first_handover.get(row.id)
        assert handed is not None, row.id
        assert handed < row.window_end_at, row.id
        assert handed <= row.window_end_at - margin + LARGEST_STEP, (row.id, handed)
        assert month.not_reached_at[row.id] >= row.window_end_at, row.id
    # Lost attempts were resolved by the scheduler, not left en_curso.
    assert month.lost == set()
    assert all(r.status != "en_curso" for r in callbacks.values())

    # The figures equal a plain-Python recomputation over the same rows.
    start, end = T0, T0 + MONTH
    figures = await callback_figures(uow_factory, start, end, as_of=END)
    expected = recompute(case_rows, callbacks, answers, start, end, END)
    got = {
        (None if f.overall else f.entity_id): (
            f.closed_cases,
            f.satisfaction_done,
            f.satisfaction_decided,
            f.opened_cases,
            f.followup_done,
            f.followup_decided,
            f.satisfaction_answers,
            None if f.satisfaction_avg is None else round(f.satisfaction_avg, 9),
        )
        for f in figures
    }
    assert got == expected
    assert expected[None][1] > 1000 and expected[None][4] > 100  # not a vacuous comparison


def recompute(cases, callbacks, answers, start, end, as_of) -> dict:
    """The figures of ``case_core.metrics.callbacks`` by their definitions, in Python."""
    done: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for b in callbacks.values():
        if b.status == "completada" and b.updated_at <= as_of:
            done[(b.case_id, b.kind)].append(b.updated_at)
    sat_within, fu_within = timedelta(days=3), timedelta(days=30)
    acc: dict[int | None, list] = {}

    def bucket(entity_id: int | None) -> list:
        return acc.setdefault(entity_id, [0, 0, 0, 0, 0, 0, []])

    for k in cases.values():
        for key in (k.entity_id, None):
            b = bucket(key)
            if k.closed_at is not None and start <= k.closed_at < end and k.closed_at <= as_of:
                hit = any(
                    k.closed_at <= t <= k.closed_at + sat_within
                    for t in done[(k.id, "satisfaccion")]
                )
                b[0] += 1
                b[1] += hit
                b[2] += hit or k.closed_at + sat_within <= as_of
            if start <= k.opened_at < end and k.opened_at <= as_of:
                hit = any(
                    k.opened_at <= t <= k.opened_at + fu_within for t in done[(k.id, "seguimiento")]
                )
                b[3] += 1
                b[4] += hit
                b[5] += hit or k.opened_at + fu_within <= as_of
    for a in answers:
        if a.question == "satisfaccion" and start <= a.answered_at < end and a.answered_at <= as_of:
            for key in (cases[a.case_id].entity_id, None):
                bucket(key)[6].append(int(a.answer))
    return {
        key: (*b[:6], len(b[6]), round(sum(b[6]) / len(b[6]), 9) if b[6] else None)
        for key, b in acc.items()
    }
