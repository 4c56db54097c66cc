"""Who may open, work and manage a case in the case workspace (pure).

- 3-1-1 supervisors and admins see every case and manage it (reassign, reopen, merge, mark
  confidential or sensitive, close with the answer given).
- Agents and the Centro de Contactos see every case except confidential or sensitive ones;
  an agent also sees the confidential cases the agent registered. They add notes.
- Auditors see non-confidential cases and change nothing.
- The three liaison roles see the cases of their entity; an Enlace de Contacto with an office
  only the cases passed to that office.

Anonymous denuncias never show who reported them, whoever looks.
"""

from __future__ import annotations

from dataclasses import dataclass

from case_core.domain.roles import Actor, Role, is_liaison

STAFF_311 = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.CONTACT_CENTER})


@dataclass(frozen=True)
class CaseFacts:
    """What access depends on."""

    entity_id: int
    office_id: int | None
    confidential: bool
    sensitive: bool
    registered_by_user_id: int | None


def may_open_case(actor: Actor, case: CaseFacts) -> bool:
    """True when ``actor`` may open the case page."""
    restricted = case.confidential or case.sensitive
    if actor.role in (Role.SUPERVISOR, Role.ADMIN):
        return True
    if is_liaison(actor.role):
        if actor.entity_id != case.entity_id:
            return False
        if actor.role is Role.LIAISON_CONTACT and actor.office_id is not None:
            return case.office_id == actor.office_id
        return True
    if actor.role is Role.AGENT:
        return not restricted or (
            case.registered_by_user_id is not None and case.registered_by_user_id == actor.user_id
        )
    if actor.role in (Role.CONTACT_CENTER, Role.AUDITOR):
        return not restricted
    return False


def may_manage_case(actor: Actor) -> bool:
    """Reassign, reopen, merge, close for 3-1-1, mark confidential: supervisors and admins."""
    return actor.role in (Role.SUPERVISOR, Role.ADMIN)


def may_add_note(actor: Actor) -> bool:
    """3-1-1 staff (agents, supervisors, Centro de Contactos) write notes on the case page."""
    return actor.role in STAFF_311


def may_pass_to_office(actor: Actor) -> bool:
    """An Enlace Operativo or the Enlace Ejecutivo passes a case to an office of the entity."""
    return actor.role in (Role.LIAISON, Role.LIAISON_EXEC)
