"""The human Centro de Contactos: what its agents see and the manual calls they place.

A manual call is an attempt like the dialer's, written before anything is dialled:
:func:`start_manual_call` takes the callback (``pendiente``, ``tarea_humana`` or
``no_contactado``) and commits it ``en_curso`` with one more attempt and an ActionID that
names the agent (``manual-<id>-<attempt>-u<user id>``): that agent is "the agent working
the task", the only one who sees the full phone number and records the outcome. The dialer
never claims an ``en_curso`` row, so the citizen is not called twice at once.

If the telephony side refuses the call, :func:`release_manual_call` puts every column back as
it was (nothing recorded). The outcome goes through the callback services: ``contactado`` →
``complete_callback``; ``ocupado``/``no_contesta``/``fallo`` → ``record_outcome`` (retry,
hand over or not reached, by the normal rules); ``no_desea`` → ``opt_out`` and the callback
completed with outcome ``no_desea_llamadas`` (the citizen was reached and declined).

Caveat: an attempt still ``en_curso`` after ``policy.stale_after`` (10 min) is resolved by the
scheduler as a failed attempt; "contactado" and "no desea" still complete it afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import case, func, select

from case_core.db.models import CallbackRow, CaseRow, EntityRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.callbacks import CallbackKind, CallbackPolicy, CallbackStatus, Outcome
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.domain.roles import Actor, can_see_case
from case_core.services.callbacks import complete_callback, opt_out, record_outcome

MANUAL_STATUSES = frozenset(
    {CallbackStatus.PENDIENTE, CallbackStatus.TAREA_HUMANA, CallbackStatus.NO_CONTACTADO}
)
_MANUAL_RE = re.compile(r"^manual-(\d+)-(\d+)-u(\d+)$")
NOT_FOUND = "La devolución de llamada no existe."


class ManualResult(StrEnum):
    """What the agent reports after a manual call."""

    CONTACTADO = "contactado"
    OCUPADO = "ocupado"
    NO_CONTESTA = "no_contesta"
    FALLO = "fallo"
    NO_DESEA = "no_desea"


RESULT_LABELS = {
    ManualResult.CONTACTADO: "Contactado",
    ManualResult.OCUPADO: "Ocupado",
    ManualResult.NO_CONTESTA: "No contesta",
    ManualResult.FALLO: "La llamada falló",
    ManualResult.NO_DESEA: "No desea más llamadas",
}
_OUTCOMES = {
    ManualResult.OCUPADO: Outcome.BUSY,
    ManualResult.NO_CONTESTA: Outcome.NO_ANSWER,
    ManualResult.FALLO: Outcome.FAILED,
}
CONTACTED_OUTCOME = "contactado_agente"
DECLINED_OUTCOME = "no_desea_llamadas"


def manual_action_id(callback_id: int, attempt: int, user_id: int) -> str:
    """The ActionID of a manual attempt; it names the agent working the task."""
    return f"manual-{callback_id}-{attempt}-u{user_id}"


def manual_agent(action_id: str | None) -> int | None:
    """The user id in a manual attempt's ActionID, or None for the dialer's attempts."""
    found = _MANUAL_RE.match(action_id or "")
    return int(found.group(3)) if found else None


@dataclass(frozen=True)
class ContactLine:
    """One callback as the Centro de Contactos lists it (the phone is masked by the view)."""

    id: int
    case_id: int
    case_number: str
    entity_id: int
    entity_name: str
    confidential: bool
    registered_by_user_id: int | None
    kind: CallbackKind
    status: CallbackStatus
    phone: str
    window_end_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    attempts: int
    max_attempts: int
    outcome: str | None
    working_user_id: int | None

    def visible_to(self, actor: Actor) -> bool:
        """May ``actor`` see the case behind it (confidential cases: see ``roles``)?"""
        return can_see_case(
            actor,
            entity_id=self.entity_id,
            confidential=self.confidential,
            handled_by_user_id=self.registered_by_user_id,
        )

    def worked_by(self, actor: Actor) -> bool:
        """True while ``actor`` has a manual call on it in progress."""
        return (
            self.status is CallbackStatus.EN_CURSO
            and actor.user_id is not None
            and self.working_user_id == actor.user_id
        )


def _line(row: CallbackRow, number: str, entity_id: int, name: str, conf: bool, reg: int | None):
    return ContactLine(
        id=row.id,
        case_id=row.case_id,
        case_number=number,
        entity_id=entity_id,
        entity_name=name,
        confidential=conf,
        registered_by_user_id=reg,
        kind=CallbackKind(row.kind),
        status=CallbackStatus(row.status),
        phone=row.phone,
        window_end_at=row.window_end_at,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        outcome=row.outcome,
        working_user_id=manual_agent(row.action_id),
    )


def _select():  # type: ignore[no-untyped-def]
    return (
        select(
            CallbackRow,
            CaseRow.number,
            CaseRow.entity_id,
            EntityRow.name,
            (CaseRow.confidential | CaseRow.sensitive).label("confidential"),
            CaseRow.registered_by_user_id,
        )
        .join(CaseRow, CaseRow.id == CallbackRow.case_id)
        .join(EntityRow, EntityRow.id == CaseRow.entity_id)
    )


@dataclass(frozen=True)
class ContactBoard:
    """The four lists of the Centro de Contactos page."""

    due: list[ContactLine]
    in_progress: list[ContactLine]
    handed_over: list[ContactLine]
    not_reached: list[ContactLine]


async def contact_board(
    uow_factory: UnitOfWorkFactory, *, now: datetime, limit: int = 200
) -> ContactBoard:
    """Due now (``pendiente`` with its attempt time reached), in progress, handed over
    (nearest window end first) and not reached (most recent window end first)."""
    due_order = (CallbackRow.next_attempt_at, CallbackRow.id)
    async with uow_factory() as uow:

        async def fetch(where: Sequence[object], order: Sequence[object]) -> list[ContactLine]:
            stmt = _select().where(*where).order_by(*order).limit(limit)
            return [_line(*r) for r in (await uow.session.execute(stmt)).all()]

        status = CallbackRow.status
        due = await fetch(
            [status == CallbackStatus.PENDIENTE.value, CallbackRow.next_attempt_at <= now],
            due_order,
        )
        in_progress = await fetch(
            [status == CallbackStatus.EN_CURSO.value],
            (CallbackRow.last_attempt_at.desc(), CallbackRow.id),
        )
        handed = await fetch(
            [status == CallbackStatus.TAREA_HUMANA.value],
            (CallbackRow.window_end_at, CallbackRow.id),
        )
        lost = await fetch(
            [status == CallbackStatus.NO_CONTACTADO.value],
            (CallbackRow.window_end_at.desc(), CallbackRow.id),
        )
    return ContactBoard(due, in_progress, handed, lost)


async def board_counts(uow_factory: UnitOfWorkFactory, *, now: datetime) -> dict[str, int]:
    """How many callbacks are due now, in progress, handed over and not reached."""
    s = CallbackRow.status
    due = (s == CallbackStatus.PENDIENTE.value) & (CallbackRow.next_attempt_at <= now)
    stmt = select(
        func.count(case((due, 1))),
        func.count(case((s == CallbackStatus.EN_CURSO.value, 1))),
        func.count(case((s == CallbackStatus.TAREA_HUMANA.value, 1))),
        func.count(case((s == CallbackStatus.NO_CONTACTADO.value, 1))),
    )
    async with uow_factory() as uow:
        row = (await uow.session.execute(stmt)).one()
    return dict(zip(("due", "in_progress", "handed_over", "not_reached"), row, strict=True))


async def get_line(uow_factory: UnitOfWorkFactory, callback_id: int) -> ContactLine:
    """One callback with its case; NotFound when it does not exist."""
    async with uow_factory() as uow:
        found = (await uow.session.execute(_select().where(CallbackRow.id == callback_id))).first()
    if found is None:
        raise NotFound(NOT_FOUND)
    return _line(*found)


@dataclass(frozen=True)
class ManualClaim:
    """A manual attempt written ``en_curso``, with what it replaced (to undo it)."""

    callback_id: int
    case_id: int
    kind: CallbackKind
    phone: str
    attempt: int
    action_id: str
    previous: dict[str, object]


_RESTORED = (
    "status",
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "action_id",
    "outcome",
    "updated_at",
)


async def start_manual_call(
    uow_factory: UnitOfWorkFactory, *, callback_id: int, actor: Actor, now: datetime
) -> ManualClaim:
    """Write a manual attempt by ``actor`` before it is dialled (see the module docstring)."""
    if actor.user_id is None:
        raise AccessDenied("Solo un usuario del 3-1-1 puede hacer llamadas manuales.")
    async with uow_factory() as uow:
        found = (
            await uow.session.execute(
                _select().where(CallbackRow.id == callback_id).with_for_update(of=CallbackRow)
            )
        ).first()
        if found is None:
            raise NotFound(NOT_FOUND)
        row = found[0]
        line = _line(*found)
        if not line.visible_to(actor):
            raise NotFound(NOT_FOUND)
        if line.status not in MANUAL_STATUSES:
            if line.status is CallbackStatus.EN_CURSO:
                raise DomainError("Ya hay una llamada en curso para esta devolución.")
            raise DomainError("Esta devolución ya está cerrada; no se puede llamar.")
        previous = {name: getattr(row, name) for name in _RESTORED}
        row.status = CallbackStatus.EN_CURSO.value
        row.attempts += 1
        row.last_attempt_at = now
        row.next_attempt_at = None
        row.action_id = manual_action_id(row.id, row.attempts, actor.user_id)
        row.updated_at = now
        claim = ManualClaim(
            row.id, row.case_id, CallbackKind(row.kind), row.phone, row.attempts,
            row.action_id, previous,
        )  # fmt: skip
        await uow.commit()
    return claim


async def release_manual_call(uow_factory: UnitOfWorkFactory, claim: ManualClaim) -> bool:
    """Undo a manual attempt that was never dialled; False when it already moved on."""
    async with uow_factory() as uow:
        stmt = select(CallbackRow).where(CallbackRow.id == claim.callback_id).with_for_update()
        row = (await uow.session.execute(stmt)).scalar_one_or_none()
        if (
            row is None
            or row.action_id != claim.action_id
            or row.status != CallbackStatus.EN_CURSO.value
        ):
            return False
        for name, value in claim.previous.items():
            setattr(row, name, value)
        await uow.commit()
    return True


async def record_manual_result(
    uow_factory: UnitOfWorkFactory,
    *,
    callback_id: int,
    actor: Actor,
    result: ManualResult | str,
    now: datetime,
    policy: CallbackPolicy | None = None,
) -> CallbackStatus:
    """Record what the agent's manual call gave; returns the callback's new status.

    Only the agent whose manual attempt is the callback's latest may record it.
    """
    try:
        result = ManualResult(result)
    except ValueError:
        raise DomainError("Elija el resultado de la llamada.") from None
    line = await get_line(uow_factory, callback_id)
    if actor.user_id is None or line.working_user_id != actor.user_id:
        raise AccessDenied("Solo el agente que hizo la llamada puede registrar su resultado.")
    if line.status in (CallbackStatus.COMPLETADA, CallbackStatus.CANCELADA):
        raise DomainError("El resultado de esta llamada ya fue registrado.")
    if result is ManualResult.CONTACTADO:
        return await complete_callback(uow_factory, callback_id, now, outcome=CONTACTED_OUTCOME)
    if result is ManualResult.NO_DESEA:
        await opt_out(uow_factory, now=now, callback_id=callback_id, source="agente")
        return await complete_callback(uow_factory, callback_id, now, outcome=DECLINED_OUTCOME)
    if line.status is not CallbackStatus.EN_CURSO:
        raise DomainError(
            "El intento ya se había cerrado (quedó sin resultado tras 10 minutos); "
            "el sistema lo contó como fallido."
        )
    action_id = manual_action_id(callback_id, line.attempts, actor.user_id)
    return await record_outcome(
        uow_factory, callback_id, _OUTCOMES[result], now, action_id=action_id, policy=policy
    )
