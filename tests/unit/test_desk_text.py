"""Spanish (es_PA) text through Babel: plurals, numbers, percentages, durations."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from agent_desktop.text import count, date_time, duration, number, percent


def test_given_counts_then_singular_only_for_one():
    assert count(1, "llamada", "llamadas") == "1 llamada"
    assert count(0, "abandono corto", "abandonos cortos") == "0 abandonos cortos"
    assert count(2, "respuesta", "respuestas") == "2 respuestas"
    assert count(1234, "llamada", "llamadas") == "1,234 llamadas"


def test_given_numbers_then_es_pa_uses_a_decimal_point():
    assert number(1234.5) == "1,234.5"
    assert number(3.14159, decimals=1) == "3.1"
    assert percent(0.905) == "90.5 %"
    assert percent(None) == "—"


def test_given_times_then_local_dates_and_durations():
    at = datetime(2026, 11, 2, 13, 5, tzinfo=UTC)
    assert date_time(at, ZoneInfo("America/Panama")) == "02/11/2026 08:05"
    assert duration(192) == "3 min 12 s"
    assert duration(3700) == "1 h 01 min"
    assert duration(7) == "7 s"
