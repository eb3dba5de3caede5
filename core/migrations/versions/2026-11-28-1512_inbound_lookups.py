"""Indexes for the mail pipeline's look-ups: replies are threaded by `tickets.thread_message_id`
(References/In-Reply-To), and mail without a Message-ID is deduplicated by
`inbound_messages.raw_sha256`; without them each look-up scans the table.

Revision ID: 0004_inbound_lookups
Revises: 0003_search
Create Date: 2026-11-28 15:12:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_inbound_lookups"
down_revision: str | Sequence[str] | None = "0003_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tickets_thread_message_id", "tickets", ["thread_message_id"])
    op.create_index("ix_inbound_messages_raw_sha256", "inbound_messages", ["raw_sha256"])


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_raw_sha256", table_name="inbound_messages")
    op.drop_index("ix_tickets_thread_message_id", table_name="tickets")
