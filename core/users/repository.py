"""All SQL about users and teams."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Team, TeamMember, User


async def get_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    # users.email is citext, so this comparison ignores case.
    return await session.scalar(select(User).where(User.email == email.strip()))


async def add(session: AsyncSession, user: User) -> User:
    session.add(user)
    await session.flush()
    return user


async def get_team_by_name(session: AsyncSession, name: str) -> Team | None:
    return await session.scalar(select(Team).where(Team.name == name))


async def add_team(session: AsyncSession, team: Team) -> Team:
    session.add(team)
    await session.flush()
    return team


async def add_member(session: AsyncSession, *, team_id: int, user_id: int) -> None:
    exists = await session.get(TeamMember, (team_id, user_id))
    if exists is None:
        session.add(TeamMember(team_id=team_id, user_id=user_id))
        await session.flush()
