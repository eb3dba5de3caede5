"""A user's own profile, and the admin's directory of users (list, search, create, change role,
deactivate)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid, NotFound
from core.models import Locale, Role, User
from core.tickets import access
from core.users import directory_repository as directory
from core.users import repository, service
from core.users.passwords import hash_password

MAX_PAGE = 200


async def team_ids(session: AsyncSession, user: User) -> list[int]:
    return await directory.team_ids(session, user.id)


async def update_profile(
    session: AsyncSession, *, user: User, locale: str | None = None, name: str | None = None
) -> User:
    if locale is not None:
        user.locale = Locale(locale).value
    if name is not None:
        cleaned = " ".join(name.split())
        if not cleaned:
            raise Invalid("name cannot be empty")
        user.name = cleaned[:200]
    await session.flush()
    await session.refresh(user)
    return user


async def list_users(
    session: AsyncSession,
    *,
    actor: User,
    q: str | None = None,
    role: str | None = None,
    active: bool | None = None,
    after_id: int = 0,
    limit: int = 50,
) -> tuple[list[User], dict[int, list[int]]]:
    """Agents may look people up (to assign, to copy); only admins change them."""
    access.require_staff(actor, "list users")
    users = await directory.search_users(
        session,
        q=(q or "").strip() or None,
        role=Role(role).value if role else None,
        active=active,
        after_id=after_id,
        limit=max(1, min(limit, MAX_PAGE)),
    )
    return users, await directory.team_ids_for(session, [u.id for u in users])


async def get_user(session: AsyncSession, *, actor: User, user_id: int) -> User:
    if actor.id != user_id:
        access.require_staff(actor, "look up other users")
    user = await repository.get_by_id(session, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


async def create_user(
    session: AsyncSession,
    *,
    actor: User,
    email: str,
    name: str,
    role: str = Role.requester,
    password: str | None = None,
    locale: str = Locale.ko,
    department: str | None = None,
    phone: str | None = None,
) -> User:
    access.require_admin(actor, "create users")
    return await service.create_user(
        session,
        email=email,
        name=name,
        role=Role(role),
        password=password,
        locale=Locale(locale),
        department=department,
        phone=phone,
    )


async def update_user(
    session: AsyncSession,
    *,
    actor: User,
    user_id: int,
    fields: dict[str, object],
) -> User:
    """Change role, active, name, locale, department, phone or password (admins only). An admin
    cannot demote or deactivate themselves (the desk must never lose its last admin by mistake)."""
    access.require_admin(actor, "change users")
    user = await repository.get_by_id(session, user_id)
    if user is None:
        raise NotFound("user not found")
    if user.id == actor.id and (
        ("role" in fields and fields["role"] != Role.admin.value)
        or ("active" in fields and fields["active"] is False)
    ):
        raise Invalid("you cannot demote or deactivate yourself")
    for key, value in fields.items():
        if value is None and key in ("role", "locale", "active", "name"):
            raise Invalid(f"{key} cannot be null")
        if key == "role":
            user.role = Role(str(value)).value
        elif key == "locale":
            user.locale = Locale(str(value)).value
        elif key == "active":
            user.active = bool(value)
        elif key == "password":
            if value is None:
                user.password_hash = None
            else:
                if len(str(value)) < service.MIN_PASSWORD_LENGTH:
                    raise Invalid(
                        f"password must be at least {service.MIN_PASSWORD_LENGTH} characters"
                    )
                user.password_hash = hash_password(str(value))
        elif key == "name":
            if not value or not str(value).strip():
                raise Invalid("name cannot be empty")
            user.name = " ".join(str(value).split())[:200]
        elif key in ("department", "phone"):
            setattr(user, key, value)
        else:
            raise Invalid("unknown field", detail=f"cannot change {key}")
    await session.flush()
    await session.refresh(user)
    return user
