"""API test harness: the app runs on the test's own session (one transaction, rolled back after
the test), so every test starts from an empty desk and may commit freely."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from api.deps import get_session
from core.auth.jwt import issue_access_token
from core.models import Role, User
from core.users import service as users


@pytest.fixture
def api_app(session: AsyncSession) -> FastAPI:
    app = create_app(manage_engine=False)

    async def test_session() -> AsyncIterator[AsyncSession]:
        try:
            yield session
            await session.commit()  # releases the test's savepoint; the outer rollback undoes it
        except BaseException:
            await session.rollback()
            raise

    app.dependency_overrides[get_session] = test_session
    return app


@pytest.fixture
async def client(api_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(api_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


@dataclass
class Person:
    """A user, with plain copies of what tests read (a rolled-back request expires the row)."""

    user: User
    headers: dict[str, str]
    id: int
    email: str


MakePerson = Callable[..., Awaitable[Person]]


@pytest.fixture
def make_person(session: AsyncSession) -> MakePerson:
    counter = iter(range(1, 10_000))

    async def make(
        role: Role = Role.requester, *, email: str | None = None, password: str | None = None
    ) -> Person:
        n = next(counter)
        user = await users.create_user(
            session,
            email=email or f"{role.value}{n}@test.ac.kr",
            name=f"{role.value.title()} {n}",
            role=role,
            password=password,
        )
        # Committed (a savepoint released): a later request that fails and rolls back must not
        # take the user with it.
        await session.commit()
        token = issue_access_token(user_id=user.id)
        return Person(user, {"Authorization": f"Bearer {token}"}, user.id, user.email)

    return make
