"""SLA escalation: levels, idempotence, internal notes, the CLI and the pages that show them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from cac311.cli import main
from case_core.db.models import CaseHistoryRow
from case_core.db.models.escalations import CaseEscalationRow
from case_core.domain import sla
from case_core.domain.case import CaseAction, CaseStatus
from case_core.domain.roles import Actor, Role
from case_core.services.cases import act_on_case
from case_core.services.escalation import EscalationLevel, due_levels, escalate
from tests.integration.test_desktop_support import (  # noqa: F401
    START,
    make_desktop_fixture,
    other_process_fixture,
)
from tests.integration.test_liaison import _browser, _register

desktop = make_desktop_fixture()
T0 = START  # 2026-11-02 10:00 in Panama
L = EscalationLevel


async def _liaison(uow_factory, username: str) -> Actor:
    async with uow_factory() as uow:
        user = await uow.users.by_username(username)
    return Actor(user.id, user.username, Role.LIAISON, user.entity_id)


async def _scenario(uow_factory, panama) -> dict[str, object]:
    """fresh: IDAAN (3-day SLA), opened at T0, untouched.
    worked: MUPA aseo (5-day SLA), opened at T0, started by its liaison an hour later.
    late: IDAAN, opened ten days before T0, untouched.
    closed: IDAAN, opened ten days before T0, closed by its liaison."""
    fresh = await _register(uow_factory, panama, entity="IDAAN", service="falta-agua", hours_ago=0)
    worked = await _register(uow_factory, panama, entity="MUPA", service="aseo", hours_ago=0)
    late = await _register(uow_factory, panama, entity="IDAAN", service="falta-agua", hours_ago=240)
    closed = await _register(
        uow_factory, panama, entity="IDAAN", service="falta-agua", hours_ago=240
    )
    await act_on_case(
        uow_factory,
        case_id=worked.id,
        action=CaseAction.START,
        actor=await _liaison(uow_factory, "enlace.mupa"),
        now=T0 + timedelta(hours=1),
    )
    await act_on_case(
        uow_factory,
        case_id=closed.id,
        action=CaseAction.CLOSE,
        actor=await _liaison(uow_factory, "enlace.idaan"),
        now=T0 - timedelta(days=9),
        note="Atendido.",
    )
    return {"fresh": fresh, "worked": worked, "late": late, "closed": closed}


async def _escalations(uow_factory) -> set[tuple[int, str]]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(select(CaseEscalationRow))).scalars().all()
    return {(r.case_id, r.level) for r in rows}


async def _notes(uow_factory, case_id: int) -> list[CaseHistoryRow]:
    async with uow_factory() as uow:
        history = await uow.cases.history(case_id)
    return [h for h in history if (h.note or "").startswith("Escalado:")]


def test_given_open_case_then_levels_follow_first_action_risk_share_and_due():
    opened = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    due = datetime(2026, 11, 13, 4, 59, 59, tzinfo=UTC)  # a 10-day SLA
    risk = due - timedelta(days=2)  # the last 20 % of 10 days

    def levels(now, *, first=None, status=CaseStatus.ASIGNADO, policy=sla.DEFAULT_RISK):
        return due_levels(
            status=status,
            assigned_at=opened,
            due_at=due,
            sla_days=10,
            first_action_at=first,
            now=now,
            risk=policy,
        )

    assert levels(opened + timedelta(hours=23, minutes=59)) == []
    assert levels(opened + timedelta(hours=24)) == [L.PRIMERA_ACCION]
    assert levels(opened + timedelta(hours=24), status=CaseStatus.EN_PROCESO) == [L.PRIMERA_ACCION]
    assert levels(opened + timedelta(hours=24), first=opened) == []
    assert levels(risk - timedelta(seconds=1), first=opened) == []
    assert levels(risk, first=opened) == [L.RIESGO_SLA]
    assert levels(risk, first=opened, policy=sla.RiskPolicy(fraction=0.1)) == []
    assert levels(risk) == [L.PRIMERA_ACCION, L.RIESGO_SLA]
    assert levels(due, first=opened) == [L.RIESGO_SLA]  # due at the last second of the day
    assert levels(due + timedelta(seconds=1), first=opened) == [L.VENCIDO]
    assert levels(due + timedelta(days=1), status=CaseStatus.CERRADO) == []
    # returned to 3-1-1: the entity's first action is no longer awaited, the SLA still runs
    assert levels(due + timedelta(days=1), status=CaseStatus.DEVUELTO_311) == [L.VENCIDO]


async def test_given_cases_when_escalating_over_time_then_each_level_once_with_internal_note(
    seeded, panama
):
    cases = await _scenario(seeded, panama)
    fresh, worked, late, closed = (cases[k].id for k in ("fresh", "worked", "late", "closed"))

    early = await escalate(seeded, T0 + timedelta(hours=2), panama)
    assert (early.first_action, early.at_risk, early.overdue) == (1, 0, 1)
    assert await _escalations(seeded) == {(late, "vencido"), (late, "primera_accion")}

    # a day later (2026-11-03 11:00 in Panama): fresh has a 3-day SLA, so it is not at risk
    # yet (the last 20 % of 3 days is less than the one-day minimum)
    now = T0 + timedelta(hours=25)
    report = await escalate(seeded, now, panama)
    assert (report.first_action, report.at_risk, report.overdue) == (1, 0, 0)
    expected = {(late, "vencido"), (late, "primera_accion"), (fresh, "primera_accion")}
    assert await _escalations(seeded) == expected

    again = await escalate(seeded, now + timedelta(minutes=5), panama)
    assert again.total == 0 and await _escalations(seeded) == expected

    # its last day (2026-11-05 00:00 in Panama, due at 23:59:59): at risk
    last_day = datetime(2026, 11, 5, 5, 0, tzinfo=UTC)
    risky = await escalate(seeded, last_day, panama)
    assert (risky.first_action, risky.at_risk, risky.overdue) == (0, 1, 0)
    expected |= {(fresh, "riesgo_sla")}
    assert await _escalations(seeded) == expected

    notes = await _notes(seeded, fresh)
    assert len(notes) == 2
    assert all(not n.public and n.actor_label == "sistema" and n.kind == "note" for n in notes)
    assert all(n.actor_user_id is None for n in notes)
    assert "primera acción dentro de las 24 horas (límite 03/11/2026 10:00)" in notes[0].note
    assert notes[1].note == "Escalado: el plazo vence hoy (05/11/2026) y el caso sigue abierto."
    assert len(await _notes(seeded, late)) == 2 and await _notes(seeded, closed) == []
    async with seeded() as uow:
        public = await uow.cases.history(fresh, public_only=True)
    assert not any("Escalado" in (h.note or "") for h in public)  # the IVR never reads them

    # after both due dates: fresh overdue; worked skips straight to overdue
    final = await escalate(seeded, datetime(2026, 11, 8, 17, 0, tzinfo=UTC), panama)
    assert (final.first_action, final.at_risk, final.overdue) == (0, 0, 2)
    assert await _escalations(seeded) == expected | {(fresh, "vencido"), (worked, "vencido")}
    assert (await _notes(seeded, worked))[-1].note == (
        "Escalado: el plazo venció el 07/11/2026 (hace 1 día)."
    )
    assert not any(c == closed for c, _ in await _escalations(seeded))


async def test_given_two_runs_at_once_then_one_row_and_one_note_per_level(seeded, panama):
    await _scenario(seeded, panama)
    now = T0 + timedelta(hours=25)
    first, second = await asyncio.gather(
        escalate(seeded, now, panama), escalate(seeded, now, panama)
    )
    assert first.total + second.total == 3
    async with seeded() as uow:
        notes = await uow.session.scalar(
            select(func.count())
            .select_from(CaseHistoryRow)
            .where(CaseHistoryRow.note.startswith("Escalado:"))
        )
    assert notes == 3
    assert len(await _escalations(seeded)) == notes


async def test_given_cli_then_escalate_runs_once_and_prints_counts(
    seeded, panama, database_url, monkeypatch, capsys
):
    await _scenario(seeded, panama)
    monkeypatch.setenv("CAC311_DATABASE_URL", database_url)
    argv = ["cases", "escalate", "--now", "2026-11-03T11:00:00-05:00"]
    assert await asyncio.to_thread(main, argv) == 0
    out = capsys.readouterr().out
    assert "Casos escalados: 3 (sin primera acción: 2; en riesgo: 0; vencidos: 1)." in out
    assert await asyncio.to_thread(main, argv) == 0
    assert "Casos escalados: 0 " in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # argparse: a moment without UTC offset
        main(["cases", "escalate", "--now", "2026-11-03T11:00:00"])
    assert refused.value.code == 2 and "UTC offset" in capsys.readouterr().err


async def test_given_escalations_then_supervisor_and_liaison_pages_show_them(desktop, panama):
    cases = await _scenario(desktop.uow_factory, panama)
    await escalate(desktop.uow_factory, T0 + timedelta(hours=25), panama)
    fresh, worked, late = cases["fresh"], cases["worked"], cases["late"]

    supervisor = await _browser(desktop, "supervisor", page="/escritorio")
    page = await supervisor.get("/supervisor/escalamientos")
    text = await page.text()
    assert page.status == 200
    assert fresh.number in text and late.number in text and worked.number not in text
    assert text.index(late.number) < text.index(fresh.number)  # earliest due first
    assert "Sin primera acción" in text and "Vencido" in text
    assert "En riesgo de vencer" not in text  # a 3-day SLA is not at risk after one day
    assert f'href="/casos/{fresh.number}"' in text  # each row opens the case page

    agent = await _browser(desktop, "agente1", page="/escritorio")
    assert (await agent.get("/supervisor/escalamientos")).status == 403
    idaan = await _browser(desktop, "enlace.idaan")
    assert (await idaan.get("/supervisor/escalamientos")).status == 403
    listing = await (await idaan.get("/enlace")).text()
    assert "Escalado: Sin primera acción" in listing and "Escalado: Vencido" in listing
    detail = await (await idaan.get(f"/enlace/casos/{fresh.id}")).text()
    assert "Escalado: Sin primera acción" in detail and "sistema" in detail
