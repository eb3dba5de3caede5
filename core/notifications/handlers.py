"""What sends what. Each handler runs inside the transaction that made the change (core/events.py),
so the mail a change causes is committed with it or not at all.

* new ticket -> acknowledgement to the requester (Auto-Submitted: auto-replied), unless the mail
  that opened it was an auto-reply, a bounce or part of a flood (suppress_acknowledgement);
* public agent reply (web or mail) -> the requester and every CC participant, author excluded;
* public requester/CC reply -> the assignee, or the team's agents when unassigned (mail and
  in-app); auto-replies notify nobody;
* assignment -> the new assignee (mail and in-app), unless they assigned themselves;
* resolved -> the requester, with how to reopen, unless they resolved it themselves.
Internal notes and system notes are never mailed.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core import events
from core.config import get_settings
from core.mail.tokens import make_reply_token, reply_address
from core.models import Comment, CommentSource, Ticket, TicketStatus, User, Visibility
from core.notifications import repository
from core.notifications.service import is_staff, tell
from core.outbox import service as outbox
from core.outbox.service import AUTO_REPLIED
from core.tickets import repository as tickets_repo
from core.users import repository as users_repo


def _distinct(users: list[User | None], *, exclude: set[int]) -> list[User]:
    seen = set(exclude)
    result = []
    for user in users:
        if user is not None and user.id not in seen:
            seen.add(user.id)
            result.append(user)
    return result


@events.subscribe(events.TicketCreated)
async def acknowledge_new_ticket(session: AsyncSession, event: events.TicketCreated) -> None:
    if event.suppress_acknowledgement:
        return
    # Both were just written in this session: the identity map has them, no SELECT needed.
    ticket = await session.get(Ticket, event.ticket_id)
    if ticket is None:
        return
    requester = await users_repo.get_by_id(session, ticket.requester_id)
    if requester is None:
        return
    await tell(
        session,
        user=requester,
        kind="acknowledgement",
        event_key=f"ticket:{ticket.id}:created",
        ticket=ticket,
        auto_submitted=AUTO_REPLIED,
        # The thread of a ticket that has just opened is the mail that opened it, if any.
        thread=[ticket.thread_message_id] if ticket.thread_message_id else [],
    )


@events.subscribe(events.CommentAdded)
async def announce_comment(session: AsyncSession, event: events.CommentAdded) -> None:
    if event.visibility != Visibility.public.value or event.source == CommentSource.system.value:
        return
    if event.author_id is None:
        return
    ticket = await tickets_repo.get_ticket(session, event.ticket_id)
    comment = await session.get(Comment, event.comment_id)
    author = await users_repo.get_by_id(session, event.author_id)
    if ticket is None or comment is None or author is None:
        return
    settings = get_settings()
    content = outbox.comment_content(comment, author_name=author.name)
    thread = await outbox.thread_of(session, ticket)
    event_key = f"comment:{comment.id}"
    if is_staff(author):
        requester = await users_repo.get_by_id(session, ticket.requester_id)
        ccs = await repository.cc_users(session, ticket_id=ticket.id)
        for user in _distinct([requester, *ccs], exclude={author.id}):
            await tell(
                session,
                user=user,
                kind="agent_reply",
                event_key=event_key,
                ticket=ticket,
                comment=comment,
                content=content,
                thread=thread,
                from_name=f"{author.name} ({outbox.product_name(settings)})",
            )
        return
    if event.is_auto_reply:
        return
    if ticket.assignee_id is not None:
        agents = await repository.users_by_ids(session, [ticket.assignee_id])
    elif ticket.team_id is not None:
        agents = await repository.team_agents(session, team_id=ticket.team_id)
    else:
        agents = []
    for agent in _distinct(list(agents), exclude={author.id}):
        note_token = make_reply_token(ticket_id=ticket.id, user_id=agent.id, note=True)
        await tell(
            session,
            user=agent,
            kind="requester_reply",
            event_key=event_key,
            ticket=ticket,
            comment=comment,
            content=content,
            thread=thread,
            context={"note_address": reply_address(settings.reply_address, note_token)},
            in_app=True,
        )


@events.subscribe(events.TicketAssigned)
async def announce_assignment(session: AsyncSession, event: events.TicketAssigned) -> None:
    if event.assignee_id is None or event.assignee_id == event.actor_id:
        return
    ticket = await tickets_repo.get_ticket(session, event.ticket_id)
    assignee = await users_repo.get_by_id(session, event.assignee_id)
    if ticket is None or assignee is None:
        return
    requester = await users_repo.get_by_id(session, ticket.requester_id)
    actor = await users_repo.get_by_id(session, event.actor_id) if event.actor_id else None
    first = await repository.first_public_comment(session, ticket_id=ticket.id)
    content = None
    if first is not None:
        author = await users_repo.get_by_id(session, first.author_id) if first.author_id else None
        content = outbox.comment_content(first, author_name=author.name if author else "")
    event_id = await repository.latest_ticket_event_id(
        session, ticket_id=ticket.id, kind="assigned"
    )
    await tell(
        session,
        user=assignee,
        kind="assigned",
        event_key=f"ticket:{ticket.id}:assigned:{event_id}",
        ticket=ticket,
        content=content,
        context={
            "actor_name": actor.name if actor else None,
            "requester_name": requester.name if requester else "",
        },
        in_app=True,
    )


@events.subscribe(events.TicketStatusChanged)
async def announce_resolution(session: AsyncSession, event: events.TicketStatusChanged) -> None:
    if event.new_status != TicketStatus.resolved.value:
        return
    ticket = await tickets_repo.get_ticket(session, event.ticket_id)
    if ticket is None or ticket.requester_id == event.actor_id:
        return
    requester = await users_repo.get_by_id(session, ticket.requester_id)
    if requester is None:
        return
    event_id = await repository.latest_ticket_event_id(
        session, ticket_id=ticket.id, kind="status_changed"
    )
    await tell(
        session,
        user=requester,
        kind="resolved",
        event_key=f"ticket:{ticket.id}:resolved:{event_id}",
        ticket=ticket,
    )
