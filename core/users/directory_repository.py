"""SQL for the user directory (admin lists, search) and team memberships."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import TeamMember, User


async def team_ids(session: AsyncSession, user_id: int) -> list[int]:
    rows = await session.scalars(
        select(TeamMember.team_id).where(TeamMember.user_id == user_id).order_by(TeamMember.team_id)
    )
    return list(rows)


async def team_ids_for(session: AsyncSession, user_ids: list[int]) -> dict[int, list[int]]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(TeamMember.user_id, TeamMember.team_id)
        .where(TeamMember.user_id.in_(user_ids))
        .order_by(TeamMember.team_id)
    )
    out: dict[int, list[int]] = {}
    for user_id, team_id in rows:
        out.setdefault(user_id, []).append(team_id)
    return out


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_users(
    session: AsyncSession,
    *,
    q: str | None,
    role: str | None,
    active: bool | None,
    after_id: int,
    limit: int,
) -> list[User]:
    statement = select(User).where(User.id > after_id)
    if q:
        pattern = f"%{_escape_like(q)}%"
        statement = statement.where(
            or_(
                User.email.ilike(pattern, escape="\\"),
                User.name.ilike(pattern, escape="\\"),
                User.department.ilike(pattern, escape="\\"),
            )
        )
    if role:
        statement = statement.where(User.role == role)
    if active is not None:
        statement = statement.where(User.active.is_(active))
    return list(await session.scalars(statement.order_by(User.id).limit(limit)))
