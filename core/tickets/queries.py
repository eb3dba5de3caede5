"""Reading tickets for a person: filtered and searched lists with keyset pagination, queue counts,
one ticket with what its reader may see, its thread and its history.

Every read goes through the reader's scope (core/tickets/access.py): requesters get their own and
their CC'd tickets, public comments and public files; agents and admins get the desk.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.errors import Invalid
from core.models import (
    Attachment,
    Comment,
    Ticket,
    TicketEvent,
    TicketPriority,
    TicketStatus,
    User,
)
from core.tickets import access, search
from core.tickets import query_repository as repo

MAX_PAGE = 100
# A ticket is "at risk" when a target it has not met falls due within this window.
AT_RISK_WINDOW = timedelta(hours=1)
SORTS = ("updated", "created", "priority")


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class TicketFilters:
    status: list[str] = field(default_factory=list)
    priority: list[str] = field(default_factory=list)
    assignee: str | None = None  # "me" | "none" | "<user id>"
    team: str | None = None  # "mine" | "none" | "<team id>"
    requester_id: int | None = None
    category_id: int | None = None
    q: str | None = None
    sla: str | None = None  # "breached" | "at_risk"
    created_from: datetime | None = None
    created_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    sort: str = "-updated"
    cursor: str | None = None
    limit: int = 25


@dataclass
class TicketPage:
    tickets: list[Ticket]
    users: dict[int, repo.PersonRow]
    teams: dict[int, repo.TeamRow]
    comment_counts: dict[int, int]
    attachment_counts: dict[int, int]
    next_cursor: str | None
    at: datetime


@dataclass
class TicketDetail:
    ticket: Ticket
    users: dict[int, repo.PersonRow]
    teams: dict[int, repo.TeamRow]
    participants: list[User]
    attachments: list[Attachment]
    comment_count: int
    at: datetime


@dataclass
class CommentView:
    comment: Comment
    author: User | None
    attachments: list[Attachment]


def sla_state(ticket: Ticket, at: datetime) -> str:
    """none | breached | paused | at_risk | ok (breach is permanent, so it wins)."""
    if ticket.first_response_due_at is None and ticket.resolution_due_at is None:
        return "none"
    if (
        ticket.first_response_breached_at is not None
        or ticket.resolution_breached_at is not None
        or (
            ticket.first_response_at is None
            and ticket.first_response_due_at is not None
            and ticket.first_response_due_at < at
        )
        or (
            ticket.resolved_at is None
            and ticket.resolution_due_at is not None
            and ticket.resolution_due_at < at
        )
    ):
        return "breached"
    if ticket.sla_paused_at is not None:
        return "paused"
    horizon = at + AT_RISK_WINDOW
    for due, met in (
        (ticket.first_response_due_at, ticket.first_response_at),
        (ticket.resolution_due_at, ticket.resolved_at),
    ):
        if due is not None and met is None and due <= horizon:
            return "at_risk"
    return "ok"


# --- cursors -----------------------------------------------------------------------------------


def _parse_sort(sort: str) -> tuple[str, bool]:
    descending = sort.startswith("-")
    key = sort.lstrip("-+ ")
    if key not in SORTS:
        raise Invalid("invalid sort", detail=f"sort must be one of {', '.join(SORTS)} (- for desc)")
    return key, descending


def _sort_value(ticket: Ticket, key: str) -> Any:
    if key == "priority":
        return {"low": 1, "normal": 2, "high": 3, "urgent": 4}.get(ticket.priority, 0)
    return getattr(ticket, f"{key}_at").isoformat()


def encode_cursor(sort: str, value: Any, ticket_id: int) -> str:
    raw = json.dumps({"s": sort, "v": value, "i": ticket_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    bad = Invalid("invalid cursor", detail="the cursor is not one this list handed out")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict) or data.get("s") != sort:
            raise bad
        ticket_id = data["i"]
        value = data["v"]
        if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
            raise bad
        if not 0 <= ticket_id < 2**63:
            raise bad
        key, _ = _parse_sort(sort)
        if key == "priority":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 4:
                raise bad
        else:
            if not isinstance(value, str):
                raise bad
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise bad
        return value, ticket_id
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise bad from exc


# --- lists -------------------------------------------------------------------------------------


def _id_or(value: str, words: tuple[str, ...], name: str) -> int | None:
    if value in words:
        return None
    if value.isdigit() and len(value) < 19:
        return int(value)
    raise Invalid(f"invalid {name}", detail=f"{name} must be {' or '.join(words)} or an id")


def _conditions(user: User, filters: TicketFilters, at: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status:
        statuses = [TicketStatus(s).value for s in filters.status]
        conditions.append(Ticket.status.in_(statuses))
    if filters.priority:
        conditions.append(Ticket.priority.in_([TicketPriority(p).value for p in filters.priority]))
    if filters.assignee:
        if filters.assignee == "me":
            conditions.append(Ticket.assignee_id == user.id)
        elif filters.assignee == "none":
            conditions.append(Ticket.assignee_id.is_(None))
        else:
            conditions.append(
                Ticket.assignee_id == _id_or(filters.assignee, ("me", "none"), "assignee")
            )
    if filters.team:
        if filters.team == "mine":
            conditions.append(Ticket.team_id.in_(repo.team_ids_of(user.id)))
        elif filters.team == "none":
            conditions.append(Ticket.team_id.is_(None))
        else:
            conditions.append(Ticket.team_id == _id_or(filters.team, ("mine", "none"), "team"))
    if filters.requester_id is not None:
        conditions.append(Ticket.requester_id == filters.requester_id)
    if filters.category_id is not None:
        conditions.append(Ticket.category_id == filters.category_id)
    for column, lower, upper in (
        (Ticket.created_at, filters.created_from, filters.created_to),
        (Ticket.updated_at, filters.updated_from, filters.updated_to),
    ):
        if lower is not None:
            conditions.append(column >= lower)
        if upper is not None:
            conditions.append(column < upper)
    if filters.sla == "breached":
        conditions.append(repo.breached_clause(at))
    elif filters.sla == "at_risk":
        conditions.append(repo.at_risk_clause(at, at + AT_RISK_WINDOW))
    elif filters.sla:
        raise Invalid("invalid sla filter", detail="sla must be breached or at_risk")
    if filters.q is not None and filters.q.strip():
        conditions.append(
            repo.search_clause(
                search.build_tsquery(filters.q),
                number=search.ticket_number_in(filters.q),
                internal=access.is_staff(user),
            )
        )
    return conditions


async def _decorate(
    session: AsyncSession, tickets: list[Ticket], *, include_internal: bool
) -> tuple[dict[int, repo.PersonRow], dict[int, repo.TeamRow], dict[int, int], dict[int, int]]:
    users, teams, counts = await repo.page_context(
        session, [t.id for t in tickets], include_internal=include_internal
    )
    comments = {ticket_id: c for ticket_id, (c, _) in counts.items()}
    attachments = {ticket_id: a for ticket_id, (_, a) in counts.items()}
    return users, teams, comments, attachments


async def list_tickets(session: AsyncSession, *, user: User, filters: TicketFilters) -> TicketPage:
    at = now()
    key, descending = _parse_sort(filters.sort)
    limit = max(1, min(filters.limit, MAX_PAGE))
    after = decode_cursor(filters.cursor, filters.sort) if filters.cursor else None
    try:
        conditions = _conditions(user, filters, at)
    except ValueError as exc:  # an unknown status or priority
        raise Invalid("invalid filter", detail=str(exc)) from exc
    rows = await repo.list_tickets(
        session,
        conditions=conditions,
        sort=key,
        descending=descending,
        after=after,
        limit=limit + 1,
        # A requester's scope (own + CC'd tickets) is applied by the repository's two branches.
        requester_id=None if access.ticket_scope(user).all_tickets else user.id,
    )
    tickets = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = tickets[-1]
        next_cursor = encode_cursor(filters.sort, _sort_value(last, key), last.id)
    users, teams, comments, attachments = await _decorate(
        session, tickets, include_internal=access.is_staff(user)
    )
    return TicketPage(tickets, users, teams, comments, attachments, next_cursor, at)


async def queue_counts(session: AsyncSession, *, user: User) -> dict[str, int]:
    access.require_staff(user, "see queue counts")
    at = now()
    return await repo.queue_counts(session, user_id=user.id, now=at, horizon=at + AT_RISK_WINDOW)


async def ticket_detail(session: AsyncSession, *, user: User, ticket_id: int) -> TicketDetail:
    ticket = await access.visible_ticket(session, user, ticket_id)
    return await detail_of(session, user=user, ticket=ticket)


async def detail_of(session: AsyncSession, *, user: User, ticket: Ticket) -> TicketDetail:
    staff = access.is_staff(user)
    users, teams, comments, _ = await _decorate(session, [ticket], include_internal=staff)
    return TicketDetail(
        ticket=ticket,
        users=users,
        teams=teams,
        participants=await repo.participants(session, ticket.id),
        attachments=await repo.ticket_attachments(session, ticket.id, include_internal=staff),
        comment_count=comments.get(ticket.id, 0),
        at=now(),
    )


async def list_comments(
    session: AsyncSession, *, user: User, ticket_id: int, after_id: int = 0, limit: int = 500
) -> list[CommentView]:
    ticket = await access.visible_ticket(session, user, ticket_id)
    comments = await repo.list_comments(
        session,
        ticket.id,
        include_internal=access.is_staff(user),
        limit=max(1, min(limit, 1000)),
        after_id=after_id,
    )
    return await comment_views(session, comments)


async def comment_views(session: AsyncSession, comments: list[Comment]) -> list[CommentView]:
    authors = await repo.users_by_id(session, {c.author_id for c in comments if c.author_id})
    files = await repo.attachments_of_comments(session, [c.id for c in comments])
    by_comment: dict[int, list[Attachment]] = {}
    for attachment in files:
        by_comment.setdefault(attachment.comment_id or 0, []).append(attachment)
    return [
        CommentView(c, authors.get(c.author_id) if c.author_id else None, by_comment.get(c.id, []))
        for c in comments
    ]


async def list_events(
    session: AsyncSession, *, user: User, ticket_id: int
) -> tuple[list[TicketEvent], dict[int, User]]:
    ticket = await access.visible_ticket(session, user, ticket_id)
    kinds = None if access.is_staff(user) else access.REQUESTER_EVENT_KINDS
    events = await repo.list_events(session, ticket.id, kinds=kinds)
    actors = await repo.users_by_id(session, {e.actor_id for e in events if e.actor_id})
    return events, actors
