"""Rules about users: who may exist, with which role, and how they are created."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, Invalid
from core.models import Locale, Role, User
from core.users import repository
from core.users.passwords import hash_password

MIN_PASSWORD_LENGTH = 8


def normalise_email(email: str) -> str:
    """Validate syntax only (no DNS: campus addresses may not resolve from here)."""
    try:
        return validate_email(
            email.strip(), check_deliverability=False, globally_deliverable=False
        ).normalized
    except EmailNotValidError as exc:
        raise Invalid(f"invalid email address {email!r}: {exc}") from exc


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    name: str,
    role: Role = Role.requester,
    password: str | None = None,
    locale: Locale = Locale.ko,
    department: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
) -> User:
    email = normalise_email(email)
    if await repository.get_by_email(session, email) is not None:
        raise Conflict(f"a user with email {email} already exists")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user = User(
        email=email,
        name=name.strip() or email.split("@", 1)[0],
        role=Role(role).value,
        locale=Locale(locale).value,
        password_hash=hash_password(password) if password else None,
        department=department,
        phone=phone,
        external_id=external_id,
    )
    return await repository.add(session, user)


async def get_or_create_requester(
    session: AsyncSession, *, email: str, name: str = "", locale: Locale = Locale.ko
) -> tuple[User, bool]:
    """The sender of a mail or a new web requester: existing user by email, else a new one."""
    email = normalise_email(email)
    existing = await repository.get_by_email(session, email)
    if existing is not None:
        return existing, False
    user = await create_user(session, email=email, name=name, locale=locale)
    return user, True
