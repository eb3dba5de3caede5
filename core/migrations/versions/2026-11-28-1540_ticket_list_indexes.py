"""Ticket list indexes for keyset pages at a million tickets: the whole desk by updated or created
(also what a search walks in order), and a team's queue newest first.

Revision ID: 0005_ticket_list_indexes
Revises: 0004_inbound_lookups
Create Date: 2026-11-28 15:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_ticket_list_indexes"
down_revision: str | Sequence[str] | None = "0004_inbound_lookups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_tickets_updated_id",
        "tickets",
        [sa.text("updated_at DESC"), sa.text("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_tickets_created_id",
        "tickets",
        [sa.text("created_at DESC"), sa.text("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_tickets_team_status_created",
        "tickets",
        ["team_id", "status", sa.text("created_at DESC"), sa.text("id DESC")],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_team_status_created", table_name="tickets")
    op.drop_index("ix_tickets_created_id", table_name="tickets")
    op.drop_index("ix_tickets_updated_id", table_name="tickets")
