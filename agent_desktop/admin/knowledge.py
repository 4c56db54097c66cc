"""The knowledge base from the agent desktop: ``GET /api/articulos?q=`` searches published
articles by free text (accent- and case-insensitive), and ``/conocimiento`` lists them."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from agent_desktop.admin.common import roles_required
from agent_desktop.auth import desktop_required
from agent_desktop.handlers.common import json_response, render, search_query
from agent_desktop.keys import UOW
from case_core.db.models import EntityRow, KnowledgeArticleRow
from case_core.domain.roles import Role
from case_core.services.knowledge import sanitize_html, search_articles


def setup(app: web.Application) -> None:
    app.router.add_get("/api/articulos", api_search)
    app.router.add_get("/conocimiento", knowledge_page)


@desktop_required
async def api_search(request: web.Request) -> web.StreamResponse:
    """GET /api/articulos?q=pasaporte — published articles matching every word."""
    query = search_query(request)
    async with request.config_dict[UOW]() as uow:
        hits = await search_articles(uow.session, query)
    return json_response(
        {
            "results": [
                {
                    "id": h.id,
                    "title": h.title,
                    "body": sanitize_html(h.body),
                    "entity": h.entity,
                    "service": h.service,
                    "service_id": h.service_id,
                }
                for h in hits
            ]
        }
    )


@roles_required(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
async def knowledge_page(request: web.Request) -> web.StreamResponse:
    query = search_query(request)
    async with request.config_dict[UOW]() as uow:
        if query:
            hits = await search_articles(uow.session, query, limit=50)
            rows = [(h.id, h.title, h.entity, sanitize_html(h.body)) for h in hits]
        else:
            found = await uow.session.execute(
                select(KnowledgeArticleRow, EntityRow.short_name)
                .join(EntityRow, EntityRow.id == KnowledgeArticleRow.entity_id)
                .where(KnowledgeArticleRow.status == "publicado")
                .order_by(EntityRow.short_name, KnowledgeArticleRow.title)
                .limit(200)
            )
            rows = [(a.id, a.title, e, sanitize_html(a.body)) for a, e in found.all()]
    return render(request, "conocimiento.html", {"rows": rows, "query": query})
