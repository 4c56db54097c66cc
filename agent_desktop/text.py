"""Spanish (Panama) text: plurals, numbers, percentages and dates through Babel (CLDR es_PA).

Templates get these as filters (``{{ n|cantidad("llamada", "llamadas") }}``,
``{{ x|porcentaje }}``, ``{{ when|fecha_hora(tz) }}``) so no page glues "1 llamadas".
"""

from __future__ import annotations

from datetime import datetime, tzinfo

import jinja2
from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

LOCALE = Locale.parse("es_PA")


def number(value: float | int | None, *, decimals: int | None = None) -> str:
    """1234.5 -> "1,234.5" (es_PA groups with commas and uses a decimal point)."""
    if value is None:
        return "—"
    if decimals is None:
        return format_decimal(value, locale=LOCALE)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=LOCALE)


def count(value: int | None, one: str, other: str) -> str:
    """``count(1, "llamada", "llamadas")`` -> "1 llamada"; 0 and 2+ take the plural."""
    if value is None:
        return "—"
    word = one if LOCALE.plural_form(value) == "one" else other
    return f"{number(value)} {word}"


def percent(ratio: float | None, *, decimals: int = 1) -> str:
    """0.905 -> "90.5 %" (None -> "—", nothing to divide)."""
    if ratio is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + " %"
    return format_percent(ratio, format=pattern, locale=LOCALE)


def date(value: datetime | None, tz: tzinfo | None = None) -> str:
    """A day as people write it here: 02/11/2026."""
    if value is None:
        return "—"
    return format_date(value.astimezone(tz) if tz else value, "dd/MM/yyyy", locale=LOCALE)


def date_time(value: datetime | None, tz: tzinfo | None = None) -> str:
    """02/11/2026 08:05."""
    if value is None:
        return "—"
    return format_datetime(value, "dd/MM/yyyy HH:mm", tzinfo=tz, locale=LOCALE)


def duration(seconds: float | None) -> str:
    """Seconds as "3 min 12 s" / "1 h 05 min" / "45 s"."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def install(env: jinja2.Environment) -> None:
    """Register the filters on a jinja2 environment."""
    env.filters["cantidad"] = count
    env.filters["numero"] = number
    env.filters["porcentaje"] = percent
    env.filters["fecha"] = date
    env.filters["fecha_hora"] = date_time
    env.filters["duracion"] = duration
