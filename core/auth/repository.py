"""All SQL about sign-in: magic-link tokens and the shared fixed-window rate-limit counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import MagicLinkToken, RateLimitCounter


async def add_magic_token(session: AsyncSession, token: MagicLinkToken) -> MagicLinkToken:
    session.add(token)
    await session.flush()
    return token


async def consume_magic_token(
    session: AsyncSession, *, token_hash: str, now: datetime
) -> int | None:
    """Mark a live token used and return its user id; None if unknown, used or expired.

    One UPDATE ... RETURNING: two concurrent verifications of the same link cannot both win."""
    return await session.scalar(
        update(MagicLinkToken)
        .where(
            MagicLinkToken.token_hash == token_hash,
            MagicLinkToken.used_at.is_(None),
            MagicLinkToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(MagicLinkToken.user_id)
    )


async def increment_counter(session: AsyncSession, *, key: str, window_start: datetime) -> int:
    """Add one to the counter of this key and window (creating it) and return the new count."""
    statement = (
        insert(RateLimitCounter)
        .values(key=key, window_start=window_start, count=1)
        .on_conflict_do_update(
            index_elements=[RateLimitCounter.key, RateLimitCounter.window_start],
            set_={"count": RateLimitCounter.count + 1},
        )
        .returning(RateLimitCounter.count)
    )
    return int(await session.scalar(statement) or 0)


async def read_counter(session: AsyncSession, *, key: str, window_start: datetime) -> int:
    value = await session.scalar(
        select(RateLimitCounter.count).where(
            RateLimitCounter.key == key, RateLimitCounter.window_start == window_start
        )
    )
    return int(value or 0)


async def delete_counters_before(session: AsyncSession, *, before: datetime) -> int:
    result = await session.execute(
        delete(RateLimitCounter).where(RateLimitCounter.window_start < before)
    )
    return int(result.rowcount or 0)
