"""Rules about tickets: how they open, how comments and changes move them, and what every change
records in their history and announces as a domain event (core/events.py).

Callers pass already-loaded rows; permission checks (who may do this) live in core/tickets/access.py
and are applied by the callers that act for a person (API); the mail pipeline decides authorship
itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import events
from core.errors import Invalid
from core.models import (
    Channel,
    Comment,
    CommentSource,
    ParticipantRole,
    Role,
    Ticket,
    TicketParticipant,
    TicketPriority,
    TicketStatus,
    User,
    Visibility,
)
from core.tickets import repository

MAX_SUBJECT_LENGTH = 998  # RFC 5322 line limit; longer subjects are cut, not refused
MAX_PARTICIPANTS = 40  # a mail to a whole department must not make 500 watchers

# Which status may follow which. Closing is final except by an explicit reopen (-> open).
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    TicketStatus.new: {
        TicketStatus.open,
        TicketStatus.pending,
        TicketStatus.resolved,
        TicketStatus.closed,
    },
    TicketStatus.open: {TicketStatus.pending, TicketStatus.resolved, TicketStatus.closed},
    TicketStatus.pending: {TicketStatus.open, TicketStatus.resolved, TicketStatus.closed},
    TicketStatus.resolved: {TicketStatus.open, TicketStatus.closed},
    TicketStatus.closed: {TicketStatus.open},
}


def now() -> datetime:
    return datetime.now(UTC)


def is_staff(user: User | None) -> bool:
    return user is not None and user.role in (Role.agent, Role.admin)


async def record(
    session: AsyncSession,
    ticket: Ticket,
    kind: str,
    *,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    await repository.add_event(
        session,
        ticket_id=ticket.id,
        actor_id=actor.id if actor else None,
        kind=kind,
        data=data or {},
    )


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
    inbound_message_id: int | None = None,
    quote_start: int | None = None,
    is_auto_reply: bool = False,
    suppress_acknowledgement: bool = False,
    follow_up_of_id: int | None = None,
    actor: User | None = None,
    mail_trust: str | None = None,
) -> tuple[Ticket, Comment]:
    """A new ticket with its first (public) comment and a `created` event."""
    subject = " ".join(subject.split())[:MAX_SUBJECT_LENGTH]
    if not subject:
        raise Invalid("a ticket needs a subject")
    ticket = Ticket(
        subject=subject,
        status=TicketStatus.new.value,
        priority=TicketPriority(priority).value,
        channel=Channel(channel).value,
        requester_id=requester.id,
        team_id=team_id,
        category_id=category_id,
        thread_message_id=message_id,
        follow_up_of_id=follow_up_of_id,
    )
    await events.publish(session, events.TicketOpening(ticket))
    ticket = await repository.add_ticket(session, ticket)
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
            inbound_message_id=inbound_message_id,
            quote_start=quote_start,
            is_auto_reply=is_auto_reply,
            mail_trust=mail_trust,
        ),
    )
    data: dict[str, Any] = {"channel": ticket.channel, "priority": ticket.priority}
    if follow_up_of_id:
        data["follow_up_of_id"] = follow_up_of_id
    await record(session, ticket, "created", actor=actor or requester, data=data)
    await events.publish(
        session,
        events.TicketCreated(
            ticket_id=ticket.id,
            comment_id=comment.id,
            actor_id=(actor or requester).id,
            suppress_acknowledgement=suppress_acknowledgement or is_auto_reply,
        ),
    )
    return ticket, comment


async def add_comment(
    session: AsyncSession,
    *,
    ticket: Ticket,
    author: User | None,
    body_text: str,
    body_html: str | None = None,
    visibility: Visibility = Visibility.public,
    source: CommentSource = CommentSource.web,
    message_id: str | None = None,
    inbound_message_id: int | None = None,
    quote_start: int | None = None,
    is_auto_reply: bool = False,
    mail_trust: str | None = None,
) -> Comment:
    """Append to the thread and move the ticket the way helpdesks expect:
    an agent's first public reply is the first response and opens a new ticket; a requester's
    reply to a pending or resolved ticket puts it back in the agents' queue."""
    visibility = Visibility(visibility)
    if visibility == Visibility.internal and author is not None and not is_staff(author):
        raise Invalid("only agents can write internal notes")
    comment = await repository.add_comment(
        session,
        Comment(
            ticket_id=ticket.id,
            author_id=author.id if author else None,
            visibility=visibility.value,
            source=CommentSource(source).value,
            body_text=body_text,
            body_html=body_html,
            message_id=message_id,
            inbound_message_id=inbound_message_id,
            quote_start=quote_start,
            is_auto_reply=is_auto_reply,
            mail_trust=mail_trust,
        ),
    )
    moment = now()
    ticket.updated_at = moment
    if visibility == Visibility.public and source != CommentSource.system:
        if is_staff(author):
            if ticket.first_response_at is None:
                ticket.first_response_at = moment
            if ticket.status == TicketStatus.new:
                await change_status(session, ticket=ticket, status=TicketStatus.open, actor=author)
        elif not is_auto_reply and ticket.status in (TicketStatus.pending, TicketStatus.resolved):
            await change_status(session, ticket=ticket, status=TicketStatus.open, actor=author)
    await session.flush()
    await events.publish(
        session,
        events.CommentAdded(
            ticket_id=ticket.id,
            comment_id=comment.id,
            author_id=author.id if author else None,
            visibility=visibility.value,
            source=CommentSource(source).value,
            is_auto_reply=is_auto_reply,
        ),
    )
    return comment


async def add_system_note(session: AsyncSession, *, ticket: Ticket, text: str) -> Comment:
    """An internal note written by the system (bounces, merges), never mailed to the requester."""
    return await add_comment(
        session,
        ticket=ticket,
        author=None,
        body_text=text,
        visibility=Visibility.internal,
        source=CommentSource.system,
    )


async def change_status(
    session: AsyncSession, *, ticket: Ticket, status: TicketStatus | str, actor: User | None
) -> None:
    status = TicketStatus(status)
    old = TicketStatus(ticket.status)
    if status == old:
        return
    if status not in ALLOWED_TRANSITIONS[old]:
        raise Invalid(f"a {old.value} ticket cannot become {status.value}")
    moment = now()
    ticket.status = status.value
    ticket.updated_at = moment
    if status == TicketStatus.resolved:
        ticket.resolved_at = moment
    elif status == TicketStatus.closed:
        ticket.closed_at = moment
        ticket.resolved_at = ticket.resolved_at or moment
    elif status in (TicketStatus.open, TicketStatus.pending) and old in (
        TicketStatus.resolved,
        TicketStatus.closed,
    ):
        ticket.resolved_at = None
        ticket.closed_at = None
    await session.flush()
    await record(session, ticket, "status_changed", actor=actor, data={"from": old, "to": status})
    await events.publish(
        session,
        events.TicketStatusChanged(
            ticket_id=ticket.id,
            old_status=old.value,
            new_status=status.value,
            actor_id=actor.id if actor else None,
        ),
    )


async def assign(
    session: AsyncSession, *, ticket: Ticket, assignee: User | None, actor: User | None
) -> None:
    if assignee is not None and (not is_staff(assignee) or not assignee.active):
        raise Invalid("tickets can only be assigned to active agents")
    previous = ticket.assignee_id
    new = assignee.id if assignee else None
    if previous == new:
        return
    ticket.assignee_id = new
    ticket.updated_at = now()
    await session.flush()
    await record(session, ticket, "assigned", actor=actor, data={"from": previous, "to": new})
    await events.publish(
        session,
        events.TicketAssigned(
            ticket_id=ticket.id,
            assignee_id=new,
            previous_assignee_id=previous,
            actor_id=actor.id if actor else None,
        ),
    )


async def update_fields(
    session: AsyncSession,
    *,
    ticket: Ticket,
    actor: User | None,
    priority: TicketPriority | str | None = None,
    team_id: int | None = None,
    category_id: int | None = None,
    subject: str | None = None,
    clear: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Change priority/team/category/subject; `clear` names fields to set to null."""
    changes: dict[str, Any] = {}
    if priority is not None and TicketPriority(priority).value != ticket.priority:
        changes["priority"] = {"from": ticket.priority, "to": TicketPriority(priority).value}
        ticket.priority = TicketPriority(priority).value
    for field, value in (("team_id", team_id), ("category_id", category_id)):
        current = getattr(ticket, field)
        target = None if field in clear else (value if value is not None else current)
        if target != current:
            changes[field] = {"from": current, "to": target}
            setattr(ticket, field, target)
    if subject is not None:
        cleaned = " ".join(subject.split())[:MAX_SUBJECT_LENGTH]
        if not cleaned:
            raise Invalid("a ticket needs a subject")
        if cleaned != ticket.subject:
            changes["subject"] = {"from": ticket.subject, "to": cleaned}
            ticket.subject = cleaned
    if not changes:
        return changes
    ticket.updated_at = now()
    await session.flush()
    await record(session, ticket, "fields_changed", actor=actor, data=changes)
    await events.publish(
        session,
        events.TicketFieldsChanged(
            ticket_id=ticket.id, changes=changes, actor_id=actor.id if actor else None
        ),
    )
    return changes


async def add_participant(
    session: AsyncSession,
    *,
    ticket: Ticket,
    user: User,
    actor: User | None = None,
    role: ParticipantRole = ParticipantRole.cc,
) -> bool:
    """Add a CC/watcher; False when already there, the requester, or the cap is reached."""
    if user.id == ticket.requester_id:
        return False
    if await repository.get_participant(session, ticket_id=ticket.id, user_id=user.id):
        return False
    if await repository.count_participants(session, ticket_id=ticket.id) >= MAX_PARTICIPANTS:
        return False
    await repository.add_participant(
        session, TicketParticipant(ticket_id=ticket.id, user_id=user.id, role=role.value)
    )
    await record(
        session, ticket, "participant_added", actor=actor, data={"user_id": user.id, "role": role}
    )
    return True


async def remove_participant(
    session: AsyncSession, *, ticket: Ticket, user_id: int, actor: User | None = None
) -> bool:
    removed = await repository.delete_participant(session, ticket_id=ticket.id, user_id=user_id)
    if removed:
        await record(session, ticket, "participant_removed", actor=actor, data={"user_id": user_id})
    return removed
