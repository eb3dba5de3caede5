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


def _display_name(name: str, email: str) -> str:
    """The name given, or the address's local part when there is none."""
    return name.strip() or email.split("@", 1)[0]


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
        name=_display_name(name, email),
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
    """The sender of a mail or a new web requester: existing user by email, else a new one.
    Safe against a concurrent transaction creating the same address: the insert skips a
    conflicting row and the existing user is read instead (after that transaction commits)."""
    email = normalise_email(email)
    existing = await repository.get_by_email(session, email)
    if existing is not None:
        return existing, False
    return await add_requester(session, email=email, name=name, locale=locale)


async def add_requester(
    session: AsyncSession, *, email: str, name: str = "", locale: Locale = Locale.ko
) -> tuple[User, bool]:
    """A new requester for an address the caller did not find; if another transaction created
    it meanwhile, that user (and False)."""
    email = normalise_email(email)
    created = await repository.add_if_absent(
        session,
        User(
            email=email,
            name=_display_name(name, email),
            role=Role.requester.value,
            locale=Locale(locale).value,
        ),
    )
    if created is not None:
        return created, True
    existing = await repository.get_by_email(session, email)
    if existing is None:  # deleted again in between: a caller's retry will sort it out
        raise Conflict(f"the user {email} changed while being created; try again")
    return existing, False


TEAM_ADDRESSES_KEY = "team_addresses"


async def team_addresses(session: AsyncSession) -> dict[str, int]:
    """Team help addresses (lowercased) -> team id, read once per transaction: the mail
    pipeline and the outbox's loop guard both ask for every mail."""
    cached = session.info.get(TEAM_ADDRESSES_KEY)
    if cached is None:
        cached = session.info[TEAM_ADDRESSES_KEY] = await repository.team_emails(session)
    return dict(cached)


def forget_team_addresses(session: AsyncSession) -> None:
    """Teams changed in this session: the next `team_addresses` reads them again."""
    session.info.pop(TEAM_ADDRESSES_KEY, None)
