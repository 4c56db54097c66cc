"""Forged and unknown FastAGI callback sessions (issue 15, findings 2 and 11).

A session is trusted only when it is the leg the dialer is dialling now; everything else is
refused with the apology prompt, one log line, a count, and nothing read out or stored.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from ami.client import AmiClient, AmiConfig
from asterisk_sim.agi import CallerScript, Press, SimulatedAgiCall
from asterisk_sim.ami import ANSWERED
from asterisk_sim.traffic import TrafficSimulator, originate_variables
from cac311.config import Settings
from case_core.db.models import CallbackRow, CaseRow, IvrSessionRow, SurveyAnswerRow
from case_core.domain.callbacks import make_policy
from dialer.ami_originator import AmiOriginator
from dialer.dialer import Dialer
from ivr.backend import DatabaseBackend
from ivr.flows import callbacks as callback_flows
from tests.integration.test_ivr_callbacks import arm_leg
from tests.integration.test_ivr_flows import flush_ivr_logs, serving

PA = ZoneInfo("America/Panama")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=PA).astimezone(UTC)  # a Tuesday, 10:00


@pytest.fixture
async def server(seeded):
    backend = DatabaseBackend(seeded, tz=PA, clock=lambda: NOW)
    async with serving(backend) as srv:
        yield srv


async def _case_and_callback(uow_factory, *, kind, status, confidential=False, phone="61234567"):
    async with uow_factory() as uow:
        mupa = await uow.directory.entity_by_code("MUPA")
        opened = NOW - timedelta(days=4)
        count = await uow.session.scalar(select(func.count()).select_from(CaseRow))
        case = CaseRow(
            number=f"2026{count + 900001:06d}",
            type="denuncia" if confidential else "queja",
            channel="telefono",
            status="cerrado" if kind == "satisfaccion" else "asignado",
            entity_id=mupa.id,
            description="Cobros indebidos en la ventanilla." if confidential else "Basura.",
            contact_phone=phone,
            sla_days=10,
            opened_at=opened,
            due_at=opened + timedelta(days=10),
            closed_at=NOW - timedelta(hours=1) if kind == "satisfaccion" else None,
            confidential=confidential,
        )
        await uow.cases.add(case)
        row = CallbackRow(
            case_id=case.id,
            kind=kind,
            phone="+507" + phone,
            window_start_at=NOW - timedelta(hours=1),
            window_end_at=NOW + timedelta(days=3),
            next_attempt_at=NOW + timedelta(hours=1) if status == "pendiente" else None,
            status=status,
            attempts=0 if status == "pendiente" else 1,
        )
        uow.session.add(row)
        await uow.session.flush()
        await uow.commit()
        return row.id, case


async def _session(server, route, variables, actions=(), uniqueid="1796137415.16"):
    call = SimulatedAgiCall(
        "127.0.0.1",
        server.port,
        route,
        caller=CallerScript(list(actions)),
        context="cac311-callback",
        extension="s",
        uniqueid=uniqueid,
        variables=variables,
    )
    await call.run()
    return call


async def _answers(uow_factory, callback_id):
    async with uow_factory() as uow:
        return (
            await uow.session.scalars(
                select(SurveyAnswerRow).where(SurveyAnswerRow.callback_id == callback_id)
            )
        ).all()


def _refused(call, case):
    assert any("cac311/callback-fallo" in c for c in call.commands)
    assert not any(case.number in c for c in call.commands)
    assert not any("cac311/estado-" in c or "cac311/entidad-" in c for c in call.commands)
    assert call.agi_status == "SUCCESS"


async def test_forged_satisfaction_session_for_a_pending_followup_stores_nothing(server, seeded):
    # The attack of the finding: CAC311_CALLBACK_ID=2, a pending follow-up, keys 1 and 5.
    callback_id, case = await _case_and_callback(seeded, kind="satisfaccion", status="pendiente")
    call = await _session(
        server,
        "satisfaction",
        {"CAC311_CALLBACK_ID": str(callback_id), "CAC311_CALLBACK_KIND": "satisfaccion"},
        [Press("1"), Press("5")],
    )
    _refused(call, case)
    assert await _answers(seeded, callback_id) == []
    async with seeded() as uow:
        row = await uow.session.get(CallbackRow, callback_id)
        assert (row.status, row.outcome) == ("pendiente", None)


async def test_forged_followup_session_never_reads_out_a_confidential_denuncia(server, seeded):
    callback_id, case = await _case_and_callback(
        seeded, kind="seguimiento", status="en_curso", confidential=True
    )
    call = await _session(
        server,
        "followup",
        {"CAC311_CALLBACK_ID": str(callback_id), "CAC311_CALLBACK_KIND": "seguimiento"},
    )
    _refused(call, case)


@pytest.mark.parametrize("tamper", ["token", "uniqueid", "kind", "route"])
async def test_a_session_that_differs_from_the_dialled_leg_in_one_thing_is_refused(
    server, seeded, tamper
):
    callback_id, case = await _case_and_callback(seeded, kind="satisfaccion", status="en_curso")
    token = await arm_leg(seeded, callback_id, "satisfaccion", "1796137415.16")
    variables = {
        "CAC311_CALLBACK_ID": str(callback_id),
        "CAC311_CALLBACK_KIND": "satisfaccion",
        "CAC311_CALLBACK_TOKEN": token,
    }
    route, uniqueid = "satisfaction", "1796137415.16"
    if tamper == "token":
        variables["CAC311_CALLBACK_TOKEN"] = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif tamper == "uniqueid":
        uniqueid = "1796137415.17"  # the ;2 half of the Local channel, not the answered leg
    elif tamper == "kind":
        variables["CAC311_CALLBACK_KIND"] = "seguimiento"
    else:
        route = "followup"
    call = await _session(server, route, variables, [Press("1"), Press("5")], uniqueid=uniqueid)
    _refused(call, case)
    assert await _answers(seeded, callback_id) == []


async def test_the_dialled_leg_is_trusted_once_and_a_replay_is_refused(server, seeded):
    callback_id, case = await _case_and_callback(seeded, kind="satisfaccion", status="en_curso")
    token = await arm_leg(seeded, callback_id, "satisfaccion", "1796137415.16")
    variables = {
        "CAC311_CALLBACK_ID": str(callback_id),
        "CAC311_CALLBACK_KIND": "satisfaccion",
        "CAC311_CALLBACK_TOKEN": token,
    }
    first = await _session(server, "satisfaction", variables, [Press("1"), Press("5")])
    assert f'SAY DIGITS {case.number} ""' in first.commands
    assert len(await _answers(seeded, callback_id)) == 2

    replay = await _session(server, "satisfaction", variables, [Press("2"), Press("1")])
    _refused(replay, case)
    assert len(await _answers(seeded, callback_id)) == 2


async def test_a_stale_leg_is_refused(server, seeded):
    callback_id, case = await _case_and_callback(seeded, kind="satisfaccion", status="en_curso")
    token = await arm_leg(seeded, callback_id, "satisfaccion", "1796137415.16")
    async with seeded() as uow:
        row = await uow.session.get(CallbackRow, callback_id)
        row.leg_answered_at = NOW - timedelta(hours=1)
        await uow.commit()
    variables = {
        "CAC311_CALLBACK_ID": str(callback_id),
        "CAC311_CALLBACK_KIND": "satisfaccion",
        "CAC311_CALLBACK_TOKEN": token,
    }
    _refused(await _session(server, "satisfaction", variables, [Press("1")]), case)


async def test_unknown_callback_id_is_refused_cleanly_logged_once_and_counted(
    server, seeded, caplog
):
    # As on the real Asterisk (2026-12-01/ami-callback-unknown-id): CAC311_CALLBACK_ID=7 for
    # a callback that does not exist.
    caplog.set_level(logging.INFO)
    before = callback_flows.REFUSED_SESSIONS["desconocida"]
    call = await _session(
        server,
        "satisfaction",
        {"CAC311_CALLBACK_ID": "7", "CAC311_CALLBACK_KIND": "satisfaccion"},
        [Press("1"), Press("5")],
    )
    assert any("cac311/callback-fallo" in c for c in call.commands)
    assert call.agi_status == "SUCCESS"
    assert callback_flows.REFUSED_SESSIONS["desconocida"] == before + 1
    assert "IntegrityError" not in caplog.text
    refused = [r for r in caplog.records if "callback session refused" in r.getMessage()]
    assert len(refused) == 1 and refused[0].levelno == logging.WARNING
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    await flush_ivr_logs()
    async with seeded() as uow:
        (session,) = (await uow.session.scalars(select(IvrSessionRow))).all()
    assert (session.callback_id, session.outcome) == (None, "devolucion_desconocida")


async def test_a_leg_placed_by_the_dialer_through_asterisk_is_trusted(server, seeded):
    """End to end: dialer -> AMI Originate -> the PBX answers and runs the AGI with the
    Originate's variables on the answered channel -> the survey is stored."""
    callback_id, case = await _case_and_callback(seeded, kind="satisfaccion", status="pendiente")
    async with seeded() as uow:
        row = await uow.session.get(CallbackRow, callback_id)
        row.next_attempt_at = NOW - timedelta(minutes=1)
        await uow.commit()
    sim = TrafficSimulator(username="cac311", secret="s3cret", originate_policy=lambda c: ANSWERED)
    legs: list[asyncio.Task] = []

    def run_dialplan(m, channel, uniqueid):
        legs.append(
            asyncio.get_running_loop().create_task(
                _session(
                    server,
                    "satisfaction",
                    originate_variables(m),
                    [Press("1"), Press("4")],
                    uniqueid=uniqueid,
                )
            )
        )

    sim.answered_originate_hooks.append(run_dialplan)
    await sim.start()
    client = AmiClient(AmiConfig("127.0.0.1", sim.port, "cac311", "s3cret"))
    try:
        await client.start()
        await client.wait_up(5)
        dialer = Dialer(
            uow_factory=seeded,
            originator=AmiOriginator(client),
            settings=Settings(callback_trunk="Local/{number}@phones"),
            policy=make_policy(PA),
            clock=lambda: NOW,
            poll_interval=0.02,
            schedule_interval=None,
            ring_timeout_ms=2000,
        )
        assert (await dialer.step()).id == callback_id
        await dialer.drain()
        async with asyncio.timeout(10):
            while not legs:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        call = await legs[0]
    finally:
        await client.stop()
        await sim.stop()
    assert f'SAY DIGITS {case.number} ""' in call.commands
    assert sorted((a.question, a.answer) for a in await _answers(seeded, callback_id)) == [
        ("resuelto", "1"),
        ("satisfaccion", "4"),
    ]
