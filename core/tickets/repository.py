"""All SQL about tickets, comments and their history."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Comment, Ticket, TicketEvent, TicketParticipant


async def add_ticket(session: AsyncSession, ticket: Ticket) -> Ticket:
    session.add(ticket)
    await session.flush()  # number, created_at, updated_at: RETURNING (eager_defaults)
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
