"""Barge-in and keys kept over a hangup (issue 17, defects 1 and 2), through the real FastAGI
server driven by the simulator, against PostgreSQL.

What the real Asterisk 22 does (2026-12-01/agi-barge-in-and-hangup-digits): a prompt with
escape digits stops at a key and answers its ASCII code; GET DATA loses every key when the
caller hangs up half-way. The flows therefore collect keys one by one.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from asterisk_sim.agi import HangUp, Press, PressDuringPrompt, Timeout
from case_core.db.models import AnnouncementRow
from tests.integration.test_ivr_flows import NOW, _call, _played, _server, _session


@pytest.fixture
async def server(seeded):
    async with _server(seeded) as srv:
        yield srv


async def test_a_key_pressed_during_the_dialplan_greeting_answers_the_menu(server, seeded):
    """The dialplan's Read() of the greeting hands the key over as CAC311_FIRST_KEY."""
    call = await _call(
        server,
        [Press("8*123*4567#")],
        variables={"CAC311_GREETED": "1", "CAC311_FIRST_KEY": "1"},
        callerid="61234567",
    )
    assert "cac311/menu-principal" not in _played(call)  # answered before it was asked
    assert call.variables["CAC311_INTENT"] == "queja"
    assert call.variables["CAC311_CEDULA"] == "8-123-4567"
    _, steps = await _session(seeded, call.uniqueid)
    assert ("menu", "1", "ok") in steps


async def test_a_key_pressed_during_the_greeting_played_by_the_flow_answers_the_menu(server):
    call = await _call(server, [PressDuringPrompt("5"), Press("2026999999#"), Timeout()])
    assert 'STREAM FILE cac311/bienvenida "0123456789*#"' in call.commands
    assert "cac311/menu-principal" not in _played(call)
    assert call.variables["CAC311_INTENT"] == "estado"


async def test_a_key_pressed_during_the_announcements_stops_them_and_answers_the_menu(
    server, seeded
):
    async with seeded() as uow:
        for row in (await uow.session.scalars(select(AnnouncementRow))).all():
            row.valid_from, row.valid_to = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
        await uow.commit()
    async with _server(seeded) as fresh:
        call = await _call(fresh, [PressDuringPrompt("0")], variables={"CAC311_GREETED": "1"})
    played = _played(call)
    assert played[0] == "cac311/anuncios-intro"
    assert "cac311/anuncio-mantenimiento-chilibre" not in played  # stopped at the key
    assert "cac311/menu-principal" not in played
    assert call.variables["CAC311_INTENT"] == "agente"


async def test_an_empty_first_key_from_the_dialplan_plays_the_menu(server):
    call = await _call(
        server, [Press("0")], variables={"CAC311_GREETED": "1", "CAC311_FIRST_KEY": ""}
    )
    assert "cac311/menu-principal" in _played(call)
    assert call.variables["CAC311_INTENT"] == "agente"


async def test_a_caller_who_hangs_up_half_way_through_the_cedula_leaves_how_far_they_got(
    server, seeded
):
    call = await _call(server, [Press("1"), Press("8*12", hangup=True)])
    assert call.agi_status == "HANGUP"
    session, steps = await _session(seeded, call.uniqueid)
    assert session.outcome == "colgo"
    # Where they gave up, and the shape of what they keyed (a cédula's digits are masked).
    assert steps[-1] == ("colgo", "x*xx", "cedula_solicitud")
    assert "8*12" not in [d for _, d, _ in steps]


async def test_a_caller_who_hangs_up_half_way_through_a_case_number_leaves_the_digits(
    server, seeded
):
    call = await _call(server, [Press("5"), Press("2026", hangup=True)])
    session, steps = await _session(seeded, call.uniqueid)
    assert session.outcome == "colgo"
    assert steps[-1] == ("colgo", "2026", "caso_solicitud")


async def test_a_hangup_between_questions_records_no_keys(server, seeded):
    call = await _call(server, [Press("6"), HangUp()])
    _, steps = await _session(seeded, call.uniqueid)
    assert steps[-1][0] == "colgo" and steps[-1][1] is None
