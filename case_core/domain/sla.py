"""SLA arithmetic: pure functions of the start, the number of days and the time zone.

The Constitution of Panama (art. 41) gives authorities at most 30 days to answer a citizen's
petition. Services set their own SLA in calendar days, never above that. A case is due at the
end of the local calendar day that falls N days after its opening.
"""

from __future__ import annotations

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


def first_action_due_at(opened_at: datetime) -> datetime:
    """When the entity's first action is due (24 hours after opening)."""
    _require_aware(opened_at)
    return opened_at + timedelta(hours=FIRST_ACTION_HOURS)


def at_risk(due: datetime, now: datetime, *, margin: timedelta = timedelta(days=3)) -> bool:
    """True when an open case is within ``margin`` of its due moment or past it."""
    return now >= due - margin


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("SLA arithmetic needs time-zone-aware datetimes")
