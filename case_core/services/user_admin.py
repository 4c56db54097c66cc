"""Users and access (issue 11): create, list, disable, reset passwords, change roles.

Every change is audited in its own transaction (``services.audit``). Disabling a user
deletes their web sessions and sends ``NOTIFY cac311_user_disabled`` (payload: user id) at
commit, so every web process closes the user's live sockets and takes their phone out of
the queue over AMI.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text

from case_core.db.models import EntityRow, OfficeRow, UserRow
from case_core.db.models.desktop import WebSessionRow
from case_core.db.uow import UnitOfWork, UnitOfWorkFactory
from case_core.domain.errors import AccessDenied, DomainError, NotFound
from case_core.domain.passwords import DEMO_PASSWORDS, check_password
from case_core.domain.roles import ROLE_LABELS, Actor, Role, is_liaison
from case_core.security import hash_password_async, verify_password, verify_password_async
from case_core.services.audit import record_change

USER_DISABLED_CHANNEL = "cac311_user_disabled"
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")
INTERFACE_RE = re.compile(r"^(PJSIP|SIP|IAX2|Local)/[\w.@-]{1,70}$")


class InvalidUser(DomainError):
    """The user data is not acceptable; the message says why (Spanish)."""


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    full_name: str
    role: Role
    role_label: str
    entity_id: int | None
    entity: str | None
    office_id: int | None
    office: str | None
    phone_interface: str | None
    active: bool
    must_change_password: bool
    locked_until: datetime | None
    has_totp: bool


def _snapshot(user: UserRow) -> dict[str, Any]:
    """What the audit keeps of a user (never the password hash nor the TOTP secret)."""
    return {
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role,
        "entity_id": user.entity_id,
        "office_id": user.office_id,
        "phone_interface": user.phone_interface,
        "active": user.active,
    }


def require_admin(actor: Actor) -> None:
    if actor.role is not Role.ADMIN:
        raise AccessDenied("Solo un administrador puede gestionar usuarios.")


async def _check_scope(
    uow: UnitOfWork,
    *,
    role: Role,
    entity_id: int | None,
    office_id: int | None,
    phone_interface: str | None,
) -> tuple[int | None, int | None, str | None]:
    """Liaison roles need an entity (Enlace de Contacto also an office of it); agents may
    have a phone interface; nobody else has either."""
    if is_liaison(role):
        if entity_id is None:
            raise InvalidUser("Un enlace debe pertenecer a una entidad.")
        if await uow.session.get(EntityRow, entity_id) is None:
            raise InvalidUser("La entidad indicada no existe.")
        if role is Role.LIAISON_CONTACT:
            if office_id is None:
                raise InvalidUser("Un Enlace de Contacto debe pertenecer a una oficina.")
        if office_id is not None:
            office = await uow.session.get(OfficeRow, office_id)
            if office is None or office.entity_id != entity_id:
                raise InvalidUser("La oficina indicada no es de esa entidad.")
    else:
        entity_id = office_id = None
    if role is Role.AGENT and phone_interface:
        if not INTERFACE_RE.match(phone_interface):
            raise InvalidUser("La interfaz telefónica debe ser como PJSIP/1001.")
    elif role is not Role.AGENT:
        phone_interface = None
    if phone_interface:
        taken = await uow.session.scalar(
            select(UserRow.id).where(UserRow.phone_interface == phone_interface)
        )
        if taken is not None:
            raise InvalidUser(f"La interfaz {phone_interface} ya es de otro usuario.")
    return entity_id, office_id, phone_interface or None


def parse_role(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise InvalidUser(f"Rol desconocido «{raw}». Roles: {names}.") from None


async def create_user(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    username: str,
    full_name: str,
    role: Role,
    password: str,
    now: datetime,
    entity_id: int | None = None,
    office_id: int | None = None,
    phone_interface: str | None = None,
    must_change_password: bool = True,
) -> int:
    """Create a user; the password must meet the policy and is changed at first login."""
    require_admin(actor)
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidUser(
            "El usuario debe tener de 2 a 60 caracteres: letras minúsculas, números, . _ -"
        )
    full_name = full_name.strip()
    if not full_name or len(full_name) > 120:
        raise InvalidUser("Indique el nombre completo (máximo 120 caracteres).")
    check_password(password, username=username)
    password_hash = await hash_password_async(password)
    async with uow_factory() as uow:
        if await uow.users.by_username(username) is not None:
            raise InvalidUser(f"El usuario «{username}» ya existe.")
        entity_id, office_id, phone_interface = await _check_scope(
            uow,
            role=role,
            entity_id=entity_id,
            office_id=office_id,
            phone_interface=phone_interface,
        )
        user = UserRow(
            username=username,
            full_name=full_name,
            role=role.value,
            entity_id=entity_id,
            office_id=office_id,
            phone_interface=phone_interface,
            password_hash=password_hash,
            active=True,
            must_change_password=must_change_password,
            password_changed_at=now,
            failed_logins=0,
        )
        uow.session.add(user)
        await uow.session.flush()
        await record_change(
            uow.session,
            actor=actor,
            action="user.create",
            object_type="user",
            object_id=user.id,
            before=None,
            after=_snapshot(user),
            now=now,
        )
        await uow.commit()
        return user.id


async def list_users(uow_factory: UnitOfWorkFactory) -> list[UserView]:
    async with uow_factory() as uow:
        rows = (
            await uow.session.execute(
                select(UserRow, EntityRow.short_name, OfficeRow.name)
                .outerjoin(EntityRow, EntityRow.id == UserRow.entity_id)
                .outerjoin(OfficeRow, OfficeRow.id == UserRow.office_id)
                .order_by(UserRow.username)
            )
        ).all()
    return [
        UserView(
            u.id,
            u.username,
            u.full_name,
            Role(u.role),
            ROLE_LABELS[Role(u.role)],
            u.entity_id,
            entity,
            u.office_id,
            office,
            u.phone_interface,
            u.active,
            u.must_change_password,
            u.locked_until,
            bool(u.totp_secret),
        )
        for u, entity, office in rows
    ]


async def _user_for_update(uow: UnitOfWork, username: str) -> UserRow:
    user = await uow.session.scalar(
        select(UserRow).where(UserRow.username == username.strip().lower()).with_for_update()
    )
    if user is None:
        raise NotFound(f"El usuario «{username}» no existe.")
    return user


async def _other_active_admins(uow: UnitOfWork, user_id: int) -> int:
    return int(
        await uow.session.scalar(
            select(func.count())
            .select_from(UserRow)
            .where(UserRow.role == Role.ADMIN.value, UserRow.active, UserRow.id != user_id)
        )
        or 0
    )


@dataclass(frozen=True)
class Disabled:
    user_id: int
    phone_interface: str | None
    sessions_ended: int


async def disable_user(
    uow_factory: UnitOfWorkFactory, *, actor: Actor, username: str, now: datetime
) -> Disabled:
    """Deactivate a user: their sessions end now; web processes close their sockets and
    remove their phone from the queue (NOTIFY at commit)."""
    require_admin(actor)
    async with uow_factory() as uow:
        user = await _user_for_update(uow, username)
        if user.id == actor.user_id:
            raise InvalidUser("No puede desactivar su propio usuario.")
        if user.role == Role.ADMIN.value and not await _other_active_admins(uow, user.id):
            raise InvalidUser("No se puede desactivar al último administrador activo.")
        before = _snapshot(user)
        user.active = False
        ended = await uow.session.scalars(
            delete(WebSessionRow)
            .where(WebSessionRow.user_id == user.id)
            .returning(WebSessionRow.id)
        )
        count = len(ended.all())
        await record_change(
            uow.session,
            actor=actor,
            action="user.disable",
            object_type="user",
            object_id=user.id,
            before=before,
            after={**_snapshot(user), "sessions_ended": count},
            now=now,
        )
        await uow.session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": USER_DISABLED_CHANNEL, "payload": str(user.id)},
        )
        await uow.commit()
        return Disabled(user.id, user.phone_interface, count)


async def enable_user(
    uow_factory: UnitOfWorkFactory, *, actor: Actor, username: str, now: datetime
) -> None:
    require_admin(actor)
    async with uow_factory() as uow:
        user = await _user_for_update(uow, username)
        before = _snapshot(user)
        user.active = True
        user.failed_logins = 0
        user.locked_until = None
        await record_change(
            uow.session,
            actor=actor,
            action="user.enable",
            object_type="user",
            object_id=user.id,
            before=before,
            after=_snapshot(user),
            now=now,
        )
        await uow.commit()


async def reset_password(
    uow_factory: UnitOfWorkFactory, *, actor: Actor, username: str, password: str, now: datetime
) -> None:
    """Set a temporary password (policy applies); the user must change it at next login.
    Their open sessions end, a lockout is lifted and their TOTP is cleared (set up again)."""
    require_admin(actor)
    check_password(password, username=username.strip().lower())
    password_hash = await hash_password_async(password)
    async with uow_factory() as uow:
        user = await _user_for_update(uow, username)
        had_totp = bool(user.totp_secret)
        user.password_hash = password_hash
        user.must_change_password = True
        user.password_changed_at = now
        user.failed_logins = 0
        user.locked_until = None
        # A reset is also how a lost phone is handled: the user sets up 2FA again.
        user.totp_secret = None
        user.totp_last_step = None
        await uow.session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user.id))
        await record_change(
            uow.session,
            actor=actor,
            action="user.reset_password",
            object_type="user",
            object_id=user.id,
            before={"totp": had_totp},
            after={"must_change_password": True, "totp": False},
            now=now,
        )
        await uow.commit()


async def set_role(
    uow_factory: UnitOfWorkFactory,
    *,
    actor: Actor,
    username: str,
    role: Role,
    now: datetime,
    entity_id: int | None = None,
    office_id: int | None = None,
    phone_interface: str | None = None,
) -> None:
    """Change a user's role and scope (entity, office, phone interface); their sessions end
    so the new access applies at once."""
    require_admin(actor)
    async with uow_factory() as uow:
        user = await _user_for_update(uow, username)
        if (
            user.role == Role.ADMIN.value
            and role is not Role.ADMIN
            and user.active
            and not await _other_active_admins(uow, user.id)
        ):
            raise InvalidUser("No se puede quitar el rol al último administrador activo.")
        before = _snapshot(user)
        if phone_interface == user.phone_interface:
            user.phone_interface = None  # checked for uniqueness against other users only
            await uow.session.flush()
        entity_id, office_id, phone_interface = await _check_scope(
            uow,
            role=role,
            entity_id=entity_id,
            office_id=office_id,
            phone_interface=phone_interface,
        )
        user.role = role.value
        user.entity_id, user.office_id, user.phone_interface = entity_id, office_id, phone_interface
        await uow.session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user.id))
        await record_change(
            uow.session,
            actor=actor,
            action="user.set_role",
            object_type="user",
            object_id=user.id,
            before=before,
            after=_snapshot(user),
            now=now,
        )
        await uow.commit()


async def change_own_password(
    uow_factory: UnitOfWorkFactory, *, user_id: int, current: str, new: str, now: datetime
) -> None:
    """A user changes their own password (required after creation or a reset)."""
    async with uow_factory() as uow:
        user = await uow.users.get(user_id)
        if user is None or not user.active:
            raise NotFound("El usuario no existe.")
        stored, username = user.password_hash, user.username
    if not await verify_password_async(stored, current):
        raise InvalidUser("La contraseña actual no es correcta.")
    if new == current:
        raise InvalidUser("La contraseña nueva debe ser distinta de la actual.")
    check_password(new, username=username)
    password_hash = await hash_password_async(new)
    async with uow_factory() as uow:
        user = await uow.session.get(UserRow, user_id, with_for_update=True)
        assert user is not None
        user.password_hash = password_hash
        user.must_change_password = False
        user.password_changed_at = now
        await record_change(
            uow.session,
            actor=Actor(user.id, user.username, Role(user.role), user.entity_id),
            action="user.change_password",
            object_type="user",
            object_id=user.id,
            before=None,
            after={"must_change_password": False},
            now=now,
        )
        await uow.commit()


@dataclass(frozen=True)
class StartCheck:
    """Why ``cac311 serve`` may not start yet (empty lists: it may)."""

    has_active_admin: bool
    demo_password_users: Sequence[str]

    @property
    def ok(self) -> bool:
        return self.has_active_admin and not self.demo_password_users


async def first_start_check(uow_factory: UnitOfWorkFactory) -> StartCheck:
    """Is there an active administrator, and does any active user have a demo password?"""
    async with uow_factory() as uow:
        admins = await uow.session.scalar(
            select(func.count())
            .select_from(UserRow)
            .where(UserRow.role == Role.ADMIN.value, UserRow.active)
        )
        rows = (
            await uow.session.execute(
                # Every password set through this module passed the policy (which refuses
                # the demo password) and set password_changed_at: only the others can be it.
                select(UserRow.username, UserRow.password_hash).where(
                    UserRow.active, UserRow.password_changed_at.is_(None)
                )
            )
        ).all()
    demo = [
        name
        for name, stored in rows
        if any(verify_password(stored, known) for known in DEMO_PASSWORDS)
    ]
    return StartCheck(bool(admins), sorted(demo))
