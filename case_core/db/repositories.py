"""Repositories: the only place that writes SQL for the core tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from case_core.db.models import (
    AnnouncementRow,
    CallRow,
    CaseHistoryRow,
    CaseNumberCounterRow,
    CaseRow,
    CitizenPhoneRow,
    CitizenRow,
    EntityRow,
    IvrSessionRow,
    IvrStepRow,
    KnowledgeArticleRow,
    ServiceRow,
    UserRow,
)


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: object) -> None:
        self.session.add(row)
        await self.session.flush()


class CaseRepository(_Repository):
    async def next_sequence(self, year: int) -> int:
        """Reserve the next case sequence of ``year``; concurrent callers queue on the row."""
        stmt = (
            insert(CaseNumberCounterRow)
            .values(year=year, last_sequence=1)
            .on_conflict_do_update(
                index_elements=[CaseNumberCounterRow.year],
                set_={"last_sequence": CaseNumberCounterRow.last_sequence + 1},
            )
            .returning(CaseNumberCounterRow.last_sequence)
        )
        return (await self.session.execute(stmt)).scalar_one()

    async def get(self, case_id: int, *, for_update: bool = False) -> CaseRow | None:
        stmt = select(CaseRow).where(CaseRow.id == case_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_number(self, number: str, *, for_update: bool = False) -> CaseRow | None:
        stmt = select(CaseRow).where(CaseRow.number == number)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def append_history(self, entry: CaseHistoryRow) -> None:
        self.session.add(entry)
        await self.session.flush()

    async def history(self, case_id: int, *, public_only: bool = False) -> Sequence[CaseHistoryRow]:
        stmt = select(CaseHistoryRow).where(CaseHistoryRow.case_id == case_id)
        if public_only:
            stmt = stmt.where(CaseHistoryRow.public)
        return (await self.session.scalars(stmt.order_by(CaseHistoryRow.id))).all()

    async def for_citizen(
        self, citizen_id: int, *, limit: int = 20
    ) -> Sequence[tuple[CaseRow, EntityRow]]:
        stmt = (
            select(CaseRow, EntityRow)
            .join(EntityRow, EntityRow.id == CaseRow.entity_id)
            .where(CaseRow.citizen_id == citizen_id)
            .order_by(CaseRow.opened_at.desc())
            .limit(limit)
        )
        return [(c, e) for c, e in (await self.session.execute(stmt)).all()]

    async def for_entity(
        self, entity_id: int, *, statuses: Sequence[str] | None = None, limit: int = 200
    ) -> Sequence[CaseRow]:
        stmt = select(CaseRow).where(CaseRow.entity_id == entity_id)
        if statuses:
            stmt = stmt.where(CaseRow.status.in_(statuses))
        return (await self.session.scalars(stmt.order_by(CaseRow.due_at).limit(limit))).all()


class CitizenRepository(_Repository):
    async def get(self, citizen_id: int) -> CitizenRow | None:
        stmt = (
            select(CitizenRow)
            .options(selectinload(CitizenRow.phones))
            .where(CitizenRow.id == citizen_id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_cedula(self, cedula: str) -> CitizenRow | None:
        stmt = (
            select(CitizenRow)
            .options(selectinload(CitizenRow.phones))
            .where(CitizenRow.cedula == cedula)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_phone(self, e164: str) -> Sequence[CitizenRow]:
        stmt = (
            select(CitizenRow)
            .options(selectinload(CitizenRow.phones))
            .join(CitizenPhoneRow, CitizenPhoneRow.citizen_id == CitizenRow.id)
            .where(CitizenPhoneRow.e164 == e164)
            .order_by(CitizenRow.id)
        )
        return (await self.session.scalars(stmt)).unique().all()

    async def add_phone(self, citizen: CitizenRow, e164: str, kind: str) -> None:
        stmt = (
            insert(CitizenPhoneRow)
            .values(citizen_id=citizen.id, e164=e164, kind=kind)
            .on_conflict_do_nothing()
        )
        await self.session.execute(stmt)

    async def search(self, query: str, *, limit: int = 20) -> Sequence[CitizenRow]:
        escaped = query.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        stmt = (
            select(CitizenRow)
            .options(selectinload(CitizenRow.phones))
            .outerjoin(CitizenPhoneRow, CitizenPhoneRow.citizen_id == CitizenRow.id)
            .where(
                or_(
                    CitizenRow.cedula.ilike(like, escape="\\"),
                    # accent- and case-insensitive (issue 18 owns the indexed version)
                    func.cac311_fold(CitizenRow.first_name + " " + CitizenRow.last_name).like(
                        func.cac311_fold(like), escape="\\"
                    ),
                    CitizenPhoneRow.e164.ilike(like, escape="\\"),
                )
            )
            .order_by(CitizenRow.last_name, CitizenRow.first_name)
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).unique().all()


class DirectoryRepository(_Repository):
    async def entity(self, entity_id: int) -> EntityRow | None:
        return await self.session.get(EntityRow, entity_id)

    async def entity_by_code(self, code: str) -> EntityRow | None:
        stmt = select(EntityRow).where(EntityRow.code == code)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def entities(self) -> Sequence[EntityRow]:
        return (await self.session.scalars(select(EntityRow).order_by(EntityRow.name))).all()

    async def service(self, service_id: int) -> ServiceRow | None:
        return await self.session.get(ServiceRow, service_id)

    async def service_by_code(self, entity_id: int, code: str) -> ServiceRow | None:
        stmt = select(ServiceRow).where(ServiceRow.entity_id == entity_id, ServiceRow.code == code)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def search_services(
        self, query: str, *, limit: int = 15
    ) -> Sequence[tuple[ServiceRow, EntityRow]]:
        """Services where every typed word is found, ignoring accents and case, in the service
        name, its synonyms or the entity's names (a word of 4+ letters may also be a close
        trigram match, for typos); best matches first. The ``cac311_fold`` trigram indexes
        of migration 0010 serve these comparisons."""
        fold = func.cac311_fold
        haystacks = (
            fold(ServiceRow.name),
            fold(ServiceRow.synonyms),
            fold(EntityRow.name),
            fold(EntityRow.short_name),
        )
        stmt = (
            select(ServiceRow, EntityRow)
            .join(EntityRow, EntityRow.id == ServiceRow.entity_id)
            .where(ServiceRow.active, EntityRow.active)
        )
        score = []
        for word in query.split()[:8]:
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            folded_word = fold(word)
            matches = [h.like(fold(pattern), escape="\\") for h in haystacks]
            if len(word) >= 4:
                matches += [folded_word.op("<%")(h) for h in haystacks[:2]]
            stmt = stmt.where(or_(*matches))
            score.append(
                func.greatest(
                    *(func.word_similarity(folded_word, h) for h in haystacks[:2]),
                    func.word_similarity(folded_word, haystacks[3]),
                )
            )
        total = sum(score[1:], score[0]) if score else None
        order = [EntityRow.short_name, ServiceRow.name]
        if total is not None:
            order.insert(0, total.desc())
        stmt = stmt.order_by(*order).limit(limit)
        return [(s, e) for s, e in (await self.session.execute(stmt)).all()]

    async def articles(
        self, *, service_id: int | None = None, entity_id: int | None = None
    ) -> Sequence[KnowledgeArticleRow]:
        stmt = select(KnowledgeArticleRow)
        if service_id is not None:
            stmt = stmt.where(KnowledgeArticleRow.service_id == service_id)
        if entity_id is not None:
            stmt = stmt.where(KnowledgeArticleRow.entity_id == entity_id)
        return (await self.session.scalars(stmt.order_by(KnowledgeArticleRow.title))).all()

    async def active_announcements(
        self, now: datetime
    ) -> Sequence[tuple[AnnouncementRow, EntityRow]]:
        stmt = (
            select(AnnouncementRow, EntityRow)
            .join(EntityRow, EntityRow.id == AnnouncementRow.entity_id)
            .where(
                AnnouncementRow.valid_from <= now,
                or_(AnnouncementRow.valid_to.is_(None), AnnouncementRow.valid_to > now),
            )
            .order_by(AnnouncementRow.valid_from)
        )
        return [(a, e) for a, e in (await self.session.execute(stmt)).all()]


class CallRepository(_Repository):
    async def by_uniqueid(self, server: str, uniqueid: str) -> CallRow | None:
        stmt = select(CallRow).where(CallRow.server == server, CallRow.uniqueid == uniqueid)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get(self, call_id: int) -> CallRow | None:
        return await self.session.get(CallRow, call_id)

    async def for_citizen_phones(
        self, phones: Sequence[str], *, limit: int = 20
    ) -> Sequence[CallRow]:
        if not phones:
            return []
        stmt = (
            select(CallRow)
            .where(CallRow.caller_number.in_(list(phones)))
            # A call in which the caller chose to stay anonymous is not tied back to them.
            .where(CallRow.ivr_variables["CAC311_ANONYMOUS"].astext.is_distinct_from("1"))
            .order_by(CallRow.entered_at.desc().nulls_last())
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).all()


class IvrSessionRepository(_Repository):
    async def get(self, session_id: int) -> IvrSessionRow | None:
        return await self.session.get(IvrSessionRow, session_id)

    async def latest_for_call(
        self, uniqueid: str, linkedid: str | None = None
    ) -> IvrSessionRow | None:
        ids = [uniqueid] + ([linkedid] if linkedid else [])
        stmt = (
            select(IvrSessionRow)
            .where(or_(IvrSessionRow.uniqueid.in_(ids), IvrSessionRow.linkedid.in_(ids)))
            .order_by(IvrSessionRow.id.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def steps(self, session_id: int) -> Sequence[IvrStepRow]:
        stmt = (
            select(IvrStepRow).where(IvrStepRow.session_id == session_id).order_by(IvrStepRow.seq)
        )
        return (await self.session.scalars(stmt)).all()

    async def next_seq(self, session_id: int) -> int:
        stmt = select(func.coalesce(func.max(IvrStepRow.seq), 0) + 1).where(
            IvrStepRow.session_id == session_id
        )
        return (await self.session.execute(stmt)).scalar_one()


class UserRepository(_Repository):
    async def by_username(self, username: str) -> UserRow | None:
        stmt = select(UserRow).where(UserRow.username == username)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get(self, user_id: int) -> UserRow | None:
        return await self.session.get(UserRow, user_id)

    async def by_interface(self, interface: str) -> UserRow | None:
        stmt = select(UserRow).where(UserRow.phone_interface == interface)
        return (await self.session.execute(stmt)).scalar_one_or_none()


async def ping(session: AsyncSession) -> None:
    """Raise when the database cannot answer."""
    await session.execute(text("SELECT 1"))
