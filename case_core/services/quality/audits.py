"""The audit of a closed case (append-only), its rows on the case timeline, publication of a
week's results to the entity (portal and e-mail through the mail outbox), the replies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models import CallRow, CaseRow, OfficeRow
from case_core.db.models.quality import (
    CaseAuditReplyRow,
    CaseAuditRow,
    PublishedAuditRow,
    QualityPublicationRow,
    QualitySampleRow,
)
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import quality as q
from case_core.domain.case import CaseStatus
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.domain.roles import Actor, can_play_recording, can_see_case
from case_core.services.mail import enqueue_mail, looks_like_address
from case_core.services.quality.access import (
    CASE_NOT_FOUND,
    NOT_YOURS,
    PANAMA,
    actor_label,
    visible_entity_ids,
)

# --- the audit form --------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditSubject:
    """What the audit form shows: the case, its checklist and the call to listen to."""

    case: CaseRow
    entity_name: str
    service_name: str
    week: str
    sample_id: int | None
    criteria: tuple[q.Criterion, ...]
    call_id: int | None
    recording_playable: bool
    history: list[Any]
    audit: CaseAuditRow | None
    replies: list[CaseAuditReplyRow] = field(default_factory=list)


async def _case_for_quality(session: AsyncSession, actor: Actor, case_id: int) -> CaseRow:
    case = await session.get(CaseRow, case_id)
    if case is None:
        raise NotFound(CASE_NOT_FOUND)
    if not can_see_case(actor, entity_id=case.entity_id, confidential=case.confidential):
        raise NotFound(CASE_NOT_FOUND)
    sample = (
        await session.scalars(select(QualitySampleRow).where(QualitySampleRow.case_id == case_id))
    ).first()
    day = (case.closed_at or case.opened_at).astimezone(PANAMA).date()
    if sample is not None:
        day = q.parse_week(sample.week)
    allowed = await visible_entity_ids(session, actor, day, day + timedelta(days=6))
    if allowed is not None and case.entity_id not in allowed:
        raise AccessDenied(NOT_YOURS)
    return case


async def audit_subject(
    uow_factory: UnitOfWorkFactory, *, actor: Actor, case_id: int
) -> AuditSubject:
    """The case to audit with its checklist; 404 for what the actor may not see."""
    async with uow_factory() as uow:
        s = uow.session
        case = await _case_for_quality(s, actor, case_id)
        entity = await uow.directory.entity(case.entity_id)
        service = await uow.directory.service(case.service_id) if case.service_id else None
        sample = (
            await s.scalars(select(QualitySampleRow).where(QualitySampleRow.case_id == case_id))
        ).first()
        call = await s.get(CallRow, case.call_id) if case.call_id else None
        history = list(await uow.cases.history(case_id))
        audit = (
            await s.scalars(select(CaseAuditRow).where(CaseAuditRow.case_id == case_id))
        ).first()
        replies = []
        if audit is not None:
            replies = list(
                (
                    await s.scalars(
                        select(CaseAuditReplyRow)
                        .where(CaseAuditReplyRow.audit_id == audit.id)
                        .order_by(CaseAuditReplyRow.at)
                    )
                ).all()
            )
    phone = case.channel == "telefono" or call is not None
    playable = bool(
        call is not None
        and call.recording_path
        and can_play_recording(
            actor, handled_by_user_id=call.agent_user_id, case_confidential=case.confidential
        )
    )
    week = sample.week if sample else q.week_of(case.closed_at or case.opened_at, PANAMA)
    return AuditSubject(
        case,
        entity.name if entity else "—",
        service.name if service else "—",
        week,
        sample.id if sample else None,
        q.criteria_for(phone=phone),
        call.id if call else None,
        playable,
        history,
        audit,
        replies,
    )


async def save_audit(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    case_id: int,
    answers: Mapping[str, str],
    result: str,
    comment: str,
    now: datetime,
) -> int:
    """Record the audit of a closed case (once per case; the record is append-only)."""
    subject = await audit_subject(uow_factory, actor=actor, case_id=case_id)
    if subject.case.status != CaseStatus.CERRADO.value:
        raise DomainError("Solo se auditan casos cerrados.")
    if subject.audit is not None:
        raise DomainError("Este caso ya fue auditado.")
    scored = q.score_checklist(subject.criteria, answers)
    try:
        overall = q.AuditResult(result)
    except ValueError:
        raise DomainError("Elija el resultado general de la auditoría.") from None
    if overall is not q.AuditResult.SATISFACTORIO and not comment.strip():
        raise DomainError("Escriba un comentario con los hallazgos.")
    async with uow_factory() as uow:
        row = CaseAuditRow(
            case_id=case_id,
            sample_id=subject.sample_id,
            entity_id=subject.case.entity_id,
            week=subject.week,
            at=now,
            auditor_user_id=actor.user_id,
            auditor_label=await actor_label(uow.session, actor),
            scores=scored.scores,
            criteria_met=scored.met,
            criteria_scored=scored.scored,
            result=overall.value,
            comment=comment.strip(),
        )
        uow.session.add(row)
        try:
            await uow.session.flush()
        except IntegrityError:
            raise DomainError("Este caso ya fue auditado.") from None
        await uow.commit()
        return row.id


async def audit_timeline_entries(session: AsyncSession, case_id: int) -> list[dict[str, Any]]:
    """The case's audits and the entity's replies as timeline rows (internal, 3-1-1 only)."""
    audits = (
        await session.scalars(
            select(CaseAuditRow).where(CaseAuditRow.case_id == case_id).order_by(CaseAuditRow.at)
        )
    ).all()
    entries: list[dict[str, Any]] = []
    for a in audits:
        pct = 100.0 * a.criteria_met / a.criteria_scored if a.criteria_scored else None
        figure = f" ({pct:.0f} % de criterios cumplidos)" if pct is not None else ""
        text_ = f"Auditoría de calidad: {q.RESULT_LABELS[q.AuditResult(a.result)]}{figure}."
        if a.comment:
            text_ += f" {a.comment}"
        entries.append(
            {"at": a.at, "who": a.auditor_label, "kind": "audit", "text": text_, "public": False}
        )
        replies = (
            await session.scalars(
                select(CaseAuditReplyRow)
                .where(CaseAuditReplyRow.audit_id == a.id)
                .order_by(CaseAuditReplyRow.at)
            )
        ).all()
        for r in replies:
            entries.append(
                {
                    "at": r.at,
                    "who": r.actor_label,
                    "kind": "audit_reply",
                    "text": f"Respuesta de la entidad a la auditoría: {r.text}",
                    "public": False,
                }
            )
    return entries


# --- results to the entity -------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    audit_id: int
    case_id: int
    case_number: str
    week: str
    at: datetime
    auditor: str
    result: str
    criteria_met: int
    criteria_scored: int
    unmet: list[str]
    comment: str
    replies: list[CaseAuditReplyRow]


def _unmet(scores: Mapping[str, str]) -> list[str]:
    labels = {c.code: c.label for c in q.CASE_CRITERIA}
    return [labels.get(k, k) for k, v in scores.items() if v == q.Score.NO_CUMPLE]


def _is_published() -> Any:
    return (
        select(PublishedAuditRow.audit_id)
        .where(PublishedAuditRow.audit_id == CaseAuditRow.id)
        .exists()
    )


async def _findings(
    session: AsyncSession,
    entity_id: int,
    *,
    weeks: Sequence[str] | None = None,
    published: bool | None = None,
) -> list[Finding]:
    """The entity's audits (of ``weeks``; only published or unpublished ones if asked)."""
    stmt = (
        select(CaseAuditRow, CaseRow.number)
        .join(CaseRow, CaseRow.id == CaseAuditRow.case_id)
        .where(CaseAuditRow.entity_id == entity_id)
        .order_by(CaseAuditRow.week.desc(), CaseRow.number)
    )
    if weeks is not None:
        stmt = stmt.where(CaseAuditRow.week.in_(list(weeks) or [""]))
    if published is not None:
        stmt = stmt.where(_is_published() if published else ~_is_published())
    rows = (await session.execute(stmt)).all()
    ids = [a.id for a, _ in rows]
    replies: dict[int, list[CaseAuditReplyRow]] = {}
    if ids:
        for r in (
            await session.scalars(
                select(CaseAuditReplyRow)
                .where(CaseAuditReplyRow.audit_id.in_(ids))
                .order_by(CaseAuditReplyRow.at)
            )
        ).all():
            replies.setdefault(r.audit_id, []).append(r)
    return [
        Finding(
            a.id,
            a.case_id,
            number,
            a.week,
            a.at,
            a.auditor_label,
            a.result,
            a.criteria_met,
            a.criteria_scored,
            _unmet(a.scores),
            a.comment,
            replies.get(a.id, []),
        )
        for a, number in rows
    ]


async def entity_mail_recipients(session: AsyncSession, entity_id: int) -> list[str]:
    """The entity's e-mail addresses: its active offices' (head office first)."""
    rows = (
        await session.execute(
            select(OfficeRow.email)
            .where(
                OfficeRow.entity_id == entity_id,
                OfficeRow.active,
                OfficeRow.email.is_not(None),
                OfficeRow.email != "",
            )
            .order_by((OfficeRow.kind != "sede"), OfficeRow.id)
        )
    ).scalars()
    seen: list[str] = []
    for email in rows:
        address = (email or "").strip()
        if address not in seen and looks_like_address(address):
            seen.append(address)
    return seen


def _mail_body(entity_name: str, week: str, findings: list[Finding], portal_url: str) -> str:
    lines = [
        f"Resultados de la auditoría de calidad del 3-1-1 para {entity_name},",
        f"{q.week_label(week)}.",
        "",
        f"Casos auditados: {len(findings)}.",
        "",
    ]
    for f in findings:
        pct = (
            f" ({100 * f.criteria_met / f.criteria_scored:.0f} % de criterios cumplidos)"
            if f.criteria_scored
            else ""
        )
        lines.append(f"Caso {f.case_number}: {q.RESULT_LABELS[q.AuditResult(f.result)]}{pct}.")
        for label in f.unmet:
            lines.append(f"  - No cumple: {label}.")
        if f.comment:
            lines.append(f"  Hallazgos: {f.comment}")
        lines.append("")
    lines += [
        "Puede responder cada hallazgo en el portal de enlaces:",
        portal_url,
        "",
        "Centro de Atención Ciudadana 3-1-1",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Publication:
    entity_id: int
    week: str
    audits: int
    recipients: list[str]
    already: bool


async def publish_week(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    entity_id: int,
    week: str,
    now: datetime,
    portal_url: str = "/enlace/auditorias",
) -> Publication:
    """Publish an entity's not yet published audits of a week to its liaisons: they see them
    on their portal, and each address of the entity gets one e-mail with these findings."""
    monday = q.parse_week(week)
    async with uow_factory() as uow:
        s = uow.session
        allowed = await visible_entity_ids(s, actor, monday, monday + timedelta(days=6))
        if allowed is not None and entity_id not in allowed:
            raise AccessDenied(NOT_YOURS)
        entity = await uow.directory.entity(entity_id)
        if entity is None:
            raise NotFound("La entidad no existe.")
        # One publisher per entity and week at a time: a double click publishes once.
        await s.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('cac311-quality-publish'), :e)"),
            {"e": entity_id},
        )
        findings = await _findings(s, entity_id, weeks=[week], published=False)
        if not findings:
            if await _findings(s, entity_id, weeks=[week], published=True):
                return Publication(entity_id, week, 0, [], True)
            raise DomainError("No hay auditorías de esta semana para publicar.")
        publication = QualityPublicationRow(
            entity_id=entity_id, week=week, published_at=now, published_by_user_id=actor.user_id
        )
        s.add(publication)
        await s.flush()
        s.add_all(
            [
                PublishedAuditRow(audit_id=f.audit_id, publication_id=publication.id)
                for f in findings
            ]
        )
        recipients = await entity_mail_recipients(s, entity_id)
        body = _mail_body(entity.name, week, findings, portal_url)
        for address in recipients:
            await enqueue_mail(
                s,
                to=address,
                subject=f"3-1-1: resultados de la auditoría de calidad, {q.week_label(week)}",
                body=body,
                kind="auditoria_calidad",
                now=now,
                dedupe_key=f"auditoria:{publication.id}:{address}",
            )
        await uow.commit()
    return Publication(entity_id, week, len(findings), recipients, False)


async def published_findings(uow_factory: UnitOfWorkFactory, *, actor: Actor) -> list[Finding]:
    """The published audits of the liaison's entity, newest week first."""
    if actor.entity_id is None or not q.can_read_entity_audits(actor, actor.entity_id):
        raise AccessDenied("Esta página es para el Enlace Ejecutivo y los Enlaces Operativos.")
    async with uow_factory() as uow:
        return await _findings(uow.session, actor.entity_id, published=True)


async def reply_to_audit(
    uow_factory: UnitOfWorkFactory, *, actor: Actor, audit_id: int, reply: str, now: datetime
) -> int:
    """The entity's answer to a published finding."""
    if not reply.strip():
        raise DomainError("Escriba la respuesta de la entidad.")
    async with uow_factory() as uow:
        s = uow.session
        audit = await s.get(CaseAuditRow, audit_id)
        if audit is None or not q.can_read_entity_audits(actor, audit.entity_id):
            raise NotFound("La auditoría no existe.")
        published = await s.get(PublishedAuditRow, audit_id)
        if published is None:
            raise NotFound("La auditoría no existe.")
        row = CaseAuditReplyRow(
            audit_id=audit_id,
            at=now,
            user_id=actor.user_id,
            actor_label=await actor_label(s, actor),
            text=reply.strip(),
        )
        s.add(row)
        await s.flush()
        await uow.commit()
        return row.id
