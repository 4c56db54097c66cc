"""Quality assurance rules (Res. 12/2019): weekly audits of closed cases, call evaluations,
advisors and their entities, action plans. Pure: no I/O, ``now`` and time zones passed in.

Weeks are ISO 8601 weeks written ``YYYY-Www`` (``2026-W48``), Monday to Sunday in local
(America/Panama) time. A weekly sample is drawn with a ``random.Random`` seeded by the week and
the entity (or agent), so drawing again from the same candidates gives the same sample.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from case_core.domain.errors import DomainError
from case_core.domain.roles import Actor, Role

MAX_ENTITIES_PER_ADVISOR = 25  # the guide: one advisor for every 25 entities
DEFAULT_SAMPLE_PER_ENTITY = 3  # "al menos tres casos cerrados por entidad"
DEFAULT_CALLS_PER_AGENT = 2
GOAL_CRITERIA_MET_PERCENT = 80.0

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


class InvalidWeek(DomainError, ValueError):
    """Not a ``YYYY-Www`` ISO week; ``str(err)`` is Spanish."""


def parse_week(week: str) -> date:
    """The Monday of ISO week ``YYYY-Www``; raises InvalidWeek."""
    match = _WEEK_RE.match(week.strip())
    if match is None:
        raise InvalidWeek(
            f"La semana debe tener la forma AAAA-Wnn (por ejemplo 2026-W48): {week!r}"
        )
    year, number = int(match.group(1)), int(match.group(2))
    try:
        return date.fromisocalendar(year, number, 1)
    except ValueError:
        raise InvalidWeek(f"La semana {week} no existe.") from None


def week_of(moment: datetime | date, tz: tzinfo | None = None) -> str:
    """The ISO week (``YYYY-Www``) of a moment in local time, or of a date."""
    day = moment.astimezone(tz).date() if isinstance(moment, datetime) else moment
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def week_bounds(week: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """[local Monday 00:00, next local Monday 00:00) of ``week``, in UTC."""
    monday = parse_week(week)
    start = datetime.combine(monday, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def shift_week(week: str, weeks: int) -> str:
    return week_of(parse_week(week) + timedelta(weeks=weeks))


def previous_week(now: datetime, tz: tzinfo) -> str:
    """The last complete week before ``now``: the one the weekly job samples."""
    return shift_week(week_of(now, tz), -1)


def week_label(week: str) -> str:
    monday = parse_week(week)
    sunday = monday + timedelta(days=6)
    return f"semana {week[-2:]} de {monday.year} ({monday:%d/%m} al {sunday:%d/%m/%Y})"


# --- the weekly sample -----------------------------------------------------------------------


def sample_seed(week: str, key: str) -> int:
    """A stable seed from the week and an entity (or agent) key; not Python's salted hash."""
    digest = hashlib.sha256(f"cac311-calidad:{week}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


@dataclass(frozen=True)
class Candidate:
    """A closed case (or a call) that may be drawn; ``stratum`` is the case type."""

    id: int
    stratum: str


def draw_sample(candidates: Iterable[Candidate], *, size: int, seed: int) -> list[Candidate]:
    """``size`` candidates (all when fewer), stratified: one of each stratum in turn.

    Candidates are sorted by id first, so the result depends only on the candidate set and
    the seed. Strata are visited in a seeded order, and within each stratum the order is a
    seeded shuffle; picking round-robin spreads the sample over case types when possible.
    """
    if size < 1:
        raise ValueError("the sample size must be at least 1")
    pool = sorted(set(candidates), key=lambda c: c.id)
    if len(pool) <= size:
        return pool
    rng = random.Random(seed)
    strata: dict[str, list[Candidate]] = {}
    for c in pool:
        strata.setdefault(c.stratum, []).append(c)
    order = sorted(strata)
    rng.shuffle(order)
    for name in order:
        rng.shuffle(strata[name])
    picked: list[Candidate] = []
    while len(picked) < size:
        for name in order:
            if strata[name] and len(picked) < size:
                picked.append(strata[name].pop())
    return picked


# --- the audit checklist ---------------------------------------------------------------------


class Score(StrEnum):
    CUMPLE = "cumple"
    NO_CUMPLE = "no_cumple"
    NO_APLICA = "no_aplica"


SCORE_LABELS = {Score.CUMPLE: "Cumple", Score.NO_CUMPLE: "No cumple", Score.NO_APLICA: "No aplica"}


@dataclass(frozen=True)
class Criterion:
    code: str
    label: str
    phone_only: bool = False


CASE_CRITERIA: tuple[Criterion, ...] = (
    Criterion("registro", "El caso se registró completo y con el tipo correcto"),
    Criterion("competencia", "Se asignó a la entidad competente"),
    Criterion("primera_accion", "La entidad dio la primera acción dentro de 24 horas"),
    Criterion("respuesta", "La respuesta es adecuada y comprensible para el ciudadano"),
    Criterion("plazo", "Se cerró dentro del plazo del servicio"),
    Criterion("informado", "El ciudadano fue informado del resultado"),
    Criterion("saludo", "Llamada: saludo según el protocolo", phone_only=True),
    Criterion("identidad", "Llamada: se validó la identidad del ciudadano", phone_only=True),
    Criterion("lectura_numero", "Llamada: se leyó el número de caso al ciudadano", phone_only=True),
)

CALL_CRITERIA: tuple[Criterion, ...] = (
    Criterion("saludo", "Saludo y presentación según el protocolo"),
    Criterion("identidad", "Validó la identidad del ciudadano (cédula)"),
    Criterion("escucha", "Escuchó y entendió la necesidad del ciudadano"),
    Criterion("tipificacion", "Registró el caso con el tipo y servicio correctos"),
    Criterion("lectura_numero", "Leyó el número de caso al ciudadano"),
    Criterion("cortesia", "Trato cortés y lenguaje claro"),
    Criterion("cierre", "Despedida según el protocolo"),
)


class AuditResult(StrEnum):
    SATISFACTORIO = "satisfactorio"
    CON_OBSERVACIONES = "con_observaciones"
    NO_SATISFACTORIO = "no_satisfactorio"


RESULT_LABELS = {
    AuditResult.SATISFACTORIO: "Satisfactorio",
    AuditResult.CON_OBSERVACIONES: "Con observaciones",
    AuditResult.NO_SATISFACTORIO: "No satisfactorio",
}


def criteria_for(*, phone: bool) -> tuple[Criterion, ...]:
    """The case checklist; the call-protocol criteria only for phone cases."""
    return tuple(c for c in CASE_CRITERIA if phone or not c.phone_only)


class InvalidScores(DomainError, ValueError):
    """A checklist that is incomplete or has unknown values; ``str(err)`` is Spanish."""


@dataclass(frozen=True)
class Scored:
    scores: dict[str, str]
    met: int
    scored: int  # criteria that apply (cumple + no cumple)

    @property
    def percent(self) -> float | None:
        return None if not self.scored else 100.0 * self.met / self.scored


def score_checklist(criteria: Sequence[Criterion], answers: Mapping[str, str]) -> Scored:
    """Check that every criterion has a valid score; count those met."""
    scores: dict[str, str] = {}
    for criterion in criteria:
        raw = answers.get(criterion.code, "")
        try:
            scores[criterion.code] = Score(raw).value
        except ValueError:
            raise InvalidScores(f"Califique el criterio «{criterion.label}».") from None
    met = sum(1 for v in scores.values() if v == Score.CUMPLE)
    scored = sum(1 for v in scores.values() if v != Score.NO_APLICA)
    return Scored(scores, met, scored)


def suggested_result(scored: Scored) -> AuditResult:
    if scored.scored == 0 or scored.met == scored.scored:
        return AuditResult.SATISFACTORIO
    if (scored.percent or 0) >= GOAL_CRITERIA_MET_PERCENT:
        return AuditResult.CON_OBSERVACIONES
    return AuditResult.NO_SATISFACTORIO


# --- who may do what -------------------------------------------------------------------------


def can_do_quality(actor: Actor) -> bool:
    """Quality advisors audit; supervisors and admins may too (and see every entity)."""
    return actor.role in (Role.AUDITOR, Role.SUPERVISOR, Role.ADMIN)


def sees_all_entities(actor: Actor) -> bool:
    return actor.role in (Role.SUPERVISOR, Role.ADMIN)


def can_read_entity_audits(actor: Actor, entity_id: int) -> bool:
    """The entity's Enlace Ejecutivo and Enlaces Operativos read and answer its audits."""
    return actor.role in (Role.LIAISON, Role.LIAISON_EXEC) and actor.entity_id == entity_id


class AssignmentError(DomainError, ValueError):
    """An assignment the rules refuse; ``str(err)`` is Spanish."""


def check_assignment(
    *,
    active_entity_ids: Iterable[int],
    entity_id: int,
    starts_on: date,
    ends_on: date | None,
    limit: int = MAX_ENTITIES_PER_ADVISOR,
) -> None:
    """An advisor holds at most ``limit`` entities at a time, each once."""
    if ends_on is not None and ends_on < starts_on:
        raise AssignmentError("La fecha de fin no puede ser anterior a la de inicio.")
    active = set(active_entity_ids)
    if entity_id in active:
        raise AssignmentError("El asesor ya tiene asignada esta entidad.")
    if len(active) >= limit:
        raise AssignmentError(f"Un asesor de calidad atiende como máximo {limit} entidades.")


def assignment_active(starts_on: date, ends_on: date | None, day: date) -> bool:
    return starts_on <= day and (ends_on is None or day <= ends_on)


# --- action plans ----------------------------------------------------------------------------


class PlanStatus(StrEnum):
    ABIERTO = "abierto"
    EN_CURSO = "en_curso"
    CUMPLIDO = "cumplido"
    CANCELADO = "cancelado"


PLAN_STATUS_LABELS = {
    PlanStatus.ABIERTO: "Abierto",
    PlanStatus.EN_CURSO: "En curso",
    PlanStatus.CUMPLIDO: "Cumplido",
    PlanStatus.CANCELADO: "Cancelado",
}
PLAN_TRANSITIONS: dict[PlanStatus, frozenset[PlanStatus]] = {
    PlanStatus.ABIERTO: frozenset({PlanStatus.EN_CURSO, PlanStatus.CUMPLIDO, PlanStatus.CANCELADO}),
    PlanStatus.EN_CURSO: frozenset({PlanStatus.CUMPLIDO, PlanStatus.CANCELADO}),
    PlanStatus.CUMPLIDO: frozenset(),
    PlanStatus.CANCELADO: frozenset(),
}


class PlanError(DomainError, ValueError):
    """An action plan the rules refuse; ``str(err)`` is Spanish."""


def check_plan_transition(current: PlanStatus, target: PlanStatus) -> None:
    if target not in PLAN_TRANSITIONS[current]:
        raise PlanError(
            f"Un plan «{PLAN_STATUS_LABELS[current]}» no puede pasar a "
            f"«{PLAN_STATUS_LABELS[target]}»."
        )


def plan_overdue(status: PlanStatus, due_on: date, today: date) -> bool:
    """Past its due date and neither done nor cancelled."""
    return status in (PlanStatus.ABIERTO, PlanStatus.EN_CURSO) and today > due_on


def age_band(days_overdue: int) -> str:
    """The age bands of the weekly expired-cases report."""
    if days_overdue <= 7:
        return "1 a 7 días"
    if days_overdue <= 15:
        return "8 a 15 días"
    if days_overdue <= 30:
        return "16 a 30 días"
    return "más de 30 días"


AGE_BANDS = ("1 a 7 días", "8 a 15 días", "16 a 30 días", "más de 30 días")
