"""Full calls through the real FastAGI server, driven by the Asterisk simulator, against
PostgreSQL: every menu branch, identity, case status, timeouts, hangups and a database that
is down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from asterisk_sim.agi import (
    CallerScript,
    HangUp,
    Press,
    SimulatedAgiCall,
    Timeout,
    parse_agi_args,
)
from case_core.db.engine import make_engine, make_sessionmaker
from case_core.db.models import AnnouncementRow, IvrSessionRow, IvrStepRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.case import CaseType, Channel
from case_core.domain.roles import Actor, Role
from case_core.services.cases import RegisterCase, register_case
from ivr.agi.server import FastAgiServer
from ivr.backend import DatabaseBackend
from ivr.routes import build_routes

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
PANAMA = ZoneInfo("America/Panama")


# Backends of the servers running now: their session journals are flushed before a read.
_LIVE_BACKENDS: list[DatabaseBackend] = []


async def flush_ivr_logs() -> None:
    """Wait until the session log of every running test server is in the database (the
    journal writes behind the flow, ``ivr.journal``)."""
    for backend in list(_LIVE_BACKENDS):
        await backend.flush()


@asynccontextmanager
async def serving(backend: DatabaseBackend) -> AsyncIterator[FastAgiServer]:
    """A FastAGI server on the real routes; on exit, its backend writes the session log."""
    _LIVE_BACKENDS.append(backend)
    try:
        async with (
            backend,
            FastAgiServer(build_routes(backend), "127.0.0.1", 0, command_timeout=5) as srv,
        ):
            yield srv
    finally:
        _LIVE_BACKENDS.remove(backend)


def _server(uow_factory, **backend_kw):  # type: ignore[no-untyped-def]
    return serving(DatabaseBackend(uow_factory, tz=PANAMA, clock=lambda: NOW, **backend_kw))


async def _call(server, actions, route="inbound", **kw) -> SimulatedAgiCall:
    call = SimulatedAgiCall("127.0.0.1", server.port, route, caller=CallerScript(actions), **kw)
    await call.run()
    return call


async def _session(uow_factory, uniqueid):
    await flush_ivr_logs()
    async with uow_factory() as uow:
        row = (
            await uow.session.scalars(
                select(IvrSessionRow).where(IvrSessionRow.uniqueid == uniqueid)
            )
        ).one()
        steps = (
            await uow.session.scalars(
                select(IvrStepRow).where(IvrStepRow.session_id == row.id).order_by(IvrStepRow.seq)
            )
        ).all()
    return row, [(s.step, s.digits, s.result) for s in steps]


def _played(call) -> list[str]:
    return [
        parse_agi_args(c)[2] for c in call.commands if c.startswith(("STREAM FILE", "GET DATA"))
    ]


@pytest.fixture
async def server(seeded):
    async with _server(seeded) as srv:
        yield srv


async def test_queja_with_a_valid_cedula_sets_variables_and_logs_each_step(server, seeded):
    call = await _call(server, [Press("1"), Press("8*123*4567#")], callerid="62220000")
    v = call.variables
    assert (v["CAC311_INTENT"], v["CAC311_CEDULA"], v["CAC311_NEXT"]) == (
        "queja",
        "8-123-4567",
        "queue",
    )
    assert v["CAC311_CITIZEN_ID"].isdigit()
    assert call.agi_status == "SUCCESS"
    session, steps = await _session(seeded, call.uniqueid)
    assert (session.intent, session.cedula, session.outcome) == ("queja", "8-123-4567", "cola")
    assert session.ended_at == NOW and session.citizen_id == int(v["CAC311_CITIZEN_ID"])
    assert [s[0] for s in steps] == ["menu", "intencion", "identificado", "salida"]
    assert "cac311/transferencia-agente" in _played(call)


async def test_invalid_cedula_is_reprompted_then_accepted(server, seeded):
    call = await _call(
        server, [Press("4"), Press("14*123*4567#"), Press("8*900*12#")], callerid="62220000"
    )
    assert call.variables["CAC311_CEDULA"] == "8-900-12"
    _, steps = await _session(seeded, call.uniqueid)
    assert ("cedula", None, "invalida") in steps
    # The invalid keys are not stored: a mistyped cédula is still personal data.
    assert all("14*123" not in (d or "") for _, d, _ in steps)
    assert "cac311/cedula-invalida" in _played(call)


async def test_three_bad_cedulas_take_the_caller_to_an_agent(server, seeded):
    call = await _call(
        server, [Press("1"), Press("99#"), Timeout(), Press("1*1#")], callerid="62220000"
    )
    assert call.variables["CAC311_NEXT"] == "queue"
    assert call.variables["CAC311_IVR_OUTCOME"] == "cedula_no_valida"
    assert "CAC311_CEDULA" not in call.variables


async def test_cedula_with_letters_goes_to_an_agent(server):
    call = await _call(server, [Press("3"), Press("0")], callerid="62220000")
    assert call.variables["CAC311_IVR_OUTCOME"] == "cedula_con_letras"
    assert call.variables["CAC311_INTENT"] == "sugerencia"


async def test_known_caller_id_is_offered_and_confirmed(server, seeded):
    call = await _call(server, [Press("1"), Press("1")], callerid="61234567")
    assert call.variables["CAC311_CEDULA"] == "8-123-4567"
    _, steps = await _session(seeded, call.uniqueid)
    assert ("identificado", None, "callerid") in steps


async def test_known_caller_id_declined_asks_for_the_cedula(server):
    call = await _call(server, [Press("1"), Press("2"), Press("4*712*1033#")], callerid="61234567")
    assert call.variables["CAC311_CEDULA"] == "4-712-1033"


async def test_denuncia_may_stay_anonymous(server, seeded):
    call = await _call(server, [Press("2"), Press("1")], callerid="61234567")
    assert call.variables["CAC311_ANONYMOUS"] == "1"
    assert "CAC311_CEDULA" not in call.variables
    session, _ = await _session(seeded, call.uniqueid)
    assert session.anonymous and session.cedula is None


@pytest.mark.parametrize(("key", "intent"), [("6", "consulta"), ("0", "agente")])
async def test_consulta_and_agent_go_straight_to_the_queue(server, key, intent):
    call = await _call(server, [Press(key)])
    assert call.variables["CAC311_INTENT"] == intent
    assert call.variables["CAC311_NEXT"] == "queue"


async def test_menu_timeouts_and_bad_keys_reprompt_then_reach_an_agent(server, seeded):
    call = await _call(server, [Timeout(), Press("9"), Timeout()])
    assert call.variables["CAC311_NEXT"] == "queue"
    assert call.variables["CAC311_IVR_OUTCOME"] == "agente_por_reintentos"
    played = _played(call)
    assert played.count("cac311/menu-principal") == 3
    assert "cac311/opcion-invalida" in played and "cac311/sin-respuesta" in played
    assert call.result.caller_hung_up is False


async def _idaan_case(seeded, **kw):
    async with seeded() as uow:
        idaan = await uow.directory.entity_by_code("IDAAN")
        service = await uow.directory.service_by_code(idaan.id, "fuga")
    return await register_case(
        seeded,
        RegisterCase(
            type=kw.pop("type", CaseType.QUEJA),
            channel=Channel.TELEFONO,
            entity_id=idaan.id,
            service_id=service.id,
            description="Fuga en la vía principal.",
            **kw,
        ),
        actor=Actor(None, "agente1", Role.AGENT),
        now=NOW,
        tz=PANAMA,
    )


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_case_status_needs_the_tracking_code_then_reads_it(server, seeded):
    registered = await _idaan_case(seeded)
    call = await _call(
        server,
        [
            Press("5"),
            Press(registered.number + "#"),
            Press(registered.tracking_code + "#"),
            Press("1"),
            Press("2026999999#"),
            Press("123456#"),
            Timeout(),
        ],
    )
    played = _played(call)
    assert "cac311/caso-codigo" in played
    assert "cac311/estado-asignado" in played and "cac311/entidad-idaan" in played
    assert 'SAY NUMBER 5 ""' in call.commands  # fuga: 5-day SLA, opened today
    assert "cac311/caso-no-coincide" in played
    assert call.variables["CAC311_NEXT"] == "hangup"
    assert call.variables["CAC311_CASE_NUMBER"] == registered.number
    _, steps = await _session(seeded, call.uniqueid)
    assert ("estado", registered.number, "asignado") in steps
    assert ("estado", None, "no_coincide") in steps
    # The codes are never stored in the session log, nor the number that did not match.
    digits = " ".join(d or "" for _, d, _ in steps)
    assert registered.tracking_code not in digits and "2026999999" not in digits


async def test_a_known_number_with_a_wrong_code_sounds_like_an_unknown_number(server, seeded):
    registered = await _idaan_case(seeded)
    known = await _call(
        server,
        [
            Press("5"),
            Press(registered.number + "#"),
            Press(_wrong(registered.tracking_code) + "#"),
            Timeout(),
        ],
        callerid="62220001",
    )
    unknown = await _call(
        server,
        [Press("5"), Press("2026999999#"), Press("123456#"), Timeout()],
        callerid="62220002",
    )
    # Same prompts, same variables: the caller cannot tell that the first number exists.
    assert _played(known) == _played(unknown)
    assert "cac311/estado-asignado" not in _played(known)
    assert "cac311/entidad-idaan" not in _played(known)
    assert "CAC311_CASE_NUMBER" not in known.variables
    assert known.variables["CAC311_NEXT"] == unknown.variables["CAC311_NEXT"] == "queue"


async def test_the_caller_hears_un_momento_while_the_code_is_checked(server, seeded):
    registered = await _idaan_case(seeded)
    call = await _call(
        server,
        [Press("5"), Press(registered.number + "#"), Press(registered.tracking_code + "#")],
    )
    played = _played(call)
    # Right after the code: instant feedback, then the status once it is checked.
    assert played.index("cac311/caso-codigo") < played.index("cac311/un-momento")
    assert played.index("cac311/un-momento") < played.index("cac311/estado-asignado")


async def test_a_wrong_code_counts_even_if_the_caller_hangs_up_while_it_is_checked(
    server, seeded
):
    """Hanging up during "un momento" must not be a way to try codes without being
    counted: five such calls lock the caller out like five heard refusals."""
    from case_core.db.models import RateEventRow

    registered = await _idaan_case(seeded)
    wrong = _wrong(registered.tracking_code)
    for _ in range(5):
        await _call(
            server,
            [Press("5"), Press(registered.number + "#"), Press(wrong + "#"), HangUp()],
            callerid="61110005",
        )

    async def counted() -> int:
        async with seeded() as uow:
            rows = await uow.session.scalars(select(RateEventRow))
            return len(rows.all())

    for _ in range(500):  # the checks finish after the hang-ups
        if await counted() >= 5:
            break
        await asyncio.sleep(0.01)
    assert await counted() == 5
    locked = await _call(
        server,
        [Press("5"), Press(registered.number + "#"), Press(registered.tracking_code + "#")],
        callerid="61110005",
    )
    assert "cac311/caso-demasiados-intentos" in _played(locked)


async def test_the_last_four_of_the_cedula_open_an_identified_citizens_case(server, seeded):
    from case_core.services.citizens import CitizenData, save_citizen

    citizen_id = await save_citizen(
        seeded, CitizenData(cedula="8-765-4321", first_name="Ana", last_name="Ríos")
    )
    registered = await _idaan_case(seeded, citizen_id=citizen_id)
    call = await _call(
        server, [Press("5"), Press(registered.number + "#"), Press("4321#"), Timeout()]
    )
    assert "cac311/estado-asignado" in _played(call)
    refused = await _call(
        server, [Press("5"), Press(registered.number + "#"), Press("4322#"), Timeout()]
    )
    assert "cac311/caso-no-coincide" in _played(refused)


async def test_a_confidential_case_reads_its_status_but_never_its_entity(server, seeded):
    registered = await _idaan_case(seeded, type=CaseType.DENUNCIA, anonymous=True)
    call = await _call(
        server,
        [
            Press("5"),
            Press(registered.number + "#"),
            Press(registered.tracking_code + "#"),
            Timeout(),
        ],
    )
    played = _played(call)
    assert "cac311/estado-asignado" in played
    assert "cac311/entidad-idaan" not in played and "cac311/en-la-entidad" not in played


async def test_repeated_wrong_codes_lock_the_caller_out_even_with_the_right_one(
    server, seeded, caplog
):
    registered = await _idaan_case(seeded)
    caplog.set_level(logging.DEBUG)
    wrong = _wrong(registered.tracking_code)
    for _ in range(5):
        await _call(
            server,
            [Press("5"), Press(registered.number + "#"), Press(wrong + "#"), Timeout()],
            callerid="61110000",
        )
    locked = await _call(
        server,
        [Press("5"), Press(registered.number + "#"), Press(registered.tracking_code + "#")],
        callerid="61110000",
    )
    assert "cac311/caso-demasiados-intentos" in _played(locked)
    assert "cac311/estado-asignado" not in _played(locked)
    assert locked.variables["CAC311_IVR_OUTCOME"] == "estado_bloqueado"
    assert locked.variables["CAC311_NEXT"] == "queue"
    # Another caller with the right code still gets through.
    other = await _call(
        server,
        [
            Press("5"),
            Press(registered.number + "#"),
            Press(registered.tracking_code + "#"),
            Timeout(),
        ],
        callerid="61110001",
    )
    assert "cac311/estado-asignado" in _played(other)
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (registered.number, registered.tracking_code, wrong, "61110000"):
        assert secret not in text


async def test_an_unknown_case_number_then_silence_goes_to_an_agent_not_a_hangup(server):
    call = await _call(server, [Press("5"), Press("2026999999#"), Press("123456#"), Timeout()])
    assert "cac311/caso-no-coincide" in _played(call)
    # Never hang up on a caller who only mistyped: the goodbye is for one who heard a status.
    assert call.variables["CAC311_NEXT"] == "queue"
    assert "cac311/despedida" not in _played(call)


# Each script walks a branch; hanging up after each prefix covers every step of it.
BRANCHES = {
    "queja": (["1", "2", "8*123*4567#"], "61234567"),
    "denuncia": (["2", "2", "8*123*4567#"], "62220000"),
    "estado": (["5", "2026999999#", "123456#", "1", "2026999998#"], "62220000"),
}
HANGUP_CASES = [(branch, n) for branch, (keys, _) in BRANCHES.items() for n in range(len(keys) + 1)]


@pytest.mark.parametrize(("branch", "hangup_at"), HANGUP_CASES)
async def test_a_hangup_at_any_step_leaves_a_complete_session(seeded, branch, hangup_at, caplog):
    keys, callerid = BRANCHES[branch]
    script = [Press(k) for k in keys[:hangup_at]] + [HangUp()]
    caplog.set_level(logging.WARNING)
    async with _server(seeded) as srv:
        call = await _call(srv, script, callerid=callerid)
    assert call.result.caller_hung_up
    assert call.agi_status == "HANGUP"
    session, steps = await _session(seeded, call.uniqueid)
    assert session.outcome == "colgo" and session.ended_at == NOW
    assert steps[-1][0] == "colgo"
    # Every key the caller pressed before hanging up is in the log, in order.
    logged = [d for _, d, _ in steps if d]
    expected = [k.rstrip("#") for k in keys[:hangup_at]]
    if branch == "queja" or branch == "denuncia":
        expected = [k for k in expected if "*" not in k]  # cédulas are stored as identities
    if branch == "estado":
        # Case numbers that did not match and codes are keys to a case: never stored.
        expected = [k for k in expected if len(k) == 1]
    assert logged == expected
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_database_down_still_sends_the_caller_to_the_queue(seeded):
    dead_engine = make_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none", connect_timeout=0.5)
    try:
        async with _server(UnitOfWorkFactory(make_sessionmaker(dead_engine))) as srv:
            call = await _call(srv, [Press("1"), Press("8*123*4567#")])
            status_call = await _call(srv, [Press("5"), Press("2026000001#"), Press("123456#")])
    finally:
        await dead_engine.dispose()
    v = call.variables
    assert (v["CAC311_INTENT"], v["CAC311_CEDULA"], v["CAC311_NEXT"]) == (
        "queja",
        "8-123-4567",
        "queue",
    )
    assert "CAC311_IVR_SESSION" not in v
    assert status_call.variables["CAC311_NEXT"] == "queue"
    assert status_call.variables["CAC311_IVR_OUTCOME"] == "sin_sistema"
    assert "cac311/disculpa-sistema" in _played(status_call)


async def test_active_announcements_play_before_the_menu(server, seeded):
    async with seeded() as uow:
        for row in (await uow.session.scalars(select(AnnouncementRow))).all():
            row.valid_from, row.valid_to = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
        await uow.commit()
    call = await _call(server, [Press("0")], variables={"CAC311_GREETED": "1"})
    played = _played(call)
    assert "cac311/bienvenida" not in played
    assert played.index("cac311/anuncio-mantenimiento-chilibre") < played.index(
        "cac311/menu-principal"
    )
    async with seeded() as uow:
        for row in (await uow.session.scalars(select(AnnouncementRow))).all():
            row.valid_to = NOW
        await uow.commit()
    # Within ANNOUNCEMENTS_TTL a process keeps what it read; a fresh one reads the change.
    cached = await _call(server, [Press("0")])
    assert "cac311/anuncios-intro" in _played(cached)
    async with _server(seeded) as fresh:
        quiet = await _call(fresh, [Press("0")])
    assert "cac311/anuncios-intro" not in _played(quiet)


async def test_readback_says_the_case_number_digit_by_digit_and_repeats(server):
    call = await _call(
        server,
        [Press("1"), Timeout()],
        route="readback",
        variables={"CAC311_CASE_NUMBER": "2026000123"},
    )
    assert call.commands.count('SAY DIGITS 2026000123 ""') == 2


async def test_no_personal_data_reaches_the_logs(server, caplog):
    caplog.set_level(logging.DEBUG)
    await _call(server, [Press("1"), Press("14*1*1#"), Press("8*123*4567#")], callerid="61234567")
    await _call(
        server,
        [Press("5"), Press("2026999999#"), Press("654321#"), Timeout()],
        callerid="61234567",
    )
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("8-123-4567", "8*123*4567", "14*1*1", "61234567", "2026999999", "654321"):
        assert secret not in text
