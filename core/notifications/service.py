"""Notifications: the entry points other parts call (sign-in links for the API, SLA notices for
the scheduler), the in-app notification rows agents see with an unread count, and `tell`, which
mails a person through the outbox and, for agents, adds the in-app row alongside."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from core.models import Comment, Notification, Role, Ticket, User
from core.notifications import repository
from core.outbox import render as rendering
from core.outbox import service as outbox
from core.outbox.service import AUTO_GENERATED, CommentContent

SLA_KINDS = frozenset(
    {
        "first_response_reminder",
        "first_response_breach",
        "resolution_reminder",
        "resolution_breach",
    }
)
PREVIEW_CHARS = 280


def is_staff(user: User) -> bool:
    return user.role in (Role.agent.value, Role.admin.value)


def preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


async def add_in_app(
    session: AsyncSession,
    *,
    user: User,
    kind: str,
    title: str,
    body: str = "",
    ticket: Ticket | None = None,
    data: dict[str, Any] | None = None,
) -> Notification:
    payload = dict(data or {})
    if ticket is not None:
        payload.setdefault("ticket_number", ticket.number)
    return await repository.add(
        session,
        Notification(
            user_id=user.id,
            ticket_id=ticket.id if ticket else None,
            kind=kind,
            title=title,
            body=body,
            data=payload,
        ),
    )


async def tell(
    session: AsyncSession,
    *,
    user: User,
    kind: str,
    event_key: str,
    ticket: Ticket | None,
    context: dict[str, Any] | None = None,
    comment: Comment | None = None,
    content: CommentContent | None = None,
    thread: Sequence[str] | None = None,
    auto_submitted: str = AUTO_GENERATED,
    from_name: str | None = None,
    in_app: bool = False,
) -> outbox.QueuedEmail | None:
    """Mail `user` (once per event) and, with `in_app`, add an in-app row for them. Returns the
    outbox row, None when this event was already handled for this person."""
    row = await outbox.enqueue(
        session,
        kind=kind,
        event_key=event_key,
        recipient=user,
        ticket=ticket,
        context=context,
        comment=comment,
        content=content,
        thread=thread,
        auto_submitted=auto_submitted,
        from_name=from_name,
    )
    if row is not None and in_app:
        await add_in_app(
            session,
            user=user,
            kind=kind,
            title=row.subject,
            body=preview(content.text) if content else "",
            ticket=ticket,
            data={"comment_id": comment.id} if comment else None,
        )
    return row


# --- called by other parts (names fixed in the team plan) ----------------------------------


async def send_magic_link(session: AsyncSession, *, user: User, url: str) -> None:
    """Mail a sign-in link. The event is the link itself: asking twice sends two links, sending
    the same link twice does not."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:40]
    await outbox.enqueue(
        session,
        kind="magic_link",
        event_key=f"magic_link:{digest}",
        recipient=user,
        ticket=None,
        context={"url": url},
    )


async def notify_sla(
    session: AsyncSession,
    *,
    ticket: Ticket,
    kind: str,
    recipients: list[User],
    due_at: datetime,
) -> None:
    """An SLA reminder or breach notice, by mail and in-app, once per (ticket, kind, due time)."""
    if kind not in SLA_KINDS:
        raise ValueError(f"unknown SLA notice kind {kind!r}")
    assignee = None
    if ticket.assignee_id is not None:
        found = await repository.users_by_ids(session, [ticket.assignee_id])
        assignee = found[0] if found else None
    thread = await outbox.thread_of(session, ticket)
    seen: set[int] = set()
    for user in recipients:
        if user.id in seen:
            continue
        seen.add(user.id)
        locale = rendering.normalise_locale(user.locale)
        await tell(
            session,
            user=user,
            kind="sla",
            event_key=f"sla:{ticket.id}:{kind}:{due_at.isoformat()}",
            ticket=ticket,
            context={
                "sla_kind": kind,
                "sla_title": rendering.labels(locale)["sla"][kind],
                "due_label": rendering.date_label(due_at, locale),
                "assignee_name": assignee.name if assignee else None,
            },
            thread=thread,
            in_app=is_staff(user),
        )


# --- in-app notifications -------------------------------------------------------------------


async def list_notifications(
    session: AsyncSession,
    *,
    user: User,
    unread_only: bool = False,
    cursor: int | None = None,
    limit: int = 50,
) -> tuple[list[Notification], int | None]:
    """Newest first; `cursor` is the last id of the previous page."""
    limit = max(1, min(limit, 200))
    rows = await repository.list_for_user(
        session, user_id=user.id, unread_only=unread_only, before_id=cursor, limit=limit + 1
    )
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor


async def unread_count(session: AsyncSession, *, user: User) -> int:
    return await repository.unread_count(session, user_id=user.id)


async def mark_read(session: AsyncSession, *, user: User, notification_id: int) -> Notification:
    notification = await repository.get_for_user(
        session, user_id=user.id, notification_id=notification_id
    )
    if notification is None:
        raise NotFound("no such notification")
    if notification.read_at is None:
        notification.read_at = datetime.now(UTC)
        await session.flush()
    return notification


async def read_all(session: AsyncSession, *, user: User) -> int:
    return await repository.mark_all_read(session, user_id=user.id)


async def latest_id(session: AsyncSession, *, user_id: int) -> int:
    return await repository.latest_id(session, user_id=user_id)


async def newer_than(
    session: AsyncSession, *, user_id: int, after_id: int, limit: int = 100
) -> list[Notification]:
    """What arrived since `after_id`, oldest first (the live stream's poll)."""
    return await repository.list_for_user(
        session, user_id=user_id, after_id=after_id, limit=limit, newest_first=False
    )
