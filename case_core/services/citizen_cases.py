"""Cases that citizens file themselves: the web form, Open311 clients, e-mail intake.

What a citizen types about themselves is not verified, so it is stored on the case as the
declared identity and never merged into the citizens registry (anyone could type someone
else's cédula). A denuncia from these channels is always confidential.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select

from case_core.db.models import CaseAttachmentRow, EntityRow, ServiceRow
from case_core.db.uow import UnitOfWorkFactory
from case_core.domain.case import CaseType, Channel
from case_core.domain.cedula import parse_cedula
from case_core.domain.errors import DomainError, NotFound
from case_core.domain.phone import normalise_phone
from case_core.domain.roles import Actor, Role
from case_core.services.cases import RegisterCase, RegisteredCase, check_email, register_case

ACTORS = {
    Channel.WEB: Actor(None, "ciudadano (web)", Role.AGENT),
    Channel.APP: Actor(None, "aplicación (Open311)", Role.AGENT),
    Channel.CORREO: Actor(None, "correo entrante", Role.AGENT),
}


@dataclass(frozen=True, kw_only=True)
class CitizenFiling:
    type: CaseType
    channel: Channel
    service_id: int | None
    description: str
    entity_id: int | None = None
    province: str | None = None
    district: str | None = None
    corregimiento: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    anonymous: bool = False
    name: str | None = None
    cedula: str | None = None
    phone: str | None = None
    email: str | None = None
    require_contact: bool = True


@dataclass(frozen=True)
class AttachmentFile:
    filename: str
    relative_path: str
    content_type: str
    size_bytes: int
    sha256: str


async def file_citizen_case(
    uow_factory: UnitOfWorkFactory, filing: CitizenFiling, *, now: datetime, tz: ZoneInfo
) -> RegisteredCase:
    """Register a case a citizen filed; raises DomainError with a Spanish message."""
    case_type = CaseType(filing.type)
    anonymous = filing.anonymous
    if anonymous and case_type is not CaseType.DENUNCIA:
        raise DomainError("Solo una denuncia puede presentarse de forma anónima.")
    name = " ".join((filing.name or "").split())[:160] or None
    cedula = str(parse_cedula(filing.cedula)) if filing.cedula and not anonymous else None
    phone = normalise_phone(filing.phone) if filing.phone and not anonymous else None
    email = check_email(filing.email) if filing.email and not anonymous else None
    if not anonymous and filing.require_contact:
        if not name:
            raise DomainError("Escriba su nombre, o presente la denuncia de forma anónima.")
        if not (phone or email):
            raise DomainError("Indique un teléfono o un correo electrónico para responderle.")
    entity_id = filing.entity_id
    if filing.service_id is not None:
        async with uow_factory() as uow:
            service = await uow.directory.service(filing.service_id)
        if service is None or not service.active:
            raise NotFound("El servicio elegido no existe.")
        entity_id = service.entity_id
    if entity_id is None:
        raise DomainError("Elija el servicio al que se refiere su caso.")
    return await register_case(
        uow_factory,
        RegisterCase(
            type=case_type,
            channel=filing.channel,
            entity_id=entity_id,
            service_id=filing.service_id,
            description=filing.description,
            province=filing.province,
            district=filing.district,
            corregimiento=filing.corregimiento,
            address=filing.address,
            confidential=case_type is CaseType.DENUNCIA,
            anonymous=anonymous,
            contact_phone=phone,
            contact_email=email,
            latitude=filing.latitude,
            longitude=filing.longitude,
            declared_name=None if anonymous else name,
            declared_cedula=cedula,
        ),
        actor=ACTORS[filing.channel],
        now=now,
        tz=tz,
    )


async def add_attachments(
    uow_factory: UnitOfWorkFactory, case_id: int, files: Sequence[AttachmentFile], *, source: str
) -> list[int]:
    """Record files already stored for a case; returns their ids."""
    if not files:
        return []
    async with uow_factory() as uow:
        rows = [
            CaseAttachmentRow(
                case_id=case_id,
                source=source,
                filename=f.filename[:120] or "adjunto",
                content_type=f.content_type,
                size_bytes=f.size_bytes,
                sha256=f.sha256,
                relative_path=f.relative_path,
            )
            for f in files
        ]
        uow.session.add_all(rows)
        await uow.session.flush()
        await uow.commit()
        return [r.id for r in rows]


@dataclass(frozen=True)
class PublicService:
    id: int
    name: str
    entity_name: str
    entity_short_name: str
    sla_days: int


async def search_public_services(
    uow_factory: UnitOfWorkFactory, query: str, *, limit: int = 12
) -> list[PublicService]:
    """Active services whose name or entity contains every typed word, ignoring accents and
    case (``cac311_fold``), e.g. "credito educacion" finds "Crédito Educativo"."""
    words = [w for w in (query or "").split() if w][:6]
    if not words:
        return []
    stmt = (
        select(ServiceRow, EntityRow)
        .join(EntityRow, EntityRow.id == ServiceRow.entity_id)
        .where(ServiceRow.active, EntityRow.active)
    )
    for word in words:
        escaped = word[:40].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = func.cac311_fold(f"%{escaped}%")
        stmt = stmt.where(
            or_(
                func.cac311_fold(ServiceRow.name).like(pattern, escape="\\"),
                func.cac311_fold(EntityRow.name).like(pattern, escape="\\"),
                func.cac311_fold(EntityRow.short_name).like(pattern, escape="\\"),
            )
        )
    stmt = stmt.order_by(EntityRow.short_name, ServiceRow.name).limit(limit)
    async with uow_factory() as uow:
        rows = (await uow.session.execute(stmt)).all()
    return [PublicService(s.id, s.name, e.name, e.short_name, s.sla_days) for s, e in rows]


async def public_service(uow_factory: UnitOfWorkFactory, service_id: int) -> PublicService | None:
    async with uow_factory() as uow:
        found = (
            await uow.session.execute(
                select(ServiceRow, EntityRow)
                .join(EntityRow, EntityRow.id == ServiceRow.entity_id)
                .where(ServiceRow.id == service_id, ServiceRow.active, EntityRow.active)
            )
        ).first()
    if found is None:
        return None
    s, e = found
    return PublicService(s.id, s.name, e.name, e.short_name, s.sla_days)


@dataclass(frozen=True)
class AttachmentView:
    id: int
    case_id: int
    source: str
    filename: str
    content_type: str
    size_bytes: int

    @property
    def url(self) -> str:
        """The staff route that serves it (access rules and audit in ``citizen.staff``)."""
        return f"/casos/{self.case_id}/adjuntos/{self.id}"


async def case_attachments(uow_factory: UnitOfWorkFactory, case_id: int) -> list[AttachmentView]:
    """A case's photos and e-mail files, oldest first (for the staff case pages)."""
    async with uow_factory() as uow:
        rows = (
            await uow.session.scalars(
                select(CaseAttachmentRow)
                .where(CaseAttachmentRow.case_id == case_id)
                .order_by(CaseAttachmentRow.id)
            )
        ).all()
    return [
        AttachmentView(r.id, r.case_id, r.source, r.filename, r.content_type, r.size_bytes)
        for r in rows
    ]
