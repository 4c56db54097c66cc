"""``cac311 seed``: load the directory and demo users. Running it twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
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


async def seed(uow_factory: UnitOfWorkFactory, *, now: datetime) -> SeedReport:
    """Insert what is missing; existing rows keep their ids, passwords and windows."""
    counts = dict(entities=0, services=0, articles=0, announcements=0, users=0, citizens=0)
    async with uow_factory() as uow:
        s = uow.session
        entity_ids: dict[str, int] = {}
        service_ids: dict[tuple[str, str], int] = {}
        for code, name, short, kind, province, district, services in ENTITIES:
            result = await s.execute(
                insert(EntityRow)
                .values(
                    code=code,
                    name=name,
                    short_name=short,
                    kind=kind,
                    province=province,
                    district=district,
                )
                .on_conflict_do_nothing(index_elements=[EntityRow.code])
                .returning(EntityRow.id)
            )
            counts["entities"] += len(result.all())
            entity_ids[code] = (
                await s.execute(select(EntityRow.id).where(EntityRow.code == code))
            ).scalar_one()
            for scode, sname, days in services:
                check_sla_days(days)
                result = await s.execute(
                    insert(ServiceRow)
                    .values(entity_id=entity_ids[code], code=scode, name=sname, sla_days=days)
                    .on_conflict_do_nothing()
                    .returning(ServiceRow.id)
                )
                counts["services"] += len(result.all())
                service_ids[(code, scode)] = (
                    await s.execute(
                        select(ServiceRow.id).where(
                            ServiceRow.entity_id == entity_ids[code], ServiceRow.code == scode
                        )
                    )
                ).scalar_one()
        for ecode, scode, slug, title, body in ARTICLES:
            result = await s.execute(
                insert(KnowledgeArticleRow)
                .values(
                    entity_id=entity_ids[ecode],
                    service_id=service_ids[(ecode, scode)] if scode else None,
                    slug=slug,
                    title=title,
                    body=body,
                )
                .on_conflict_do_nothing()
                .returning(KnowledgeArticleRow.id)
            )
            counts["articles"] += len(result.all())
        for ecode, slug, text, hours in ANNOUNCEMENTS:
            result = await s.execute(
                insert(AnnouncementRow)
                .values(
                    entity_id=entity_ids[ecode],
                    slug=slug,
                    text=text,
                    prompt=f"cac311/anuncio-{slug}",
                    valid_from=now,
                    valid_to=now + timedelta(hours=hours) if hours else None,
                )
                .on_conflict_do_nothing()
                .returning(AnnouncementRow.id)
            )
            counts["announcements"] += len(result.all())
        password_hash = None
        for username, full_name, role, ecode, interface in DEMO_USERS:
            exists = (
                await s.execute(select(UserRow.id).where(UserRow.username == username))
            ).scalar_one_or_none()
            if exists is not None:
                continue
            password_hash = password_hash or hash_password(DEMO_PASSWORD)
            s.add(
                UserRow(
                    username=username,
                    full_name=full_name,
                    role=role,
                    entity_id=entity_ids[ecode] if ecode else None,
                    password_hash=password_hash,
                    phone_interface=interface,
                )
            )
            counts["users"] += 1
        for cedula, first, last, phone, province, district, corregimiento in DEMO_CITIZENS:
            result = await s.execute(
                insert(CitizenRow)
                .values(
                    cedula=cedula,
                    first_name=first,
                    last_name=last,
                    province=province,
                    district=district,
                    corregimiento=corregimiento,
                )
                .on_conflict_do_nothing(index_elements=[CitizenRow.cedula])
                .returning(CitizenRow.id)
            )
            citizen_id = result.scalar_one_or_none()
            if citizen_id is not None:
                counts["citizens"] += 1
                await s.execute(
                    insert(CitizenPhoneRow).values(
                        citizen_id=citizen_id,
                        e164=phone,
                        kind="movil" if phone.startswith("+5076") else "fijo",
                    )
                )
        await uow.commit()
    return SeedReport(**counts)
