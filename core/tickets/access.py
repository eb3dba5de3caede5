"""Who may see and do what with tickets, comments and their files.

- requester: the tickets they asked for and those they take part in (CC); public comments only,
  and only the files of public comments; may reply publicly, add/remove CCs on their own
  tickets, and close/resolve or reopen their own tickets.
- agent: every ticket of the desk, every comment; replies, internal notes, assignment, status,
  priority, team, category, merge, bulk changes.
- admin: everything an agent may, plus the desk's configuration (users, teams, categories, ...).

A ticket a user may not see does not exist for them: NotFound, never Forbidden, so an id cannot
be probed (no IDOR oracle). Forbidden is only for things a user can see but may not change.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Forbidden, NotFound
from core.models import Attachment, Comment, Role, Ticket, TicketStatus, User, Visibility
from core.tickets import repository

# What a requester may do to the status of their own ticket: close or resolve it, or reopen it.
REQUESTER_STATUS_TARGETS = frozenset({TicketStatus.resolved, TicketStatus.closed})
REQUESTER_REOPEN_FROM = frozenset({TicketStatus.resolved, TicketStatus.closed})
# The history a requester sees of their own ticket (no assignment or internal bookkeeping).
REQUESTER_EVENT_KINDS = frozenset({"created", "status_changed", "merged", "merged_into"})


def is_staff(user: User | None) -> bool:
    return user is not None and user.role in (Role.agent, Role.admin)


def is_admin(user: User | None) -> bool:
    return user is not None and user.role == Role.admin


@dataclass(frozen=True)
class TicketScope:
    """Which tickets a list may return: all of them, or those of one requester (own + CC)."""

    all_tickets: bool
    user_id: int


def ticket_scope(user: User) -> TicketScope:
    return TicketScope(all_tickets=is_staff(user), user_id=user.id)


async def can_view(session: AsyncSession, user: User, ticket: Ticket) -> bool:
    if is_staff(user) or ticket.requester_id == user.id:
        return True
    participant = await repository.get_participant(session, ticket_id=ticket.id, user_id=user.id)
    return participant is not None


async def visible_ticket(
    session: AsyncSession, user: User, ticket_id: int, *, for_update: bool = False
) -> Ticket:
    """The ticket if `user` may see it; NotFound otherwise (also when it does not exist)."""
    ticket = await repository.get_ticket(session, ticket_id, for_update=for_update)
    if ticket is None or not await can_view(session, user, ticket):
        raise NotFound("ticket not found")
    return ticket


def require_staff(user: User, action: str = "do this") -> None:
    if not is_staff(user):
        raise Forbidden(f"only agents may {action}")


def require_admin(user: User, action: str = "do this") -> None:
    if not is_admin(user):
        raise Forbidden(f"only admins may {action}")


def can_see_comment(user: User, comment: Comment) -> bool:
    return is_staff(user) or comment.visibility == Visibility.public.value


def can_write_comment(user: User, visibility: Visibility | str) -> None:
    if Visibility(visibility) == Visibility.internal and not is_staff(user):
        raise Forbidden("only agents can write internal notes")


def requester_may_set_status(user: User, ticket: Ticket, status: TicketStatus | str) -> None:
    """A requester may resolve/close their own ticket or reopen it; nothing else."""
    target = TicketStatus(status)
    if ticket.requester_id != user.id:
        raise Forbidden("only the requester or an agent may change this ticket's status")
    current = TicketStatus(ticket.status)
    if target in REQUESTER_STATUS_TARGETS:
        return
    if target == TicketStatus.open and current in REQUESTER_REOPEN_FROM:
        return
    raise Forbidden(f"requesters may close, resolve or reopen a ticket, not set it {target.value}")


def may_manage_participants(user: User, ticket: Ticket) -> None:
    if not (is_staff(user) or ticket.requester_id == user.id):
        raise Forbidden("only the requester or an agent may change who is copied")


async def can_download(
    session: AsyncSession, user: User, attachment: Attachment, *, comment: Comment | None
) -> bool:
    """A file is visible with its ticket and its comment; a file not yet linked to a ticket only
    to the person who uploaded it."""
    if attachment.ticket_id is None:
        return attachment.uploader_id == user.id or is_admin(user)
    ticket = await repository.get_ticket(session, attachment.ticket_id)
    if ticket is None or not await can_view(session, user, ticket):
        return False
    return comment is None or can_see_comment(user, comment)
