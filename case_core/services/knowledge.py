"""The knowledge base: articles per entity and service, in sanitized Spanish rich text.

An entity proposes (``directory_admin.propose_article``); 3-1-1 publishes. Agents search the
published articles by free text, accent- and case-insensitively (``cac311_fold`` and the
trigram indexes of migration 0010), so a consulta can be answered at once.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import nh3
from sqlalchemy import func, literal, select

from case_core.db.models import EntityRow, KnowledgeArticleRow, ServiceRow

ALLOWED_TAGS = {
    "p", "br", "strong", "b", "em", "i", "u", "ul", "ol", "li", "h3", "h4", "a",
    "blockquote", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
MAX_BODY = 20_000
MAX_WORDS = 6


def sanitize_html(raw: str) -> str:
    """Keep only harmless formatting (nh3/ammonia): no scripts, styles, events, iframes;
    links only to http(s) and mailto, opened with rel=noopener."""
    return nh3.clean(
        raw[:MAX_BODY],
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    ).strip()


def plain_text(clean_html: str) -> str:
    """The words of an article, for search and for the IVR/desktop previews."""
    text = nh3.clean(clean_html.replace("<", " <"), tags=set())
    return " ".join(html.unescape(text).split())


@dataclass(frozen=True)
class ArticleHit:
    id: int
    title: str
    body: str  # sanitized HTML
    entity: str
    service: str | None
    service_id: int | None


def _words(query: str) -> list[str]:
    return [w for w in query.split() if len(w) >= 2][:MAX_WORDS]


async def search_articles(session, query: str, *, limit: int = 10) -> Sequence[ArticleHit]:  # type: ignore[no-untyped-def]
    """Published articles where every word appears in the title or text, ignoring accents
    and case; best title matches first."""
    words = _words(query)
    if not words:
        return []
    title = func.cac311_fold(KnowledgeArticleRow.title)
    body = func.cac311_fold(KnowledgeArticleRow.body_text)
    stmt = (
        select(KnowledgeArticleRow, EntityRow.short_name, ServiceRow.name)
        .join(EntityRow, EntityRow.id == KnowledgeArticleRow.entity_id)
        .outerjoin(ServiceRow, ServiceRow.id == KnowledgeArticleRow.service_id)
        .where(KnowledgeArticleRow.status == "publicado", EntityRow.active)
    )
    for word in words:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = func.concat("%", func.cac311_fold(literal(escaped)), "%")
        stmt = stmt.where(title.like(pattern) | body.like(pattern))
    score = func.similarity(title, func.cac311_fold(literal(" ".join(words))))
    rows = (
        await session.execute(stmt.order_by(score.desc(), KnowledgeArticleRow.title).limit(limit))
    ).all()
    return [
        ArticleHit(a.id, a.title, a.body, entity, service, a.service_id)
        for a, entity, service in rows
    ]
