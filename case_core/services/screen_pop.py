"""Screen pop: what an agent's desktop shows when Asterisk connects a caller.

Identity comes, in order, from the IVR (the latest ``ivr_sessions`` row of the call's
uniqueid/linkedid, else the channel variables ``CAC311_CITIZEN_ID``/``CAC311_CEDULA``), then
from a caller-ID match (several citizens may share a home phone: the agent chooses), else the
caller is "no identificado". A caller who chose an anonymous denuncia is never looked up.
The result is a JSON-ready dict; times are ISO 8601 UTC plus a display form in ``tz``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from case_core.db.models import CaseRow, CitizenRow, EntityRow, IvrSessionRow
from case_core.db.uow import UnitOfWork, UnitOfWorkFactory
from case_core.domain.case import STATUS_LABELS, TYPE_LABELS, CaseStatus, CaseType
from case_core.domain.cedula import parse_cedula
from case_core.domain.errors import DomainError, NotFound
from case_core.domain.phone import caller_id_candidates
from case_core.domain.roles import Actor, Role, can_see_case

PANAMA = ZoneInfo("America/Panama")

INTENT_LABELS: dict[str, str] = {
    "queja": "Registrar una queja",
    "denuncia": "Registrar una denuncia",
    "sugerencia": "Dejar una sugerencia",
    "solicitud": "Hacer una solicitud",
    "estado": "Consultar el estado de un caso",
    "consulta": "Información (consulta)",
    "agente": "Hablar con un agente",
}

IDENTITY_LABELS: dict[str, str] = {
    "ivr": "Identificado por cédula en el IVR",
    "caller_id": "Identificado por número de teléfono (verifique con el ciudadano)",
    "multiple": "Varios ciudadanos con este número: elija uno",
    "anonymous": "Denuncia anónima: no se identifica al ciudadano",
    "unknown": "No identificado",
}

CONFIDENTIAL_LABEL = "Caso confidencial"
_TRUE = {"1", "true", "si", "sí", "yes", "y"}


def _fmt_date(at: datetime | None, tz: ZoneInfo) -> str | None:
    return at.astimezone(tz).strftime("%d/%m/%Y") if at else None


def _fmt_datetime(at: datetime | None, tz: ZoneInfo) -> str | None:
    return at.astimezone(tz).strftime("%d/%m/%Y %H:%M") if at else None


def citizen_json(row: CitizenRow) -> dict[str, Any]:
    """A citizen as the desktop shows and pre-fills it (``phones`` must be loaded)."""
    return {
        "id": row.id,
        "cedula": row.cedula,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "full_name": row.full_name,
        "phones": [p.e164 for p in row.phones],
        "province": row.province,
        "district": row.district,
        "corregimiento": row.corregimiento,
    }


def case_json(
    case: CaseRow, entity: EntityRow, actor: Actor, *, now: datetime | None, tz: ZoneInfo
) -> dict[str, Any]:
    """A previous case; a confidential case the actor may not see keeps only its number,
    status and dates."""
    status = CaseStatus(case.status)
    visible = can_see_case(
        actor,
        entity_id=case.entity_id,
        confidential=case.confidential or case.sensitive,  # "sensible" cases too
        handled_by_user_id=case.registered_by_user_id,
    )
    overdue = bool(now and status is not CaseStatus.CERRADO and case.due_at < now)
    data: dict[str, Any] = {
        "number": case.number,
        "status": status.value,
        "status_label": STATUS_LABELS[status],
        "opened": _fmt_date(case.opened_at, tz),
        "due": _fmt_date(case.due_at, tz),
        "closed": _fmt_date(case.closed_at, tz),
        "overdue": overdue,
        "confidential": case.confidential,
    }
    if visible:
        description = case.description or ""
        data.update(
            type_label=TYPE_LABELS[CaseType(case.type)],
            entity=entity.name,
            description=description if len(description) <= 160 else description[:157] + "…",
        )
    else:
        data.update(type_label=CONFIDENTIAL_LABEL, entity=None, description=None)
    return data


async def _cases(
    uow: UnitOfWork, citizen_id: int, actor: Actor, *, now: datetime | None, tz: ZoneInfo
) -> list[dict[str, Any]]:
    rows = await uow.cases.for_citizen(citizen_id)
    return [case_json(c, e, actor, now=now, tz=tz) for c, e in rows]


async def citizen_card(
    uow_factory: UnitOfWorkFactory,
    citizen_id: int,
    *,
    actor: Actor,
    now: datetime | None = None,
    tz: ZoneInfo = PANAMA,
) -> dict[str, Any]:
    """A citizen with their previous cases as ``actor`` may see them."""
    async with uow_factory() as uow:
        row = await uow.citizens.get(citizen_id)
        if row is None:
            raise NotFound("El ciudadano no existe.")
        return {
            "citizen": citizen_json(row),
            "cases": await _cases(uow, row.id, actor, now=now, tz=tz),
        }


def _ivr_choices(session: IvrSessionRow | None, variables: dict[str, str]) -> dict[str, Any]:
    def pick(column: str, variable: str) -> Any:
        value = getattr(session, column) if session is not None else None
        if value in (None, ""):
            value = variables.get(variable) or None
        return value

    intent = pick("intent", "CAC311_INTENT")
    citizen_id = pick("citizen_id", "CAC311_CITIZEN_ID")
    try:
        citizen_id = int(citizen_id) if citizen_id is not None else None
    except (TypeError, ValueError):
        citizen_id = None
    anonymous = bool(session.anonymous) if session is not None else False
    anonymous = anonymous or variables.get("CAC311_ANONYMOUS", "").strip().lower() in _TRUE
    return {
        "intent": intent,
        "intent_label": INTENT_LABELS.get(intent or "", intent),
        "cedula": pick("cedula", "CAC311_CEDULA"),
        "citizen_id": citizen_id,
        "anonymous": anonymous,
        "case_number": pick("case_number", "CAC311_CASE_NUMBER"),
        "from_session": session is not None,
    }


@dataclass(frozen=True)
class CallerFacts:
    """What a pop says about the caller, gathered before an agent is known: the IVR's
    choices, the identity and the citizen's previous cases (rows, filtered for the agent at
    :func:`assemble_pop`, since confidentiality depends on who looks)."""

    ivr: dict[str, Any]
    identity: dict[str, Any]
    case_rows: tuple[tuple[CaseRow, EntityRow], ...] = ()


async def gather_caller(
    uow_factory: UnitOfWorkFactory,
    *,
    call_uniqueid: str,
    linkedid: str | None,
    caller_number: str | None,
    ivr_variables: dict,
) -> CallerFacts:
    """The caller's side of a pop (identity, IVR choices, history), with no agent yet: the
    AMI bridge gathers it while the caller waits in the queue, so an AgentConnect only adds
    the agent (issue 18)."""
    variables = {str(k).upper(): str(v) for k, v in (ivr_variables or {}).items() if v is not None}
    async with uow_factory() as uow:
        session = await uow.ivr.latest_for_call(call_uniqueid, linkedid)
        ivr = _ivr_choices(session, variables)
        identity: dict[str, Any] = {"status": "unknown", "citizen": None, "candidates": []}
        identity["cedula"] = ivr["cedula"]
        if ivr["anonymous"]:
            identity["status"] = "anonymous"
            identity["cedula"] = None
            return CallerFacts(ivr, identity)
        row = None
        if ivr["citizen_id"] is not None:
            row = await uow.citizens.get(ivr["citizen_id"])
        if row is None and ivr["cedula"]:
            try:
                row = await uow.citizens.by_cedula(str(parse_cedula(ivr["cedula"])))
            except DomainError:
                identity["cedula"] = None
        if row is not None:
            identity.update(status="ivr", citizen=citizen_json(row))
            return CallerFacts(ivr, identity, tuple(await uow.cases.for_citizen(row.id)))
        candidates = caller_id_candidates(caller_number) if caller_number else []
        if identity["cedula"] or not candidates:
            return CallerFacts(ivr, identity)
        # Several citizens may share a home phone: the agent then chooses.
        rows = await uow.citizens.by_phone(candidates[0])
        if len(rows) == 1:
            identity.update(status="caller_id", citizen=citizen_json(rows[0]))
            return CallerFacts(ivr, identity, tuple(await uow.cases.for_citizen(rows[0].id)))
        if rows:
            identity.update(status="multiple", candidates=[citizen_json(r) for r in rows])
    return CallerFacts(ivr, identity)


async def agent_actor(uow_factory: UnitOfWorkFactory, agent_interface: str) -> Actor:
    """Who sees the pop: the user of ``agent_interface`` (an unknown phone sees as an agent)."""
    async with uow_factory() as uow:
        agent = await uow.users.by_interface(agent_interface)
    if agent is None:
        return Actor(None, agent_interface, Role.AGENT)
    return Actor(agent.id, agent.username, Role(agent.role), agent.entity_id)


def assemble_pop(
    facts: CallerFacts,
    actor: Actor,
    *,
    call_uniqueid: str,
    linkedid: str | None,
    caller_number: str | None,
    agent_interface: str,
    connected_at: datetime,
    caller_channel: str | None = None,
    server: str | None = None,
    tz: ZoneInfo = PANAMA,
    agent_channel: str | None = None,
) -> dict[str, Any]:
    """The pop's JSON for ``actor``'s desktop (pure: the caller's facts are gathered)."""
    ivr = facts.ivr
    identity = {**facts.identity, "label": IDENTITY_LABELS[facts.identity["status"]]}
    cases = [case_json(c, e, actor, now=connected_at, tz=tz) for c, e in facts.case_rows]
    return {
        "version": 1,
        "call": {
            "uniqueid": call_uniqueid,
            "linkedid": linkedid,
            # An anonymous denuncia keeps the caller's number from the agent too.
            "caller_number": None if ivr["anonymous"] else caller_number,
            "channel": caller_channel,
            "agent_channel": agent_channel,
            "server": server,
            "agent_interface": agent_interface,
            "connected_at": connected_at.isoformat(),
            "connected_at_local": _fmt_datetime(connected_at, tz),
        },
        "identity": identity,
        "ivr": ivr,
        "cases": cases,
    }


async def build_pop(
    uow_factory: UnitOfWorkFactory,
    *,
    call_uniqueid: str,
    linkedid: str | None,
    caller_number: str | None,
    agent_interface: str,
    ivr_variables: dict,
    connected_at: datetime,
    caller_channel: str | None = None,
    server: str | None = None,
    tz: ZoneInfo = PANAMA,
    agent_channel: str | None = None,
) -> dict[str, Any]:
    """The pop for a call connected to ``agent_interface``: identity, IVR choices, history.

    ``caller_channel`` (the queue caller's channel) lets the desktop redirect the caller to
    the case-number read-back; ``server`` names the PBX when there are several;
    ``agent_channel`` (the agent's leg, AgentConnect ``DestChannel``) lets the read-back keep
    the agent on the line while the caller hears the number.
    """
    facts = await gather_caller(
        uow_factory,
        call_uniqueid=call_uniqueid,
        linkedid=linkedid,
        caller_number=caller_number,
        ivr_variables=ivr_variables,
    )
    return assemble_pop(
        facts,
        await agent_actor(uow_factory, agent_interface),
        call_uniqueid=call_uniqueid,
        linkedid=linkedid,
        caller_number=caller_number,
        agent_interface=agent_interface,
        connected_at=connected_at,
        caller_channel=caller_channel,
        server=server,
        tz=tz,
        agent_channel=agent_channel,
    )
