"""All SQL about in-app notifications and the people notifications go to."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import (
    Attachment,
    AttachmentStatus,
    Comment,
    Notification,
    Role,
    TeamMember,
    TicketEvent,
    TicketParticipant,
    User,
    Visibility,
)


async def add(session: AsyncSession, notification: Notification) -> Notification:
    session.add(notification)
    await session.flush()
    return notification


async def list_for_user(
    session: AsyncSession,
    *,
    user_id: int,
    unread_only: bool = False,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int = 50,
    newest_first: bool = True,
) -> list[Notification]:
    statement = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))
    if before_id is not None:
        statement = statement.where(Notification.id < before_id)
    if after_id is not None:
        statement = statement.where(Notification.id > after_id)
    order = Notification.id.desc() if newest_first else Notification.id.asc()
    return list(await session.scalars(statement.order_by(order).limit(limit)))


async def unread_count(session: AsyncSession, *, user_id: int) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


async def latest_id(session: AsyncSession, *, user_id: int) -> int:
    return (
        await session.scalar(
            select(func.max(Notification.id)).where(Notification.user_id == user_id)
        )
        or 0
    )


async def get_for_user(
    session: AsyncSession, *, user_id: int, notification_id: int
) -> Notification | None:
    return await session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
    )


async def mark_all_read(session: AsyncSession, *, user_id: int) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=func.now())
    )
    return int(result.rowcount or 0)


async def users_by_ids(session: AsyncSession, ids: list[int]) -> list[User]:
    if not ids:
        return []
    return list(await session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id)))


async def cc_users(session: AsyncSession, *, ticket_id: int) -> list[User]:
    return list(
        await session.scalars(
            select(User)
            .join(TicketParticipant, TicketParticipant.user_id == User.id)
            .where(TicketParticipant.ticket_id == ticket_id)
            .order_by(User.id)
        )
    )


async def team_agents(session: AsyncSession, *, team_id: int) -> list[User]:
    return list(
        await session.scalars(
            select(User)
            .join(TeamMember, TeamMember.user_id == User.id)
            .where(
                TeamMember.team_id == team_id,
                User.active.is_(True),
                User.role.in_([Role.agent.value, Role.admin.value]),
            )
            .order_by(User.id)
        )
    )


async def public_attachments(session: AsyncSession, *, comment_id: int) -> list[Attachment]:
    return list(
        await session.scalars(
            select(Attachment)
            .where(
                Attachment.comment_id == comment_id,
                Attachment.status == AttachmentStatus.stored.value,
            )
            .order_by(Attachment.id)
        )
    )


async def latest_ticket_event_id(session: AsyncSession, *, ticket_id: int, kind: str) -> int | None:
    return await session.scalar(
        select(func.max(TicketEvent.id)).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.kind == kind
        )
    )


async def first_public_comment(session: AsyncSession, *, ticket_id: int) -> Comment | None:
    return await session.scalar(
        select(Comment)
        .where(Comment.ticket_id == ticket_id, Comment.visibility == Visibility.public.value)
        .order_by(Comment.created_at, Comment.id)
        .limit(1)
    )
