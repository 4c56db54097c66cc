"""Callback flows (follow-up and satisfaction survey) through the real FastAGI server."""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from asterisk_sim.agi import CallerScript, HangUp, Press, SimulatedAgiCall, Timeout
from case_core.db.models import CallbackRow, CaseRow, SurveyAnswerRow
from case_core.domain.case import CaseType, Channel
from case_core.domain.roles import Actor, Role
from case_core.services.cases import RegisterCase, register_case
from ivr.backend import DatabaseBackend
from tests.integration.test_ivr_flows import serving

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
_seq = itertools.count(16)
PANAMA = ZoneInfo("America/Panama")


@pytest.fixture
async def server(seeded):
    backend = DatabaseBackend(seeded, tz=PANAMA, clock=lambda: NOW)
    async with serving(backend) as srv:
        yield srv


@pytest.fixture
async def callback(seeded):
    async with seeded() as uow:
        mupa = await uow.directory.entity_by_code("MUPA")
        service = await uow.directory.service_by_code(mupa.id, "aseo")
    case = await register_case(
        seeded,
        RegisterCase(
            type=CaseType.QUEJA,
            channel=Channel.TELEFONO,
            entity_id=mupa.id,
            service_id=service.id,
            description="No pasa el camión de la basura.",
            contact_phone="61234567",
        ),
        actor=Actor(None, "agente1", Role.AGENT),
        now=NOW - timedelta(days=4),
        tz=PANAMA,
    )
    async with seeded() as uow:
        row = CallbackRow(
            case_id=case.id,
            kind="satisfaccion",
            phone="+50761234567",
            window_start_at=NOW - timedelta(hours=1),
            window_end_at=NOW + timedelta(days=3),
            status="en_curso",
            attempts=1,
        )
        uow.session.add(row)
        await uow.session.flush()
        await uow.commit()
        return row.id, case


KINDS = {"followup": "seguimiento", "satisfaction": "satisfaccion"}


async def arm_leg(uow_factory, callback_id, kind, uniqueid):
    """What the dialer leaves on the row once the callback leg answered (issue 15)."""
    token = secrets.token_urlsafe(24)
    async with uow_factory() as uow:
        row = await uow.session.get(CallbackRow, callback_id)
        if row is None:
            return token
        row.kind = kind
        row.status = "en_curso"
        row.outcome = "answered"
        row.leg_token = token
        row.leg_uniqueid = uniqueid
        row.leg_answered_at = NOW - timedelta(seconds=5)
        row.leg_used_at = None
        await uow.commit()
    return token


async def _run(server, route, callback_id, actions, *, uow_factory=None, variables=None):
    uniqueid = f"1796137415.{next(_seq)}"
    kind = KINDS[route]
    token = ""
    if uow_factory is not None:
        token = await arm_leg(uow_factory, callback_id, kind, uniqueid)
    if variables is None:
        variables = {
            "CAC311_CALLBACK_ID": str(callback_id),
            "CAC311_CALLBACK_KIND": kind,
            "CAC311_CALLBACK_TOKEN": token,
        }
    call = SimulatedAgiCall(
        "127.0.0.1",
        server.port,
        route,
        caller=CallerScript(actions),
        context="cac311-callback",
        extension="s",
        uniqueid=uniqueid,
        variables=variables,
    )
    await call.run()
    return call


async def _answers(uow_factory, callback_id):
    async with uow_factory() as uow:
        rows = (
            await uow.session.scalars(
                select(SurveyAnswerRow)
                .where(SurveyAnswerRow.callback_id == callback_id)
                .order_by(SurveyAnswerRow.id)
            )
        ).all()
    return [(r.question, r.answer) for r in rows]


async def test_survey_answers_are_stored_and_the_callback_completed(server, seeded, callback):
    callback_id, case = callback
    call = await _run(
        server, "satisfaction", callback_id, [Press("1"), Press("4")], uow_factory=seeded
    )
    assert f'SAY DIGITS {case.number} ""' in call.commands
    assert await _answers(seeded, callback_id) == [("resuelto", "1"), ("satisfaccion", "4")]
    async with seeded() as uow:
        row = await uow.session.get(CallbackRow, callback_id)
    assert row.status == "completada"


async def test_not_solved_flags_the_case_and_a_hangup_keeps_the_first_answer(
    server, seeded, callback
):
    callback_id, case = callback
    call = await _run(
        server, "satisfaction", callback_id, [Press("2"), HangUp()], uow_factory=seeded
    )
    assert call.result.caller_hung_up
    assert await _answers(seeded, callback_id) == [("resuelto", "2")]
    async with seeded() as uow:
        assert (await uow.session.get(CaseRow, case.id)).needs_review


async def test_zero_transfers_to_an_agent_and_bad_keys_reprompt(server, seeded, callback):
    callback_id, _ = callback
    call = await _run(
        server, "satisfaction", callback_id, [Press("7"), Press("0")], uow_factory=seeded
    )
    assert call.variables["CAC311_TRANSFER"] == "queue"
    assert await _answers(seeded, callback_id) == []
    timeouts = await _run(
        server, "satisfaction", callback_id, [Timeout(), Timeout(), Timeout()], uow_factory=seeded
    )
    assert "CAC311_TRANSFER" not in timeouts.variables


async def test_followup_reads_number_status_and_entity(server, seeded, callback):
    callback_id, case = callback
    call = await _run(server, "followup", callback_id, [Press("1"), Timeout()], uow_factory=seeded)
    assert call.commands.count(f'SAY DIGITS {case.number} ""') == 2
    assert any("cac311/entidad-mupa" in c for c in call.commands)
    assert any("cac311/estado-asignado" in c for c in call.commands)


async def test_unknown_callback_apologises_without_failing(server):
    call = await _run(server, "followup", 999999, [])
    assert any("cac311/callback-fallo" in c for c in call.commands)
    assert call.agi_status == "SUCCESS"
