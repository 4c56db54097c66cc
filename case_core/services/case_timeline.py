"""A case's timeline: one query per kind of fact, merged by time in a pure function.

Each kind of fact is a *source*: an ``async`` function of a session and a
:class:`TimelineContext` that returns :class:`TimelineEntry` items (one query). The sources
are listed in ``TIMELINE_SOURCES``; another kind (e.g. quality audits) is added with
:func:`register_source` and shows on every case page with no other change::

    @register_source
    async def audits(session, ctx):
        rows = await session.execute(select(...).where(AuditRow.case_id.in_(ctx.case_ids)))
        return [TimelineEntry(at=r.at, kind="auditoria", title="Auditoría de calidad", ...)]

The context carries every case whose facts belong on this timeline: the case itself and the
duplicates merged into it (their calls and notes show on the survivor, marked with their
number). ``merge_timeline`` orders newest first; entries at the same instant keep the order
their source gave (``seq``), newest first too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from case_core.db.models import (
    CallbackRow,
    CallRow,
    CaseHistoryRow,
    IvrSessionRow,
    SurveyAnswerRow,
    UserRow,
)
from case_core.db.models.recordings import RecordingRow
from case_core.domain.case import ACTION_LABELS, STATUS_LABELS, CaseAction, CaseStatus
from case_core.domain.roles import Actor, can_play_recording


@dataclass(frozen=True)
class TimelineEntry:
    """One fact of a case's life, ready to show."""

    at: datetime
    kind: str  # estado | nota | escalamiento | llamada | ivr | seguimiento | encuesta | ...
    title: str  # a whole Spanish sentence or heading
    detail: str = ""
    actor: str = ""  # who did it ("sistema", a user, "Ciudadano")
    public: bool | None = None  # for notes: True = the citizen sees it, False = internal
    link: str | None = None  # e.g. the recording player, when the role may play it
    link_label: str = ""
    case_number: str | None = None  # set when the fact belongs to a merged duplicate
    seq: int = 0  # order within one source at the same instant


@dataclass(frozen=True)
class TimelineContext:
    """The cases whose facts make up one timeline, and who is looking."""

    case_id: int
    numbers: dict[int, str]  # case id -> number: the case and the duplicates merged into it
    confidential: bool
    actor: Actor
    tz: tzinfo
    callback_ids: tuple[int, ...] = field(default=())

    @property
    def case_ids(self) -> list[int]:
        return list(self.numbers)

    def from_duplicate(self, case_id: int) -> str | None:
        return None if case_id == self.case_id else self.numbers.get(case_id)


TimelineSource = Callable[[AsyncSession, TimelineContext], Awaitable[list[TimelineEntry]]]
TIMELINE_SOURCES: list[TimelineSource] = []


def register_source(source: TimelineSource) -> TimelineSource:
    """Add a kind of fact to every timeline (usable as a decorator)."""
    if source not in TIMELINE_SOURCES:
        TIMELINE_SOURCES.append(source)
    return source


def merge_timeline(*groups: Iterable[TimelineEntry]) -> list[TimelineEntry]:
    """All entries, newest first; ties keep their source order reversed (pure)."""
    entries = [(e.at, e.seq, i, e) for i, group in enumerate(groups) for e in group]
    entries.sort(key=lambda t: (t[0], t[1], t[2]), reverse=True)
    return [e for *_, e in entries]


async def build_timeline(session: AsyncSession, ctx: TimelineContext) -> list[TimelineEntry]:
    """Run every registered source and merge what they found."""
    groups = [await source(session, ctx) for source in TIMELINE_SOURCES]
    return merge_timeline(*groups)


def _status(value: str | None) -> str:
    return STATUS_LABELS[CaseStatus(value)] if value else ""


@register_source
async def history_entries(session: AsyncSession, ctx: TimelineContext) -> list[TimelineEntry]:
    """Status changes, notes (public or internal), escalations, office passes, marks."""
    rows = await session.execute(
        select(CaseHistoryRow, UserRow.full_name)
        .outerjoin(UserRow, UserRow.id == CaseHistoryRow.actor_user_id)
        .where(CaseHistoryRow.case_id.in_(ctx.case_ids))
        .order_by(CaseHistoryRow.id)
    )
    entries = []
    for h, full_name in rows.all():
        who = full_name or h.actor_label
        note = h.note or ""
        if h.kind == "status" and h.action:
            action = CaseAction(h.action)
            title = ACTION_LABELS.get(action, h.action)
            if h.from_status:
                title += f": {_status(h.from_status)} → {_status(h.to_status)}"
            kind = "estado"
        elif h.kind == "status":
            title, kind = f"Estado: {_status(h.to_status)}", "estado"
        elif note.startswith("Escalado:") and h.actor_user_id is None:
            title, kind = "Escalamiento", "escalamiento"
        elif h.kind == "office":
            title, kind = "Pasado a una oficina de la entidad", "oficina"
        elif h.kind == "mark":
            title, kind = "Marca del caso", "marca"
        else:
            title = "Nota pública" if h.public else "Nota interna"
            kind = "nota"
        entries.append(
            TimelineEntry(
                at=h.at,
                kind=kind,
                title=title,
                detail=note,
                actor=who,
                public=h.public if kind == "nota" else None,
                case_number=ctx.from_duplicate(h.case_id),
                seq=h.id,
            )
        )
    return entries


@register_source
async def call_entries(session: AsyncSession, ctx: TimelineContext) -> list[TimelineEntry]:
    """Calls of the case (the registering call and callback calls), with their recordings
    linked only where the role may play them."""
    from case_core.db.models import CaseRow

    registering = select(CaseRow.call_id).where(
        CaseRow.id.in_(ctx.case_ids), CaseRow.call_id.is_not(None)
    )
    conditions = [CallRow.id.in_(registering)]
    if ctx.callback_ids:
        conditions.append(CallRow.callback_id.in_(ctx.callback_ids))
    # which case of this timeline the call registered (a merged duplicate's is marked)
    owner = (
        select(CaseRow.id)
        .where(CaseRow.call_id == CallRow.id, CaseRow.id.in_(ctx.case_ids))
        .order_by(CaseRow.id)
        .limit(1)
        .correlate(CallRow)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(CallRow, RecordingRow, owner)
        .outerjoin(RecordingRow, RecordingRow.call_id == CallRow.id)
        .where(or_(*conditions))
        .order_by(CallRow.id)
    )
    entries = []
    for call, recording, case_id in rows.all():
        at = call.started_at or call.entered_at or call.created_at
        outbound = call.direction == "outbound"
        title = "Llamada saliente del 3-1-1" if outbound else "Llamada entrante"
        parts = []
        if call.talk_seconds is not None:
            minutes, seconds = divmod(int(call.talk_seconds), 60)
            parts.append(f"Conversación de {minutes} min {seconds:02d} s.")
        if call.abandoned:
            parts.append("El ciudadano colgó antes de ser atendido.")
        link = None
        playable = recording is not None and not recording.missing and recording.purged_at is None
        if playable and can_play_recording(
            ctx.actor, handled_by_user_id=call.agent_user_id, case_confidential=ctx.confidential
        ):
            link = f"/grabaciones/llamada/{call.id}"
        elif recording is not None:
            parts.append("Grabación disponible solo para quien puede escucharla.")
        entries.append(
            TimelineEntry(
                at=at,
                kind="llamada",
                title=title,
                detail=" ".join(parts),
                actor=call.agent_name or call.agent_interface or "",
                link=link,
                link_label="Escuchar la grabación" if link else "",
                case_number=ctx.from_duplicate(case_id) if case_id else None,
                seq=call.id,
            )
        )
    return entries


IVR_OUTCOMES = {
    "estado_leido": "Se le leyó el estado del caso.",
    "encuesta_completa": "Respondió la encuesta.",
    "colgo": "Colgó durante el menú.",
}


@register_source
async def ivr_entries(session: AsyncSession, ctx: TimelineContext) -> list[TimelineEntry]:
    """IVR sessions about the case: status look-ups by number, callback surveys."""
    conditions = [IvrSessionRow.case_number.in_(list(ctx.numbers.values()))]
    if ctx.callback_ids:
        conditions.append(IvrSessionRow.callback_id.in_(ctx.callback_ids))
    rows = await session.scalars(
        select(IvrSessionRow).where(or_(*conditions)).order_by(IvrSessionRow.id)
    )
    number_to_id = {n: i for i, n in ctx.numbers.items()}
    entries = []
    for s in rows.all():
        detail = IVR_OUTCOMES.get(s.outcome or "", f"Resultado: {s.outcome}" if s.outcome else "")
        case_id = number_to_id.get(s.case_number or "", ctx.case_id)
        entries.append(
            TimelineEntry(
                at=s.started_at,
                kind="ivr",
                title="Sesión en el IVR (respuesta automática)",
                detail=detail,
                actor="Ciudadano",
                case_number=ctx.from_duplicate(case_id),
                seq=s.id,
            )
        )
    return entries


CALLBACK_KINDS = {"seguimiento": "Seguimiento", "satisfaccion": "Encuesta de satisfacción"}
CALLBACK_STATUSES = {
    "pendiente": "pendiente",
    "en_curso": "en curso",
    "completada": "completada",
    "no_contactado": "no se logró contactar",
    "tarea_humana": "pasada al Centro de Contactos",
    "cancelada": "cancelada",
    "reemplazada": "reemplazada",
}


@register_source
async def callback_entries(session: AsyncSession, ctx: TimelineContext) -> list[TimelineEntry]:
    """Callbacks of the Centro de Contactos: when planned and how they ended."""
    rows = await session.scalars(
        select(CallbackRow).where(CallbackRow.case_id.in_(ctx.case_ids)).order_by(CallbackRow.id)
    )
    entries = []
    for b in rows.all():
        kind = CALLBACK_KINDS.get(b.kind, b.kind)
        status = CALLBACK_STATUSES.get(b.status, b.status)
        detail = f"Estado: {status}; intentos: {b.attempts}."
        if b.outcome:
            detail += f" Resultado: {b.outcome}."
        entries.append(
            TimelineEntry(
                at=b.last_attempt_at or b.created_at,
                kind="seguimiento",
                title=f"{kind} (Centro de Contactos)",
                detail=detail,
                actor="Centro de Contactos",
                case_number=ctx.from_duplicate(b.case_id),
                seq=b.id,
            )
        )
    return entries


SURVEY_QUESTIONS = {
    "resuelto": "¿Se resolvió su caso?",
    "satisfaccion": "Satisfacción (1 a 5)",
    "comentario": "Comentario",
}
SURVEY_ANSWERS = {"1": "sí", "2": "no"}


@register_source
async def survey_entries(session: AsyncSession, ctx: TimelineContext) -> list[TimelineEntry]:
    """Survey answers, by phone (IVR) or taken by a Centro de Contactos agent."""
    rows = await session.scalars(
        select(SurveyAnswerRow)
        .where(SurveyAnswerRow.case_id.in_(ctx.case_ids))
        .order_by(SurveyAnswerRow.id)
    )
    entries = []
    for a in rows.all():
        question = SURVEY_QUESTIONS.get(a.question, a.question)
        answer = SURVEY_ANSWERS.get(a.answer, a.answer) if a.question == "resuelto" else a.answer
        entries.append(
            TimelineEntry(
                at=a.answered_at,
                kind="encuesta",
                title="Respuesta de encuesta",
                detail=f"{question}: {answer}",
                actor="Ciudadano",
                case_number=ctx.from_duplicate(a.case_id),
                seq=a.id,
            )
        )
    return entries


@register_source
async def audit_entries(session: AsyncSession, ctx: TimelineContext) -> list[TimelineEntry]:
    """Quality audits and the entity's replies: internal, shown to 3-1-1 staff only."""
    from case_core.domain.roles import is_liaison
    from case_core.services.quality.audits import audit_timeline_entries

    if is_liaison(ctx.actor.role):
        return []
    entries = []
    for case_id in ctx.case_ids:
        for n, row in enumerate(await audit_timeline_entries(session, case_id)):
            entries.append(
                TimelineEntry(
                    at=row["at"],
                    kind="auditoria",
                    title=(
                        "Auditoría de calidad"
                        if row["kind"] == "audit"
                        else "Respuesta de la entidad a la auditoría"
                    ),
                    detail=row["text"],
                    actor=row["who"] or "",
                    public=False,
                    case_number=ctx.from_duplicate(case_id),
                    seq=n,
                )
            )
    return entries
