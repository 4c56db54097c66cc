"""Quality rules without a database: weeks, the stratified seeded draw, the checklist,
assignments and action plans."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from case_core.domain import quality as q
from case_core.domain.roles import Actor, Role

PANAMA = ZoneInfo("America/Panama")


def test_given_iso_weeks_then_bounds_are_local_mondays_and_bad_ones_refused():
    start, end = q.week_bounds("2026-W48", PANAMA)
    assert start == datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert q.week_of(datetime(2026, 11, 30, 4, 59, tzinfo=UTC), PANAMA) == "2026-W48"
    assert q.week_of(datetime(2026, 11, 30, 5, 0, tzinfo=UTC), PANAMA) == "2026-W49"
    assert q.shift_week("2026-W53", 1) == "2027-W01"
    assert q.previous_week(datetime(2026, 11, 25, tzinfo=UTC), PANAMA) == "2026-W47"
    for bad in ("2026-48", "2026-W54", "2025-W53", "W48", ""):
        with pytest.raises(q.InvalidWeek):
            q.parse_week(bad)


def test_given_candidates_then_draw_is_seeded_stratified_and_all_when_fewer():
    pool = [
        q.Candidate(i, t) for i, t in enumerate(["queja"] * 6 + ["consulta"] * 2 + ["denuncia"])
    ]
    seed = q.sample_seed("2026-W47", "entidad:7")
    first = q.draw_sample(pool, size=3, seed=seed)
    assert first == q.draw_sample(list(reversed(pool)), size=3, seed=seed)  # order-free
    assert {c.stratum for c in first} == {"queja", "consulta", "denuncia"}
    assert q.draw_sample(pool[:2], size=3, seed=seed) == pool[:2]
    draws = {tuple(c.id for c in q.draw_sample(pool, size=3, seed=s)) for s in range(20)}
    assert len(draws) > 1
    assert q.sample_seed("2026-W47", "entidad:7") != q.sample_seed("2026-W48", "entidad:7")
    with pytest.raises(ValueError):
        q.draw_sample(pool, size=0, seed=1)


def test_given_a_checklist_then_every_criterion_must_be_scored():
    criteria = q.criteria_for(phone=False)
    assert all(not c.phone_only for c in criteria)
    assert {c.code for c in q.criteria_for(phone=True)} >= {"saludo", "identidad", "lectura_numero"}
    answers = {c.code: "cumple" for c in criteria}
    scored = q.score_checklist(
        criteria, {**answers, "plazo": "no_aplica", "respuesta": "no_cumple"}
    )
    assert (scored.met, scored.scored) == (len(criteria) - 2, len(criteria) - 1)
    assert q.suggested_result(q.score_checklist(criteria, answers)) is q.AuditResult.SATISFACTORIO
    with pytest.raises(q.InvalidScores, match="Califique"):
        q.score_checklist(criteria, {**answers, "registro": "quizas"})


def test_given_assignments_and_plans_then_rules_hold():
    with pytest.raises(q.AssignmentError, match="25"):
        q.check_assignment(
            active_entity_ids=range(25), entity_id=99, starts_on=date(2026, 1, 1), ends_on=None
        )
    with pytest.raises(q.AssignmentError):
        q.check_assignment(
            active_entity_ids=[], entity_id=1, starts_on=date(2026, 2, 1), ends_on=date(2026, 1, 1)
        )
    q.check_assignment(
        active_entity_ids=range(24), entity_id=99, starts_on=date(2026, 1, 1), ends_on=None
    )
    assert q.plan_overdue(q.PlanStatus.EN_CURSO, date(2026, 11, 1), date(2026, 11, 2))
    assert not q.plan_overdue(q.PlanStatus.CUMPLIDO, date(2026, 11, 1), date(2026, 11, 2))
    with pytest.raises(q.PlanError):
        q.check_plan_transition(q.PlanStatus.CUMPLIDO, q.PlanStatus.ABIERTO)
    assert q.can_read_entity_audits(Actor(1, "e", Role.LIAISON_EXEC, 5), 5)
    assert not q.can_read_entity_audits(Actor(1, "e", Role.LIAISON_CONTACT, 5), 5)
    assert not q.can_read_entity_audits(Actor(1, "e", Role.LIAISON, 6), 5)
    assert [q.age_band(d) for d in (1, 7, 8, 30, 31)] == [
        "1 a 7 días",
        "1 a 7 días",
        "8 a 15 días",
        "16 a 30 días",
        "más de 30 días",
    ]


def test_given_hostile_labels_then_the_svg_charts_escape_them():
    from xml.etree import ElementTree

    from agent_desktop.quality.charts import bar_pairs, line_chart

    evil = '"><script>alert(1)</script>'
    for svg in (
        line_chart([("2026-W47", 50.0), ("2026-W48", None), (evil, 80.0)], title=evil, goal=80),
        bar_pairs([(evil, 3, 2)], title=evil),
    ):
        assert "<script>" not in svg
        ElementTree.fromstring(svg)  # well-formed XML
