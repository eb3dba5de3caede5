"""All SQL of the MIS user sync (core/user_sync.py): bulk lookups, inserts and updates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Row, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Locale, Role, User

_COLUMNS = (
    User.id,
    User.external_id,
    User.email,
    User.name,
    User.department,
    User.phone,
    User.active,
)


async def users_by_external_id_or_email(
    session: AsyncSession, *, external_ids: Sequence[str], emails: Sequence[str]
) -> Sequence[Row[Any]]:
    """One query per batch, through the unique indexes on external_id and (citext) email."""
    return (
        await session.execute(
            select(*_COLUMNS).where(or_(User.external_id.in_(external_ids), User.email.in_(emails)))
        )
    ).all()


async def insert_users(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(
            insert(User).values(role=Role.requester.value, locale=Locale.ko.value), rows
        )


async def update_users(session: AsyncSession, rows: list[dict[str, Any]], *, now: datetime) -> None:
    if rows:
        statement = (
            update(User)
            .where(User.id == _bind("id"))
            .values(
                external_id=_bind("external_id"),
                email=_bind("email"),
                name=_bind("name"),
                department=_bind("department"),
                phone=_bind("phone"),
                active=_bind("active"),
                mis_synced_at=_bind("mis_synced_at"),
                updated_at=now,
            )
        )
        await session.execute(statement, [{f"b_{k}": v for k, v in r.items()} for r in rows])


def _bind(name: str) -> BindParameter[Any]:
    # Prefixed names: a bind named like a column would clash with UPDATE's own SET parameters.
    return bindparam(f"b_{name}")


async def active_linked_users(session: AsyncSession) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(User.id, User.external_id).where(
            User.external_id.is_not(None), User.active.is_(True)
        )
    )
    return [(r[0], r[1]) for r in rows]


async def count_linked_users(session: AsyncSession) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(User).where(User.external_id.is_not(None))
        )
        or 0
    )


async def deactivate_users(session: AsyncSession, user_ids: list[int], *, now: datetime) -> None:
    if user_ids:
        await session.execute(
            update(User)
            .where(User.id.in_(user_ids))
            .values(active=False, mis_synced_at=now, updated_at=now)
        )
