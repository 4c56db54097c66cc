"""Entities, services, knowledge-base articles and announcements."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from case_core.db.models.base import Base, CreatedAt


def _fold_trgm_index(name: str, column: str) -> Index:
    """A GIN trigram index on ``cac311_fold(column)`` for accent-insensitive LIKE search."""
    return Index(
        name,
        text(f"cac311_fold({column}) gin_trgm_ops"),
        postgresql_using="gin",
    )


class EntityRow(CreatedAt, Base):
    __tablename__ = "entities"
    __table_args__ = (
        _fold_trgm_index("ix_entities_name_fold_trgm", "name"),
        _fold_trgm_index("ix_entities_short_name_fold_trgm", "short_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(20))
    province: Mapped[str | None] = mapped_column(String(60))
    district: Mapped[str | None] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(default=True)

    services: Mapped[list[ServiceRow]] = relationship(back_populates="entity", lazy="raise")


class OfficeRow(CreatedAt, Base):
    """An office of an entity: its head office, a regional office or a department.

    Enlaces de Contacto belong to one; an Enlace Operativo may pass a case to one."""

    __tablename__ = "entity_offices"
    __table_args__ = (
        UniqueConstraint("entity_id", "name"),
        CheckConstraint("kind IN ('sede','regional','departamento')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(12), default="sede")
    province: Mapped[str | None] = mapped_column(String(60))
    district: Mapped[str | None] = mapped_column(String(80))
    address: Mapped[str | None] = mapped_column(Text)
    hours: Mapped[str | None] = mapped_column(String(200))
    phones: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)


class ServiceRow(CreatedAt, Base):
    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("entity_id", "code"),
        CheckConstraint("sla_days BETWEEN 1 AND 30", name="sla_days_legal"),
        _fold_trgm_index("ix_services_name_fold_trgm", "name"),
        _fold_trgm_index("ix_services_synonyms_fold_trgm", "synonyms"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    sla_days: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)
    # Words citizens use for this service ("basura" for waste collection), comma-separated;
    # kept in the directory and matched by the agents' service search.
    synonyms: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The SLA template (issue 11): who answers, what the citizen must bring, last review.
    who_answers: Mapped[str | None] = mapped_column(String(200))
    required_info: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None]

    entity: Mapped[EntityRow] = relationship(back_populates="services", lazy="raise")


class KnowledgeArticleRow(CreatedAt, Base):
    __tablename__ = "knowledge_articles"
    __table_args__ = (
        UniqueConstraint("entity_id", "slug"),
        CheckConstraint("status IN ('propuesto','publicado','retirado')", name="status"),
        # Accent-insensitive free-text search from the agent desktop (issue 11).
        Index(
            "ix_knowledge_articles_fold_title",
            text("cac311_fold(title) gin_trgm_ops"),
            postgresql_using="gin",
        ),
        Index(
            "ix_knowledge_articles_fold_body",
            text("cac311_fold(body_text) gin_trgm_ops"),
            postgresql_using="gin",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # Issue 11: sanitized HTML in ``body``, its plain text for search, the publishing state.
    body_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(12), default="publicado", server_default="publicado")
    review_on: Mapped[date | None]
    updated_at: Mapped[datetime | None]


class AnnouncementRow(CreatedAt, Base):
    """An afectación: a service disruption the IVR announces while it is valid."""

    __tablename__ = "announcements"
    __table_args__ = (
        UniqueConstraint("entity_id", "slug"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="window"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    prompt: Mapped[str | None] = mapped_column(String(120))
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    # Issue 11: where the interruption is (empty = everywhere) and who announced it.
    province: Mapped[str | None] = mapped_column(String(60))
    district: Mapped[str | None] = mapped_column(String(80))
    corregimiento: Mapped[str | None] = mapped_column(String(80))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # An uploaded recording replaces the prompt ``cac311 prompts build`` would render.
    recorded: Mapped[bool] = mapped_column(default=False, server_default="false")
