"""User roles and what each may see. One place decides; the web layer only asks."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    LIAISON = "liaison"  # Enlace Operativo: works the cases of one entity
    LIAISON_EXEC = "liaison_exec"  # Enlace Ejecutivo: the entity's accountable officer
    LIAISON_CONTACT = "liaison_contact"  # Enlace de Contacto: one regional office of an entity
    AUDITOR = "auditor"  # quality auditor (asesor de calidad)
    CONTACT_CENTER = "contact_center"  # Centro de Contactos: callbacks and surveys
    ADMIN = "admin"


# Every role that belongs to an entity (users.entity_id is set exactly for these).
LIAISON_ROLES = frozenset({Role.LIAISON, Role.LIAISON_EXEC, Role.LIAISON_CONTACT})


def is_liaison(role: Role | str) -> bool:
    return role in LIAISON_ROLES


ROLE_LABELS = {
    Role.AGENT: "Agente",
    Role.SUPERVISOR: "Supervisor",
    Role.LIAISON: "Enlace Operativo",
    Role.LIAISON_EXEC: "Enlace Ejecutivo",
    Role.LIAISON_CONTACT: "Enlace de Contacto",
    Role.AUDITOR: "Auditor de calidad",
    Role.CONTACT_CENTER: "Centro de Contactos",
    Role.ADMIN: "Administrador",
}


@dataclass(frozen=True)
class Actor:
    """Who is doing something: enough to decide access without touching storage."""

    user_id: int | None
    username: str
    role: Role
    entity_id: int | None = None
    office_id: int | None = None  # the regional office of an Enlace de Contacto


SYSTEM = Actor(None, "sistema", Role.ADMIN)


def can_use_desktop(actor: Actor) -> bool:
    return actor.role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


def can_supervise(actor: Actor) -> bool:
    return actor.role in (Role.SUPERVISOR, Role.ADMIN)


def can_see_case(
    actor: Actor, *, entity_id: int, confidential: bool, handled_by_user_id: int | None = None
) -> bool:
    """Confidential cases (denuncias) are seen by supervisors, admins, the liaisons of the
    entity and the agent who registered them; other cases by every desktop user."""
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        return True
    if actor.role is Role.LIAISON:
        return actor.entity_id == entity_id
    if actor.role is Role.AUDITOR:
        return not confidential
    if actor.role is Role.AGENT:
        return not confidential or handled_by_user_id == actor.user_id
    return False


def can_play_recording(
    actor: Actor, *, handled_by_user_id: int | None, case_confidential: bool
) -> bool:
    """Supervisors and auditors hear recordings; an agent only the calls the agent handled.
    A recording of a confidential case only by supervisors, admins and its own agent."""
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        return True
    if actor.role is Role.AUDITOR:
        return not case_confidential
    if actor.role is Role.AGENT:
        return handled_by_user_id is not None and handled_by_user_id == actor.user_id
    return False
