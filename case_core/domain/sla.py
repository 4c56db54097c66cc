"""SLA arithmetic: pure functions of the start, the number of days and the time zone.

The Constitution of Panama (art. 41) gives authorities at most 30 days to answer a citizen's
petition. Services set their own SLA in calendar days, never above that. A case is due at the
end of the local calendar day that falls N days after its opening.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from case_core.domain.errors import InvalidSla

LEGAL_MAX_DAYS = 30
FIRST_ACTION_HOURS = 24


def check_sla_days(days: int) -> int:
    """Return days when 1 <= days <= 30, else raise InvalidSla."""
    if not isinstance(days, int) or isinstance(days, bool):
        raise InvalidSla("El plazo del servicio debe ser un número entero de días.")
    if days < 1:
        raise InvalidSla("El plazo del servicio debe ser de al menos 1 día.")
    if days > LEGAL_MAX_DAYS:
        raise InvalidSla(
            f"El plazo del servicio ({days} días) supera el máximo legal de {LEGAL_MAX_DAYS} días."
        )
    return days


def due_at(opened_at: datetime, days: int, tz: tzinfo) -> datetime:
    """The moment (UTC) a case opened at ``opened_at`` with an SLA of ``days`` falls due."""
    _require_aware(opened_at)
    days = check_sla_days(days)
    local_day: date = opened_at.astimezone(tz).date() + timedelta(days=days)
    end_of_day = datetime.combine(local_day, time(23, 59, 59), tzinfo=tz)
    return end_of_day.astimezone(UTC)


def days_left(due: datetime, now: datetime, tz: tzinfo) -> int:
    """Whole local calendar days from today to the due day; negative when overdue."""
    _require_aware(due)
    _require_aware(now)
    return (due.astimezone(tz).date() - now.astimezone(tz).date()).days


def first_action_due_at(assigned_at: datetime) -> datetime:
    """When the entity's first action is due: 24 hours after it received the case (its
    ``assigned_at``: the registration, or the latest reassignment)."""
    _require_aware(assigned_at)
    return assigned_at + timedelta(hours=FIRST_ACTION_HOURS)


@dataclass(frozen=True)
class RiskPolicy:
    """When an open case is "at risk": in the last ``fraction`` of its SLA, and never less
    than ``min_days`` before its due moment (a 3-day service is not at risk on its first
    evening; a 30-day one is at risk in its last 6 days)."""

    fraction: float = 0.2
    min_days: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.fraction <= 1:
            raise ValueError("the at-risk fraction must be in (0, 1]")
        if self.min_days < 0:
            raise ValueError("the at-risk minimum must not be negative")

    @classmethod
    def from_percent(cls, percent: int, min_days: float) -> RiskPolicy:
        return cls(fraction=percent / 100, min_days=min_days)

    def margin(self, sla_days: int) -> timedelta:
        return timedelta(days=max(self.min_days, self.fraction * sla_days))

    @property
    def widest_margin(self) -> timedelta:
        """The margin of the longest legal SLA (bounds a query for at-risk candidates)."""
        return self.margin(LEGAL_MAX_DAYS)


DEFAULT_RISK = RiskPolicy()


def at_risk(
    due: datetime, now: datetime, sla_days: int, *, policy: RiskPolicy = DEFAULT_RISK
) -> bool:
    """True when an open case with an SLA of ``sla_days`` is in the at-risk part of it, or
    past its due moment."""
    return now >= due - policy.margin(sla_days)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("SLA arithmetic needs time-zone-aware datetimes")
