"""E-mails to the citizen about their case, queued in the mail outbox (same transaction).

Sent: the confirmation when a case is registered (with its tracking code, the only time the
code travels), and a notice for every public change: a status change or a public note.
A confidential case never names its entity in a message; an anonymous one has no address.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models import CaseRow, CitizenRow, EntityRow
from case_core.domain.case import STATUS_LABELS, TYPE_LABELS, CaseStatus, CaseType
from case_core.domain.tracking import spaced_code
from case_core.services.mail import enqueue_mail, looks_like_address

SIGNATURE = (
    "\n\nPuede consultar su caso en la sección Ciudadano de la página del Centro de Atención "
    "Ciudadana 3-1-1, o llamando al 3-1-1 (opción 5), con su número de caso y su código de "
    "seguimiento.\n\nCentro de Atención Ciudadana 3-1-1 — Gobierno de Panamá\n"
    "Este mensaje se envió automáticamente; no lo responda."
)


async def citizen_address(session: AsyncSession, row: CaseRow) -> str | None:
    """Where this case's citizen is written to, if they gave an address."""
    if row.anonymous:
        return None
    address = row.contact_email
    if not address and row.citizen_id is not None:
        citizen = await session.get(CitizenRow, row.citizen_id)
        address = citizen.email if citizen else None
    return address if address and looks_like_address(address) else None


async def queue_confirmation(
    session: AsyncSession,
    row: CaseRow,
    *,
    tracking_code: str,
    now: datetime,
    renewed: bool = False,
) -> int | None:
    """The 'we received your case' message with the number and tracking code (or, when
    ``renewed``, the new code an agent generated)."""
    to = await citizen_address(session, row)
    if to is None:
        return None
    lines = [
        "Le enviamos un nuevo código de seguimiento; el anterior ya no vale."
        if renewed
        else "Hemos registrado su caso.",
        "",
        f"Número de caso: {row.number}",
        f"Código de seguimiento: {spaced_code(tracking_code)}",
        f"Tipo: {TYPE_LABELS[CaseType(row.type)]}",
        f"Estado: {STATUS_LABELS[CaseStatus(row.status)]}",
    ]
    if row.status == CaseStatus.REGISTRADO.value:
        lines.append("Un agente del 3-1-1 lo revisará y lo enviará a la entidad que corresponda.")
    elif not row.confidential:
        entity = await session.get(EntityRow, row.entity_id)
        if entity is not None:
            lines.append(f"Entidad responsable: {entity.name}")
    lines.append("")
    lines.append("Guarde este código: lo necesitará para consultar su caso.")
    return await enqueue_mail(
        session,
        to=to,
        subject=f"Caso {row.number} {'nuevo código' if renewed else 'registrado'} — 3-1-1",
        body="\n".join(lines) + SIGNATURE,
        kind="caso_codigo" if renewed else "caso_registrado",
        now=now,
        case_id=row.id,
        dedupe_key=None if renewed else f"caso:{row.id}:registrado",
    )


async def queue_update_notice(
    session: AsyncSession,
    row: CaseRow,
    *,
    history_id: int,
    now: datetime,
    new_status: CaseStatus | None = None,
    note: str | None = None,
) -> int | None:
    """A notice of a public status change or public note (one per history entry)."""
    to = await citizen_address(session, row)
    if to is None or (new_status is None and not note):
        return None
    lines = []
    if new_status is not None:
        lines.append(f"Su caso {row.number} cambió de estado: {STATUS_LABELS[new_status]}.")
    else:
        lines.append(f"Hay una nueva respuesta en su caso {row.number}.")
    if note:
        lines += ["", "Respuesta:", note]
    return await enqueue_mail(
        session,
        to=to,
        subject=f"Novedades de su caso {row.number} — 3-1-1",
        body="\n".join(lines) + SIGNATURE,
        kind="caso_novedad",
        now=now,
        case_id=row.id,
        dedupe_key=f"caso:{row.id}:historia:{history_id}",
    )
