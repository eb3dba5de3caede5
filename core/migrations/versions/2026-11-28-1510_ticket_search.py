"""Korean-capable full-text search: one search document per ticket (Hangul bigrams + words),
GIN-indexed, backfilled from existing tickets (see core/tickets/search.py).

Revision ID: 0003_search
Revises: 0002_scheduler_sla
Create Date: 2026-11-28 15:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_search"
down_revision: str | Sequence[str] | None = "0002_scheduler_sla"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL_BATCH = 2000


def upgrade() -> None:
    op.create_table(
        "ticket_search_documents",
        sa.Column("ticket_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "public_terms",
            postgresql.TSVECTOR(),
            server_default=sa.text("''::tsvector"),
            nullable=False,
        ),
        sa.Column(
            "internal_terms",
            postgresql.TSVECTOR(),
            server_default=sa.text("''::tsvector"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_search_documents_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_ticket_search_documents")),
    )
    _backfill()
    op.create_index(
        "ix_ticket_search_documents_public_terms",
        "ticket_search_documents",
        ["public_terms"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_ticket_search_documents_internal_terms",
        "ticket_search_documents",
        ["internal_terms"],
        unique=False,
        postgresql_using="gin",
    )


def _backfill() -> None:
    """Index the tickets that exist already, with the same tokenizer the services use."""
    from core.tickets.search import comment_text, document_terms

    bind = op.get_bind()
    last_id = 0
    while True:
        tickets = bind.execute(
            sa.text("SELECT id, subject FROM tickets WHERE id > :last ORDER BY id LIMIT :n"),
            {"last": last_id, "n": BACKFILL_BATCH},
        ).all()
        if not tickets:
            return
        ids = [t.id for t in tickets]
        public = {t.id: document_terms(t.subject) for t in tickets}
        internal: dict[int, set[str]] = {t.id: set() for t in tickets}
        comments = bind.execute(
            sa.text(
                "SELECT ticket_id, visibility, body_text, quote_start FROM comments "
                "WHERE ticket_id = ANY(:ids)"
            ),
            {"ids": ids},
        ).all()
        for c in comments:
            target = public if c.visibility == "public" else internal
            target[c.ticket_id].update(document_terms(comment_text(c)))
        bind.execute(
            sa.text(
                "INSERT INTO ticket_search_documents (ticket_id, public_terms, internal_terms) "
                "VALUES (:id, array_to_tsvector(CAST(:pub AS text[])), "
                "array_to_tsvector(CAST(:int AS text[])))"
            ),
            [{"id": i, "pub": sorted(public[i]), "int": sorted(internal[i])} for i in ids],
        )
        last_id = ids[-1]


def downgrade() -> None:
    op.drop_index(
        "ix_ticket_search_documents_internal_terms",
        table_name="ticket_search_documents",
        postgresql_using="gin",
    )
    op.drop_index(
        "ix_ticket_search_documents_public_terms",
        table_name="ticket_search_documents",
        postgresql_using="gin",
    )
    op.drop_table("ticket_search_documents")
