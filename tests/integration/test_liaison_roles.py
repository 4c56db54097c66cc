"""Inside the entity (Res. 12/2017): Enlace Operativo, Enlace Ejecutivo and Enlace de
Contacto scoped to their entity (and office), and passing a case to an office."""

from __future__ import annotations

from sqlalchemy import select

from case_core.db.models import CaseHistoryRow, OfficeRow, UserRow
from tests.integration.test_desktop_support import (  # noqa: F401
    make_desktop_fixture,
    other_process_fixture,
)
from tests.integration.test_liaison import _browser, _case, _register

desktop = make_desktop_fixture()


async def _entity_people(uow_factory) -> tuple[int, int]:
    """IDAAN: an office in Colón with its Enlace de Contacto, and an Enlace Ejecutivo; a MUPA
    office. Returns (IDAAN Colón office id, MUPA office id)."""
    async with uow_factory() as uow:
        s = uow.session
        idaan = await uow.directory.entity_by_code("IDAAN")
        mupa = await uow.directory.entity_by_code("MUPA")
        colon = OfficeRow(entity_id=idaan.id, name="Regional de Colón", kind="regional")
        other = OfficeRow(entity_id=mupa.id, name="Junta comunal de Bethania", kind="sede")
        s.add_all([colon, other])
        await s.flush()
        s.add_all(
            [
                UserRow(
                    username="ejecutivo.idaan",
                    full_name="Marta Ríos",
                    role="liaison_exec",
                    entity_id=idaan.id,
                    password_hash="x",
                ),
                UserRow(
                    username="contacto.colon",
                    full_name="Pedro Ábrego",
                    role="liaison_contact",
                    entity_id=idaan.id,
                    office_id=colon.id,
                    password_hash="x",
                ),
            ]
        )
        await uow.commit()
        return colon.id, other.id


async def test_given_the_three_liaison_roles_then_office_scope_and_passing_a_case(desktop, panama):
    colon, mupa_office = await _entity_people(desktop.uow_factory)
    case = await _register(
        desktop.uow_factory, panama, entity="IDAAN", service="falta-agua", hours_ago=2
    )
    contact = await _browser(desktop, "contacto.colon")
    assert case.number not in await (await contact.get("/enlace")).text()
    assert (await contact.get(f"/enlace/casos/{case.id}")).status == 404
    assert (await contact.get(f"/casos/{case.number}")).status == 404

    operativo = await _browser(desktop, "enlace.idaan")
    page = await (await operativo.get(f"/enlace/casos/{case.id}")).text()
    assert "Regional de Colón" in page and "Junta comunal" not in page
    refused = await operativo.post(
        f"/enlace/casos/{case.id}/oficina", {"oficina": str(mupa_office)}
    )
    assert refused.status == 404
    r = await operativo.post(
        f"/enlace/casos/{case.id}/oficina", {"oficina": str(colon), "nota": "Zona de Colón."}
    )
    assert r.status == 303
    row = await _case(desktop.uow_factory, case.id)
    assert row.office_id == colon and row.first_action_at is not None
    async with desktop.uow_factory() as uow:
        entry = (
            await uow.session.scalars(
                select(CaseHistoryRow).where(
                    CaseHistoryRow.case_id == case.id, CaseHistoryRow.kind == "office"
                )
            )
        ).one()
    assert not entry.public and entry.note == "Pasado a Regional de Colón. Zona de Colón."
    listing = await (await operativo.get("/enlace")).text()
    assert "Regional de Colón" in listing

    # the Enlace de Contacto now sees and works it, but does not pass cases on
    assert case.number in await (await contact.get("/enlace")).text()
    assert (await contact.get(f"/enlace/casos/{case.id}")).status == 200
    note = await contact.post(
        f"/enlace/casos/{case.id}/nota", {"nota": "Visita el lunes.", "visibilidad": "publica"}
    )
    assert note.status == 303
    assert (await contact.post(f"/enlace/casos/{case.id}/oficina", {"oficina": ""})).status == 403

    # the Enlace Ejecutivo sees every case of the entity and may bring it back
    ejecutivo = await _browser(desktop, "ejecutivo.idaan")
    assert case.number in await (await ejecutivo.get("/enlace")).text()
    back = await ejecutivo.post(f"/enlace/casos/{case.id}/oficina", {"oficina": ""})
    assert back.status == 303 and (await _case(desktop.uow_factory, case.id)).office_id is None
    assert (await contact.get(f"/enlace/casos/{case.id}")).status == 404

    # the 3-1-1 case page tells the whole story with who did it
    supervisor = await _browser(desktop, "supervisor", page="/escritorio")
    timeline = await (await supervisor.get(f"/casos/{case.number}")).text()
    assert "Pasado a Regional de Colón. Zona de Colón." in timeline
    assert "Devuelto al equipo central." in timeline
    assert (
        timeline.index("Marta Ríos")
        < timeline.index("Pedro Ábrego")
        < timeline.index("Jorge Samudio")
    )
    # a liaison of another entity learns nothing
    mupa = await _browser(desktop, "enlace.mupa")
    assert (await mupa.get(f"/enlace/casos/{case.id}")).status == 404
