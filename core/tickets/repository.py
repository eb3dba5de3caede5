"""All SQL about tickets, comments and their history."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Comment, Ticket, TicketEvent


async def add_ticket(session: AsyncSession, ticket: Ticket) -> Ticket:
    session.add(ticket)
    await session.flush()
    await session.refresh(ticket, ["number", "created_at", "updated_at"])
    return ticket


async def add_comment(session: AsyncSession, comment: Comment) -> Comment:
    session.add(comment)
    await session.flush()
    return comment


async def add_event(session: AsyncSession, event: TicketEvent) -> TicketEvent:
    session.add(event)
    await session.flush()
    return event


async def get_by_subject_and_requester(
    session: AsyncSession, *, subject: str, requester_id: int
) -> Ticket | None:
    return await session.scalar(
        select(Ticket)
        .where(Ticket.subject == subject, Ticket.requester_id == requester_id)
        .limit(1)
    )
