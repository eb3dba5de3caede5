from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class TicketSearchDocument(Base):
    """One ticket's search terms (core/tickets/search.py): Hangul bigrams and whole words, split
    by audience so a requester's search never looks into internal notes."""

    __tablename__ = "ticket_search_documents"
    __table_args__ = (
        Index("ix_ticket_search_documents_public_terms", "public_terms", postgresql_using="gin"),
        Index(
            "ix_ticket_search_documents_internal_terms", "internal_terms", postgresql_using="gin"
        ),
    )

    ticket_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    # Subject and public comments.
    public_terms: Mapped[str] = mapped_column(TSVECTOR, server_default=text("''::tsvector"))
    # Internal notes (agents only).
    internal_terms: Mapped[str] = mapped_column(TSVECTOR, server_default=text("''::tsvector"))
