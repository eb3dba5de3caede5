"""Mail trust: what could be proven about each inbound mail's sender, and on its comment.

Revision ID: 0009_mail_trust
Revises: 0008_queue_row_storage
Create Date: 2026-12-02 14:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_mail_trust"
down_revision: str | Sequence[str] | None = "0008_queue_row_storage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding them rewrites nothing (mail from before stays "unknown").
    op.add_column("inbound_messages", sa.Column("trust_level", sa.String(16), nullable=True))
    op.add_column("comments", sa.Column("mail_trust", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("comments", "mail_trust")
    op.drop_column("inbound_messages", "trust_level")
