"""Supervisor wallboard and report pages against the real PostgreSQL of ``seeded``.

The app's clock is fixed at NOW (2026-11-02 10:30 in Panama); calls and agent states are
written as the AMI listener process would (its own engine), the wallboard must push them.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import re
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from agent_desktop.app import LISTENER, init_app
from agent_desktop.supervisor import AGENT_COLUMNS, SCORECARD_COLUMNS
from agent_desktop.wallboard import WALLBOARD, setup_wallboard_routes
from cac311.config import Settings
from case_core.db.models import CallRow
from case_core.metrics.calls import CALL_METRICS_COLUMNS
from case_core.metrics.outages import record_link_down, record_link_up
from case_core.services.agents import record_agent_state
from case_core.services.calls import CallSnapshot, save_call
from tests.integration.test_desktop_support import (
    START,
    Desktop,
    FakeClock,
    FakeQueueControl,
    next_message,
    other_process_fixture,  # noqa: F401 (fixture)
)
from tests.integration.test_scorecards_db import AS_OF, seed_october

NOW = START + timedelta(minutes=30)  # 10:30 in Panama
PANAMA = ZoneInfo("America/Panama")
_ids = itertools.count(1)


@pytest.fixture
async def board(seeded, engine):  # type: ignore[no-untyped-def]
    clock = FakeClock(NOW)
    app = init_app(
        Settings(), uow_factory=seeded, engine=engine, queue_control=FakeQueueControl(), clock=clock
    )
    setup_wallboard_routes(app)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    await asyncio.wait_for(app[LISTENER].connected.wait(), 5)
    await asyncio.wait_for(app[WALLBOARD].listener.connected.wait(), 5)  # type: ignore[union-attr]
    desk = Desktop(app, server, clock, FakeQueueControl(), seeded)
    yield desk
    for client in desk.clients:
        await client.close()
    await server.close()


def call(entered_s: float, **kw: object) -> CallRow:
    """An inbound call that entered ``entered_s`` seconds before NOW."""
    values: dict[str, object] = {
        "uniqueid": f"1795475100.{next(_ids)}",
        "direction": "inbound",
        "queue": "cac311",
        "entered_at": NOW - timedelta(seconds=entered_s),
    }
    return CallRow(**(values | kw))


def ago(seconds: float):  # type: ignore[no-untyped-def]
    return NOW - timedelta(seconds=seconds)


async def hand_made_floor(uow_factory) -> None:  # type: ignore[no-untyped-def]
    """Today (Nov 2, Panama): 09:xx two answered (10 s, 30 s), two abandoned (3 s short, 40 s);
    10:xx one answered in 15 s and two still waiting (40 s and 10 s); plus calls that must not
    count: yesterday's, a 13-hour-old row never ended, an outbound call."""
    rows = [
        call(
            3000,
            answered_at=ago(2990),
            hold_seconds=10,
            talk_seconds=60,
            agent_interface="PJSIP/1001",
        ),  # fmt: skip
        call(
            2800,
            answered_at=ago(2770),
            hold_seconds=30,
            talk_seconds=120,
            agent_interface="PJSIP/1002",
        ),  # fmt: skip
        call(2600, abandoned=True, hold_seconds=3, ended_at=ago(2597)),
        call(2400, abandoned=True, hold_seconds=40, ended_at=ago(2360)),
        call(20, answered_at=ago(5), hold_seconds=15, agent_interface="PJSIP/1001"),
        call(40),
        call(10),
        call(13 * 3600),  # stale: a hangup never reported
        call(11 * 3600, answered_at=ago(11 * 3600 - 5), hold_seconds=5),  # yesterday 23:00
        call(30, direction="outbound"),
    ]
    async with uow_factory() as uow:
        uow.session.add_all(rows)
        await uow.commit()
    await record_link_down(uow_factory, "pbx1", ago(2700))  # 09:45 to 09:55
    await record_link_up(uow_factory, "pbx1", ago(2100))
    await record_agent_state(uow_factory, "PJSIP/1001", "available", None, ago(3600), "test")
    await record_agent_state(uow_factory, "PJSIP/1001", "paused", "almuerzo", ago(600), "test")
    await record_agent_state(uow_factory, "PJSIP/1002", "in_call", None, ago(30), "test")
    await record_agent_state(
        uow_factory, "PJSIP/1002", "available", None, NOW + timedelta(seconds=60), "t"
    )
    await record_agent_state(uow_factory, "PJSIP/1099", "ringing", None, ago(2), "test")


async def test_given_roles_when_opening_supervisor_pages_then_only_supervisors_and_admins_enter(
    board,
):
    anonymous = await board.client()
    r = await anonymous.get("/supervisor/tablero", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/login?siguiente=/supervisor/tablero"
    r = await anonymous.get("/supervisor/tablero.json", headers={"Accept": "application/json"})
    assert r.status == 401

    for username in ("agente1", "enlace.idaan", "auditor"):
        user = await board.login(username, form=False)
        for path in ("/supervisor/tablero", "/supervisor/agentes", "/supervisor/historico"):
            r = await user.client.get(path)
            assert r.status == 403, (username, path)
            assert "solo para supervisores" in await r.text()
        assert "/supervisor/tablero" not in await (await user.client.get("/ciudadanos")).text()
    agent = await board.login("agente1", form=False)
    with pytest.raises(Exception) as refused:
        await agent.client.ws_connect("/supervisor/tablero/ws", origin=board.origin)
    assert getattr(refused.value, "status", None) == 403

    for username in ("supervisor", "admin"):
        boss = await board.login(username, form=False)
        for path in (
            "/supervisor/tablero",
            "/supervisor/agentes",
            "/supervisor/entidades",
            "/supervisor/historico",
        ):
            r = await boss.client.get(path)
            assert r.status == 200, (username, path, await r.text())
        page = await (await boss.client.get("/supervisor/tablero")).text()
        assert 'href="/supervisor/tablero">Supervisión' in page
        assert "sl_311" in page and "Nivel de servicio 3-1-1" in page
    with pytest.raises(Exception) as bad_origin:
        await boss.client.ws_connect("/supervisor/tablero/ws", origin="http://evil.example")
    assert getattr(bad_origin.value, "status", None) == 403


async def test_given_a_hand_made_floor_then_the_snapshot_has_the_hand_computed_figures(board):
    await hand_made_floor(board.uow_factory)
    boss = await board.login("supervisor", form=False)
    r = await boss.client.get("/supervisor/tablero.json")
    assert r.status == 200
    s = await r.json()

    assert s["day"] == "2026-11-02"
    assert s["waiting"]["count"] == 2
    assert s["waiting"]["longest_seconds"] == pytest.approx(40.0)
    sl = s["service_level"]
    # answered in 15 s: 10 s and 15 s; denominator: 3 answered + 2 abandoned - 1 short
    assert (sl["formula"], sl["numerator"], sl["denominator"]) == ("sl_311", 2, 4)
    assert sl["percent"] == pytest.approx(50.0) and sl["meets_goal"] is False
    assert sl["goal"] == 90.0 and "15 s" in sl["description"]
    assert (s["offered"], s["answered"]) == (7, 3)
    assert (s["abandoned"]["count"], s["abandoned"]["short"]) == (2, 1)
    assert s["abandoned"]["percent"] == pytest.approx(200 / 7)
    assert s["asa_seconds"] == pytest.approx((10 + 30 + 15) / 3)

    hours = s["intervals"]
    assert len(hours) == 24 and hours[9]["label"] == "09:00"
    assert (hours[9]["numerator"], hours[9]["denominator"], hours[9]["incomplete"]) == (1, 3, True)
    assert (hours[10]["percent"], hours[10]["incomplete"], hours[10]["future"]) == (
        100.0,
        False,
        False,
    )
    assert hours[11]["future"] and hours[8]["percent"] is None
    assert s["incomplete"] is True

    agents = {a["interface"]: a for a in s["agents"]["list"]}
    assert agents["PJSIP/1001"]["state"] == "paused"
    assert agents["PJSIP/1001"]["reason"] == "Almuerzo"
    assert agents["PJSIP/1001"]["name"] == "Ana Batista"
    assert agents["PJSIP/1002"]["state"] == "in_call"  # the later event is in the future
    assert agents["PJSIP/1003"]["state"] == "logged_out"  # never reported: not in the queue
    assert agents["PJSIP/1099"]["state"] == "ringing"
    assert s["agents"]["counts"] == {
        "available": 0,
        "in_call": 1,
        "ringing": 1,
        "paused": 1,
        "unavailable": 0,
        "logged_out": 1,
    }

    page = await (await boss.client.get("/supervisor/tablero")).text()
    assert 'id="en-espera">2<' in page
    assert "50.0 %" in page and "En pausa: Almuerzo" in page
    assert 'id="aviso-incompleto"' in page and 'id="aviso-incompleto" hidden' not in page


async def test_given_an_open_wallboard_socket_when_another_process_saves_a_call_then_it_is_pushed_within_a_second(  # noqa: E501
    board, other_process
):
    boss = await board.login("supervisor", form=False)
    ws = await boss.client.ws_connect("/supervisor/tablero/ws", origin=board.origin)
    first = await next_message(ws, "snapshot")
    assert first["waiting"]["count"] == 0

    began = time.monotonic()
    await save_call(
        other_process,
        CallSnapshot(
            server="pbx1",
            uniqueid="1795475283.27",
            linkedid="1795475264.24",
            queue="cac311",
            entered_at=ago(8),
        ),  # fmt: skip
    )
    pushed = await next_message(ws, "snapshot", within=1.0)
    assert time.monotonic() - began < 1.0
    assert pushed["waiting"]["count"] == 1
    assert pushed["waiting"]["longest_seconds"] == pytest.approx(8.0)

    # answered late (20 s): nobody waits, today's service level drops to 0 %
    await save_call(
        other_process,
        CallSnapshot(
            server="pbx1",
            uniqueid="1795475283.27",
            linkedid="1795475264.24",
            queue="cac311",
            entered_at=ago(20),
            answered_at=NOW,
            hold_seconds=20,
        ),  # fmt: skip
    )
    answered = await next_message(ws, "snapshot", within=1.0)
    assert answered["waiting"]["count"] == 0
    assert (answered["service_level"]["percent"], answered["answered"]) == (0.0, 1)

    await record_agent_state(other_process, "PJSIP/1003", "available", None, ago(1), "ami")
    state = await next_message(ws, "snapshot", within=1.0)
    assert state["agents"]["counts"]["available"] == 1

    # the LISTEN connection is killed: it reconnects and pushes again
    listener = board.app[WALLBOARD].listener
    async with board.uow_factory() as uow:
        await uow.session.execute(
            text("SELECT pg_terminate_backend(:pid)"), {"pid": listener.backend_pid}
        )
    async with asyncio.timeout(5):
        # polled: the listener has no "reconnected" event to wait on
        while listener.connections < 2 or not listener.connected.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    await save_call(
        other_process,
        CallSnapshot(
            server="pbx1",
            uniqueid="1795475290.30",
            linkedid=None,
            queue="cac311",
            entered_at=ago(3),
        ),  # fmt: skip
    )
    async with asyncio.timeout(2):
        while (await next_message(ws, "snapshot"))["waiting"]["count"] != 1:
            pass
    await ws.close()


async def test_given_a_burst_of_changes_then_recomputation_is_debounced(board, other_process):
    boss = await board.login("supervisor", form=False)
    ws = await boss.client.ws_connect("/supervisor/tablero/ws", origin=board.origin)
    await next_message(ws, "snapshot")
    wallboard = board.app[WALLBOARD]
    before = wallboard.recomputations
    for i in range(20):
        await save_call(
            other_process,
            CallSnapshot(
                server="pbx1",
                uniqueid=f"1795475300.{i}",
                linkedid=None,
                queue="cac311",
                entered_at=ago(5),
            ),  # fmt: skip
        )
    async with asyncio.timeout(2):
        while (await next_message(ws, "snapshot"))["waiting"]["count"] != 20:
            pass
    # 20 notifications in well under a second: a handful of recomputations, not 20
    assert wallboard.recomputations - before <= 6
    await ws.close()


def parse_csv(body: str) -> list[list[str]]:
    # Every export starts with a UTF-8 BOM, for Excel.
    assert body.startswith("\ufeff"), body[:20]
    return list(csv.reader(io.StringIO(body[1:])))


async def test_given_calls_when_exporting_history_and_agents_then_csv_has_documented_columns(
    board,
):
    await hand_made_floor(board.uow_factory)
    boss = await board.login("supervisor", form=False)

    r = await boss.client.get(
        "/supervisor/historico?desde=2026-11-02&hasta=2026-11-02&intervalo=hora&formato=csv"
    )
    assert r.status == 200 and r.content_type == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = parse_csv(await r.text())
    assert tuple(rows[0]) == CALL_METRICS_COLUMNS
    assert len(rows) == 1 + 24 + 1  # header, the day's hours, total
    nine = dict(zip(rows[0], rows[10], strict=True))
    assert nine["inicio"] == "2026-11-02T09:00:00-05:00" and nine["incompleto"] == "si"
    assert (nine["ofrecidas"], nine["nivel_servicio_311_pct"]) == ("4", "33.3")
    total = dict(zip(rows[0], rows[-1], strict=True))
    # as of NOW: two calls still waiting
    assert (total["ofrecidas"], total["en_espera_al_cierre"]) == ("7", "2")

    page = await (await boss.client.get("/supervisor/historico?intervalo=hora")).text()
    for fid in ("sl_311", "sl_answered", "sl_asterisk2", "sl_offered"):
        assert f'data-formula="{fid}"' in page
    assert "ServicelevelPerf2" in page and 'data-incompleto="si"' in page

    r = await boss.client.get("/supervisor/agentes?desde=2026-11-02&hasta=2026-11-02&formato=csv")
    assert r.status == 200 and r.content_type == "text/csv"
    rows = parse_csv(await r.text())
    assert tuple(rows[0]) == AGENT_COLUMNS
    ana = next(dict(zip(rows[0], row, strict=True)) for row in rows[1:] if row[2] == "Ana Batista")
    assert (ana["llamadas_atendidas"], ana["tiempo_conversacion_segundos"]) == ("2", "60")
    assert ana["tiempo_pausa_segundos"] == "600"  # paused since 10:20


async def test_given_a_seeded_october_then_scorecards_highlight_entities_below_70(board):
    await seed_october(board.uow_factory)
    board.clock.now = AS_OF.astimezone(START.tzinfo)
    boss = await board.login("supervisor", form=False)
    query = "/supervisor/entidades?desde=2026-10-01&hasta=2026-10-31"

    r = await boss.client.get(query + "&formato=csv")
    assert r.status == 200 and r.content_type == "text/csv"
    rows = parse_csv(await r.text())
    assert tuple(rows[0]) == SCORECARD_COLUMNS
    by_code = {row[4]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert (by_code["IDAAN"]["cerrados_30d_pct"], by_code["IDAAN"]["bajo_meta"]) == ("40.0", "si")
    assert (by_code["MUPA"]["cerrados_30d_pct"], by_code["MUPA"]["bajo_meta"]) == ("100.0", "no")
    assert by_code["IDAAN"]["fecha_corte"] == "2026-11-15T12:00:00-05:00"

    page = await (await boss.client.get(query)).text()
    idaan_row = page[page.index("(IDAAN)") - 300 : page.index("(IDAAN)")]
    assert 'class="bajo-meta"' in idaan_row
    assert "40.0 %" in page

    # a cut-off on Oct 20: only case a is decided for IDAAN (closed in time)
    rows = parse_csv(await (await boss.client.get(query + "&corte=2026-10-20&formato=csv")).text())
    idaan = next(dict(zip(rows[0], row, strict=True)) for row in rows[1:] if row[4] == "IDAAN")
    assert (idaan["cerrados_30d_pct"], idaan["bajo_meta"]) == ("100.0", "no")

    rows = parse_csv(await (await boss.client.get(query + "&por=district&formato=csv")).text())
    districts = {(row[6], row[7]) for row in rows[1:]}
    assert ("Panamá", "San Miguelito") in districts
    assert {row[3] for row in rows[1:]} == {"district"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("/supervisor/historico?desde=2026-13-01", "AAAA-MM-DD"),
        ("/supervisor/historico?hasta=ayer", "AAAA-MM-DD"),
        ("/supervisor/agentes?desde=2026-11-02&hasta=2026-11-01", "anterior"),
        ("/supervisor/historico?intervalo=semana", "intervalo"),
        ("/supervisor/historico?desde=2026-01-01&hasta=2026-03-01&intervalo=15min", "demasiado"),
        ("/supervisor/entidades?por=barrio", "«por»"),
        ("/supervisor/entidades?corte=2026-02-30", "AAAA-MM-DD"),
        ("/supervisor/agentes?formato=pdf", "formato"),
    ],
)
async def test_given_malformed_parameters_then_400_with_a_spanish_message(board, query, message):
    boss = await board.login("supervisor", form=False)
    r = await boss.client.get(query)
    assert r.status == 400
    assert message in await r.text()


async def test_given_one_call_when_the_wallboard_and_history_render_then_spanish_is_whole(board):
    await hand_made_floor(board.uow_factory)
    boss = await board.login("supervisor", form=False)
    page = await (await boss.client.get("/supervisor/tablero")).text()
    base = re.search(r'id="nivel-servicio-base">(\d+) de (\d+) (llamadas?)<', page)
    assert base is not None
    assert base.group(3) == ("llamada" if base.group(2) == "1" else "llamadas")
    short = re.search(r'id="abandonos-cortos">(\d+) (abandonos? cortos?)<', page)
    assert short is not None
    assert short.group(2) == ("abandono corto" if short.group(1) == "1" else "abandonos cortos")
    history = await boss.client.get("/supervisor/historico?desde=2026-11-02&hasta=2026-11-02")
    html = await history.text()
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", html)
    assert "Nivel de servicio 3-1-1" in headers
    assert not [h for h in headers if h.startswith("sl_")]
    csv_file = await boss.client.get(
        "/supervisor/historico?desde=2026-11-02&hasta=2026-11-02&intervalo=hora&formato=csv"
    )
    assert (await csv_file.read()).startswith(b"\xef\xbb\xbf")
    assert "cac311-historico-hora-2026-11-02-2026-11-02.csv" in csv_file.headers[
        "Content-Disposition"
    ]


async def test_given_a_day_of_calls_when_the_history_renders_then_charts_join_the_table(board):
    await hand_made_floor(board.uow_factory)
    boss = await board.login("supervisor", form=False)
    html = await (
        await boss.client.get("/supervisor/historico?desde=2026-11-02&hasta=2026-11-02")
    ).text()
    level = html[html.index('id="grafico-nivel"') : html.index('id="grafico-volumen"')]
    assert level.count('class="meta"') == 1 and "Meta 90.0 %" in level
    # 09:00 has 1 of 3 in time (under the goal), 10:00 all: one bar each side of the goal.
    assert "<title>09:00: 33.3 %</title>" in level and 'class="barra-bajo"' in level
    assert "<title>10:00: 100.0 %</title>" in level and 'class="barra-ok"' in level
    volume = html[html.index('id="grafico-volumen"') :]
    assert "llamadas ofrecidas" in volume and 'id="tabla-historico"' in html


async def test_given_a_long_wait_and_a_low_day_then_the_wallboard_alerts_and_has_quarters(board):
    await hand_made_floor(board.uow_factory)
    boss = await board.login("supervisor", form=False)
    s = await (await boss.client.get("/supervisor/tablero.json")).json()
    kinds = {a["kind"]: a["text"] for a in s["alerts"]}
    assert "15 s" in kinds["espera"]  # 40 s waiting > the 15 s threshold
    assert "50.0 %" in kinds["meta"] and "90.0 %" in kinds["meta"]
    quarters = s["quarters"]
    assert len(quarters) == 96 and quarters[36]["label"] == "09:00"
    # The hour is the sum of its quarters.
    nine = quarters[36:40]
    assert sum(q["denominator"] for q in nine) == s["intervals"][9]["denominator"]
    page = await (await boss.client.get("/supervisor/tablero")).text()
    assert 'class="alerta" data-kind="espera"' in page and 'id="grafico-espera"' in page
