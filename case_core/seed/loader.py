"""``cac311 seed``: load the directory (and, only when asked, the demo users and citizens).

Running it twice changes nothing. Demo users share the published ``DEMO_PASSWORD``, so they
are created only by ``cac311 demo`` or ``cac311 seed --demo-users`` (issue 11).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from case_core.db.models import (
    AnnouncementRow,
    CitizenPhoneRow,
    CitizenRow,
    EntityRow,
    KnowledgeArticleRow,
    ServiceRow,
    UserRow,
)
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.sla import check_sla_days
from case_core.security import hash_password
from case_core.seed.directory_data import (
    ANNOUNCEMENTS,
    ARTICLES,
    DEMO_PASSWORD,
    DEMO_USERS,
    ENTITIES,
)
from case_core.seed.service_synonyms import SYNONYMS

# Fictitious citizens so that a demo caller has a history to pop.
DEMO_CITIZENS = [
    ("8-123-4567", "Juan", "Pérez", "+50761234567", "Panamá", "Panamá", "Bella Vista"),
    ("4-712-1033", "Yarisel", "Morales", "+50762345678", "Chiriquí", "David", "David Sur"),
    (
        "E-8-123456",
        "Carla",
        "Rossi",
        "+50763456789",
        "Panamá",
        "San Miguelito",
        "Amelia Denis de Icaza",
    ),
    ("8-900-12", "Pedro", "González", "+5072345678", "Panamá", "Panamá", "San Francisco"),
]


@dataclass(frozen=True)
class SeedReport:
    entities: int
    services: int
    articles: int
    announcements: int
    users: int
    citizens: int


@lru_cache(maxsize=1)
def _demo_password_hash() -> str:
    return hash_password(DEMO_PASSWORD)


async def _inserted(session, stmt) -> int:  # type: ignore[no-untyped-def]
    return len((await session.execute(stmt)).all())


async def seed(
    uow_factory: UnitOfWorkFactory, *, now: datetime, demo_users: bool = False
) -> SeedReport:
    """Insert what is missing; existing rows keep their ids, passwords and windows.
    ``demo_users`` adds the demo users (known password) and the fictitious citizens."""
    async with uow_factory() as uow:
        s = uow.session
        entities = await _inserted(
            s,
            insert(EntityRow)
            .values(
                [
                    dict(
                        code=code,
                        name=name,
                        short_name=short,
                        kind=kind,
                        province=province,
                        district=district,
                    )
                    for code, name, short, kind, province, district, _ in ENTITIES
                ]
            )
            .on_conflict_do_nothing(index_elements=[EntityRow.code])
            .returning(EntityRow.id),
        )
        entity_ids = dict((await s.execute(select(EntityRow.code, EntityRow.id))).all())

        service_values = []
        for code, *_, services in ENTITIES:
            for scode, sname, days in services:
                check_sla_days(days)
                service_values.append(
                    dict(
                        entity_id=entity_ids[code],
                        code=scode,
                        name=sname,
                        sla_days=days,
                        synonyms=SYNONYMS.get((code, scode), ""),
                    )
                )
        services = await _inserted(
            s,
            insert(ServiceRow)
            .values(service_values)
            .on_conflict_do_nothing()
            .returning(ServiceRow.id),
        )
        service_ids = {
            (ecode, scode): sid
            for ecode, scode, sid in (
                await s.execute(
                    select(EntityRow.code, ServiceRow.code, ServiceRow.id).join(
                        EntityRow, EntityRow.id == ServiceRow.entity_id
                    )
                )
            ).all()
        }
        # A directory seeded before services had synonyms gets them (never overwritten).
        for key, words in SYNONYMS.items():
            if key in service_ids:
                await s.execute(
                    update(ServiceRow)
                    .where(ServiceRow.id == service_ids[key], ServiceRow.synonyms == "")
                    .values(synonyms=words)
                )
        articles = await _inserted(
            s,
            insert(KnowledgeArticleRow)
            .values(
                [
                    dict(
                        entity_id=entity_ids[ecode],
                        service_id=service_ids[(ecode, scode)] if scode else None,
                        slug=slug,
                        title=title,
                        body=body,
                        body_text=body,  # the seed's articles are plain text
                    )
                    for ecode, scode, slug, title, body in ARTICLES
                ]
            )
            .on_conflict_do_nothing()
            .returning(KnowledgeArticleRow.id),
        )
        announcements = await _inserted(
            s,
            insert(AnnouncementRow)
            .values(
                [
                    dict(
                        entity_id=entity_ids[ecode],
                        slug=slug,
                        text=text,
                        prompt=f"cac311/anuncio-{slug}",
                        valid_from=now,
                        valid_to=now + timedelta(hours=hours) if hours else None,
                    )
                    for ecode, slug, text, hours in ANNOUNCEMENTS
                ]
            )
            .on_conflict_do_nothing()
            .returning(AnnouncementRow.id),
        )
        if not demo_users:
            await uow.commit()
            return SeedReport(entities, services, articles, announcements, 0, 0)
        users = await _inserted(
            s,
            insert(UserRow)
            .values(
                [
                    dict(
                        username=username,
                        full_name=full_name,
                        role=role,
                        entity_id=entity_ids[ecode] if ecode else None,
                        password_hash=_demo_password_hash(),
                        phone_interface=interface,
                    )
                    for username, full_name, role, ecode, interface in DEMO_USERS
                ]
            )
            .on_conflict_do_nothing(index_elements=[UserRow.username])
            .returning(UserRow.id),
        )
        new_citizens = (
            await s.execute(
                insert(CitizenRow)
                .values(
                    [
                        dict(
                            cedula=cedula,
                            first_name=first,
                            last_name=last,
                            province=province,
                            district=district,
                            corregimiento=corregimiento,
                        )
                        for cedula, first, last, _, province, district, corregimiento in (
                            DEMO_CITIZENS
                        )
                    ]
                )
                .on_conflict_do_nothing(index_elements=[CitizenRow.cedula])
                .returning(CitizenRow.id, CitizenRow.cedula)
            )
        ).all()
        phones = {c[0]: c[3] for c in DEMO_CITIZENS}
        if new_citizens:
            await s.execute(
                insert(CitizenPhoneRow).values(
                    [
                        dict(
                            citizen_id=cid,
                            e164=phones[cedula],
                            kind="movil" if phones[cedula].startswith("+5076") else "fijo",
                        )
                        for cid, cedula in new_citizens
                    ]
                )
            )
        await uow.commit()
    return SeedReport(entities, services, articles, announcements, users, len(new_citizens))
