"""All SQL about ticket search documents (see core/tickets/search.py for the design)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Text

from core.models import Comment, Ticket


async def ticket_texts(
    session: AsyncSession, *, ticket_id: int
) -> tuple[str | None, list[Comment]]:
    subject = await session.scalar(select(Ticket.subject).where(Ticket.id == ticket_id))
    if subject is None:
        return None, []
    comments = await session.scalars(select(Comment).where(Comment.ticket_id == ticket_id))
    return subject, list(comments)


# Written for every ticket and comment: fixed statements, cheaper than building an upsert each time.
_TERMS = (
    bindparam("public_terms", type_=ARRAY(Text)),
    bindparam("internal_terms", type_=ARRAY(Text)),
)
_REPLACE_DOCUMENT = text(
    """
    INSERT INTO ticket_search_documents (ticket_id, public_terms, internal_terms)
    VALUES (:ticket_id, array_to_tsvector(:public_terms), array_to_tsvector(:internal_terms))
    ON CONFLICT (ticket_id) DO UPDATE
    SET public_terms = excluded.public_terms, internal_terms = excluded.internal_terms
    """
).bindparams(*_TERMS)
_APPEND_TERMS = text(
    """
    INSERT INTO ticket_search_documents AS d (ticket_id, public_terms, internal_terms)
    VALUES (:ticket_id, array_to_tsvector(:public_terms), array_to_tsvector(:internal_terms))
    ON CONFLICT (ticket_id) DO UPDATE
    SET public_terms = d.public_terms || excluded.public_terms,
        internal_terms = d.internal_terms || excluded.internal_terms
    """
).bindparams(*_TERMS)


async def _write_document(
    session: AsyncSession,
    statement: Any,
    *,
    ticket_id: int,
    public_terms: set[str],
    internal_terms: set[str],
) -> None:
    await session.execute(
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
