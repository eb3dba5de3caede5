"""All SQL about ticket search documents (see core/tickets/search.py for the design)."""

from __future__ import annotations

from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Text

from core.models import Comment, Ticket, TicketSearchDocument


def _vector(terms: set[str]) -> ColumnElement[object]:
    return func.array_to_tsvector(literal(sorted(terms), ARRAY(Text)), type_=TSVECTOR)


async def ticket_texts(
    session: AsyncSession, *, ticket_id: int
) -> tuple[str | None, list[Comment]]:
    subject = await session.scalar(select(Ticket.subject).where(Ticket.id == ticket_id))
    if subject is None:
        return None, []
    comments = await session.scalars(select(Comment).where(Comment.ticket_id == ticket_id))
    return subject, list(comments)


async def replace_document(
    session: AsyncSession, *, ticket_id: int, public_terms: set[str], internal_terms: set[str]
) -> None:
    statement = insert(TicketSearchDocument).values(
        ticket_id=ticket_id,
        public_terms=_vector(public_terms),
        internal_terms=_vector(internal_terms),
    )
    statement = statement.on_conflict_do_update(
        index_elements=[TicketSearchDocument.ticket_id],
        set_={
            "public_terms": statement.excluded.public_terms,
            "internal_terms": statement.excluded.internal_terms,
        },
    )
    await session.execute(statement)


async def append_terms(
    session: AsyncSession, *, ticket_id: int, public_terms: set[str], internal_terms: set[str]
) -> None:
    """Union new terms into the ticket's document (created if missing)."""
    statement = insert(TicketSearchDocument).values(
        ticket_id=ticket_id,
        public_terms=_vector(public_terms),
        internal_terms=_vector(internal_terms),
    )
    table = TicketSearchDocument.__table__
    statement = statement.on_conflict_do_update(
        index_elements=[TicketSearchDocument.ticket_id],
        set_={
            "public_terms": table.c.public_terms.op("||")(statement.excluded.public_terms),
            "internal_terms": table.c.internal_terms.op("||")(statement.excluded.internal_terms),
        },
    )
    await session.execute(statement)
