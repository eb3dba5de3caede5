"""Request dependencies: the session (the request owns the transaction) and the current user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth.jwt import read_access_token
from core.db import get_sessionmaker
from core.errors import Forbidden, Unauthorized
from core.models import Role, User
from core.users import repository as users_repo

SESSION_COOKIE = "sd_session"


async def get_session() -> AsyncIterator[AsyncSession]:
    """Commit when the endpoint returns, roll back when it raises; runs before the response is
    sent, so a client never sees success for a change that did not commit."""
    async with get_sessionmaker()() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": the commit runs when the endpoint returns, before the response is sent.
# (A `yield` dependency defaults to scope "request", whose exit runs after the response: a client
# could act on a 201 before its row was committed, or get a 201 for a commit that then failed.)
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def bearer_header(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if there is one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _bearer_token(request: Request) -> str | None:
    return bearer_header(request) or request.cookies.get(SESSION_COOKIE) or None


async def optional_user(request: Request, session: SessionDep) -> User | None:
    token = _bearer_token(request)
    if token is None:
        return None
    user = await users_repo.get_by_id(session, read_access_token(token))
    if user is None or not user.active:
        raise Unauthorized("this account no longer exists or is deactivated")
    return user


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized("sign in first")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def require_staff(user: CurrentUser) -> User:
    if user.role not in (Role.agent, Role.admin):
        raise Forbidden("agents only")
    return user


async def require_admin(user: CurrentUser) -> User:
    if user.role != Role.admin:
        raise Forbidden("admins only")
    return user


StaffUser = Annotated[User, Depends(require_staff)]
AdminUser = Annotated[User, Depends(require_admin)]
