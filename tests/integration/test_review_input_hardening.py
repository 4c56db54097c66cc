"""Malformed input found in the security review: each case was a 500, must be a 4xx/200."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from agent_desktop.handlers.common import BadRequest
from agent_desktop.supervisor import _parse_day
from cac311.config import Settings
from case_core.domain.roles import Actor, Role
from recordings.web import setup_recordings_routes
from tests.integration.test_desktop_support import make_desktop_fixture, next_message

desktop = make_desktop_fixture()


async def test_given_nul_in_search_or_form_then_400_not_500(desktop):
    agent = await desktop.login("agente1", form=False)
    for path in ("/api/ciudadanos?q=8-1%0023", "/ciudadanos?q=ju%00an", "/api/servicios?q=ag%00ua"):
        response = await agent.client.get(path, headers={"Accept": "application/json"})
        assert response.status == 400, path
    response = await agent.post(
        "/casos", {"tipo": "queja", "entidad_id": "1", "descripcion": "agua\x00 turbia"}
    )
    assert response.status == 400
    assert "caracteres no válidos" in (await response.json())["error"]


@pytest.mark.parametrize("raw", ["9999-12-31", "0001-01-01"])
def test_given_a_day_out_of_range_then_bad_request(raw):
    with pytest.raises(BadRequest):
        _parse_day(raw, "hasta")


async def test_given_non_ascii_digit_call_filter_then_audit_page_ignores_it(uow_factory, tmp_path):
    app = web.Application()
    setup_recordings_routes(
        app,
        uow_factory=uow_factory,
        settings=Settings(recordings_dir=tmp_path),
        current_actor=lambda _request: Actor(1, "supervisor", Role.SUPERVISOR),
    )
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        response = await client.get("/grabaciones/auditoria", params={"llamada": "²"})
        assert response.status == 200


async def test_given_deeply_nested_json_on_the_socket_then_a_reply_not_a_crash(desktop):
    agent = await desktop.login("agente1", form=False)
    ws = await agent.ws()
    await next_message(ws, "hello")
    await ws.send_str("[" * 50_000)
    assert (await next_message(ws, "result"))["message"] == "Mensaje no válido."
    await ws.send_str('{"type": "ping"}')
    assert (await next_message(ws, "pong"))["type"] == "pong"
    await ws.close()
