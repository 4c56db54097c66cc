from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from case_core.db.models import EntityRow, ServiceRow, UserRow
from case_core.domain.errors import InvalidCedula
from case_core.security import verify_password
from case_core.seed.directory_data import DEMO_PASSWORD
from case_core.seed.loader import seed
from case_core.services.citizens import (
    CitizenData,
    identify_by_caller_id,
    identify_by_cedula,
    save_citizen,
    search_citizens,
)


async def _counts(uow_factory):
    async with uow_factory() as uow:
        s = uow.session
        return (
            (await s.execute(select(func.count()).select_from(EntityRow))).scalar(),
            (await s.execute(select(func.count()).select_from(ServiceRow))).scalar(),
            (await s.execute(select(func.max(ServiceRow.sla_days)))).scalar(),
        )


async def test_seeding_twice_changes_nothing(seeded):
    before = await _counts(seeded)
    report = await seed(seeded, now=datetime(2026, 12, 1, tzinfo=UTC), demo_users=True)
    assert before[0] >= 30 and before[2] <= 30
    assert await _counts(seeded) == before
    assert (report.entities, report.services, report.users, report.citizens) == (0, 0, 0, 0)
    async with seeded() as uow:
        user = (
            await uow.session.scalars(select(UserRow).where(UserRow.username == "agente1"))
        ).one()
    assert user.password_hash.startswith("$argon2")
    assert verify_password(user.password_hash, DEMO_PASSWORD)
    assert not verify_password(user.password_hash, "otra-clave")


async def test_citizen_found_by_cedula_phone_and_search(uow_factory):
    cid = await save_citizen(
        uow_factory,
        CitizenData(
            cedula="08-0123-04567", first_name="Juan", last_name="Pérez", phone="6123-4567"
        ),
    )
    again = await save_citizen(
        uow_factory,
        CitizenData(
            cedula="8-123-4567", first_name="Juan Carlos", last_name="Pérez", phone="61234567"
        ),
    )
    assert cid == again
    view = await identify_by_cedula(uow_factory, "8-123-4567")
    assert view.full_name == "Juan Carlos Pérez" and view.phones == ["+50761234567"]
    matches = await identify_by_caller_id(uow_factory, "+50761234567")
    assert [m.id for m in matches] == [cid]
    assert await identify_by_caller_id(uow_factory, "anonymous") == []
    assert [c.id for c in await search_citizens(uow_factory, "carlos")] == [cid]
    with pytest.raises(InvalidCedula):
        await save_citizen(uow_factory, CitizenData(cedula="99-1-1", first_name="X", last_name="Y"))


async def test_an_anonymous_call_is_not_listed_with_the_phone_owners_calls(uow_factory):
    from datetime import UTC, datetime

    from case_core.db.models import CallRow

    at = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    async with uow_factory() as uow:
        for uniqueid, variables in (("1.1", {}), ("2.1", {"CAC311_ANONYMOUS": "1"})):
            uow.session.add(
                CallRow(
                    server="pbx1",
                    uniqueid=uniqueid,
                    caller_number="61234567",
                    entered_at=at,
                    ivr_variables=variables,
                )
            )
        await uow.commit()
    async with uow_factory() as uow:
        calls = await uow.calls.for_citizen_phones(["61234567"])
    assert [c.uniqueid for c in calls] == ["1.1"]
