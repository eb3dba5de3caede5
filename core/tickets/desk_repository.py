"""SQL the desk actions need beyond core/tickets/repository.py: categories and teams by id."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Category, Team


async def get_category(session: AsyncSession, category_id: int) -> Category | None:
    return await session.get(Category, category_id)


async def get_team(session: AsyncSession, team_id: int) -> Team | None:
    return await session.get(Team, team_id)
