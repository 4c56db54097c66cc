"""The Centro de Contactos works from the case: what a manual call shows the agent, and a
satisfaction survey taken by the agent that counts like the automatic one.

- :func:`call_contexts`: for each case, its status, entity, calendar days left and latest
  public note (what the citizen already heard), so a follow-up call can answer "how is my
  case?".
- :func:`record_manual_survey`: the answers the IVR survey asks (resolved yes/no, score
  1–5) plus an optional comment, stored as ``survey_answers`` of the callback, so the
  scorecards and the callback figures count them; "not resolved" flags the case for review,
  as the IVR does. One transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import func, select, update

from case_core.db.models import CallbackRow, CaseHistoryRow, CaseRow, EntityRow, SurveyAnswerRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain import sla
from case_core.domain.callbacks import (
    CallbackKind,
    SurveyQuestion,
    check_survey_answer,
    flags_review,
)
from case_core.domain.case import OPEN_STATUSES, STATUS_LABELS, CaseStatus
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.domain.roles import Actor
from case_core.services.cases import history_entry

COMMENT_QUESTION = "comentario"
MAX_COMMENT = 1000


@dataclass(frozen=True)
class CallContext:
    """What the agent sees while calling about a case."""

    case_id: int
    number: str
    status_label: str
    entity_name: str
    days_left: int | None  # None once closed
    latest_public_note: str | None
    latest_public_note_at: datetime | None


async def call_contexts(
    uow_factory: UnitOfWorkFactory, case_ids: list[int], *, now: datetime, tz: tzinfo
) -> dict[int, CallContext]:
    """The call context of each case id (two queries)."""
    if not case_ids:
        return {}
    async with uow_factory() as uow:
        cases = (
            await uow.session.execute(
                select(CaseRow, EntityRow.name)
                .join(EntityRow, EntityRow.id == CaseRow.entity_id)
                .where(CaseRow.id.in_(case_ids))
            )
        ).all()
        latest_ids = (
            select(func.max(CaseHistoryRow.id))
            .where(
                CaseHistoryRow.case_id.in_(case_ids),
                CaseHistoryRow.public,
                CaseHistoryRow.note.is_not(None),
            )
            .group_by(CaseHistoryRow.case_id)
        )
        notes = (
            await uow.session.execute(
                select(CaseHistoryRow.case_id, CaseHistoryRow.note, CaseHistoryRow.at).where(
                    CaseHistoryRow.id.in_(latest_ids)
                )
            )
        ).all()
    latest = {case_id: (note, at) for case_id, note, at in notes}
    result = {}
    for case, entity_name in cases:
        status = CaseStatus(case.status)
        note, at = latest.get(case.id, (None, None))
        result[case.id] = CallContext(
            case_id=case.id,
            number=case.number,
            status_label=STATUS_LABELS[status],
            entity_name=entity_name,
            days_left=sla.days_left(case.due_at, now, tz) if status in OPEN_STATUSES else None,
            latest_public_note=note,
            latest_public_note_at=at,
        )
    return result


async def record_manual_survey(
    uow_factory: UnitOfWorkFactory,
    *,
    callback_id: int,
    actor: Actor,
    resolved: str,
    score: str,
    comment: str | None,
    now: datetime,
) -> None:
    """Store a satisfaction survey the agent took by phone (resolved '1' yes / '2' no,
    score '1'..'5', optional comment)."""
    q_resolved, resolved = check_survey_answer(SurveyQuestion.RESUELTO.value, resolved)
    q_score, score = check_survey_answer(SurveyQuestion.SATISFACCION.value, score)
    comment = (comment or "").strip()[:MAX_COMMENT] or None
    async with uow_factory() as uow:
        callback = await uow.session.get(CallbackRow, callback_id, with_for_update=True)
        if callback is None:
            raise NotFound("La devolución de llamada no existe.")
        if callback.kind != CallbackKind.SATISFACCION.value:
            raise DomainError("Esta llamada es de seguimiento, no de encuesta.")
        if actor.user_id is None:
            raise AccessDenied("Solo un agente registra una encuesta.")
        already = await uow.session.scalar(
            select(SurveyAnswerRow.id).where(SurveyAnswerRow.callback_id == callback_id).limit(1)
        )
        if already is not None:
            raise DomainError("La encuesta de esta llamada ya fue registrada.")
        answers = [(q_resolved.value, resolved), (q_score.value, score)]
        if comment:
            answers.append((COMMENT_QUESTION, comment))
        for question, answer in answers:
            uow.session.add(
                SurveyAnswerRow(
                    callback_id=callback.id,
                    case_id=callback.case_id,
                    question=question,
                    answer=answer,
                    answered_at=now,
                )
            )
        if flags_review(q_resolved, resolved):
            await uow.session.execute(
                update(CaseRow)
                .where(CaseRow.id == callback.case_id)
                .values(needs_review=True, updated_at=now)
            )
        case = await uow.session.get(CaseRow, callback.case_id)
        assert case is not None
        text = (
            "Encuesta de satisfacción por teléfono (Centro de Contactos): "
            f"resuelto: {'sí' if resolved == '1' else 'no'}; satisfacción: {score} de 5."
        )
        if comment:
            text += f" Comentario: {comment}"
        await uow.cases.append_history(
            history_entry(case, actor, now, kind="note", note=text, public=False)
        )
        await uow.commit()
