"""Callback rules: follow-up and satisfaction calls, calling hours, retries, hand-over.

Pure functions of the inputs and ``now``; the service layer persists what they decide.

- Follow-up (``seguimiento``): window [opened, opened + 30 days]; first attempt at a fraction
  (default 0.5) of the way from the opening to the case's due date.
- Satisfaction (``satisfaccion``): window [closed, closed + 3 days]; first attempt soon after
  the closing (default + 2 h).
- Every automatic attempt falls inside calling hours (default 08:00–20:00 local, Monday to
  Saturday, minus configured holidays) and no later than the window end minus a margin left
  for the human Centro de Contactos (24 h for follow-ups, 12 h for satisfaction). When the
  next attempt would fall past that point, the callback becomes a human task
  (``tarea_humana``); when the window ends without contact it is ``no_contactado``.
- Consent: a citizen's ``callback_consent`` and ``opted_out_at`` decide. A case without a
  citizen (anonymous, or not identified) is called only at the ``contact_phone`` given for
  that case: agents record that number only after asking "¿podemos llamarle a este número?",
  so the number itself is the consent; an opt-out recorded for the case withdraws it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from case_core.domain.errors import DomainError


class CallbackKind(StrEnum):
    SEGUIMIENTO = "seguimiento"
    SATISFACCION = "satisfaccion"


class CallbackStatus(StrEnum):
    PENDIENTE = "pendiente"
    EN_CURSO = "en_curso"
    COMPLETADA = "completada"
    NO_CONTACTADO = "no_contactado"
    TAREA_HUMANA = "tarea_humana"
    CANCELADA = "cancelada"
    REEMPLAZADA = "reemplazada"


LIVE_STATUSES = frozenset({CallbackStatus.PENDIENTE, CallbackStatus.EN_CURSO})
OPEN_STATUSES = LIVE_STATUSES | {CallbackStatus.TAREA_HUMANA}


class Outcome(StrEnum):
    """Result of one dialling attempt."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CONGESTION = "congestion"


class SurveyQuestion(StrEnum):
    RESUELTO = "resuelto"  # 1 sí, 2 no
    SATISFACCION = "satisfaccion"  # 1..5


SURVEY_ANSWERS: dict[SurveyQuestion, frozenset[str]] = {
    SurveyQuestion.RESUELTO: frozenset({"1", "2"}),
    SurveyQuestion.SATISFACCION: frozenset({"1", "2", "3", "4", "5"}),
}


@dataclass(frozen=True)
class CallingHours:
    """Local hours [start_hour, end_hour) on the given weekdays (0 = Monday), minus holidays."""

    tz: tzinfo
    start_hour: int = 8
    end_hour: int = 20
    weekdays: frozenset[int] = frozenset(range(6))
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not 0 <= self.start_hour < self.end_hour <= 24:
            raise ValueError("calling hours need 0 <= start < end <= 24")
        if not self.weekdays:
            raise ValueError("calling hours need at least one weekday")

    def is_calling_day(self, day: date) -> bool:
        """True when ``day`` (local) is a weekday with calls and not a holiday."""
        return day.weekday() in self.weekdays and day not in self.holidays

    def is_open(self, moment: datetime) -> bool:
        """True when a call may be placed at ``moment``."""
        local = _aware(moment).astimezone(self.tz)
        return self.is_calling_day(local.date()) and (self.start_hour <= local.hour < self.end_hour)

    def next_open(self, moment: datetime) -> datetime:
        """``moment`` itself when open, else the next opening (UTC)."""
        if self.is_open(moment):
            return moment
        local = moment.astimezone(self.tz)
        day = local.date()
        if not (self.is_calling_day(day) and local.hour < self.start_hour):
            day += timedelta(days=1)
            for _ in range(400):
                if self.is_calling_day(day):
                    break
                day += timedelta(days=1)
            else:  # pragma: no cover - a year without calling days is a configuration error
                raise ValueError("no calling day within a year")
        return _local(day, self.start_hour, self.tz)


def _local(day: date, hour: int, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class CallbackPolicy:
    """Every tunable of the callback rules."""

    hours: CallingHours
    followup_window: timedelta = timedelta(days=30)
    followup_fraction: float = 0.5
    satisfaction_window: timedelta = timedelta(days=3)
    satisfaction_delay: timedelta = timedelta(hours=2)
    retry_delays: tuple[timedelta, ...] = (
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=6),
    )
    max_attempts: int = 4
    followup_human_margin: timedelta = timedelta(hours=24)
    satisfaction_human_margin: timedelta = timedelta(hours=12)
    # An attempt still ``en_curso`` this long after it started lost its outcome (a crash).
    stale_after: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if not 0 < self.followup_fraction <= 1:
            raise ValueError("followup_fraction must be in (0, 1]")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not self.retry_delays or min(self.retry_delays) <= timedelta(0):
            raise ValueError("retry_delays must be positive")

    def window_length(self, kind: CallbackKind) -> timedelta:
        return (
            self.followup_window
            if CallbackKind(kind) is CallbackKind.SEGUIMIENTO
            else self.satisfaction_window
        )

    def human_margin(self, kind: CallbackKind) -> timedelta:
        return (
            self.followup_human_margin
            if CallbackKind(kind) is CallbackKind.SEGUIMIENTO
            else self.satisfaction_human_margin
        )

    def automatic_deadline(self, kind: CallbackKind, window_end_at: datetime) -> datetime:
        """The last moment an automatic attempt may start; the rest is for a human."""
        return window_end_at - self.human_margin(kind)

    def retry_delay(self, attempts: int) -> timedelta:
        """Delay after the ``attempts``-th failed attempt (growing, then the last repeated)."""
        return self.retry_delays[min(max(attempts, 1), len(self.retry_delays)) - 1]


def make_policy(
    tz: tzinfo,
    *,
    calling_hours: tuple[int, int] = (8, 20),
    weekdays: Iterable[int] = range(6),
    holidays: Iterable[str | date] = (),
    **overrides: object,
) -> CallbackPolicy:
    """A policy from configuration values (weekdays 0 = Monday, holidays as ISO dates)."""
    days = frozenset(d if isinstance(d, date) else date.fromisoformat(d) for d in holidays)
    hours = CallingHours(
        tz, calling_hours[0], calling_hours[1], weekdays=frozenset(weekdays), holidays=days
    )
    return CallbackPolicy(hours, **overrides)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Plan:
    """A new callback: its window and its first state."""

    kind: CallbackKind
    window_start_at: datetime
    window_end_at: datetime
    status: CallbackStatus  # pendiente | tarea_humana | no_contactado
    next_attempt_at: datetime | None


def plan_followup(
    *, opened_at: datetime, due_at: datetime, now: datetime, policy: CallbackPolicy
) -> Plan:
    """The follow-up of a case opened at ``opened_at`` and due at ``due_at``."""
    kind = CallbackKind.SEGUIMIENTO
    end = _aware(opened_at) + policy.followup_window
    target = opened_at + (min(_aware(due_at), end) - opened_at) * policy.followup_fraction
    return _plan(kind, opened_at, end, target, now, policy)


def plan_satisfaction(*, closed_at: datetime, now: datetime, policy: CallbackPolicy) -> Plan:
    """The satisfaction call of a case closed at ``closed_at``."""
    kind = CallbackKind.SATISFACCION
    end = _aware(closed_at) + policy.satisfaction_window
    return _plan(kind, closed_at, end, closed_at + policy.satisfaction_delay, now, policy)


def _plan(
    kind: CallbackKind,
    start: datetime,
    end: datetime,
    target: datetime,
    now: datetime,
    policy: CallbackPolicy,
) -> Plan:
    if _aware(now) >= end:
        return Plan(kind, start, end, CallbackStatus.NO_CONTACTADO, None)
    at = policy.hours.next_open(max(target, now))
    if at > policy.automatic_deadline(kind, end):
        return Plan(kind, start, end, CallbackStatus.TAREA_HUMANA, None)
    return Plan(kind, start, end, CallbackStatus.PENDIENTE, at)


@dataclass(frozen=True)
class Decision:
    """What becomes of a callback: its new status and, when pendiente, its next attempt."""

    status: CallbackStatus
    next_attempt_at: datetime | None = None


def after_attempt(
    *,
    kind: CallbackKind,
    outcome: Outcome,
    attempts: int,
    max_attempts: int,
    window_end_at: datetime,
    now: datetime,
    policy: CallbackPolicy,
) -> Decision:
    """After the ``attempts``-th attempt ended with ``outcome``: retry, hand over or close."""
    if Outcome(outcome) is Outcome.ANSWERED:
        return Decision(CallbackStatus.COMPLETADA)
    if _aware(now) >= window_end_at:
        return Decision(CallbackStatus.NO_CONTACTADO)
    if attempts >= max_attempts:
        return Decision(CallbackStatus.TAREA_HUMANA)
    at = policy.hours.next_open(now + policy.retry_delay(attempts))
    if at > policy.automatic_deadline(kind, window_end_at):
        return Decision(CallbackStatus.TAREA_HUMANA)
    return Decision(CallbackStatus.PENDIENTE, at)


def sweep(
    *,
    kind: CallbackKind,
    status: CallbackStatus,
    window_end_at: datetime,
    now: datetime,
    policy: CallbackPolicy,
) -> CallbackStatus | None:
    """The status a waiting callback moves to as time passes, or None when it stays."""
    status = CallbackStatus(status)
    if status not in (CallbackStatus.PENDIENTE, CallbackStatus.TAREA_HUMANA):
        return None
    if _aware(now) >= window_end_at:
        return CallbackStatus.NO_CONTACTADO
    if status is CallbackStatus.PENDIENTE and now > policy.automatic_deadline(kind, window_end_at):
        return CallbackStatus.TAREA_HUMANA
    return None


def still_wanted(*, kind: CallbackKind, case_closed: bool, may_call: bool) -> CallbackStatus | None:
    """None while the callback still makes sense, else the status that ends it.

    A follow-up of a case that was closed is replaced (by the satisfaction call); a
    satisfaction call of a reopened case, or any call without consent, is cancelled.
    """
    if not may_call:
        return CallbackStatus.CANCELADA
    if CallbackKind(kind) is CallbackKind.SEGUIMIENTO and case_closed:
        return CallbackStatus.REEMPLAZADA
    if CallbackKind(kind) is CallbackKind.SATISFACCION and not case_closed:
        return CallbackStatus.CANCELADA
    return None


@dataclass(frozen=True)
class CitizenContact:
    """What the rules need to know about a case's citizen."""

    callback_consent: bool
    opted_out_at: datetime | None
    phones: Sequence[str] = ()  # E.164, in the order they were added

    @property
    def may_call(self) -> bool:
        return self.callback_consent and self.opted_out_at is None


def may_call(*, citizen: CitizenContact | None, case_opted_out: bool) -> bool:
    """Consent to be called about this case (see the module docstring)."""
    if case_opted_out:
        return False
    return citizen is None or citizen.may_call


def callback_phone(
    *, contact_phone: str | None, citizen: CitizenContact | None, case_opted_out: bool = False
) -> str | None:
    """The number to call about a case, or None when it may not or cannot be called.

    The case's own ``contact_phone`` comes first; then the citizen's first mobile, then their
    first phone. A case without a citizen is called only at its ``contact_phone``.
    """
    if not may_call(citizen=citizen, case_opted_out=case_opted_out):
        return None
    if contact_phone:
        return contact_phone
    if citizen is None or not citizen.phones:
        return None
    mobiles = [p for p in citizen.phones if p.startswith("+5076") and len(p) == 12]
    return (mobiles or list(citizen.phones))[0]


def check_survey_answer(question: str, answer: str) -> tuple[SurveyQuestion, str]:
    """Validate one keypad answer; raise DomainError for an unknown question or key."""
    try:
        q = SurveyQuestion(question)
    except ValueError:
        raise DomainError(f"Pregunta de encuesta desconocida: {question!r}.") from None
    value = (answer or "").strip()
    if value not in SURVEY_ANSWERS[q]:
        raise DomainError(f"Respuesta no válida para {q.value}: {value!r}.")
    return q, value


def flags_review(question: SurveyQuestion, answer: str) -> bool:
    """True when the answer means the problem was not solved (the case needs review)."""
    return question is SurveyQuestion.RESUELTO and answer == "2"


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("callback rules need time-zone-aware datetimes")
    return moment
