"""Queue rows keep their bulky columns out of line, and leave room on each page for updates.

An outbound mail's row is updated three times in its life (claimed, handed over, sent) and an
inbound mail's twice (claimed, verdict). PostgreSQL writes a whole new row version for every
update; with the message bytes and bodies stored inline (a 3 KB acknowledgement fits under the 2 KB
TOAST threshold once compressed), each update copied them again and filled the WAL. With a low
toast_tuple_target the bulky values live in the TOAST table, written once: an update copies a
row of a few hundred bytes and the TOAST pointers. fillfactor leaves room for the new version on
the same page, so updates that touch no indexed column (the hand-over mark) are HOT updates.

Revision ID: 0008_queue_row_storage
Revises: 0007_claim_order_indexes
Create Date: 2026-11-28 22:00:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_queue_row_storage"
down_revision: str | Sequence[str] | None = "0007_claim_order_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("outbound_emails", "inbound_messages")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (toast_tuple_target = 256, fillfactor = 80)")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (toast_tuple_target, fillfactor)")
