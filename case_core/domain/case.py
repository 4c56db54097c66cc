"""Cases: types, channels, the status lifecycle and case numbers.

The lifecycle is one transition table (``TRANSITIONS``). Every status change goes through
:func:`apply_action`, which raises :class:`IllegalTransition` for a move the table does not
allow and returns the history entry to append.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from case_core.domain.errors import DomainError, IllegalTransition


class CaseType(StrEnum):
    QUEJA = "queja"
    DENUNCIA = "denuncia"
    SUGERENCIA = "sugerencia"
    SOLICITUD = "solicitud"
    CONSULTA = "consulta"


class Channel(StrEnum):
    TELEFONO = "telefono"
    WEB = "web"
    APP = "app"
    REDES = "redes"
    CORREO = "correo"
    PRESENCIAL = "presencial"


CHANNEL_LABELS: dict[Channel, str] = {
    Channel.TELEFONO: "Teléfono",
    Channel.WEB: "Web",
    Channel.APP: "Aplicación",
    Channel.REDES: "Redes sociales",
    Channel.CORREO: "Correo electrónico",
    Channel.PRESENCIAL: "Presencial",
}


class CaseStatus(StrEnum):
    REGISTRADO = "registrado"
    ASIGNADO = "asignado"
    EN_PROCESO = "en_proceso"
    DEVUELTO_311 = "devuelto_311"
    CERRADO = "cerrado"


class CaseAction(StrEnum):
    ASSIGN = "asignar"
    START = "iniciar"
    RETURN_TO_311 = "devolver_311"
    REASSIGN = "reasignar"
    CLOSE = "cerrar"
    REOPEN = "reabrir"
    MERGE = "fusionar"  # a duplicate closes into another case of the same citizen


STATUS_LABELS: dict[CaseStatus, str] = {
    CaseStatus.REGISTRADO: "Registrado",
    CaseStatus.ASIGNADO: "Asignado",
    CaseStatus.EN_PROCESO: "En proceso",
    CaseStatus.DEVUELTO_311: "Devuelto al 311",
    CaseStatus.CERRADO: "Cerrado",
}

TYPE_LABELS: dict[CaseType, str] = {
    CaseType.QUEJA: "Queja",
    CaseType.DENUNCIA: "Denuncia",
    CaseType.SUGERENCIA: "Sugerencia",
    CaseType.SOLICITUD: "Solicitud",
    CaseType.CONSULTA: "Consulta",
}

S, A = CaseStatus, CaseAction
TRANSITIONS: dict[tuple[CaseStatus, CaseAction], CaseStatus] = {
    (S.REGISTRADO, A.ASSIGN): S.ASIGNADO,
    (S.REGISTRADO, A.CLOSE): S.CERRADO,  # a consulta answered at first contact
    (S.ASIGNADO, A.START): S.EN_PROCESO,
    (S.ASIGNADO, A.RETURN_TO_311): S.DEVUELTO_311,
    (S.ASIGNADO, A.CLOSE): S.CERRADO,
    (S.EN_PROCESO, A.RETURN_TO_311): S.DEVUELTO_311,
    (S.EN_PROCESO, A.CLOSE): S.CERRADO,
    (S.DEVUELTO_311, A.REASSIGN): S.ASIGNADO,
    (S.DEVUELTO_311, A.CLOSE): S.CERRADO,
    (S.CERRADO, A.REOPEN): S.EN_PROCESO,
    (S.REGISTRADO, A.MERGE): S.CERRADO,
    (S.ASIGNADO, A.MERGE): S.CERRADO,
    (S.EN_PROCESO, A.MERGE): S.CERRADO,
    (S.DEVUELTO_311, A.MERGE): S.CERRADO,
}
del S, A

ACTION_LABELS: dict[CaseAction, str] = {
    CaseAction.ASSIGN: "Asignación",
    CaseAction.START: "Inicio de trabajo",
    CaseAction.RETURN_TO_311: "Devolución al 3-1-1",
    CaseAction.REASSIGN: "Reasignación",
    CaseAction.CLOSE: "Cierre",
    CaseAction.REOPEN: "Reapertura",
    CaseAction.MERGE: "Fusión con otro caso",
}

OPEN_STATUSES = frozenset(s for s in CaseStatus if s is not CaseStatus.CERRADO)
# Actions that count as the responsible entity's first action on a case.
ENTITY_ACTIONS = frozenset({CaseAction.START, CaseAction.RETURN_TO_311, CaseAction.CLOSE})


@dataclass(frozen=True)
class StatusChange:
    """The outcome of a legal transition, to be appended to the case history."""

    action: CaseAction
    from_status: CaseStatus
    to_status: CaseStatus
    at: datetime


def next_status(current: CaseStatus, action: CaseAction) -> CaseStatus:
    """The status ``action`` leads to from ``current``; raise IllegalTransition if none."""
    try:
        return TRANSITIONS[(CaseStatus(current), CaseAction(action))]
    except KeyError:
        raise IllegalTransition(
            f"No se puede «{CaseAction(action).value}» un caso en estado "
            f"«{STATUS_LABELS[CaseStatus(current)]}»."
        ) from None


def apply_action(current: CaseStatus, action: CaseAction, at: datetime) -> StatusChange:
    """Validate a transition and describe it."""
    return StatusChange(CaseAction(action), CaseStatus(current), next_status(current, action), at)


def allowed_actions(current: CaseStatus) -> list[CaseAction]:
    """Actions the transition table allows from ``current``."""
    return [action for (status, action) in TRANSITIONS if status == current]


# Case numbers: the year followed by a six-digit sequence, digits only so a caller can key
# them in (e.g. 2026000123). Sequences restart every year.
CASE_NUMBER_RE = re.compile(r"^(\d{4})(\d{6})$")


def format_case_number(year: int, sequence: int) -> str:
    """Build the human case number."""
    if not 1 <= sequence <= 999_999:
        raise DomainError("Se agotó la numeración de casos del año.")
    return f"{year:04d}{sequence:06d}"


def is_case_number(text: str) -> bool:
    """True when ``text`` has the shape of a case number."""
    return bool(CASE_NUMBER_RE.match((text or "").strip()))


def parse_case_number(text: str) -> str | None:
    """The case number typed with or without spaces, dots or dashes (``2026 000 007``,
    ``2026-000007``); None when ``text`` is not one."""
    compact = re.sub(r"[\s.\-]", "", (text or "").strip()[:40])
    return compact if CASE_NUMBER_RE.match(compact) else None


def check_confidentiality(case_type: CaseType, *, anonymous: bool, confidential: bool) -> None:
    """Only denuncias may be anonymous; an anonymous case is always confidential."""
    if anonymous and case_type is not CaseType.DENUNCIA:
        raise DomainError("Solo una denuncia puede registrarse de forma anónima.")
    if anonymous and not confidential:
        raise DomainError("Una denuncia anónima es siempre confidencial.")
