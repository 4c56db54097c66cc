"""The callback dialer: outcomes as recorded from Asterisk 22, cap, pacing, link down,
timeouts; then the real AMI client against the simulator through ``AmiOriginator``."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cac311.config import Settings
from case_core.db.models import CallbackRow, CaseRow, EntityRow, ServiceRow
from case_core.domain.callbacks import Outcome, make_policy
from dialer.dialer import Dialer, OriginateResult, outcome_from_result
from tests.transcripts import load_chunks

PA = ZoneInfo("America/Panama")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=PA).astimezone(UTC)  # a Tuesday, 10:00 in Panama
SUNDAY = datetime(2026, 11, 29, 10, 0, tzinfo=PA).astimezone(UTC)
POLICY = make_policy(PA)
SETTINGS = Settings(callback_trunk="PJSIP/{number}@cac311-trunk")


def transcript_outcomes() -> dict[str, OriginateResult]:
    """ActionID -> what Asterisk answered in ami-originate-callbacks: the OriginateResponse
    event of an async Originate, or the ``Response: Error`` of a synchronous one."""
    data = "".join(
        c.data.decode() for c in load_chunks("ami-originate-callbacks") if c.dir == "asterisk"
    )
    found: dict[str, OriginateResult] = {}
    for block in data.split("\r\n\r\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
        if fields.get("Event") == "OriginateResponse":
            found[fields["ActionID"]] = OriginateResult(fields["Response"], int(fields["Reason"]))
        elif fields.get("Response") == "Error" and fields.get("ActionID", "").startswith("cb-"):
            found[fields["ActionID"]] = OriginateResult("Error", 0)
    return found


EXPECTED = {
    "cb-answer": Outcome.ANSWERED,
    "cb-busy": Outcome.BUSY,
    "cb-noanswer": Outcome.NO_ANSWER,
    "cb-congest": Outcome.CONGESTION,
    "cb-invalid": Outcome.FAILED,
    "cb-nochanneltype": Outcome.FAILED,
    "cb-sync-busy": Outcome.FAILED,
}


def test_given_the_recorded_originate_responses_then_each_maps_to_its_outcome():
    results = transcript_outcomes()
    assert set(results) == set(EXPECTED)
    assert {aid: outcome_from_result(r) for aid, r in results.items()} == EXPECTED
    assert results["cb-answer"] == OriginateResult("Success", 4)


class FakeOriginator:
    """Answers each number with a recorded result after ``delay``; counts concurrency."""

    def __init__(self, by_number: Mapping[str, OriginateResult | BaseException], delay=0.0):
        self.by_number = dict(by_number)
        self.delay = delay
        self.up = True
        self.hang = False
        self.calls: list[dict] = []
        self.started_at: list[float] = []
        self.current = 0
        self.max_concurrent = 0
        self.cancelled = 0

    def link_up(self) -> bool:
        return self.up

    async def originate(self, **kw) -> OriginateResult:
        self.calls.append(kw)
        self.started_at.append(asyncio.get_running_loop().time())
        self.current += 1
        self.max_concurrent = max(self.max_concurrent, self.current)
        try:
            if self.hang:
                await asyncio.Event().wait()
            await asyncio.sleep(self.delay)
            number = kw["channel"].split("/", 1)[1].split("@", 1)[0]
            result = self.by_number[number]
            if isinstance(result, BaseException):
                raise result
            return result
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.current -= 1


@pytest.fixture
async def db(uow_factory):
    async with uow_factory() as uow:
        entity = EntityRow(code="IDAAN", name="IDAAN", short_name="IDAAN", kind="institucion")
        await uow.directory.add(entity)
        service = ServiceRow(entity_id=entity.id, code="falta-agua", name="Agua", sla_days=3)
        await uow.directory.add(service)
        await uow.commit()
    return uow_factory


async def _due(uow_factory, phones: list[str], kind="satisfaccion") -> list[int]:
    """One due callback per phone (each on its own case)."""
    ids = []
    async with uow_factory() as uow:
        entity = await uow.directory.entity_by_code("IDAAN")
        for n, phone in enumerate(phones):
            opened = NOW - timedelta(days=2)
            case = CaseRow(
                number=f"2026{n + 1:06d}",
                type="queja",
                channel="telefono",
                status="cerrado",
                entity_id=entity.id,
                description="Sin agua.",
                contact_phone=phone,
                sla_days=3,
                opened_at=opened,
                due_at=opened + timedelta(days=3),
                closed_at=NOW - timedelta(hours=1),
            )
            await uow.cases.add(case)
            row = CallbackRow(
                case_id=case.id,
                kind=kind,
                phone=phone,
                window_start_at=NOW - timedelta(hours=1),
                window_end_at=NOW + timedelta(days=3),
                next_attempt_at=NOW - timedelta(minutes=1),
                status="pendiente",
                attempts=0,
                max_attempts=4,
            )
            uow.session.add(row)
            await uow.session.flush()
            ids.append(row.id)
        await uow.commit()
    return ids


async def _rows(uow_factory) -> dict[int, CallbackRow]:
    async with uow_factory() as uow:
        return {r.id: r for r in (await uow.session.scalars(select(CallbackRow))).all()}


def _dialer(uow_factory, originator, *, clock=lambda: NOW, **settings) -> Dialer:
    return Dialer(
        uow_factory=uow_factory,
        originator=originator,
        settings=dataclasses.replace(SETTINGS, **settings),
        policy=POLICY,
        clock=clock,
        poll_interval=0.02,
        schedule_interval=None,
        ring_timeout_ms=2000,
        outcome_grace=1.0,
    )


async def _eventually(condition, within: float = 5.0) -> None:
    """Poll ``condition`` (the dialer exposes no event for "all done")."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def _run_until(dialer: Dialer, done) -> None:
    task = asyncio.create_task(dialer.run())
    try:
        await _eventually(done)
    finally:
        dialer.stop()
        await asyncio.wait_for(task, 5)


async def test_given_the_transcript_outcomes_when_dialled_then_each_callback_gets_its_own(db):
    results = transcript_outcomes()
    phones = {aid: f"+5076000{n:04d}" for n, aid in enumerate(sorted(results))}
    ids = await _due(db, list(phones.values()))
    by_phone = {phones[aid]: results[aid] for aid in results}
    fake = FakeOriginator(by_phone, delay=0.02)
    dialer = _dialer(db, fake, callback_max_channels=3, callback_calls_per_minute=6000)

    await _run_until(dialer, lambda: len(fake.calls) == len(ids) and not dialer.in_flight)

    rows = await _rows(db)
    for aid, phone in phones.items():
        (row,) = [r for r in rows.values() if r.phone == phone]
        assert row.attempts == 1
        assert row.outcome == EXPECTED[aid].value
        if EXPECTED[aid] is Outcome.ANSWERED:
            assert (row.status, row.next_attempt_at) == ("completada", None)
        else:
            assert (row.status, row.next_attempt_at) == ("pendiente", NOW + timedelta(minutes=30))
    # What was sent: one Originate per callback, with its id and kind as channel variables.
    assert sorted(c["action_id"] for c in fake.calls) == sorted(f"cb-{i}-1" for i in ids)
    call = fake.calls[0]
    row = rows[int(call["variables"]["CAC311_CALLBACK_ID"])]
    assert call["channel"] == f"PJSIP/{row.phone}@cac311-trunk"
    assert (call["context"], call["exten"], call["priority"]) == ("cac311-callback", "s", 1)
    assert call["caller_id"] == '"3-1-1" <311>'
    assert call["variables"] == {
        "CAC311_CALLBACK_ID": str(row.id),
        "CAC311_CALLBACK_KIND": "satisfaccion",
        "CAC311_CALLBACK_TOKEN": row.leg_token,
    }
    assert len(row.leg_token) >= 32  # a random secret per attempt (issue 15)
    assert call["timeout_ms"] == 2000


async def test_given_a_cap_when_many_are_due_then_never_more_in_flight(db):
    phones = [f"+5076100{n:04d}" for n in range(8)]
    await _due(db, phones)
    fake = FakeOriginator({p: OriginateResult("Failure", 5) for p in phones}, delay=0.08)
    dialer = _dialer(db, fake, callback_max_channels=3, callback_calls_per_minute=60000)
    await _run_until(dialer, lambda: len(fake.calls) == 8 and not dialer.in_flight)
    assert fake.max_concurrent == 3
    assert dialer.max_in_flight_seen == 3


async def test_given_a_pace_when_many_are_due_then_calls_are_spaced(db):
    phones = [f"+5076200{n:04d}" for n in range(4)]
    await _due(db, phones)
    fake = FakeOriginator({p: OriginateResult("Success", 4) for p in phones})
    dialer = _dialer(db, fake, callback_max_channels=10, callback_calls_per_minute=600)
    await _run_until(dialer, lambda: len(fake.calls) == 4 and not dialer.in_flight)
    gaps = [b - a for a, b in zip(fake.started_at, fake.started_at[1:], strict=False)]
    assert min(gaps) >= 0.095  # 600 per minute: one every 0.1 s
    assert max(gaps) < 0.5


async def test_given_the_link_down_when_stepping_then_nothing_is_claimed(db):
    (cb,) = await _due(db, ["+50763000001"])
    fake = FakeOriginator({"+50763000001": OriginateResult("Success", 4)})
    fake.up = False
    dialer = _dialer(db, fake)
    assert await dialer.step() is None
    row = (await _rows(db))[cb]
    assert (row.status, row.attempts, fake.calls) == ("pendiente", 0, [])
    fake.up = True
    assert (await dialer.step()).id == cb
    await dialer.drain()
    assert (await _rows(db))[cb].status == "completada"


async def test_given_sunday_when_stepping_then_nothing_is_dialled(db):
    (cb,) = await _due(db, ["+50763000002"])
    fake = FakeOriginator({"+50763000002": OriginateResult("Success", 4)})
    assert await _dialer(db, fake, clock=lambda: SUNDAY).step() is None
    assert ((await _rows(db))[cb].attempts, fake.calls) == (0, [])


async def test_given_an_originate_without_outcome_then_failed_and_never_resent(db):
    (cb,) = await _due(db, ["+50763000003"])
    fake = FakeOriginator({})
    fake.hang = True
    dialer = _dialer(db, fake)
    dialer.ring_timeout_ms, dialer.outcome_grace = 50, 0.05
    assert (await dialer.step()).action_id == f"cb-{cb}-1"
    await dialer.drain()
    row = (await _rows(db))[cb]
    assert (row.status, row.attempts, row.outcome) == ("pendiente", 1, "failed")
    assert row.next_attempt_at == NOW + timedelta(minutes=30)
    assert (len(fake.calls), fake.cancelled) == (1, 1)
    dialer._next_start = 0.0
    assert await dialer.step() is None  # not due again until its next attempt time
    assert len(fake.calls) == 1


async def test_given_the_ami_side_raises_then_the_attempt_counts_as_failed(db):
    (cb,) = await _due(db, ["+50763000004"])
    fake = FakeOriginator({"+50763000004": ConnectionResetError("link dropped")})
    dialer = _dialer(db, fake)
    await dialer.step()
    await dialer.drain()
    row = (await _rows(db))[cb]
    assert (row.status, row.attempts, row.outcome) == ("pendiente", 1, "failed")


# ----------------------------------------------------------------------------- real AMI client
async def test_given_the_ami_client_and_simulator_when_dialled_then_originates_and_outcomes(db):
    from ami.client import AmiClient, AmiConfig
    from asterisk_sim.ami import ANSWERED, BUSY, NO_ANSWER, AmiSimulator
    from dialer.ami_originator import AmiOriginator

    policy = {"+50764000001": ANSWERED, "+50764000002": BUSY, "+50764000003": NO_ANSWER}
    sim = AmiSimulator(originate_policy=lambda channel: policy[channel.split("/")[1].split("@")[0]])
    await sim.start()
    client = AmiClient(AmiConfig("127.0.0.1", sim.port, "cac311", "s3cret"))
    try:
        await client.start()
        await client.wait_up(5)
        ids = await _due(db, list(policy))
        dialer = _dialer(
            db,
            AmiOriginator(client),
            callback_trunk="Local/{number}@phones",
            callback_calls_per_minute=60000,
        )
        await _run_until(
            dialer,
            lambda: (
                sum(m.get("Action") == "Originate" for m in sim.actions) == 3
                and not dialer.in_flight
            ),
        )
        originates = [m for m in sim.actions if m.get("Action") == "Originate"]
        rows = await _rows(db)
        assert {r.phone: (r.status, r.outcome) for r in rows.values()} == {
            "+50764000001": ("completada", "answered"),
            "+50764000002": ("pendiente", "busy"),
            "+50764000003": ("pendiente", "no_answer"),
        }
        assert sorted(m.action_id for m in originates) == sorted(f"cb-{i}-1" for i in ids)
        sent = {m.action_id: m for m in originates}[f"cb-{ids[0]}-1"]
        assert sent.get("Channel") == "Local/+50764000001@phones"
        assert sent.get("Async") is not None and sent.get("Async").lower() == "true"
        assert sent.get_all("Variable") == [
            f"CAC311_CALLBACK_ID={ids[0]}",
            "CAC311_CALLBACK_KIND=satisfaccion",
            f"CAC311_CALLBACK_TOKEN={rows[ids[0]].leg_token}",
        ]
        # The answered leg's channel, from its OriginateResponse, is what its AGI must be.
        answered = rows[ids[0]]
        assert answered.leg_uniqueid and answered.leg_answered_at is not None

        # The PBX goes away: the dialer claims nothing while the link is down.
        await sim.stop()
        await _eventually(lambda: client.state != "up")
        more = await _due_later(db)
        assert await dialer.step() is None
        row = (await _rows(db))[more]
        assert (row.status, row.attempts) == ("pendiente", 0)
    finally:
        await client.stop()
        await sim.stop()


async def _due_later(uow_factory) -> int:
    async with uow_factory() as uow:
        case = (await uow.session.scalars(select(CaseRow).limit(1))).one()
        row = CallbackRow(
            case_id=case.id,
            kind="seguimiento",
            phone="+50764000009",
            window_start_at=NOW - timedelta(days=1),
            window_end_at=NOW + timedelta(days=20),
            next_attempt_at=NOW - timedelta(minutes=1),
            status="pendiente",
            attempts=0,
            max_attempts=4,
        )
        uow.session.add(row)
        await uow.commit()
        return row.id
