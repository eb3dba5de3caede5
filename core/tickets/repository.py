"""All SQL about tickets, comments and their history."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import db
from core.models import Comment, Ticket, TicketParticipant


async def add_ticket(session: AsyncSession, ticket: Ticket) -> Ticket:
    session.add(ticket)
    await session.flush()  # number, created_at, updated_at: RETURNING (eager_defaults)
    return ticket


async def add_comment(session: AsyncSession, comment: Comment) -> Comment:
    session.add(comment)
    await session.flush()
    return comment


async def add_event(
    session: AsyncSession, *, ticket_id: int, actor_id: int | None, kind: str, data: dict[str, Any]
) -> None:
    """Append to a ticket's history: written straight to the driver (every change writes one,
    and nothing reads the row back in the same transaction through the ORM's identity map)."""
    await db.driver_execute(
        session,
        "INSERT INTO ticket_events (ticket_id, actor_id, kind, data) VALUES (%s, %s, %s, %s)",
        (ticket_id, actor_id, kind, Jsonb(data)),
    )


async def get_by_subject_and_requester(
    session: AsyncSession, *, subject: str, requester_id: int
) -> Ticket | None:
    return await session.scalar(
        select(Ticket)
        .where(Ticket.subject == subject, Ticket.requester_id == requester_id)
        .limit(1)
    )


async def get_ticket(
    session: AsyncSession, ticket_id: int, *, for_update: bool = False
) -> Ticket | None:
    statement = select(Ticket).where(Ticket.id == ticket_id)
    if for_update:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def get_ticket_by_number(session: AsyncSession, number: int) -> Ticket | None:
    return await session.scalar(select(Ticket).where(Ticket.number == number))


async def get_participant(
    session: AsyncSession, *, ticket_id: int, user_id: int
) -> TicketParticipant | None:
    return await session.get(TicketParticipant, (ticket_id, user_id))


async def count_participants(session: AsyncSession, *, ticket_id: int) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(TicketParticipant)
            .where(TicketParticipant.ticket_id == ticket_id)
        )
        or 0
    )


async def add_participant(session: AsyncSession, participant: TicketParticipant) -> None:
    session.add(participant)
    await session.flush()


async def delete_participant(session: AsyncSession, *, ticket_id: int, user_id: int) -> bool:
    result = await session.execute(
        delete(TicketParticipant).where(
            TicketParticipant.ticket_id == ticket_id, TicketParticipant.user_id == user_id
        )
    )
    return bool(result.rowcount)


async def participant_user_ids(session: AsyncSession, *, ticket_id: int) -> list[int]:
    result = await session.scalars(
        select(TicketParticipant.user_id).where(TicketParticipant.ticket_id == ticket_id)
    )
    return list(result)
