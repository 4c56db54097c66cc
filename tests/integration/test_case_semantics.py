"""The semantics of a case's clocks and of the scorecards, with hand-computed expectations.

Reassignment restarts the entity's clocks (``assigned_at``); a consulta resolved by 3-1-1 at
first contact is nobody's case; a returned case counts for the entity that holds it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from case_core.domain import sla
from case_core.domain.case import CaseAction, CaseType, Channel
from case_core.domain.roles import Actor, Role
from case_core.metrics.scorecards import scorecards
from case_core.services.cases import RegisterCase, act_on_case, register_case
from case_core.services.escalation import escalate

PANAMA = ZoneInfo("America/Panama")


def p(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=PANAMA)


async def _actor(uow_factory, username: str) -> Actor:
    async with uow_factory() as uow:
        u = await uow.users.by_username(username)
    return Actor(u.id, u.username, Role(u.role), u.entity_id)


async def _service(uow_factory, entity: str, service: str) -> tuple[int, int]:
    async with uow_factory() as uow:
        e = await uow.directory.entity_by_code(entity)
        s = await uow.directory.service_by_code(e.id, service)
    return e.id, s.id


async def _register(uow_factory, entity, service, at, case_type=CaseType.QUEJA, **kw):
    entity_id, service_id = await _service(uow_factory, entity, service)
    return await register_case(
        uow_factory,
        RegisterCase(
            type=case_type,
            channel=Channel.TELEFONO,
            entity_id=entity_id,
            service_id=service_id,
            description="Caso de prueba con fechas conocidas.",
            **kw,
        ),
        actor=await _actor(uow_factory, "agente1"),
        now=at,
        tz=PANAMA,
    )


async def _act(uow_factory, case_id, action, who, at, **kw):
    await act_on_case(
        uow_factory,
        case_id=case_id,
        action=action,
        actor=await _actor(uow_factory, who),
        now=at,
        tz=PANAMA,
        **kw,
    )


async def _returned_and_reassigned(uow_factory, *, opened, returned, reassigned):
    """An IDAAN case returned as not competent and reassigned by 3-1-1 to MUPA aseo (5 d)."""
    c = await _register(uow_factory, "IDAAN", "falta-agua", opened)
    await _act(
        uow_factory,
        c.id,
        CaseAction.RETURN_TO_311,
        "enlace.idaan",
        returned,
        note="No es competencia del IDAAN: es recolección de basura.",
    )
    mupa, aseo = await _service(uow_factory, "MUPA", "aseo")
    await _act(
        uow_factory,
        c.id,
        CaseAction.REASSIGN,
        "supervisor",
        reassigned,
        new_entity_id=mupa,
        new_service_id=aseo,
        note="Corresponde al municipio.",
    )
    return c


async def test_given_a_reassignment_then_assigned_at_due_date_and_sla_come_from_it(seeded):
    c = await _returned_and_reassigned(
        seeded, opened=p(10, 20), returned=p(10, 21), reassigned=p(11, 3, 10)
    )
    async with seeded() as uow:
        row = await uow.cases.get(c.id)
        history = await uow.cases.history(c.id)
    assert row.status == "asignado"
    assert row.assigned_at == p(11, 3, 10)
    assert row.sla_days == 5  # MUPA aseo, not IDAAN falta-agua (3)
    assert row.due_at == p(11, 8, 23) + timedelta(minutes=59, seconds=59)  # 3 Nov + 5 days
    assert row.due_at == sla.due_at(p(11, 3, 10), 5, PANAMA)
    assert row.first_action_at is None
    last = history[-1]
    assert last.action == "reasignar" and last.actor_label == "supervisor"
    assert "vence el 08/11/2026" in last.note and "Corresponde al municipio." in last.note


async def test_given_a_reassignment_then_the_24_h_escalation_runs_from_it(seeded):
    c = await _returned_and_reassigned(
        seeded, opened=p(10, 20), returned=p(10, 21), reassigned=p(11, 3, 10)
    )
    # 23 h after the reassignment (14 days after opening): MUPA's 24 h are not over.
    report = await escalate(seeded, p(11, 4, 9), PANAMA)
    assert report.first_action == 0
    report = await escalate(seeded, p(11, 4, 10), PANAMA)
    assert [(e.case_id, e.level.value) for e in report.escalations] == [(c.id, "primera_accion")]


async def _november(uow_factory) -> None:
    """A, E: MUPA consultas resolved at first contact (2 and 4 Nov).
    B: IDAAN queja opened 2 Nov 10:00, returned as not competent at 12:00 (3-1-1 holds it).
    C: IDAAN queja opened 20 Oct, returned 21 Oct, reassigned to MUPA aseo (5 d) 3 Nov 10:00,
       started by MUPA 3 Nov 20:00 (10 h after receiving it, 14 days after opening),
       closed 6 Nov 09:00.
    D: MUPA solicitud (aseo, 5 d) opened 2 Nov 10:00, untouched: due 7 Nov 23:59:59."""
    for at in (p(11, 2), p(11, 4)):
        await _register(
            uow_factory, "MUPA", "aseo", at, CaseType.CONSULTA, resolved_at_first_contact=True
        )
    b = await _register(uow_factory, "IDAAN", "falta-agua", p(11, 2, 10))
    await _act(
        uow_factory,
        b.id,
        CaseAction.RETURN_TO_311,
        "enlace.idaan",
        p(11, 2, 12),
        note="No es competencia del IDAAN.",
    )
    c = await _returned_and_reassigned(
        uow_factory, opened=p(10, 20), returned=p(10, 21), reassigned=p(11, 3, 10)
    )
    await _act(uow_factory, c.id, CaseAction.START, "enlace.mupa", p(11, 3, 20))
    await _act(
        uow_factory,
        c.id,
        CaseAction.CLOSE,
        "enlace.mupa",
        p(11, 6, 9),
        note="Se recogió la basura.",
    )
    await _register(uow_factory, "MUPA", "aseo", p(11, 2, 10), CaseType.SOLICITUD)


async def test_given_first_contact_consultas_and_returns_then_scorecards_count_the_holder(seeded):
    await _november(seeded)
    cards = await scorecards(seeded, p(11, 1, 0), p(12, 1, 0), PANAMA, as_of=p(11, 10, 12))
    by_code = {c.entity_code: c for c in cards}
    mupa, idaan = by_code["MUPA"], by_code["IDAAN"]
    # MUPA received C (reassigned in November) and D; the two consultas are not its cases.
    assert mupa.received == 2
    assert (mupa.closed, mupa.closed_within_30d, mupa.closed_30d_decided) == (1, 1, 1)
    # C acted 10 h after MUPA received it (within 24 h); D's 24 h are over without action.
    assert (mupa.first_action_within_24h, mupa.first_action_decided) == (1, 2)
    assert mupa.open_past_due == 1  # D
    # B is held by 3-1-1 and C now by MUPA: nothing counts for IDAAN.
    assert (idaan.received, idaan.closed, idaan.first_action_decided, idaan.open_past_due) == (
        0,
        0,
        0,
        0,
    )
    # In October MUPA received nothing (C came to it in November); IDAAN no longer holds C.
    october = await scorecards(seeded, p(10, 1, 0), p(11, 1, 0), PANAMA, as_of=p(11, 10, 12))
    assert {c.entity_code: c.received for c in october}["MUPA"] == 0
    assert {c.entity_code: c.received for c in october}["IDAAN"] == 0


async def test_given_cases_then_scorecards_by_case_type(seeded):
    await _november(seeded)
    cards = await scorecards(
        seeded, p(11, 1, 0), p(12, 1, 0), PANAMA, by="type", as_of=p(11, 10, 12)
    )
    by_type = {c.case_type: c for c in cards}
    assert set(by_type) == {"queja", "solicitud"}  # consultas at first contact are not cases
    assert (by_type["queja"].received, by_type["queja"].closed_within_30d) == (1, 1)
    assert (by_type["solicitud"].received, by_type["solicitud"].open_past_due) == (1, 1)


async def test_given_november_then_monthly_open_data_has_statistics_by_type_and_place(
    seeded, tmp_path
):
    import csv
    import json

    from case_core.metrics.report import write_monthly_report

    await _november(seeded)
    report = await write_monthly_report(
        seeded, "2026-11", tmp_path, PANAMA, as_of=p(11, 10, 12), now=p(11, 10, 12)
    )
    with report.stats_path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by_type = {r["tipo"]: r for r in rows if r["agrupacion"] == "tipo"}
    assert set(by_type) == {"queja", "solicitud"}
    assert by_type["queja"]["casos_recibidos"] == "1" and by_type["queja"]["cerrados_30d"] == "1"
    assert by_type["solicitud"]["abiertos_vencidos"] == "1"
    # no location was given: one province row and one district row, both empty, with all 2
    assert [
        (r["provincia"], r["casos_recibidos"]) for r in rows if r["agrupacion"] == "provincia"
    ] == [("", "2")]
    assert [r["casos_recibidos"] for r in rows if r["agrupacion"] == "distrito"] == ["2"]
    document = json.loads(report.json_path.read_text(encoding="utf-8"))
    assert len(document["estadisticas"]["filas"]) == len(rows)
    entities = {e["entidad_codigo"]: e for e in document["entidades"]}
    assert entities["MUPA"]["casos_recibidos"] == 2 and entities["IDAAN"]["casos_recibidos"] == 0


async def test_given_registration_then_a_routed_case_is_assigned_now_and_a_consulta_never(
    seeded,
):
    routed = await _register(seeded, "IDAAN", "falta-agua", p(11, 2, 10))
    consulta = await _register(
        seeded, "MUPA", "aseo", p(11, 2, 11), CaseType.CONSULTA, resolved_at_first_contact=True
    )
    async with seeded() as uow:
        assert (await uow.cases.get(routed.id)).assigned_at == p(11, 2, 10)
        assert (await uow.cases.get(consulta.id)).assigned_at is None
