"""Citizen search and the citizen page (identity, phones, cases, calls)."""

from __future__ import annotations

from aiohttp import web

from agent_desktop.auth import desktop_required, session_of
from agent_desktop.handlers.common import json_response, local, path_int, render, search_query
from agent_desktop.keys import CLOCK, SETTINGS, UOW
from case_core.services.citizens import search_citizens
from case_core.services.screen_pop import citizen_card


def _summary(view) -> dict:  # type: ignore[no-untyped-def]
    return {
        "id": view.id,
        "cedula": view.cedula,
        "full_name": view.full_name,
        "phones": view.phones,
    }


@desktop_required
async def api_search(request: web.Request) -> web.StreamResponse:
    """GET /api/ciudadanos?q= — by cédula, name or phone (at least 3 characters)."""
    query = search_query(request)
    found = await search_citizens(request.config_dict[UOW], query)
    return json_response({"results": [_summary(v) for v in found]})


@desktop_required
async def api_citizen(request: web.Request) -> web.StreamResponse:
    """GET /api/ciudadanos/{id} — identity and previous cases, as the pop shows them."""
    config = request.config_dict
    card = await citizen_card(
        config[UOW],
        path_int(request, "citizen_id"),
        actor=session_of(request).actor,
        now=config[CLOCK](),
        tz=config[SETTINGS].tz,
    )
    return json_response(card)


@desktop_required
async def search_page(request: web.Request) -> web.StreamResponse:
    """GET /ciudadanos?q=."""
    query = search_query(request)
    found = await search_citizens(request.config_dict[UOW], query) if query else []
    return render(
        request,
        "citizens.html",
        {"query": query, "results": found, "too_short": bool(query) and len(query) < 3},
    )


@desktop_required
async def citizen_page(request: web.Request) -> web.StreamResponse:
    """GET /ciudadanos/{id}."""
    config = request.config_dict
    uow_factory = config[UOW]
    card = await citizen_card(
        uow_factory,
        path_int(request, "citizen_id"),
        actor=session_of(request).actor,
        now=config[CLOCK](),
        tz=config[SETTINGS].tz,
    )
    async with uow_factory() as uow:
        calls = await uow.calls.for_citizen_phones(card["citizen"]["phones"])
    call_rows = [
        {
            "entered": local(c.entered_at or c.started_at, request),
            "caller_number": c.caller_number,
            "agent": c.agent_name or c.agent_interface or "",
            "hold_seconds": c.hold_seconds,
            "talk_seconds": c.talk_seconds,
            "abandoned": c.abandoned,
            "direction": "Saliente" if c.direction == "outbound" else "Entrante",
        }
        for c in calls
    ]
    return render(request, "citizen.html", {**card, "calls": call_rows})
