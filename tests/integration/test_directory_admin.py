"""The entity directory kept by 3-1-1 and the entities (issue 11): an Enlace Ejecutivo's SLA
change and an entity's article take effect only once a 3-1-1 supervisor approves them; the
before/after values are kept; stale SLA templates are listed; agents find articles by free,
accent-less text."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from case_core.db.models import KnowledgeArticleRow, ServiceRow
from case_core.db.models.admin import AdminAuditRow, DirectoryChangeRow
from case_core.domain.roles import Actor, Role
from case_core.services.directory_admin import stale_entities
from case_core.services.user_admin import create_user
from tests.integration.test_desktop_support import (  # noqa: F401
    CSRF_RE,
    PASSWORD,
    make_desktop_fixture,
)

desktop = make_desktop_fixture()
LIAISON_PASSWORD = "marea-alta-boquete-19"


async def _login(desk, username, password=PASSWORD):  # type: ignore[no-untyped-def]
    client = await desk.client()
    token = CSRF_RE.search(await (await client.get("/login")).text()).group(1)
    response = await client.post(
        "/login",
        data={"usuario": username, "contrasena": password, "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 302, await response.text()
    return client


async def _token(client, path):  # type: ignore[no-untyped-def]
    return CSRF_RE.search(await (await client.get(path)).text()).group(1)


async def _exec_of(desk, code: str, username: str, role: Role = Role.LIAISON_EXEC):  # type: ignore[no-untyped-def]
    async with desk.uow_factory() as uow:
        entity = await uow.directory.entity_by_code(code)
    await create_user(
        desk.uow_factory,
        actor=Actor(None, "prueba", Role.ADMIN),
        username=username,
        full_name="Enlace de prueba",
        role=role,
        password=LIAISON_PASSWORD,
        now=desk.clock(),
        entity_id=entity.id,
        must_change_password=False,
    )
    return entity


async def _service(desk, entity_id, code):  # type: ignore[no-untyped-def]
    async with desk.uow_factory() as uow:
        return await uow.session.scalar(
            select(ServiceRow).where(ServiceRow.entity_id == entity_id, ServiceRow.code == code)
        )


async def test_given_an_exec_liaison_proposal_then_the_sla_changes_only_after_approval(desktop):
    idaan = await _exec_of(desktop, "IDAAN", "ejecutivo.idaan")
    fuga = await _service(desktop, idaan.id, "fuga")
    assert fuga.sla_days == 5
    liaison = await _login(desktop, "ejecutivo.idaan", LIAISON_PASSWORD)
    token = await _token(liaison, f"/directorio/entidades/{idaan.id}")
    form = {
        "csrf_token": token,
        "nombre": fuga.name,
        "plazo": "7",
        "responde": "Dirección de Operaciones",
        "requisitos": "Dirección exacta y punto de referencia",
        "activo": "1",
    }
    too_long = await liaison.post(f"/directorio/servicios/{fuga.id}", data={**form, "plazo": "31"})
    assert too_long.status == 400 and "máximo legal de 30 días" in await too_long.text()
    sent = await liaison.post(f"/directorio/servicios/{fuga.id}", data=form)
    assert sent.status == 200 and "cuando el 3-1-1 la apruebe" in await sent.text()
    assert (await _service(desktop, idaan.id, "fuga")).sla_days == 5  # not yet

    # Another entity's service: not even visible.
    mupa = await _exec_of(desktop, "MUPA", "ejecutivo.mupa")
    other = await _service(desktop, mupa.id, (await _first_code(desktop, mupa.id)))
    refused = await liaison.post(f"/directorio/servicios/{other.id}", data=form)
    assert refused.status == 404
    assert (await liaison.get(f"/directorio/entidades/{mupa.id}")).status == 404
    cannot_decide = await liaison.post("/directorio/propuestas/1/aprobar", data=form)
    assert cannot_decide.status == 403

    supervisor = await _login(desktop, "supervisor")
    page = await supervisor.get("/directorio/propuestas")
    text = await page.text()
    assert "Dirección de Operaciones" in text and "IDAAN" in text
    async with desktop.uow_factory() as uow:
        change = await uow.session.scalar(select(DirectoryChangeRow))
    token = await _token(supervisor, "/directorio/propuestas")
    desktop.clock.advance(minutes=30)
    approved = await supervisor.post(
        f"/directorio/propuestas/{change.id}/aprobar", data={"csrf_token": token}
    )
    assert approved.status == 200 and "Propuesta aprobada" in await approved.text()
    fuga = await _service(desktop, idaan.id, "fuga")
    assert (fuga.sla_days, fuga.who_answers) == (7, "Dirección de Operaciones")
    assert fuga.reviewed_at == desktop.clock.now
    async with desktop.uow_factory() as uow:
        change = await uow.session.get(DirectoryChangeRow, change.id)
        audit = (await uow.session.scalars(select(AdminAuditRow).order_by(AdminAuditRow.id))).all()
    assert change.status == "aprobado" and change.before["sla_days"] == 5
    assert change.after["sla_days"] == 7 and change.decided_at == desktop.clock.now
    actions = [(a.actor_username, a.action) for a in audit if a.object_type != "user"]
    assert actions == [("ejecutivo.idaan", "service.propose"), ("supervisor", "service.approve")]
    assert audit[-1].before["sla_days"] == 5 and audit[-1].after["sla_days"] == 7
    again = await supervisor.post(
        f"/directorio/propuestas/{change.id}/rechazar", data={"csrf_token": token}
    )
    assert again.status == 400 and "ya está aprobado" in await again.text()


async def _first_code(desk, entity_id):  # type: ignore[no-untyped-def]
    async with desk.uow_factory() as uow:
        return await uow.session.scalar(
            select(ServiceRow.code).where(ServiceRow.entity_id == entity_id).limit(1)
        )


async def test_given_unreviewed_templates_then_the_supervisor_sees_the_entity_until_reviewed(
    desktop,
):
    now = desktop.clock()
    stale = {e.code for e, _, _ in await stale_entities(desktop.uow_factory, now=now)}
    assert "IDAAN" in stale  # the seed's services were never reviewed
    async with desktop.uow_factory() as uow:
        idaan = await uow.directory.entity_by_code("IDAAN")
        rows = (
            await uow.session.scalars(select(ServiceRow).where(ServiceRow.entity_id == idaan.id))
        ).all()
        for row in rows:
            row.reviewed_at = now - timedelta(days=200)
        await uow.commit()
    stale = {e.code for e, _, _ in await stale_entities(desktop.uow_factory, now=now)}
    assert "IDAAN" not in stale
    later = now + timedelta(days=170)
    stale = {e.code for e, _, _ in await stale_entities(desktop.uow_factory, now=later)}
    assert "IDAAN" in stale
    async with desktop.uow_factory() as uow:
        article = await uow.session.scalar(
            select(KnowledgeArticleRow).where(KnowledgeArticleRow.slug == "reclamo-factura")
        )
        article.review_on = (now - timedelta(days=1)).date()
        await uow.commit()
    supervisor = await _login(desktop, "supervisor")
    page = await supervisor.get("/directorio")
    text = await page.text()
    assert page.status == 200 and "Plantillas sin revisar en 12 meses" in text
    assert "IDAAN: Cómo reclamar una factura de agua" in text


async def test_given_an_entity_article_then_agents_find_it_by_accentless_words_once_published(
    desktop,
):
    idaan = await _exec_of(desktop, "IDAAN", "operativo.idaan", Role.LIAISON)
    liaison = await _login(desktop, "operativo.idaan", LIAISON_PASSWORD)
    token = await _token(liaison, f"/directorio/entidades/{idaan.id}")
    body = (
        "<p>El <strong>camión cisterna</strong> llega en 24 horas a la zona afectada.</p>"
        '<script>alert("x")</script><p onclick="robar()">Llame al 311.</p>'
        '<a href="javascript:robar()">aquí</a>'
    )
    sent = await liaison.post(
        f"/directorio/entidades/{idaan.id}/articulos",
        data={"csrf_token": token, "titulo": "Reparto de agua en camión", "cuerpo": body},
    )
    assert sent.status == 200 and "cuando el 3-1-1 lo apruebe" in await sent.text()
    agent = await desktop.login("agente1", form=False)
    pending = await agent.client.get("/api/articulos?q=camion cisterna")
    assert (await pending.json())["results"] == []

    supervisor = await _login(desktop, "supervisor")
    token = await _token(supervisor, "/directorio/propuestas")
    async with desktop.uow_factory() as uow:
        change = await uow.session.scalar(select(DirectoryChangeRow))
    assert "<script" not in change.after["body"] and "onclick" not in change.after["body"]
    approved = await supervisor.post(
        f"/directorio/propuestas/{change.id}/aprobar", data={"csrf_token": token}
    )
    assert approved.status == 200

    found = await (await agent.client.get("/api/articulos?q=CAMION cisterna")).json()
    assert [r["title"] for r in found["results"]] == ["Reparto de agua en camión"]
    hit = found["results"][0]
    assert hit["entity"] == "IDAAN" and "<strong>camión cisterna</strong>" in hit["body"]
    assert "script" not in hit["body"] and "javascript:" not in hit["body"]
    # The seed's articles are searchable the same way, by title or text, without accents.
    seeded = await (await agent.client.get("/api/articulos?q=como reclamar factura")).json()
    assert "Cómo reclamar una factura de agua" in [r["title"] for r in seeded["results"]]
    nothing = await (await agent.client.get("/api/articulos?q=zzzz")).json()
    assert nothing["results"] == []
    async with desktop.uow_factory() as uow:
        article = await uow.session.scalar(
            select(KnowledgeArticleRow).where(KnowledgeArticleRow.title.like("Reparto%"))
        )
    assert article.status == "publicado" and article.review_on is not None
    liaison_search = await liaison.get("/api/articulos?q=agua")
    assert liaison_search.status == 403


async def test_given_an_exec_liaison_then_offices_and_contacts_are_kept_for_its_entity_only(
    desktop,
):
    from case_core.db.models import OfficeRow
    from case_core.db.models.admin import EntityContactRow

    idaan = await _exec_of(desktop, "IDAAN", "ejecutivo.idaan")
    mupa = await _exec_of(desktop, "MUPA", "ejecutivo.mupa")
    liaison = await _login(desktop, "ejecutivo.idaan", LIAISON_PASSWORD)
    token = await _token(liaison, f"/directorio/entidades/{idaan.id}")
    office = await liaison.post(
        f"/directorio/entidades/{idaan.id}/oficinas",
        data={
            "csrf_token": token,
            "nombre": "Regional de Chiriquí",
            "tipo": "regional",
            "provincia": "Chiriquí",
            "direccion": "Calle Central, David",
            "horario": "L-V 8:00-16:00",
            "telefonos": "775-0000",
        },
    )
    assert office.status == 200 and "Regional de Chiriquí" in await office.text()
    async with desktop.uow_factory() as uow:
        row = await uow.session.scalar(select(OfficeRow))
    contact = await liaison.post(
        f"/directorio/entidades/{idaan.id}/contactos",
        data={
            "csrf_token": token,
            "nombre": "Ing. Ana Ríos",
            "cargo": "Directora regional",
            "telefono": "775-0001",
            "oficina": str(row.id),
        },
    )
    assert contact.status == 200 and "Ing. Ana Ríos" in await contact.text()
    async with desktop.uow_factory() as uow:
        person = await uow.session.scalar(select(EntityContactRow))
    off = await liaison.post(
        f"/directorio/contactos/{person.id}/desactivar", data={"csrf_token": token}
    )
    assert off.status == 200 and "Inactivo" in await off.text()
    other = await _login(desktop, "ejecutivo.mupa", LIAISON_PASSWORD)
    other_token = await _token(other, f"/directorio/entidades/{mupa.id}")
    refused = await other.post(
        f"/directorio/oficinas/{row.id}/desactivar", data={"csrf_token": other_token}
    )
    assert refused.status == 403
    foreign = await other.post(
        f"/directorio/entidades/{idaan.id}/oficinas",
        data={"csrf_token": other_token, "nombre": "X", "tipo": "sede"},
    )
    assert foreign.status == 404
    async with desktop.uow_factory() as uow:
        actions = (
            await uow.session.scalars(
                select(AdminAuditRow.action).where(AdminAuditRow.object_type != "user")
            )
        ).all()
    assert actions == ["office.create", "contact.create", "contact.disable"]
