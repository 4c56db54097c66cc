"""The entity directory kept by 3-1-1 and by each entity (issue 11).

3-1-1 (supervisors, admins) edits services and their SLA template directly. An entity's
Enlace Ejecutivo *proposes* a change to a service of its entity, or a knowledge article
(any liaison role of the entity may propose articles); the proposal is a row of
``directory_changes`` with the before and after values, and takes effect only when a 3-1-1
supervisor approves it — a state transition (pendiente → aprobado | rechazado), audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from case_core.db.models import EntityRow, KnowledgeArticleRow, OfficeRow, ServiceRow
from case_core.db.models.admin import DirectoryChangeRow, EntityContactRow
from case_core.db.uow import UnitOfWork, UnitOfWorkFactory
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.domain.roles import Actor, Role, is_liaison
from case_core.domain.sla import check_sla_days
from case_core.services.audit import record_change
from case_core.services.knowledge import plain_text, sanitize_html

REVIEW_EVERY = timedelta(days=365)
SERVICE_FIELDS = ("name", "sla_days", "who_answers", "required_info", "active")
OFFICE_FIELDS = ("entity_id", "name", "kind", "province", "district", "address", "hours", "phones")
CONTACT_FIELDS = ("entity_id", "office_id", "name", "position", "phone", "email")
DECISIONS = {"pendiente": {"aprobado", "rechazado"}}  # the only legal moves


class InvalidChange(DomainError):
    """The proposed change is not acceptable; the message says why."""


def is_311(actor: Actor) -> bool:
    return actor.role in (Role.SUPERVISOR, Role.ADMIN)


def can_keep_entity(actor: Actor, entity_id: int) -> bool:
    """3-1-1, or the Enlace Ejecutivo of that entity."""
    return is_311(actor) or (actor.role is Role.LIAISON_EXEC and actor.entity_id == entity_id)


def service_snapshot(s: ServiceRow) -> dict[str, Any]:
    return {
        "name": s.name,
        "sla_days": s.sla_days,
        "who_answers": s.who_answers,
        "required_info": s.required_info,
        "active": s.active,
        "reviewed_at": s.reviewed_at.isoformat() if s.reviewed_at else None,
    }


def clean_service_values(values: dict[str, Any]) -> dict[str, Any]:
    """Validate the editable fields of a service (SLA 1..30 calendar days)."""
    out: dict[str, Any] = {}
    name = str(values.get("name") or "").strip()
    if not name or len(name) > 200:
        raise InvalidChange("El nombre del servicio es obligatorio (máximo 200 caracteres).")
    out["name"] = name
    try:
        days = int(values.get("sla_days"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidChange("El plazo debe ser un número entero de días calendario.") from None
    out["sla_days"] = check_sla_days(days)
    out["who_answers"] = str(values.get("who_answers") or "").strip() or None
    if out["who_answers"] and len(out["who_answers"]) > 200:
        raise InvalidChange("«Quién responde» no puede pasar de 200 caracteres.")
    out["required_info"] = str(values.get("required_info") or "").strip()[:4000] or None
    out["active"] = bool(values.get("active", True))
    return out


async def _service(uow: UnitOfWork, service_id: int, *, lock: bool = False) -> ServiceRow:
    row = await uow.session.get(ServiceRow, service_id, with_for_update=lock)
    if row is None:
        raise NotFound("El servicio no existe.")
    return row


def _apply_service(row: ServiceRow, values: dict[str, Any], now: datetime) -> None:
    for name in SERVICE_FIELDS:
        setattr(row, name, values[name])
    row.reviewed_at = now  # a change reviewed by 3-1-1 counts as the template's review


async def update_service(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    service_id: int,
    values: dict[str, Any],
    now: datetime,
) -> int | None:
    """3-1-1 changes a service at once (returns None); an Enlace Ejecutivo's change becomes
    a pending proposal (returns its id)."""
    clean = clean_service_values(values)
    async with uow_factory() as uow:
        row = await _service(uow, service_id, lock=True)
        if not can_keep_entity(actor, row.entity_id):
            raise AccessDenied("Solo puede proponer cambios a los servicios de su entidad.")
        before = service_snapshot(row)
        if is_311(actor):
            _apply_service(row, clean, now)
            await record_change(
                uow.session,
                actor=actor,
                action="service.update",
                object_type="service",
                object_id=row.id,
                before=before,
                after=service_snapshot(row),
                now=now,
            )
            await uow.commit()
            return None
        change = DirectoryChangeRow(
            kind="service",
            entity_id=row.entity_id,
            target_id=row.id,
            status="pendiente",
            before=before,
            after=clean,
            proposed_by_user_id=actor.user_id,
            proposed_at=now,
        )
        uow.session.add(change)
        await uow.session.flush()
        await record_change(
            uow.session,
            actor=actor,
            action="service.propose",
            object_type="directory_change",
            object_id=change.id,
            before=before,
            after=clean,
            now=now,
        )
        await uow.commit()
        return change.id


async def mark_reviewed(
    uow_factory: UnitOfWorkFactory, *, actor: Actor, service_id: int, now: datetime
) -> None:
    """3-1-1 confirms a service's SLA template is current (its yearly review)."""
    if not is_311(actor):
        raise AccessDenied("Solo el 3-1-1 marca una plantilla como revisada.")
    async with uow_factory() as uow:
        row = await _service(uow, service_id, lock=True)
        before = service_snapshot(row)
        row.reviewed_at = now
        await record_change(
            uow.session,
            actor=actor,
            action="service.review",
            object_type="service",
            object_id=row.id,
            before=before,
            after=service_snapshot(row),
            now=now,
        )
        await uow.commit()


def clean_article_values(values: dict[str, Any]) -> dict[str, Any]:
    title = " ".join(str(values.get("title") or "").split())
    if not title or len(title) > 200:
        raise InvalidChange("El título del artículo es obligatorio (máximo 200 caracteres).")
    body = sanitize_html(str(values.get("body") or ""))
    if not plain_text(body):
        raise InvalidChange("El artículo no tiene texto.")
    review_on = values.get("review_on")
    if isinstance(review_on, date):
        review_on = review_on.isoformat()
    return {
        "title": title,
        "body": body,
        "service_id": values.get("service_id"),
        "review_on": review_on or None,
    }


def can_propose_article(actor: Actor, entity_id: int) -> bool:
    return is_311(actor) or (is_liaison(actor.role) and actor.entity_id == entity_id)


async def propose_article(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    entity_id: int,
    values: dict[str, Any],
    now: datetime,
    article_id: int | None = None,
) -> int:
    """An entity proposes a new article (or a new version of ``article_id``); 3-1-1
    publishes it by approving. Returns the proposal's id."""
    if not can_propose_article(actor, entity_id):
        raise AccessDenied("Solo puede proponer artículos de su entidad.")
    clean = clean_article_values(values)
    async with uow_factory() as uow:
        if clean["service_id"] is not None:
            service = await _service(uow, int(clean["service_id"]))
            if service.entity_id != entity_id:
                raise InvalidChange("El servicio no es de esa entidad.")
        before = None
        if article_id is not None:
            article = await uow.session.get(KnowledgeArticleRow, article_id)
            if article is None or article.entity_id != entity_id:
                raise NotFound("El artículo no existe.")
            before = {"title": article.title, "body": article.body, "status": article.status}
        change = DirectoryChangeRow(
            kind="article",
            entity_id=entity_id,
            target_id=article_id,
            status="pendiente",
            before=before,
            after=clean,
            proposed_by_user_id=actor.user_id,
            proposed_at=now,
        )
        uow.session.add(change)
        await uow.session.flush()
        await record_change(
            uow.session,
            actor=actor,
            action="article.propose",
            object_type="directory_change",
            object_id=change.id,
            before=before,
            after=clean,
            now=now,
        )
        await uow.commit()
        return change.id


async def _publish_article(
    uow: UnitOfWork, change: DirectoryChangeRow, now: datetime
) -> KnowledgeArticleRow:
    values = change.after
    review_on = date.fromisoformat(values["review_on"]) if values.get("review_on") else None
    article = (
        await uow.session.get(KnowledgeArticleRow, change.target_id, with_for_update=True)
        if change.target_id is not None
        else None
    )
    if article is None:
        article = KnowledgeArticleRow(
            entity_id=change.entity_id,
            slug=f"articulo-{change.id}",
        )
        uow.session.add(article)
    article.service_id = values.get("service_id")
    article.title = values["title"]
    article.body = values["body"]
    article.body_text = plain_text(values["body"])
    article.status = "publicado"
    article.review_on = review_on or (now + REVIEW_EVERY).date()
    article.updated_at = now
    await uow.session.flush()
    return article


async def decide_change(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    change_id: int,
    approve: bool,
    now: datetime,
    note: str = "",
) -> None:
    """A 3-1-1 supervisor approves (the change takes effect now) or rejects a proposal."""
    if not is_311(actor):
        raise AccessDenied("Solo un supervisor del 3-1-1 aprueba cambios del directorio.")
    target = "aprobado" if approve else "rechazado"
    async with uow_factory() as uow:
        change = await uow.session.get(DirectoryChangeRow, change_id, with_for_update=True)
        if change is None:
            raise NotFound("La propuesta no existe.")
        if target not in DECISIONS.get(change.status, set()):
            raise InvalidChange(f"La propuesta ya está {change.status}.")
        change.status = target
        change.decided_by_user_id = actor.user_id
        change.decided_at = now
        change.decision_note = note.strip()[:2000] or None
        applied: dict[str, Any] | None = None
        if approve and change.kind == "service":
            row = await _service(uow, change.target_id, lock=True)  # type: ignore[arg-type]
            current = service_snapshot(row)
            _apply_service(row, clean_service_values(change.after), now)
            applied = service_snapshot(row)
            # What the service was just before approval (it may differ from the proposal's
            # ``before`` if 3-1-1 changed it meanwhile).
            change.before = current
        elif approve and change.kind == "article":
            article = await _publish_article(uow, change, now)
            change.target_id = article.id
            applied = {"article_id": article.id, "title": article.title}
        await record_change(
            uow.session,
            actor=actor,
            action=f"{change.kind}.{'approve' if approve else 'reject'}",
            object_type="directory_change",
            object_id=change.id,
            before=change.before,
            after=applied or {"status": target},
            now=now,
        )
        await uow.commit()


@dataclass(frozen=True)
class ChangeView:
    id: int
    kind: str
    entity: str
    entity_id: int
    status: str
    before: dict[str, Any] | None
    after: dict[str, Any]
    proposed_by: str
    proposed_at: datetime
    decided_at: datetime | None
    target_id: int | None


async def list_changes(
    uow_factory: UnitOfWorkFactory, *, status: str | None = None, entity_id: int | None = None
) -> list[ChangeView]:
    from case_core.db.models import UserRow

    async with uow_factory() as uow:
        stmt = (
            select(DirectoryChangeRow, EntityRow.short_name, UserRow.username)
            .join(EntityRow, EntityRow.id == DirectoryChangeRow.entity_id)
            .join(UserRow, UserRow.id == DirectoryChangeRow.proposed_by_user_id)
        )
        if status:
            stmt = stmt.where(DirectoryChangeRow.status == status)
        if entity_id is not None:
            stmt = stmt.where(DirectoryChangeRow.entity_id == entity_id)
        rows = (
            await uow.session.execute(stmt.order_by(DirectoryChangeRow.id.desc()).limit(200))
        ).all()
    return [
        ChangeView(
            c.id, c.kind, ent, c.entity_id, c.status, c.before, c.after, who, c.proposed_at,
            c.decided_at, c.target_id,
        )
        for c, ent, who in rows
    ]  # fmt: skip


async def stale_entities(
    uow_factory: UnitOfWorkFactory, *, now: datetime
) -> Sequence[tuple[EntityRow, int, datetime | None]]:
    """Active entities with an active service whose SLA template was not reviewed in the
    last 12 months (or never): (entity, how many such services, oldest review)."""
    limit = now - REVIEW_EVERY
    async with uow_factory() as uow:
        stmt = (
            select(EntityRow, func.count(ServiceRow.id), func.min(ServiceRow.reviewed_at))
            .join(ServiceRow, ServiceRow.entity_id == EntityRow.id)
            .where(
                EntityRow.active,
                ServiceRow.active,
                or_(ServiceRow.reviewed_at.is_(None), ServiceRow.reviewed_at < limit),
            )
            .group_by(EntityRow.id)
            .order_by(EntityRow.short_name)
        )
        return [(e, n, oldest) for e, n, oldest in (await uow.session.execute(stmt)).all()]


async def update_entity(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    entity_id: int,
    kind: str,
    province: str | None,
    active: bool,
    now: datetime,
) -> None:
    """3-1-1 keeps the entity record itself (kind, province, active)."""
    if not is_311(actor):
        raise AccessDenied("Solo el 3-1-1 cambia los datos de una entidad.")
    kind = kind.strip().lower()
    if not kind.replace("_", "").isalpha() or len(kind) > 20:
        raise InvalidChange("Tipo de entidad no válido.")
    async with uow_factory() as uow:
        row = await uow.session.get(EntityRow, entity_id, with_for_update=True)
        if row is None:
            raise NotFound("La entidad no existe.")
        before = {"kind": row.kind, "province": row.province, "active": row.active}
        row.kind, row.province, row.active = kind, (province or None), active
        await record_change(
            uow.session,
            actor=actor,
            action="entity.update",
            object_type="entity",
            object_id=row.id,
            before=before,
            after={"kind": row.kind, "province": row.province, "active": row.active},
            now=now,
        )
        await uow.commit()


def _optional_text(values: dict[str, Any], key: str, limit: int) -> str | None:
    """An optional directory text: trimmed, cut at its column size; empty is stored as NULL."""
    return str(values.get(key) or "").strip()[:limit] or None


async def add_office(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    entity_id: int,
    values: dict[str, Any],
    now: datetime,
) -> int:
    """An office (head office, regional office, department) with address, hours, phones."""
    if not can_keep_entity(actor, entity_id):
        raise AccessDenied("Solo puede cambiar el directorio de su entidad.")
    name = str(values.get("name") or "").strip()
    kind = str(values.get("kind") or "sede")
    if not name or len(name) > 160:
        raise InvalidChange("El nombre de la oficina es obligatorio (máximo 160 caracteres).")
    if kind not in ("sede", "regional", "departamento"):
        raise InvalidChange("El tipo de oficina debe ser sede, regional o departamento.")
    async with uow_factory() as uow:
        taken = await uow.session.scalar(
            select(OfficeRow.id).where(OfficeRow.entity_id == entity_id, OfficeRow.name == name)
        )
        if taken is not None:
            raise InvalidChange("La entidad ya tiene una oficina con ese nombre.")
        row = OfficeRow(
            entity_id=entity_id,
            name=name,
            kind=kind,
            province=_optional_text(values, "province", 60),
            district=_optional_text(values, "district", 80),
            address=_optional_text(values, "address", 1000),
            hours=_optional_text(values, "hours", 200),
            phones=_optional_text(values, "phones", 200),
            email=_optional_text(values, "email", 200),
            active=True,
        )
        uow.session.add(row)
        await uow.session.flush()
        await record_change(
            uow.session,
            actor=actor,
            action="office.create",
            object_type="office",
            object_id=row.id,
            before=None,
            after={k: getattr(row, k) for k in OFFICE_FIELDS},
            now=now,
        )
        await uow.commit()
        return row.id


async def add_contact(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    entity_id: int,
    values: dict[str, Any],
    now: datetime,
) -> int:
    """An official or liaison of the entity with contact data."""
    if not can_keep_entity(actor, entity_id):
        raise AccessDenied("Solo puede cambiar el directorio de su entidad.")
    name = str(values.get("name") or "").strip()
    if not name or len(name) > 120:
        raise InvalidChange("El nombre es obligatorio (máximo 120 caracteres).")
    async with uow_factory() as uow:
        office_id = values.get("office_id")
        if office_id is not None:
            office = await uow.session.get(OfficeRow, office_id)
            if office is None or office.entity_id != entity_id:
                raise InvalidChange("La oficina no es de esa entidad.")
        row = EntityContactRow(
            entity_id=entity_id,
            office_id=office_id,
            name=name,
            position=_optional_text(values, "position", 120),
            phone=_optional_text(values, "phone", 40),
            email=_optional_text(values, "email", 200),
            active=True,
        )
        uow.session.add(row)
        await uow.session.flush()
        await record_change(
            uow.session,
            actor=actor,
            action="contact.create",
            object_type="entity_contact",
            object_id=row.id,
            before=None,
            after={k: getattr(row, k) for k in CONTACT_FIELDS},
            now=now,
        )
        await uow.commit()
        return row.id


async def set_directory_item_active(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    kind: str,
    item_id: int,
    active: bool,
    now: datetime,
) -> int:
    """Deactivate (or reactivate) an office or a contact of the entity; returns the entity."""
    model = {"office": OfficeRow, "entity_contact": EntityContactRow}.get(kind)
    if model is None:
        raise InvalidChange("Elemento del directorio desconocido.")
    async with uow_factory() as uow:
        row = await uow.session.get(model, item_id, with_for_update=True)
        if row is None:
            raise NotFound("El elemento del directorio no existe.")
        if not can_keep_entity(actor, row.entity_id):
            raise AccessDenied("Solo puede cambiar el directorio de su entidad.")
        before = {"active": row.active, "name": row.name}
        prefix = "office" if kind == "office" else "contact"
        row.active = active
        await record_change(
            uow.session,
            actor=actor,
            action=f"{prefix}.{'enable' if active else 'disable'}",
            object_type=kind,
            object_id=row.id,
            before=before,
            after={"active": active, "name": row.name},
            now=now,
        )
        await uow.commit()
        return row.entity_id
