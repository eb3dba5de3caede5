"""Signing in: password login, magic links, and the limits that slow down guessing.

Every answer is the same whether an address exists or not: an unknown address costs one argon2
verification against a dummy hash (core/users/passwords.py), and a magic link for an unknown
address is silently not sent. Failed attempts are counted per address and per IP in PostgreSQL
(core/auth/ratelimit.py); past the limit the caller gets RateLimited (HTTP 429) before any
password is checked.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import ratelimit
from core.auth import repository as auth_repo
from core.auth.jwt import issue_access_token
from core.config import Settings, get_settings
from core.models import MagicLinkToken, User
from core.users import repository as users_repo
from core.users.passwords import verify_password

logger = logging.getLogger(__name__)

# Brute force: a handful of failures per address, more per IP (a campus NAT hides many people).
LOGIN_FAILURES_PER_ADDRESS = ratelimit.Limit("login-fail-addr", 5, 15 * 60)
LOGIN_FAILURES_PER_IP = ratelimit.Limit("login-fail-ip", 50, 15 * 60)
MAGIC_LINKS_PER_ADDRESS = ratelimit.Limit("magic-addr", 5, 60 * 60)
MAGIC_LINKS_PER_IP = ratelimit.Limit("magic-ip", 30, 60 * 60)
MAGIC_VERIFY_PER_IP = ratelimit.Limit("magic-verify-ip", 60, 15 * 60)

MAGIC_LINK_TTL = timedelta(minutes=15)
MAGIC_LINK_PATH = "/auth/magic"


def now() -> datetime:
    return datetime.now(UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def access_token_for(user: User, *, settings: Settings | None = None) -> str:
    return issue_access_token(user_id=user.id, settings=settings)


async def login(session: AsyncSession, *, email: str, password: str, ip: str | None) -> User | None:
    """The user for a correct address and password, else None (after counting the failure).

    Returns None rather than raising so the caller can commit the failure counters: a rolled-back
    counter would not slow anyone down. Raises RateLimited when the address or IP is over its
    limit, before the password is checked."""
    address = email.strip().lower()
    await ratelimit.ensure_below(session, LOGIN_FAILURES_PER_ADDRESS, address)
    if ip:
        await ratelimit.ensure_below(session, LOGIN_FAILURES_PER_IP, ip)
    user = await users_repo.get_by_email(session, address) if address else None
    valid = verify_password(password, user.password_hash if user is not None else None)
    if not valid or user is None or not user.active:
        await ratelimit.hit(session, LOGIN_FAILURES_PER_ADDRESS, address)
        if ip:
            await ratelimit.hit(session, LOGIN_FAILURES_PER_IP, ip)
        return None
    user.last_login_at = now()
    await session.flush()
    return user


def magic_link_url(token: str, *, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return f"{settings.app_base_url.rstrip('/')}{MAGIC_LINK_PATH}?token={token}"


async def request_magic_link(
    session: AsyncSession, *, email: str, ip: str | None, settings: Settings | None = None
) -> None:
    """Mail a single-use sign-in link to an active user; do nothing visible otherwise."""
    address = email.strip().lower()
    await ratelimit.hit_or_refuse(session, MAGIC_LINKS_PER_ADDRESS, address)
    if ip:
        await ratelimit.hit_or_refuse(session, MAGIC_LINKS_PER_IP, ip)
    user = await users_repo.get_by_email(session, address) if address else None
    if user is None or not user.active:
        return
    token = secrets.token_urlsafe(32)
    await auth_repo.add_magic_token(
        session,
        MagicLinkToken(
            user_id=user.id,
            token_hash=hash_token(token),
            expires_at=now() + MAGIC_LINK_TTL,
            requested_ip=(ip or "")[:64] or None,
        ),
    )
    # The outbound helper owns the mail; imported here so `core.auth` does not pull it in.
    from core.notifications.service import send_magic_link

    await send_magic_link(session, user=user, url=magic_link_url(token, settings=settings))


async def verify_magic_link(session: AsyncSession, *, token: str, ip: str | None) -> User | None:
    """Use up a magic-link token: the user it was issued to, or None (unknown/used/expired)."""
    if ip:
        await ratelimit.hit_or_refuse(session, MAGIC_VERIFY_PER_IP, ip)
    if not token or len(token) > 200:
        return None
    user_id = await auth_repo.consume_magic_token(session, token_hash=hash_token(token), now=now())
    if user_id is None:
        return None
    user = await users_repo.get_by_id(session, user_id)
    if user is None or not user.active:
        return None
    user.last_login_at = now()
    await session.flush()
    return user
