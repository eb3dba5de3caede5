"""The queues' claim indexes cover the whole claim order (next_attempt_at, id).

Both claims (inbound pipeline, outbound sender) read `ORDER BY next_attempt_at, id LIMIT n`. With
the index on next_attempt_at alone, PostgreSQL fetched every due row and sorted them on each claim,
so a backlog of N mails cost O(N) per claim (a 3,000-mail outbox: 6-9 ms per claim of 50; an
inbound backlog grew quadratically). Covering `id` lets the claim read the first n rows in order.

Revision ID: 0007_claim_order_indexes
Revises: 0006_outbox_raw
Create Date: 2026-11-28 19:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_claim_order_indexes"
down_revision: str | Sequence[str] | None = "0006_outbox_raw"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUES = [
    ("ix_inbound_messages_claimable", "inbound_messages", "status IN ('received', 'processing')"),
    ("ix_outbound_emails_due", "outbound_emails", "status IN ('queued', 'sending')"),
]


def _replace(columns: list[str]) -> None:
    for name, table, where in QUEUES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, postgresql_where=sa.text(where))


def upgrade() -> None:
    _replace(["next_attempt_at", "id"])


def downgrade() -> None:
    _replace(["next_attempt_at"])
