"""Case actions that are not plain status moves: merge a duplicate into another case of the
same citizen, mark a case confidential or sensitive, pass a case to an office of the entity.
Each appends its entry to the case history with who, when and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from case_core.db.models import (
    CaseRow,
    OfficeRow,
)
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.case import (
    CaseAction,
    CaseStatus,
    apply_action,
    parse_case_number,
)
from case_core.domain.case_access import (
    may_manage_case,
    may_open_case,
    may_pass_to_office,
)
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.domain.roles import Actor
from case_core.services.case_workspace import NOT_FOUND, facts
from case_core.services.cases import check_may_act, history_entry


async def _managed(uow, case_id: int, actor: Actor) -> CaseRow:  # type: ignore[no-untyped-def]
    row = await uow.cases.get(case_id, for_update=True)
    if row is None or not may_open_case(actor, facts(row)):
        raise NotFound(NOT_FOUND)
    return row


async def merge_case(
    uow_factory: UnitOfWorkFactory,
    *,
    duplicate_id: int,
    survivor_number: str,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
) -> str:
    """Close ``duplicate_id`` into the case ``survivor_number`` of the same citizen: the
    duplicate points at the survivor, whose timeline shows the duplicate's calls and notes.
    Returns the survivor's number."""
    if not may_manage_case(actor):
        raise AccessDenied("Solo un supervisor del 3-1-1 fusiona casos.")
    target = parse_case_number(survivor_number)
    if target is None:
        raise DomainError("Escriba el número del caso que se conserva.")
    async with uow_factory() as uow:
        duplicate = await _managed(uow, duplicate_id, actor)
        survivor = await uow.cases.by_number(target, for_update=True)
        if survivor is None:
            raise NotFound("El caso que se conserva no existe.")
        if survivor.id == duplicate.id:
            raise DomainError("Un caso no se fusiona consigo mismo.")
        if duplicate.citizen_id is None or duplicate.citizen_id != survivor.citizen_id:
            raise DomainError("Solo se fusionan casos del mismo ciudadano.")
        if CaseStatus(survivor.status) is CaseStatus.CERRADO:
            raise DomainError("El caso que se conserva está cerrado: reábralo primero.")
        if survivor.merged_into_case_id is not None:
            raise DomainError("El caso que se conserva ya fue fusionado en otro.")
        change = apply_action(CaseStatus(duplicate.status), CaseAction.MERGE, now)
        duplicate.status = change.to_status.value
        duplicate.closed_at = now
        duplicate.updated_at = now
        duplicate.merged_into_case_id = survivor.id
        duplicate.needs_review = False
        text = f"Duplicado: fusionado en el caso {survivor.number}."
        if reason:
            text += f" {reason.strip()}"
        await uow.cases.append_history(
            history_entry(
                duplicate,
                actor,
                now,
                kind="status",
                action=CaseAction.MERGE,
                from_status=change.from_status,
                to_status=change.to_status,
                entity_id=duplicate.entity_id,
                note=text,
                public=True,
            )
        )
        await uow.cases.append_history(
            history_entry(
                survivor,
                actor,
                now,
                kind="note",
                note=f"Se fusionó en este caso el duplicado {duplicate.number}.",
                public=False,
            )
        )
        await uow.commit()
        return survivor.number


MARKS = {"confidencial": "confidential", "sensible": "sensitive"}


async def mark_case(
    uow_factory: UnitOfWorkFactory,
    *,
    case_id: int,
    mark: str,
    on: bool,
    reason: str,
    actor: Actor,
    now: datetime,
) -> None:
    """Mark a case confidential or sensitive (Res. 12/2017), or lift the mark, with a reason.
    An anonymous denuncia stays confidential."""
    if not may_manage_case(actor):
        raise AccessDenied("Solo un supervisor del 3-1-1 cambia la confidencialidad.")
    attr = MARKS.get(mark)
    if attr is None:
        raise DomainError("Marca desconocida.")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Indique el motivo del cambio.")
    async with uow_factory() as uow:
        row = await _managed(uow, case_id, actor)
        if attr == "confidential" and not on and row.anonymous:
            raise DomainError("Una denuncia anónima es siempre confidencial.")
        if getattr(row, attr) == on:
            return
        setattr(row, attr, on)
        row.updated_at = now
        label = "confidencial" if attr == "confidential" else "de carácter sensible"
        text = f"{'Marcado' if on else 'Ya no está marcado'} como {label}: {reason}"
        await uow.cases.append_history(
            history_entry(row, actor, now, kind="mark", note=text, public=False)
        )
        await uow.commit()


async def entity_offices(uow_factory: UnitOfWorkFactory, entity_id: int) -> list[OfficeRow]:
    async with uow_factory() as uow:
        return list(
            (
                await uow.session.scalars(
                    select(OfficeRow)
                    .where(OfficeRow.entity_id == entity_id, OfficeRow.active)
                    .order_by(OfficeRow.name)
                )
            ).all()
        )


async def pass_to_office(
    uow_factory: UnitOfWorkFactory,
    *,
    case_id: int,
    office_id: int | None,
    actor: Actor,
    now: datetime,
    note: str | None = None,
) -> None:
    """An Enlace Operativo (or the Ejecutivo) passes a case to a department or regional
    office of the entity (``None``: back to the central team); internal history entry."""
    if not may_pass_to_office(actor):
        raise AccessDenied("Solo un Enlace Operativo o Ejecutivo pasa casos a una oficina.")
    async with uow_factory() as uow:
        row = await _managed(uow, case_id, actor)
        check_may_act(actor, row, None)
        if CaseStatus(row.status) not in (CaseStatus.ASIGNADO, CaseStatus.EN_PROCESO):
            raise DomainError("Solo se pasa a una oficina un caso que la entidad trabaja.")
        office = None
        if office_id is not None:
            office = await uow.session.get(OfficeRow, office_id)
            if office is None or office.entity_id != row.entity_id or not office.active:
                raise NotFound("La oficina elegida no es de su entidad.")
        row.office_id = office.id if office else None
        row.updated_at = now
        if row.first_action_at is None:
            row.first_action_at = now
        text = f"Pasado a {office.name}." if office else "Devuelto al equipo central."
        if note:
            text += f" {note.strip()}"
        await uow.cases.append_history(
            history_entry(row, actor, now, kind="office", note=text, public=False)
        )
        await uow.commit()
