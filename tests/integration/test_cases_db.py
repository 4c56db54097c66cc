"""Case services against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from case_core.db.models import CaseHistoryRow, CaseRow, EntityRow, ServiceRow
from case_core.domain.case import CaseAction, CaseStatus, CaseType, Channel
from case_core.domain.errors import AccessDenied, DomainError, IllegalTransition
from case_core.domain.roles import Actor, Role
from case_core.services.case_status import private_status
from case_core.services.cases import (
    RegisterCase,
    act_on_case,
    add_note,
    register_case,
)


def status_for_caller(uow_factory, *, number, now, tz, secret=None, source="test:1"):
    return private_status(
        uow_factory,
        number=number,
        secret=secret or CODES.get(number, "000000"),
        source=source,
        now=now,
        tz=tz,
    )


CODES: dict[str, str] = {}

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
AGENT = Actor(None, "agente1", Role.AGENT)


async def _ids(uow_factory, entity_code="IDAAN", service_code="falta-agua"):
    async with uow_factory() as uow:
        entity = await uow.directory.entity_by_code(entity_code)
        service = await uow.directory.service_by_code(entity.id, service_code)
        agent = await uow.users.by_username("agente1")
        return entity.id, service.id, agent.id


def _command(entity_id, service_id, **kw):
    base = dict(
        type=CaseType.QUEJA,
        channel=Channel.TELEFONO,
        entity_id=entity_id,
        service_id=service_id,
        description="Sin agua desde hace tres días en la calle 50.",
    )
    base.update(kw)
    return RegisterCase(**base)


async def test_given_a_service_when_a_case_is_registered_then_due_date_follows_its_sla(
    seeded, panama
):
    entity_id, service_id, agent_id = await _ids(seeded)
    actor = Actor(agent_id, "agente1", Role.AGENT)
    registered = await register_case(
        seeded, _command(entity_id, service_id), actor=actor, now=NOW, tz=panama
    )
    assert registered.number == "2026000001"
    assert registered.status is CaseStatus.ASIGNADO
    # falta-agua has a 3-day SLA: due at the end of 2026-11-28 in Panama.
    assert registered.due_at == datetime(2026, 11, 29, 4, 59, 59, tzinfo=UTC)
    async with seeded() as uow:
        history = await uow.cases.history(registered.id)
    assert [(h.from_status, h.to_status) for h in history] == [
        (None, "registrado"),
        ("registrado", "asignado"),
    ]
    assert history[0].actor_user_id == agent_id


async def test_given_concurrent_registrations_then_case_numbers_are_unique_and_dense(
    seeded, panama
):
    entity_id, service_id, agent_id = await _ids(seeded)
    actor = Actor(agent_id, "agente1", Role.AGENT)
    results = await asyncio.gather(
        *[
            register_case(seeded, _command(entity_id, service_id), actor=actor, now=NOW, tz=panama)
            for _ in range(25)
        ]
    )
    numbers = sorted(r.number for r in results)
    assert len(set(numbers)) == 25
    assert numbers == [f"2026{seq:06d}" for seq in range(1, 26)]


async def test_the_database_refuses_a_duplicate_case_number(seeded, panama):
    entity_id, service_id, agent_id = await _ids(seeded)
    registered = await register_case(
        seeded, _command(entity_id, service_id), actor=AGENT, now=NOW, tz=panama
    )
    async with seeded() as uow:
        row = await uow.cases.get(registered.id)
        clone = CaseRow(
            **{c.key: getattr(row, c.key) for c in CaseRow.__table__.columns if c.key != "id"}
        )
        uow.session.add(clone)
        with pytest.raises(DBAPIError, match="uq_cases_number"):
            await uow.session.flush()


async def test_case_numbers_restart_each_local_year(seeded, panama):
    entity_id, service_id, _ = await _ids(seeded)
    # 2027-01-01 02:00 UTC is still 2026 in Panama.
    late = await register_case(
        seeded,
        _command(entity_id, service_id),
        actor=AGENT,
        now=datetime(2027, 1, 1, 2, 0, tzinfo=UTC),
        tz=panama,
    )
    early = await register_case(
        seeded,
        _command(entity_id, service_id),
        actor=AGENT,
        now=datetime(2027, 1, 1, 6, 0, tzinfo=UTC),
        tz=panama,
    )
    assert late.number == "2026000001"
    assert early.number == "2027000001"


async def test_lifecycle_legal_and_illegal_moves_with_first_action(seeded, panama):
    entity_id, service_id, _ = await _ids(seeded)
    registered = await register_case(
        seeded, _command(entity_id, service_id), actor=AGENT, now=NOW, tz=panama
    )
    liaison = Actor(None, "enlace.idaan", Role.LIAISON, entity_id=entity_id)
    with pytest.raises(IllegalTransition):
        await act_on_case(
            seeded, case_id=registered.id, action=CaseAction.REOPEN, actor=AGENT, now=NOW
        )
    later = NOW + timedelta(hours=5)
    await act_on_case(
        seeded,
        case_id=registered.id,
        action=CaseAction.START,
        actor=liaison,
        now=later,
        note="Cuadrilla enviada.",
    )
    await act_on_case(
        seeded,
        case_id=registered.id,
        action=CaseAction.CLOSE,
        actor=liaison,
        now=later + timedelta(days=1),
        note="Servicio restablecido.",
    )
    async with seeded() as uow:
        row = await uow.cases.get(registered.id)
    assert row.status == "cerrado"
    assert row.first_action_at == later
    assert row.closed_at == later + timedelta(days=1)
    with pytest.raises(IllegalTransition):
        await act_on_case(
            seeded, case_id=registered.id, action=CaseAction.CLOSE, actor=liaison, now=later
        )
    await act_on_case(
        seeded,
        case_id=registered.id,
        action=CaseAction.REOPEN,
        actor=AGENT,
        now=later + timedelta(days=2),
        note="El ciudadano reporta que volvió a fallar.",
    )
    async with seeded() as uow:
        row = await uow.cases.get(registered.id)
        history = await uow.cases.history(registered.id)
    assert row.status == "en_proceso" and row.closed_at is None
    assert [h.to_status for h in history] == [
        "registrado",
        "asignado",
        "en_proceso",
        "cerrado",
        "en_proceso",
    ]


async def test_return_to_311_and_reassignment(seeded, panama):
    entity_id, service_id, _ = await _ids(seeded)
    async with seeded() as uow:
        mupa = await uow.directory.entity_by_code("MUPA")
    registered = await register_case(
        seeded, _command(entity_id, service_id), actor=AGENT, now=NOW, tz=panama
    )
    liaison = Actor(None, "enlace.idaan", Role.LIAISON, entity_id=entity_id)
    with pytest.raises(DomainError, match="competente"):
        await act_on_case(
            seeded, case_id=registered.id, action=CaseAction.RETURN_TO_311, actor=liaison, now=NOW
        )
    await act_on_case(
        seeded,
        case_id=registered.id,
        action=CaseAction.RETURN_TO_311,
        actor=liaison,
        now=NOW,
        note="Es basura, no agua.",
    )
    async with seeded() as uow:
        aseo = await uow.directory.service_by_code(mupa.id, "aseo")
    with pytest.raises(AccessDenied):
        await act_on_case(
            seeded,
            case_id=registered.id,
            action=CaseAction.REASSIGN,
            actor=liaison,
            now=NOW,
            new_entity_id=mupa.id,
            new_service_id=aseo.id,
            tz=panama,
        )
    await act_on_case(
        seeded,
        case_id=registered.id,
        action=CaseAction.REASSIGN,
        actor=AGENT,
        now=NOW,
        new_entity_id=mupa.id,
        new_service_id=aseo.id,
        tz=panama,
    )
    async with seeded() as uow:
        row = await uow.cases.get(registered.id)
    assert (row.status, row.entity_id) == ("asignado", mupa.id)
    assert row.first_action_at is None  # IDAAN's return does not count as MUPA's action
    other = Actor(None, "enlace.idaan", Role.LIAISON, entity_id=entity_id)
    with pytest.raises(AccessDenied):
        await add_note(seeded, case_id=registered.id, actor=other, note="x", public=True, now=NOW)


async def test_history_is_append_only_in_the_database(seeded, panama):
    entity_id, service_id, _ = await _ids(seeded)
    registered = await register_case(
        seeded, _command(entity_id, service_id), actor=AGENT, now=NOW, tz=panama
    )
    await add_note(
        seeded, case_id=registered.id, actor=AGENT, note="Nota interna", public=False, now=NOW
    )
    for statement in (
        update(CaseHistoryRow).values(note="borrado"),
        delete(CaseHistoryRow),
        text("TRUNCATE case_history CASCADE"),
    ):
        async with seeded() as uow:
            with pytest.raises(DBAPIError, match="append-only"):
                await uow.session.execute(statement)
    async with seeded() as uow:
        count = (
            await uow.session.execute(select(func.count()).select_from(CaseHistoryRow))
        ).scalar()
        public = await uow.cases.history(registered.id, public_only=True)
    assert count == 3
    assert "Nota interna" not in [h.note for h in public]


async def test_consulta_closed_at_first_contact_and_anonymous_denuncia(seeded, panama):
    entity_id, service_id, _ = await _ids(seeded)
    consulta = await register_case(
        seeded,
        _command(entity_id, service_id, type=CaseType.CONSULTA, resolved_at_first_contact=True),
        actor=AGENT,
        now=NOW,
        tz=panama,
    )
    assert consulta.status is CaseStatus.CERRADO
    denuncia = await register_case(
        seeded,
        _command(entity_id, service_id, type=CaseType.DENUNCIA, anonymous=True),
        actor=AGENT,
        now=NOW,
        tz=panama,
    )
    async with seeded() as uow:
        row = await uow.cases.get(denuncia.id)
    assert row.confidential and row.anonymous and row.citizen_id is None
    with pytest.raises(DomainError):
        await register_case(
            seeded, _command(entity_id, service_id, anonymous=True), actor=AGENT, now=NOW, tz=panama
        )
    with pytest.raises(DomainError):
        await register_case(
            seeded,
            _command(entity_id, service_id, description=" "),
            actor=AGENT,
            now=NOW,
            tz=panama,
        )


async def test_status_for_caller_reads_days_left_and_unknown_numbers(seeded, panama):
    entity_id, service_id, _ = await _ids(seeded)
    registered = await register_case(
        seeded, _command(entity_id, service_id), actor=AGENT, now=NOW, tz=panama
    )
    CODES[registered.number] = registered.tracking_code
    status = await status_for_caller(seeded, number=registered.number, now=NOW, tz=panama)
    assert (status.status, status.entity_code, status.days_left) == (
        CaseStatus.ASIGNADO,
        "IDAAN",
        3,
    )
    overdue = await status_for_caller(
        seeded, number=registered.number, now=NOW + timedelta(days=5), tz=panama
    )
    assert overdue.days_left == -2
    assert await status_for_caller(seeded, number="2026999999", now=NOW, tz=panama) is None
    assert await status_for_caller(seeded, number="12*34", now=NOW, tz=panama) is None


async def test_the_database_refuses_an_sla_above_thirty_days(seeded):
    async with seeded() as uow:
        entity = (await uow.session.scalars(select(EntityRow).limit(1))).one()
        uow.session.add(ServiceRow(entity_id=entity.id, code="x", name="x", sla_days=31))
        with pytest.raises(DBAPIError, match="sla_days_legal"):
            await uow.session.flush()


async def test_given_a_tracking_code_when_checked_then_scrypt_runs_off_the_event_loop(
    seeded, panama, monkeypatch
):
    """scrypt (about 12 ms of CPU) must not stop the event loop: every other call of the
    FastAGI process waits meanwhile. It runs in a thread (hashlib.scrypt releases the GIL)."""
    import threading

    from case_core.services import case_status

    entity_id, service_id, _ = await _ids(seeded)
    registered = await register_case(
        seeded, _command(entity_id, service_id), actor=AGENT, now=NOW, tz=panama
    )
    threads: list[threading.Thread] = []
    real = case_status.verify_tracking_code

    def spy(code: str, stored: str | None) -> bool:
        threads.append(threading.current_thread())
        return real(code, stored)

    monkeypatch.setattr(case_status, "verify_tracking_code", spy)
    status = await status_for_caller(
        seeded, number=registered.number, secret=registered.tracking_code, now=NOW, tz=panama
    )
    assert status is not None and status.number == registered.number
    assert threads and threading.main_thread() not in threads
