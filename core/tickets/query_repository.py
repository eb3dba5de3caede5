"""All SQL that reads tickets for people: the filtered, keyset-paginated list, full-text search,
queue counts, and the batched look-ups a page of tickets needs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from core.models import (
    Attachment,
    AttachmentStatus,
    Comment,
    Team,
    TeamMember,
    Ticket,
    TicketEvent,
    TicketParticipant,
    TicketSearchDocument,
    TicketStatus,
    User,
    Visibility,
)

ACTIVE_STATUSES = (TicketStatus.new.value, TicketStatus.open.value, TicketStatus.pending.value)
PRIORITY_RANK = case(
    {"low": 1, "normal": 2, "high": 3, "urgent": 4}, value=Ticket.priority, else_=0
)
SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "updated": Ticket.updated_at,
    "created": Ticket.created_at,
    "priority": PRIORITY_RANK,
}


def breached_clause(now: datetime) -> ColumnElement[bool]:
    # Every branch is NULL-safe (IS NOT NULL first): at_risk negates this clause, and NOT NULL
    # would drop a ticket without due times from both lists.
    return or_(
        Ticket.first_response_breached_at.is_not(None),
        Ticket.resolution_breached_at.is_not(None),
        and_(
            Ticket.first_response_at.is_(None),
            Ticket.first_response_due_at.is_not(None),
            Ticket.first_response_due_at < now,
        ),
        and_(
            Ticket.resolved_at.is_(None),
            Ticket.resolution_due_at.is_not(None),
            Ticket.resolution_due_at < now,
        ),
    )


def at_risk_clause(now: datetime, horizon: datetime) -> ColumnElement[bool]:
    return and_(
        ~breached_clause(now),
        Ticket.sla_paused_at.is_(None),
        or_(
            and_(
                Ticket.first_response_at.is_(None),
                Ticket.first_response_due_at.between(now, horizon),
            ),
            and_(Ticket.resolved_at.is_(None), Ticket.resolution_due_at.between(now, horizon)),
        ),
    )


def search_clause(
    tsquery: str | None, *, number: int | None, internal: bool
) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if tsquery is not None:
        query = cast(literal(tsquery), TSQUERY)
        matches = TicketSearchDocument.public_terms.op("@@")(query)
        if internal:
            matches = or_(matches, TicketSearchDocument.internal_terms.op("@@")(query))
        parts.append(Ticket.id.in_(select(TicketSearchDocument.ticket_id).where(matches)))
    if number is not None:
        parts.append(Ticket.number == number)
    if not parts:
        return literal(False)
    return or_(*parts)


def team_ids_of(user_id: int) -> Any:
    return select(TeamMember.team_id).where(TeamMember.user_id == user_id)


def _ordered(statement: Any, key: ColumnElement[Any], descending: bool) -> Any:
    if descending:
        return statement.order_by(key.desc(), Ticket.id.desc())
    return statement.order_by(key.asc(), Ticket.id.asc())


async def list_tickets(
    session: AsyncSession,
    *,
    conditions: Sequence[ColumnElement[bool]],
    sort: str,
    descending: bool,
    after: tuple[Any, int] | None,
    limit: int,
    requester_id: int | None = None,
) -> list[Ticket]:
    """One keyset page. With `requester_id` the page is limited to that person's own tickets and
    those they are copied on: two ordered, limited branches (own tickets read the requester index
    in order; CC'd ones through ticket_participants) merged and cut again, so a requester with
    thousands of tickets costs a page, not a sort of all of them."""
    key = SORT_COLUMNS[sort]
    base = select(Ticket).where(*conditions)
    if after is not None:
        position = tuple_(key, Ticket.id)
        base = base.where(position < after if descending else position > after)
    if requester_id is None:
        return list(await session.scalars(_ordered(base, key, descending).limit(limit)))
    own = _ordered(base.where(Ticket.requester_id == requester_id), key, descending).limit(limit)
    copied = _ordered(
        base.join(TicketParticipant, TicketParticipant.ticket_id == Ticket.id).where(
            TicketParticipant.user_id == requester_id
        ),
        key,
        descending,
    ).limit(limit)
    merged = union_all(own, copied).subquery()
    row = aliased(Ticket, merged)
    merged_key = {
        "updated": row.updated_at,
        "created": row.created_at,
        "priority": case(
            {"low": 1, "normal": 2, "high": 3, "urgent": 4}, value=row.priority, else_=0
        ),
    }[sort]
    statement = select(row)
    if descending:
        statement = statement.order_by(merged_key.desc(), row.id.desc())
    else:
        statement = statement.order_by(merged_key.asc(), row.id.asc())
    return list(await session.scalars(statement.limit(limit)))


async def users_by_id(session: AsyncSession, ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    rows = await session.scalars(select(User).where(User.id.in_(ids)))
    return {u.id: u for u in rows}


async def teams_by_id(session: AsyncSession, ids: set[int]) -> dict[int, Team]:
    if not ids:
        return {}
    rows = await session.scalars(select(Team).where(Team.id.in_(ids)))
    return {t.id: t for t in rows}


class PersonRow(NamedTuple):
    """The few fields of a user a ticket list shows (cheaper than an ORM User per row)."""

    id: int
    name: str
    email: str
    role: str


class TeamRow(NamedTuple):
    id: int
    name: str


async def page_context(
    session: AsyncSession, ticket_ids: list[int], *, include_internal: bool
) -> tuple[dict[int, PersonRow], dict[int, TeamRow], dict[int, tuple[int, int]]]:
    """What a page of tickets shows besides the tickets, in ONE round trip: requester and
    assignee (id, name, email, role), team (id, name), and the comments and files its reader may
    see."""
    if not ticket_ids:
        return {}, {}, {}
    ids = func.unnest(literal(ticket_ids, ARRAY(BigInteger))).table_valued("id").render_derived()
    requester, assignee = aliased(User), aliased(User)
    comments = select(func.count()).where(Comment.ticket_id == ids.c.id)
    files = select(func.count()).where(
        Attachment.ticket_id == ids.c.id, Attachment.status == AttachmentStatus.stored.value
    )
    if not include_internal:
        comments = comments.where(Comment.visibility == Visibility.public.value)
        files = files.where(
            ~exists().where(
                Comment.id == Attachment.comment_id,
                Comment.visibility != Visibility.public.value,
            )
        )
    statement = select(
        ids.c.id,
        requester.id,
        requester.name,
        requester.email,
        requester.role,
        assignee.id,
        assignee.name,
        assignee.email,
        assignee.role,
        Team.id,
        Team.name,
        comments.scalar_subquery(),
        files.scalar_subquery(),
    ).select_from(
        ids.join(Ticket, Ticket.id == ids.c.id)
        .join(requester, requester.id == Ticket.requester_id)
        .outerjoin(assignee, assignee.id == Ticket.assignee_id)
        .outerjoin(Team, Team.id == Ticket.team_id)
    )
    users: dict[int, PersonRow] = {}
    teams: dict[int, TeamRow] = {}
    counts: dict[int, tuple[int, int]] = {}
    for row in await session.execute(statement):
        (ticket_id, r_id, r_name, r_email, r_role, a_id, a_name, a_email, a_role) = row[:9]
        team_id, team_name, comment_count, file_count = row[9:]
        users.setdefault(r_id, PersonRow(r_id, r_name, r_email, r_role))
        if a_id is not None:
            users.setdefault(a_id, PersonRow(a_id, a_name, a_email, a_role))
        if team_id is not None:
            teams.setdefault(team_id, TeamRow(team_id, team_name))
        counts[ticket_id] = (comment_count, file_count)
    return users, teams, counts


def _visible_attachments(include_internal: bool) -> Any:
    statement = select(Attachment).where(Attachment.status == AttachmentStatus.stored.value)
    if not include_internal:
        statement = statement.outerjoin(Comment, Comment.id == Attachment.comment_id).where(
            or_(Attachment.comment_id.is_(None), Comment.visibility == Visibility.public.value)
        )
    return statement


async def ticket_attachments(
    session: AsyncSession, ticket_id: int, *, include_internal: bool
) -> list[Attachment]:
    statement = (
        _visible_attachments(include_internal)
        .where(Attachment.ticket_id == ticket_id)
        .order_by(Attachment.id)
    )
    return list(await session.scalars(statement))


async def attachments_of_comments(
    session: AsyncSession, comment_ids: list[int]
) -> list[Attachment]:
    if not comment_ids:
        return []
    rows = await session.scalars(
        select(Attachment)
        .where(
            Attachment.comment_id.in_(comment_ids),
            Attachment.status == AttachmentStatus.stored.value,
        )
        .order_by(Attachment.id)
    )
    return list(rows)


async def list_comments(
    session: AsyncSession, ticket_id: int, *, include_internal: bool, limit: int, after_id: int
) -> list[Comment]:
    statement = select(Comment).where(Comment.ticket_id == ticket_id, Comment.id > after_id)
    if not include_internal:
        statement = statement.where(Comment.visibility == Visibility.public.value)
    statement = statement.order_by(Comment.created_at, Comment.id).limit(limit)
    return list(await session.scalars(statement))


async def list_events(
    session: AsyncSession, ticket_id: int, *, kinds: frozenset[str] | None
) -> list[TicketEvent]:
    statement = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    if kinds is not None:
        statement = statement.where(TicketEvent.kind.in_(sorted(kinds)))
    return list(await session.scalars(statement.order_by(TicketEvent.created_at, TicketEvent.id)))


async def participants(session: AsyncSession, ticket_id: int) -> list[User]:
    rows = await session.scalars(
        select(User)
        .join(TicketParticipant, TicketParticipant.user_id == User.id)
        .where(TicketParticipant.ticket_id == ticket_id)
        .order_by(TicketParticipant.created_at, User.id)
    )
    return list(rows)


async def queue_counts(
    session: AsyncSession, *, user_id: int, now: datetime, horizon: datetime
) -> dict[str, int]:
    my_teams = team_ids_of(user_id)
    row = (
        await session.execute(
            select(
                func.count().filter(Ticket.assignee_id.is_(None)).label("unassigned"),
                func.count().filter(Ticket.assignee_id == user_id).label("mine"),
                func.count().filter(Ticket.team_id.in_(my_teams)).label("my_team"),
                func.count().label("open"),
                func.count().filter(at_risk_clause(now, horizon)).label("at_risk"),
                func.count().filter(breached_clause(now)).label("breached"),
            ).where(Ticket.status.in_(ACTIVE_STATUSES))
        )
    ).one()
    return dict(row._mapping)
