"""Rules about tickets: how they open, and what every change records in their history."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid
from core.models import (
    Channel,
    Comment,
    CommentSource,
    Ticket,
    TicketEvent,
    TicketPriority,
    TicketStatus,
    User,
    Visibility,
)
from core.tickets import repository

MAX_SUBJECT_LENGTH = 998  # RFC 5322 line limit; longer subjects are cut, not refused


async def open_ticket(
    session: AsyncSession,
    *,
    requester: User,
    subject: str,
    body_text: str,
    body_html: str | None = None,
    channel: Channel = Channel.web,
    priority: TicketPriority = TicketPriority.normal,
    team_id: int | None = None,
    category_id: int | None = None,
    message_id: str | None = None,
    actor: User | None = None,
) -> tuple[Ticket, Comment]:
    """A new ticket with its first (public) comment and a `created` event."""
    subject = " ".join(subject.split())[:MAX_SUBJECT_LENGTH]
    if not subject:
        raise Invalid("a ticket needs a subject")
    ticket = await repository.add_ticket(
        session,
        Ticket(
            subject=subject,
            status=TicketStatus.new.value,
            priority=TicketPriority(priority).value,
            channel=Channel(channel).value,
            requester_id=requester.id,
            team_id=team_id,
            category_id=category_id,
            thread_message_id=message_id,
        ),
    )
    comment = await repository.add_comment(
        session,
        Comment(
            ticket_id=ticket.id,
            author_id=requester.id,
            visibility=Visibility.public.value,
            source=CommentSource.email.value
            if channel == Channel.email
            else CommentSource.web.value,
            body_text=body_text,
            body_html=body_html,
            message_id=message_id,
        ),
    )
    await repository.add_event(
        session,
        TicketEvent(
            ticket_id=ticket.id,
            actor_id=(actor or requester).id,
            kind="created",
            data={"channel": ticket.channel, "priority": ticket.priority},
        ),
    )
    return ticket, comment
