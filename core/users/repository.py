"""All SQL about users and teams."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Team, TeamMember, User


async def get_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    # users.email is citext, so this comparison ignores case.
    return await session.scalar(select(User).where(User.email == email.strip()))


async def add_if_absent(session: AsyncSession, user: User) -> User | None:
    """Insert `user` unless its email is taken (then None); one statement, no lock. A
    concurrent insert of the same address makes this wait for that transaction's outcome."""
    values = {
        column.key: getattr(user, column.key)
        for column in User.__table__.columns
        if getattr(user, column.key, None) is not None
    }
    statement = (
        pg_insert(User)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[User.email])
        .returning(User)
    )
    return await session.scalar(statement, execution_options={"populate_existing": True})


async def add(session: AsyncSession, user: User) -> User:
    session.add(user)
    await session.flush()
    return user


async def team_emails(session: AsyncSession) -> dict[str, int]:
    """Team help addresses (lowercased) and their team ids."""
    result = await session.execute(select(Team.email, Team.id).where(Team.email.is_not(None)))
    return {str(email).lower(): team_id for email, team_id in result if email}


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
