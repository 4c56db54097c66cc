"""Anonymous denuncia callers keep no number, only a keyed hash (issue 15, finding 12)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text

from ami.bridge import snapshot_of
from ami.tracker import CallRecord
from asterisk_sim.agi import Press
from case_core.db.models import CallRow, IvrSessionRow
from case_core.domain.privacy import caller_hash
from case_core.domain.roles import Actor, Role
from case_core.services.calls import CallSnapshot, save_call
from recordings.service import playable_calls
from tests.integration.test_ivr_flows import _call, _server

KEY = b"0123456789abcdef0123456789abcdef"
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


async def _everything_stored(uow_factory) -> str:
    """Every row of the call and IVR tables, as text: the number must appear nowhere."""
    async with uow_factory() as uow:
        rows = []
        for table in ("calls", "ivr_sessions", "ivr_steps", "screen_pops"):
            result = await uow.session.execute(text(f"SELECT t::text FROM {table} t"))
            rows.extend(r[0] for r in result)
    return "\n".join(rows)


async def test_an_anonymous_denuncia_keeps_only_the_keyed_hash_in_the_ivr_session(seeded):
    async with _server(seeded, caller_hash_key=KEY) as server:
        call = await _call(server, [Press("2"), Press("1")], callerid="61234567")
    assert call.variables["CAC311_ANONYMOUS"] == "1"
    async with seeded() as uow:
        session = (await uow.session.scalars(select(IvrSessionRow))).one()
    assert session.anonymous
    assert session.caller_number is None
    assert session.caller_hash == caller_hash("+50761234567", KEY)
    assert "1234567" not in await _everything_stored(seeded)


async def test_a_named_caller_keeps_the_number(seeded):
    async with _server(seeded, caller_hash_key=KEY) as server:
        await _call(server, [Press("2"), Press("2"), Press("8*123*4567#")], callerid="61234567")
    async with seeded() as uow:
        session = (await uow.session.scalars(select(IvrSessionRow))).one()
    assert (session.caller_number, session.caller_hash) == ("61234567", None)


def _record(**ivr: str) -> CallRecord:
    return CallRecord(
        server="pbx1",
        uniqueid="1796137000.1",
        linkedid="1796137000.1",
        channel="PJSIP/trunk-00000001",
        caller_number="61234567",
        queue="cac311",
        entered_at=NOW,
        recording_path="2026/11/25/1796137000.1.wav",
        ivr_vars=tuple(ivr.items()),
    )


async def test_an_anonymous_call_row_erases_the_number_written_before_the_choice(uow_factory):
    # The row may be written while the caller is still in the IVR, with the number in clear.
    first = snapshot_of(_record(), KEY)
    assert first.caller_number == "+50761234567"
    call_id = await save_call(uow_factory, first)
    anonymous = snapshot_of(_record(CAC311_INTENT="denuncia", CAC311_ANONYMOUS="1"), KEY)
    assert await save_call(uow_factory, anonymous) == call_id
    # A later update without the IVR variables never brings the number back.
    await save_call(
        uow_factory, CallSnapshot(server="pbx1", uniqueid="1796137000.1", linkedid=None)
    )
    async with uow_factory() as uow:
        row = await uow.session.get(CallRow, call_id)
    assert row.caller_number is None
    assert row.caller_hash == caller_hash("61234567", KEY)
    assert "1234567" not in await _everything_stored(uow_factory)

    listing = await playable_calls(uow_factory, actor=Actor(1, "supervisor", Role.SUPERVISOR))
    assert [c.caller_tail for c in listing] == ["—"]


def test_the_hash_is_keyed_and_the_same_for_every_spelling_of_the_number():
    assert caller_hash("61234567", KEY) == caller_hash("+507 6123-4567", KEY)
    assert caller_hash("61234567", KEY) != caller_hash("61234567", b"another key of 32 bytes....")
    assert caller_hash("61234567", None) is None
    assert caller_hash(None, KEY) is None
    assert len(caller_hash("61234567", KEY)) == 64
