"""JSON endpoints over the directory: services by a few typed letters, and their articles."""

from __future__ import annotations

from aiohttp import web

from agent_desktop.auth import desktop_required
from agent_desktop.handlers.common import json_response, path_int, search_query
from agent_desktop.keys import UOW
from agent_desktop.text import count
from case_core.domain.errors import NotFound


@desktop_required
async def search_services(request: web.Request) -> web.StreamResponse:
    """GET /api/servicios?q=agua — services whose name, synonyms or entity match every word
    (accents and case ignored)."""
    query = search_query(request)
    if len(query) < 2:
        return json_response({"results": []})
    async with request.config_dict[UOW]() as uow:
        found = await uow.directory.search_services(query)
    return json_response(
        {
            "results": [
                {
                    "id": service.id,
                    "name": service.name,
                    "sla_days": service.sla_days,
                    "entity_id": entity.id,
                    "entity": entity.name,
                    "entity_short": entity.short_name,
                    "label": f"{entity.short_name} — {service.name}",
                    "sla_text": f"respuesta en {count(service.sla_days, 'día', 'días')} calendario",
                }
                for service, entity in found
            ]
        }
    )


@desktop_required
async def service_articles(request: web.Request) -> web.StreamResponse:
    """GET /api/servicios/{id}/articulos — the knowledge base of a service (and its entity's
    general articles)."""
    service_id = path_int(request, "service_id")
    async with request.config_dict[UOW]() as uow:
        service = await uow.directory.service(service_id)
        if service is None:
            raise NotFound("El servicio no existe.")
        own = await uow.directory.articles(service_id=service.id)
        general = [
            a
            for a in await uow.directory.articles(entity_id=service.entity_id)
            if a.service_id is None
        ]
    return json_response(
        {
            "service_id": service.id,
            "articles": [
                {"id": a.id, "title": a.title, "body": a.body, "general": a.service_id is None}
                for a in [*own, *general]
            ],
        }
    )
