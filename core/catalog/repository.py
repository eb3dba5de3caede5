"""All SQL about teams, team members, categories and canned responses."""

from __future__ import annotations

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import CannedResponse, Category, Team, TeamMember, User


async def list_teams(session: AsyncSession) -> list[Team]:
    return list(await session.scalars(select(Team).order_by(Team.name)))


async def get_team(session: AsyncSession, team_id: int) -> Team | None:
    return await session.get(Team, team_id)


async def team_by_name(session: AsyncSession, name: str) -> Team | None:
    return await session.scalar(select(Team).where(Team.name == name))


async def team_by_email(session: AsyncSession, email: str) -> Team | None:
    return await session.scalar(select(Team).where(Team.email == email))


async def add(session: AsyncSession, row: object) -> None:
    session.add(row)
    await session.flush()


async def remove(session: AsyncSession, row: object) -> None:
    await session.delete(row)
    await session.flush()


async def member_ids(session: AsyncSession, team_ids: list[int]) -> dict[int, list[int]]:
    if not team_ids:
        return {}
    rows = await session.execute(
        select(TeamMember.team_id, TeamMember.user_id)
        .where(TeamMember.team_id.in_(team_ids))
        .order_by(TeamMember.user_id)
    )
    out: dict[int, list[int]] = {t: [] for t in team_ids}
    for team_id, user_id in rows:
        out[team_id].append(user_id)
    return out


async def users_by_ids(session: AsyncSession, user_ids: list[int]) -> list[User]:
    if not user_ids:
        return []
    return list(await session.scalars(select(User).where(User.id.in_(user_ids))))


async def replace_members(session: AsyncSession, *, team_id: int, user_ids: list[int]) -> None:
    await session.execute(delete(TeamMember).where(TeamMember.team_id == team_id))
    for user_id in user_ids:
        session.add(TeamMember(team_id=team_id, user_id=user_id))
    await session.flush()


async def list_categories(session: AsyncSession, *, active_only: bool) -> list[Category]:
    statement = select(Category).order_by(Category.name)
    if active_only:
        statement = statement.where(Category.active.is_(True))
    return list(await session.scalars(statement))


async def get_category(session: AsyncSession, category_id: int) -> Category | None:
    return await session.get(Category, category_id)


async def category_by_name(session: AsyncSession, name: str) -> Category | None:
    return await session.scalar(select(Category).where(Category.name == name))


async def list_canned(session: AsyncSession, *, team_ids: list[int] | None) -> list[CannedResponse]:
    """All canned responses, or (for an agent) the shared ones and those of the agent's teams."""
    statement = select(CannedResponse).order_by(CannedResponse.title, CannedResponse.id)
    if team_ids is not None:
        statement = statement.where(
            or_(CannedResponse.team_id.is_(None), CannedResponse.team_id.in_(team_ids))
        )
    return list(await session.scalars(statement))


async def get_canned(session: AsyncSession, canned_id: int) -> CannedResponse | None:
    return await session.get(CannedResponse, canned_id)
