"""Entity scorecards on a seeded October 2026 with cases of known dates."""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from case_core.db.models import CallbackRow, CaseRow, SurveyAnswerRow
from case_core.metrics.scorecards import scorecards

PANAMA = ZoneInfo("America/Panama")
OCT_START = datetime(2026, 10, 1, tzinfo=PANAMA)
NOV_START = datetime(2026, 11, 1, tzinfo=PANAMA)
AS_OF = datetime(2026, 11, 15, 12, 0, tzinfo=PANAMA)
_numbers = itertools.count(1)


def p(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=PANAMA)


def case(
    entity_id: int,
    opened: datetime,
    *,
    due: datetime,
    closed: datetime | None = None,
    first_action: datetime | None = None,
    province: str | None = None,
    district: str | None = None,
) -> CaseRow:
    return CaseRow(
        number=f"2026-{next(_numbers):06d}",
        type="queja",
        channel="telefono",
        status="cerrado" if closed else "asignado",
        entity_id=entity_id,
        description="caso de prueba",
        province=province,
        district=district,
        sla_days=10,
        opened_at=opened,
        due_at=due,
        first_action_at=first_action,
        closed_at=closed,
    )


async def seed_october(uow_factory) -> dict[str, int]:
    """IDAAN: 6 October cases (40 % closed in 30 days), MUPA: 2 (100 %). Returns entity ids."""
    async with uow_factory() as uow:
        s = uow.session
        ids = dict((await s.execute(text("SELECT code, id FROM entities"))).all())
        idaan, mupa = ids["IDAAN"], ids["MUPA"]
        pan = dict(province="Panamá", district="Panamá")
        a = case(idaan, p(10, 1), due=p(10, 11), closed=p(10, 10),
                 first_action=p(10, 1, 15), **pan)  # fmt: skip
        # opened Oct 2, closed at 23:00 on Nov 1 (day 30): still within 30 days
        b = case(idaan, p(10, 2), due=p(10, 12), closed=p(11, 1, 23),
                 first_action=p(10, 4), **pan)  # fmt: skip
        # opened Oct 3, closed Nov 3 08:00 (day 31): late; its closing is its first action
        c = case(idaan, p(10, 3), due=p(10, 13), closed=p(11, 3, 8),
                 province="Panamá", district="San Miguelito")  # fmt: skip
        d = case(idaan, p(10, 5), due=p(10, 15))  # open, 30 days over, no action
        e = case(idaan, p(10, 25, 10), due=p(11, 4), first_action=p(10, 25, 12))  # in term
        # closed after the cut-off: open as of Nov 15, 30 days over
        g = case(idaan, p(10, 10), due=p(10, 20), closed=p(11, 16))
        f = case(idaan, p(9, 20), due=p(10, 1))  # September: backlog only
        m1 = case(mupa, p(10, 6), due=p(10, 16), closed=p(10, 8), first_action=p(10, 6, 10), **pan)
        m2 = case(mupa, p(10, 31, 23, 30), due=p(11, 10), closed=p(11, 2),
                  first_action=p(11, 1, 8), **pan)  # fmt: skip
        s.add_all([a, b, c, d, e, g, f, m1, m2])
        await s.flush()
        cb_a = CallbackRow(case_id=a.id, kind="satisfaccion", phone="+50761234567",
                           window_start_at=p(10, 11), window_end_at=p(10, 12),
                           status="completada")  # fmt: skip
        cb_b = CallbackRow(case_id=b.id, kind="satisfaccion", phone="+50761234567",
                           window_start_at=p(11, 2), window_end_at=p(11, 3),
                           status="no_contactado")  # fmt: skip
        cb_f = CallbackRow(case_id=f.id, kind="satisfaccion", phone="+50761234567",
                           window_start_at=p(10, 2), window_end_at=p(10, 3),
                           status="completada")  # fmt: skip
        s.add_all([cb_a, cb_b, cb_f])
        await s.flush()
        for cb, case_row, question, answer, at in [
            (cb_a, a, "satisfaccion", "5", p(10, 11)),
            (cb_a, a, "resuelto", "1", p(10, 11)),  # another question: ignored
            (cb_b, b, "satisfaccion", "4", p(11, 2)),
            (cb_b, b, "satisfaccion", "1", p(11, 20)),  # after the cut-off: ignored
            (cb_f, f, "satisfaccion", "1", p(10, 2)),  # not in the cohort: ignored
        ]:
            s.add(
                SurveyAnswerRow(
                    callback_id=cb.id,
                    case_id=case_row.id,
                    question=question,
                    answer=answer,
                    answered_at=at,
                )  # fmt: skip
            )
        await uow.commit()
    return {"IDAAN": idaan, "MUPA": mupa}


async def test_given_a_seeded_october_then_every_entity_share_is_hand_computed(seeded):
    await seed_october(seeded)
    cards = {c.entity_code: c for c in await scorecards(seeded, OCT_START, NOV_START, PANAMA,
                                                        as_of=AS_OF)}  # fmt: skip
    idaan = cards["IDAAN"]
    assert (idaan.received, idaan.closed) == (6, 3)
    # within 30 days: a, b; decided: a, b, c (closed), d, g (30 days over); e is in term
    assert (idaan.closed_within_30d, idaan.closed_30d_decided) == (2, 5)
    assert idaan.closed_within_30d_percent == pytest.approx(40.0)
    assert idaan.below_goal
    # first action in 24 h: a, e; decided: every case (d and g have their 24 h over)
    assert (idaan.first_action_within_24h, idaan.first_action_decided) == (2, 6)
    # backlog as of Nov 15: d, e, g (closed only on Nov 16) and September's f
    assert idaan.open_past_due == 4
    assert (idaan.satisfaction_answers, idaan.satisfaction_avg) == (2, pytest.approx(4.5))
    assert idaan.callbacks_completed == 1

    mupa = cards["MUPA"]
    # m2 opened Oct 31 23:30 Panama time (Nov 1 in UTC): still an October case
    assert (mupa.received, mupa.closed_within_30d, mupa.closed_30d_decided) == (2, 2, 2)
    assert mupa.closed_within_30d_percent == 100.0 and not mupa.below_goal
    assert (mupa.first_action_within_24h, mupa.first_action_decided) == (2, 2)
    minsa = cards["MINSA"]
    assert (minsa.received, minsa.closed_within_30d_percent, minsa.below_goal) == (0, None, False)


async def test_given_an_earlier_cutoff_then_undecided_cases_leave_the_denominator(seeded):
    await seed_october(seeded)
    # As of Oct 20: a closed within; b, c, d, g still in term; e not opened yet.
    cards = await scorecards(seeded, OCT_START, NOV_START, PANAMA, as_of=p(10, 20))
    idaan = next(c for c in cards if c.entity_code == "IDAAN")
    assert (idaan.received, idaan.closed, idaan.closed_within_30d) == (5, 1, 1)
    assert idaan.closed_30d_decided == 1 and idaan.closed_within_30d_percent == 100.0
    # as_of defaults to min(end, now)
    default = await scorecards(seeded, OCT_START, NOV_START, PANAMA, now=p(10, 20))
    assert next(c for c in default if c.entity_code == "IDAAN") == idaan


async def test_given_cases_with_places_then_province_and_district_groups_add_up(seeded):
    await seed_october(seeded)
    by_district = await scorecards(seeded, OCT_START, NOV_START, PANAMA, by="district",
                                   as_of=AS_OF)  # fmt: skip
    groups = {(c.province, c.district): c for c in by_district}
    assert groups[("Panamá", "Panamá")].received == 4  # a, b, m1, m2
    assert groups[("Panamá", "San Miguelito")].received == 1
    assert groups[(None, None)].received == 3  # d, e, g
    assert groups[(None, None)].open_past_due == 4  # with September's f
    by_province = await scorecards(seeded, OCT_START, NOV_START, PANAMA, by="province",
                                   as_of=AS_OF)  # fmt: skip
    assert {c.province: c.received for c in by_province} == {"Panamá": 5, None: 3}
    ids = await seed_ids(seeded)
    idaan_districts = await scorecards(seeded, OCT_START, NOV_START, PANAMA,
                                       by="entity_district", as_of=AS_OF,
                                       entity_id=ids["IDAAN"])  # fmt: skip
    assert {(c.district, c.received) for c in idaan_districts} == {
        ("Panamá", 2),
        ("San Miguelito", 1),
        (None, 3),
    }
    assert all(c.entity_code == "IDAAN" for c in idaan_districts)


async def seed_ids(uow_factory) -> dict[str, int]:
    async with uow_factory() as uow:
        return dict((await uow.session.execute(text("SELECT code, id FROM entities"))).all())


def test_given_an_unknown_grouping_then_it_is_refused():
    import asyncio

    with pytest.raises(ValueError):
        asyncio.run(scorecards(None, OCT_START, NOV_START, PANAMA, by="street"))  # type: ignore[arg-type]
