"""The outbox keeps each mail's bytes as written at enqueue time (`outbound_emails.raw`), so the
sender sends them as they are and the admin sees exactly what went out.

Revision ID: 0006_outbox_raw
Revises: 0005_ticket_list_indexes
Create Date: 2026-11-28 17:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_outbox_raw"
down_revision: str | Sequence[str] | None = "0005_ticket_list_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbound_emails", sa.Column("raw", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbound_emails", "raw")
