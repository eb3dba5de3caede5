"""All SQL of the MIS user sync (core/user_sync.py): bulk lookups, inserts and updates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    Row,
    String,
    any_,
    bindparam,
    cast,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, CITEXT
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Locale, Role, User

# Core statements on the table: bulk rows, no ORM identity-map bookkeeping.
_users = User.__table__

_COLUMNS = (
    User.id,
    User.external_id,
    User.email,
    User.name,
    User.department,
    User.phone,
    User.active,
)


async def users_by_external_ids(
    session: AsyncSession, external_ids: Sequence[str]
) -> Sequence[Row[Any]]:
    """Through the unique index on external_id; one array parameter, not thousands of binds."""
    if not external_ids:
        return []
    ids = cast(literal(list(external_ids), ARRAY(String)), ARRAY(String))
    return (await session.execute(select(*_COLUMNS).where(User.external_id == any_(ids)))).all()


async def users_by_emails(session: AsyncSession, emails: Sequence[str]) -> Sequence[Row[Any]]:
    """Through the unique citext index on email (the array must be citext[] for the index)."""
    if not emails:
        return []
    wanted = cast(literal(list(emails), ARRAY(CITEXT)), ARRAY(CITEXT))
    return (await session.execute(select(*_COLUMNS).where(User.email == any_(wanted)))).all()


async def insert_users(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(
            insert(_users).values(role=Role.requester.value, locale=Locale.ko.value), rows
        )


async def update_users(session: AsyncSession, rows: list[dict[str, Any]], *, now: datetime) -> None:
    if rows:
        statement = (
            update(_users)
            .where(_users.c.id == _bind("id"))
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


async def deactivate_users(session: AsyncSession, user_ids: list[int], *, now: datetime) -> None:
    if user_ids:
        await session.execute(
            update(User)
            .where(User.id.in_(user_ids))
            .values(active=False, mis_synced_at=now, updated_at=now)
        )
