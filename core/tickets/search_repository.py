"""All SQL about ticket search documents (see core/tickets/search.py for the design)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import db
from core.models import Comment, Ticket


async def ticket_texts(
    session: AsyncSession, *, ticket_id: int
) -> tuple[str | None, list[Comment]]:
    subject = await session.scalar(select(Ticket.subject).where(Ticket.id == ticket_id))
    if subject is None:
        return None, []
    comments = await session.scalars(select(Comment).where(Comment.ticket_id == ticket_id))
    return subject, list(comments)


# Written for every ticket and comment: fixed statements on the driver, cheaper than building an
# upsert each time.
_REPLACE_DOCUMENT = """
    INSERT INTO ticket_search_documents (ticket_id, public_terms, internal_terms)
    VALUES (%(ticket_id)s, array_to_tsvector(%(public_terms)s::text[]),
            array_to_tsvector(%(internal_terms)s::text[]))
    ON CONFLICT (ticket_id) DO UPDATE
    SET public_terms = excluded.public_terms, internal_terms = excluded.internal_terms
    """
_APPEND_TERMS = """
    INSERT INTO ticket_search_documents AS d (ticket_id, public_terms, internal_terms)
    VALUES (%(ticket_id)s, array_to_tsvector(%(public_terms)s::text[]),
            array_to_tsvector(%(internal_terms)s::text[]))
    ON CONFLICT (ticket_id) DO UPDATE
    SET public_terms = d.public_terms || excluded.public_terms,
        internal_terms = d.internal_terms || excluded.internal_terms
    """


async def _write_document(
    session: AsyncSession,
    statement: str,
    *,
    ticket_id: int,
    public_terms: set[str],
    internal_terms: set[str],
) -> None:
    await db.driver_execute(
        session,
        statement,
        {
            "ticket_id": ticket_id,
            "public_terms": sorted(public_terms),
            "internal_terms": sorted(internal_terms),
        },
    )


async def replace_document(
    session: AsyncSession, *, ticket_id: int, public_terms: set[str], internal_terms: set[str]
) -> None:
    await _write_document(
        session,
        _REPLACE_DOCUMENT,
        ticket_id=ticket_id,
        public_terms=public_terms,
        internal_terms=internal_terms,
    )


async def append_terms(
    session: AsyncSession, *, ticket_id: int, public_terms: set[str], internal_terms: set[str]
) -> None:
    """Union new terms into the ticket's document (created if missing)."""
    await _write_document(
        session,
        _APPEND_TERMS,
        ticket_id=ticket_id,
        public_terms=public_terms,
        internal_terms=internal_terms,
    )
