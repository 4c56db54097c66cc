"""The timeline merge is pure: newest first, ties in source order reversed; sources plug in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from case_core.services import case_timeline
from case_core.services.case_timeline import TimelineEntry, merge_timeline, register_source

T = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def entry(minutes: int, title: str, seq: int = 0) -> TimelineEntry:
    return TimelineEntry(at=T + timedelta(minutes=minutes), kind="x", title=title, seq=seq)


def test_given_facts_of_several_kinds_then_merged_newest_first():
    history = [entry(0, "registro", 1), entry(0, "asignacion", 2), entry(30, "nota", 3)]
    calls = [entry(-5, "llamada"), entry(45, "devolucion de llamada")]
    merged = merge_timeline(history, calls, [])
    assert [e.title for e in merged] == [
        "devolucion de llamada",
        "nota",
        "asignacion",  # same instant as the registration, written after it
        "registro",
        "llamada",
    ]
    assert merge_timeline() == []


def test_given_a_new_kind_of_fact_then_registering_it_adds_it_to_every_timeline():
    async def audits(session, ctx):  # type: ignore[no-untyped-def]
        return [entry(10, "auditoria")]

    before = list(case_timeline.TIMELINE_SOURCES)
    try:
        register_source(audits)
        register_source(audits)  # once only
        assert case_timeline.TIMELINE_SOURCES == [*before, audits]
    finally:
        case_timeline.TIMELINE_SOURCES[:] = before
