"""Escalation reaches people: one e-mail per escalation level, queued in the mail outbox.

The chain of Res. 12/2017, one level per step:

- ``primera_accion`` (no first action within 24 h) → the entity's Enlaces Operativos;
- ``riesgo_sla`` (in the at-risk part of the SLA) → the entity's Enlace Ejecutivo;
- ``vencido`` (past due) → the 3-1-1 supervisors.

Messages are queued with ``enqueue_mail`` in the escalation job's own transaction (written
together with the escalation row, or not at all); the mailer delivers and retries them, so
an SMTP server that is down never blocks the job. The body names the case, the entity and
what is late, and links to the case; it carries nothing personal (no citizen, no
description: denuncias are confidential and e-mail is not).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models import CaseRow, EntityRow, ServiceRow, UserRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import sla
from case_core.domain.case import STATUS_LABELS, TYPE_LABELS, CaseStatus, CaseType
from case_core.domain.roles import Role
from case_core.services.escalation import (
    EscalationLevel,
    EscalationNotifier,
    EscalationReport,
    escalate,
)
from case_core.services.mail import enqueue_mail, looks_like_address

log = logging.getLogger(__name__)

LEVEL_RECIPIENTS: dict[EscalationLevel, Role] = {
    EscalationLevel.PRIMERA_ACCION: Role.LIAISON,
    EscalationLevel.RIESGO_SLA: Role.LIAISON_EXEC,
    EscalationLevel.VENCIDO: Role.SUPERVISOR,
}

SUBJECTS: dict[EscalationLevel, str] = {
    EscalationLevel.PRIMERA_ACCION: "Caso {number} sin primera acción (24 horas)",
    EscalationLevel.RIESGO_SLA: "Caso {number} en riesgo de vencer",
    EscalationLevel.VENCIDO: "Caso {number} vencido",
}


def case_link(public_origin: str, role: Role, case: CaseRow) -> str:
    """Where the recipient opens the case: the liaison portal or the 3-1-1 case page."""
    path = f"/enlace/casos/{case.id}" if role is not Role.SUPERVISOR else f"/casos/{case.number}"
    return f"{public_origin}{path}"


def escalation_message(
    *,
    level: EscalationLevel,
    case: CaseRow,
    entity_name: str,
    service_name: str,
    note: str,
    link: str,
    now: datetime,
    tz: tzinfo,
) -> tuple[str, str]:
    """(subject, body) of one escalation notice, in Spanish (pure)."""
    left = sla.days_left(case.due_at, now, tz)
    due = case.due_at.astimezone(tz).strftime("%d/%m/%Y")
    if left < 0:
        clock = f"Venció el {due} (hace {-left} {'día' if left == -1 else 'días'} calendario)."
    elif left == 0:
        clock = f"Vence hoy, {due}."
    else:
        clock = f"Vence el {due} (quedan {left} {'día' if left == 1 else 'días'} calendario)."
    lines = [
        "Estimado(a) enlace o supervisor(a):",
        "",
        f"El caso {case.number} requiere su atención. {note.removeprefix('Escalado: ')}",
        "",
        f"Entidad: {entity_name}",
        f"Servicio: {service_name}",
        f"Tipo: {TYPE_LABELS[CaseType(case.type)]}",
        f"Estado: {STATUS_LABELS[CaseStatus(case.status)]}",
        f"Plazo: {case.sla_days} días calendario. {clock}",
        "",
        f"Abra el caso: {link}",
        "",
        "Centro de Atención Ciudadana 3-1-1",
        "Este mensaje se envió automáticamente; no lo responda.",
    ]
    return SUBJECTS[level].format(number=case.number), "\n".join(lines) + "\n"


async def recipients(
    session: AsyncSession, level: EscalationLevel, case: CaseRow
) -> Sequence[UserRow]:
    """Active users of the level's role (of the case's entity for liaisons) with an e-mail."""
    role = LEVEL_RECIPIENTS[level]
    stmt = select(UserRow).where(
        UserRow.role == role.value, UserRow.active.is_(True), UserRow.email.is_not(None)
    )
    if role is not Role.SUPERVISOR:
        stmt = stmt.where(UserRow.entity_id == case.entity_id)
    return (await session.scalars(stmt.order_by(UserRow.id))).all()


def escalation_notifier(public_origin: str, tz: tzinfo) -> EscalationNotifier:
    """The ``notify`` hook of ``escalation.escalate`` that queues one e-mail per recipient."""

    async def notify(
        session: AsyncSession, case: CaseRow, level: EscalationLevel, note: str, now: datetime
    ) -> None:
        entity = await session.get(EntityRow, case.entity_id)
        service = await session.get(ServiceRow, case.service_id) if case.service_id else None
        role = LEVEL_RECIPIENTS[level]
        for user in await recipients(session, level, case):
            if not looks_like_address(user.email or ""):
                # A bad address in the directory must not stop the escalation job.
                log.warning("user %d has an unusable e-mail address; notice skipped", user.id)
                continue
            subject, body = escalation_message(
                level=level,
                case=case,
                entity_name=entity.name if entity else "—",
                service_name=service.name if service else "—",
                note=note,
                link=case_link(public_origin, role, case),
                now=now,
                tz=tz,
            )
            await enqueue_mail(
                session,
                to=user.email,
                subject=subject,
                body=body,
                kind="escalamiento",
                now=now,
                case_id=case.id,
                dedupe_key=f"escalamiento:{case.id}:{level.value}:{user.id}",
            )

    return notify


async def escalate_and_notify(
    uow_factory: UnitOfWorkFactory,
    now: datetime,
    tz: tzinfo,
    *,
    public_origin: str,
    at_risk_percent: int = 20,
    at_risk_min_days: float = 1,
) -> EscalationReport:
    """One run of the escalation job with the configured risk share, queuing the e-mails
    of each new escalation (what ``cac311 serve`` and ``cac311 cases escalate`` run)."""
    return await escalate(
        uow_factory,
        now,
        tz,
        risk=sla.RiskPolicy.from_percent(at_risk_percent, at_risk_min_days),
        notify=escalation_notifier(public_origin, tz),
    )
