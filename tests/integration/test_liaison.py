"""Liaison portal: entity-scoped list, case page and forms (real PostgreSQL, aiohttp TestServer)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from yarl import URL

from agent_desktop.auth import COOKIE
from agent_desktop.sessions import create_session
from case_core.db.models import CaseHistoryRow, CaseRow
from case_core.domain.case import CaseType, Channel
from case_core.domain.roles import Actor, Role
from case_core.services.cases import RegisterCase, register_case
from tests.integration.test_desktop_support import (  # noqa: F401
    CSRF_RE,
    PASSWORD,
    START,
    make_desktop_fixture,
    other_process_fixture,
)

desktop = make_desktop_fixture()


async def _register(
    uow_factory,
    panama,
    *,
    entity: str,
    service: str,
    hours_ago: float,
    case_type: CaseType = CaseType.QUEJA,
    anonymous: bool = False,
    citizen_cedula: str | None = None,
    phone: str | None = None,
):
    async with uow_factory() as uow:
        e = await uow.directory.entity_by_code(entity)
        s = await uow.directory.service_by_code(e.id, service)
        agent = await uow.users.by_username("agente1")
        citizen = await uow.citizens.by_cedula(citizen_cedula) if citizen_cedula else None
    return await register_case(
        uow_factory,
        RegisterCase(
            type=case_type,
            channel=Channel.TELEFONO,
            entity_id=e.id,
            service_id=s.id,
            description="No llega agua desde el lunes en la calle 5.",
            citizen_id=citizen.id if citizen else None,
            anonymous=anonymous,
            confidential=anonymous,
            contact_phone=phone,
        ),
        actor=Actor(agent.id, agent.username, Role.AGENT),
        now=START - timedelta(hours=hours_ago),
        tz=panama,
    )


class Browser:
    """A logged-in client with its session's CSRF token (read from the page's logout form)."""

    def __init__(self, client, csrf: str) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.csrf = csrf

    async def get(self, path: str):  # type: ignore[no-untyped-def]
        return await self.client.get(path, allow_redirects=False)

    async def post(self, path: str, data: dict, *, csrf: bool = True):  # type: ignore[no-untyped-def]
        body = {"csrf_token": self.csrf, **data} if csrf else data
        return await self.client.post(path, data=body, allow_redirects=False)


async def _browser(desktop, username: str, page: str = "/enlace") -> Browser:
    """A session opened directly in the store (no Argon2, faster than the login form)."""
    async with desktop.uow_factory() as uow:
        user = await uow.users.by_username(username)
    token = await create_session(
        desktop.uow_factory, user_id=user.id, now=desktop.clock(), max_age_seconds=8 * 3600
    )
    client = await desktop.client()
    client.session.cookie_jar.update_cookies({COOKIE: token}, URL(desktop.origin))
    match = CSRF_RE.search(await (await client.get(page)).text())
    return Browser(client, match.group(1) if match else "")


async def _case(uow_factory, case_id: int) -> CaseRow:
    async with uow_factory() as uow:
        return await uow.cases.get(case_id)


async def _history(uow_factory, case_id: int) -> list[CaseHistoryRow]:
    async with uow_factory() as uow:
        return list(await uow.cases.history(case_id))


async def test_given_liaison_when_logging_in_through_the_form_then_lands_on_enlace(desktop):
    for username, landing in (("enlace.idaan", "/enlace"), ("agente1", "/escritorio")):
        client = await desktop.client()
        token = CSRF_RE.search(await (await client.get("/login")).text()).group(1)
        response = await client.post(
            "/login",
            data={
                "usuario": username,
                "contrasena": PASSWORD,
                "csrf_token": token,
                "siguiente": "/escritorio",
            },
            allow_redirects=False,
        )
        assert response.status == 302 and response.headers["Location"] == landing, username
    page = await client.get("/enlace")  # the agent's client
    assert page.status == 403


async def test_given_cases_of_two_entities_then_liaison_lists_only_own_by_due_date(desktop, panama):
    old = await _register(
        desktop.uow_factory, panama, entity="IDAAN", service="falta-agua", hours_ago=30
    )
    fresh = await _register(
        desktop.uow_factory, panama, entity="IDAAN", service="falta-agua", hours_ago=2
    )
    anonymous = await _register(
        desktop.uow_factory,
        panama,
        entity="IDAAN",
        service="falta-agua",
        hours_ago=1,
        case_type=CaseType.DENUNCIA,
        anonymous=True,
        phone="69990001",
    )
    mupa = await _register(desktop.uow_factory, panama, entity="MUPA", service="aseo", hours_ago=1)
    idaan = await _browser(desktop, "enlace.idaan")
    page = await idaan.get("/enlace")
    text = await page.text()
    assert page.status == 200
    assert old.number in text and fresh.number in text and anonymous.number in text
    assert mupa.number not in text
    # earliest due first: the 30-hour-old case falls due a day before the others
    assert text.index(old.number) < text.index(fresh.number)
    assert "primera acción pendiente" in text
    assert "quedan 22 h de 24" in text  # fresh: opened 2 h ago
    assert "plazo de 24 h vencido hace 6 h" in text  # old: opened 30 h ago
    assert "Confidencial" in text
    # IDAAN falta-agua: a 3-day SLA is at risk in its last day only (the old fixed 3-day
    # margin flagged it from the first evening)
    assert "en riesgo" not in text
    assert "Casos de mi entidad" in text  # the nav link liaisons see

    mupa_liaison = await _browser(desktop, "enlace.mupa")
    other = await mupa_liaison.get("/enlace")
    other_text = await other.text()
    assert mupa.number in other_text and old.number not in other_text


async def test_given_anonymous_denuncia_then_liaison_sees_it_without_identity(desktop, panama):
    anonymous = await _register(
        desktop.uow_factory,
        panama,
        entity="IDAAN",
        service="falta-agua",
        hours_ago=1,
        case_type=CaseType.DENUNCIA,
        anonymous=True,
        phone="69990001",
    )
    named = await _register(
        desktop.uow_factory,
        panama,
        entity="IDAAN",
        service="falta-agua",
        hours_ago=1,
        citizen_cedula="8-123-4567",
        phone="69990002",
    )
    idaan = await _browser(desktop, "enlace.idaan")
    page = await idaan.get(f"/enlace/casos/{anonymous.id}")
    text = await page.text()
    assert page.status == 200 and anonymous.number in text
    assert "identidad reservada" in text and "6999-0001" not in text and "69990001" not in text
    named_text = await (await idaan.get(f"/enlace/casos/{named.id}")).text()
    assert "8-123-4567" in named_text


async def test_given_case_of_another_entity_then_404_for_page_and_forms(desktop, panama):
    mupa = await _register(desktop.uow_factory, panama, entity="MUPA", service="aseo", hours_ago=1)
    idaan = await _browser(desktop, "enlace.idaan")
    page = await idaan.get(f"/enlace/casos/{mupa.id}")
    assert page.status == 404 and mupa.number not in await page.text()
    assert (await idaan.get("/enlace/casos/999999")).status == 404
    posted = await idaan.post(f"/enlace/casos/{mupa.id}/iniciar", {})
    assert posted.status == 404
    assert (await _case(desktop.uow_factory, mupa.id)).status == "asignado"


async def test_given_liaison_forms_then_start_note_and_close_update_case_and_history(
    desktop, panama
):
    case = await _register(
        desktop.uow_factory, panama, entity="IDAAN", service="falta-agua", hours_ago=3
    )
    idaan = await _browser(desktop, "enlace.idaan")
    started = await idaan.post(f"/enlace/casos/{case.id}/iniciar", {})
    assert started.status == 303
    assert started.headers["Location"] == f"/enlace/casos/{case.id}?hecho=iniciar"
    row = await _case(desktop.uow_factory, case.id)
    assert row.status == "en_proceso" and row.first_action_at == desktop.clock.now

    desktop.clock.advance(minutes=30)
    for visibility, note in (("interna", "Cuadrilla asignada."), ("publica", "Vamos en camino.")):
        noted = await idaan.post(
            f"/enlace/casos/{case.id}/nota", {"nota": note, "visibilidad": visibility}
        )
        assert noted.status == 303
    bad = await idaan.post(f"/enlace/casos/{case.id}/nota", {"nota": "x", "visibilidad": "otra"})
    assert bad.status == 400

    desktop.clock.advance(minutes=30)
    no_note = await idaan.post(f"/enlace/casos/{case.id}/cerrar", {"nota": "  "})
    assert no_note.status == 400 and "nota de cierre" in await no_note.text()
    closed = await idaan.post(
        f"/enlace/casos/{case.id}/cerrar", {"nota": "Se reparó la tubería de la calle 5."}
    )
    assert closed.status == 303
    row = await _case(desktop.uow_factory, case.id)
    assert row.status == "cerrado" and row.closed_at == desktop.clock.now
    assert row.first_action_at == START  # the first action stays the first one

    history = await _history(desktop.uow_factory, case.id)
    liaison = [h for h in history if h.actor_label == "enlace.idaan"]
    assert [(h.kind, h.action, h.to_status, h.note, h.public) for h in liaison] == [
        ("status", "iniciar", "en_proceso", None, True),
        ("note", None, None, "Cuadrilla asignada.", False),
        ("note", None, None, "Vamos en camino.", True),
        ("status", "cerrar", "cerrado", "Se reparó la tubería de la calle 5.", True),
    ]
    async with desktop.uow_factory() as uow:
        public = [h.note for h in await uow.cases.history(case.id, public_only=True)]
    assert "Vamos en camino." in public and "Cuadrilla asignada." not in public

    page = await (await idaan.get(f"/enlace/casos/{case.id}?hecho=cerrar")).text()
    assert "El caso quedó cerrado." in page
    assert "Cuadrilla asignada." in page and "Interna" in page and "Pública" in page
    assert "/cerrar" not in page and "/iniciar" not in page  # no forms on a closed case


async def test_given_first_note_then_it_is_the_first_action(desktop, panama):
    case = await _register(
        desktop.uow_factory, panama, entity="IDAAN", service="falta-agua", hours_ago=1
    )
    idaan = await _browser(desktop, "enlace.idaan")
    noted = await idaan.post(
        f"/enlace/casos/{case.id}/nota", {"nota": "Recibido.", "visibilidad": "publica"}
    )
    assert noted.status == 303
    row = await _case(desktop.uow_factory, case.id)
    assert row.first_action_at == desktop.clock.now and row.status == "asignado"
    assert "primera acción pendiente" not in await (await idaan.get("/enlace")).text()


async def test_given_return_without_reason_then_400_in_spanish_and_with_reason_returned(
    desktop, panama
):
    case = await _register(
        desktop.uow_factory, panama, entity="IDAAN", service="falta-agua", hours_ago=1
    )
    idaan = await _browser(desktop, "enlace.idaan")
    refused = await idaan.post(f"/enlace/casos/{case.id}/devolver", {"motivo": "   "})
    assert refused.status == 400
    assert "Indique por qué la entidad no es competente." in await refused.text()
    row = await _case(desktop.uow_factory, case.id)
    assert row.status == "asignado" and row.first_action_at is None

    returned = await idaan.post(
        f"/enlace/casos/{case.id}/devolver", {"motivo": "La calle es de la MUPA, no del IDAAN."}
    )
    assert returned.status == 303
    row = await _case(desktop.uow_factory, case.id)
    assert row.status == "devuelto_311" and row.first_action_at == desktop.clock.now
    last = (await _history(desktop.uow_factory, case.id))[-1]
    assert (last.action, last.note) == ("devolver_311", "La calle es de la MUPA, no del IDAAN.")
    refused_close = await idaan.post(f"/enlace/casos/{case.id}/cerrar", {"nota": "Cerrado."})
    assert refused_close.status == 400
    assert (await _case(desktop.uow_factory, case.id)).status == "devuelto_311"


async def test_given_missing_or_wrong_csrf_then_403_and_case_unchanged(desktop, panama):
    case = await _register(
        desktop.uow_factory, panama, entity="IDAAN", service="falta-agua", hours_ago=1
    )
    idaan = await _browser(desktop, "enlace.idaan")
    assert idaan.csrf
    for action, data in (("iniciar", {}), ("nota", {"nota": "x", "visibilidad": "publica"})):
        missing = await idaan.post(f"/enlace/casos/{case.id}/{action}", data, csrf=False)
        assert missing.status == 403
        wrong = await idaan.post(
            f"/enlace/casos/{case.id}/{action}", {**data, "csrf_token": "falso"}, csrf=False
        )
        assert wrong.status == 403
    row = await _case(desktop.uow_factory, case.id)
    assert row.status == "asignado" and row.first_action_at is None
    assert len(await _history(desktop.uow_factory, case.id)) == 2  # registered + assigned


async def test_given_other_roles_then_enlace_is_forbidden_and_anonymous_goes_to_login(
    desktop, panama
):
    case = await _register(
        desktop.uow_factory, panama, entity="IDAAN", service="falta-agua", hours_ago=1
    )
    for username in ("agente1", "supervisor"):
        user = await _browser(desktop, username, page="/escritorio")
        assert (await user.get("/enlace")).status == 403
        assert (await user.get(f"/enlace/casos/{case.id}")).status == 403
        assert (await user.post(f"/enlace/casos/{case.id}/iniciar", {})).status == 403
    nobody = await desktop.client()
    response = await nobody.get("/enlace", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login")
    assert (await _case(desktop.uow_factory, case.id)).status == "asignado"


async def test_given_liaison_then_history_rows_are_never_written_for_other_entity(desktop, panama):
    mupa = await _register(desktop.uow_factory, panama, entity="MUPA", service="aseo", hours_ago=1)
    idaan = await _browser(desktop, "enlace.idaan")
    for action, data in (
        ("nota", {"nota": "Intrusión.", "visibilidad": "publica"}),
        ("devolver", {"motivo": "No."}),
        ("cerrar", {"nota": "No."}),
    ):
        assert (await idaan.post(f"/enlace/casos/{mupa.id}/{action}", data)).status == 404
    async with desktop.uow_factory() as uow:
        labels = (
            await uow.session.scalars(
                select(CaseHistoryRow.actor_label).where(CaseHistoryRow.case_id == mupa.id)
            )
        ).all()
    assert "enlace.idaan" not in labels


async def test_given_logged_in_liaison_then_home_and_login_lead_to_enlace_and_nav_fits(desktop):
    liaison = await _browser(desktop, "enlace.idaan")
    for path in ("/", "/login"):
        response = await liaison.get(path)
        assert (response.status, response.headers["Location"]) == (302, "/enlace"), path
    page = await (await liaison.get("/enlace")).text()
    assert 'href="/escritorio"' not in page and 'href="/enlace"' in page
    agent = await _browser(desktop, "agente1", page="/escritorio")
    assert (await agent.get("/")).headers["Location"] == "/escritorio"
    auditor = await _browser(desktop, "auditor", page="/login")
    assert (await auditor.get("/")).headers["Location"] == "/grabaciones"
