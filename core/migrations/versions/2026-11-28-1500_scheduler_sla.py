"""Scheduler and SLA: one job run per scheduled tick, queued "run now" requests, SLA clock segment
and the next-check column the SLA scan walks.

Revision ID: 0002_scheduler_sla
Revises: 0001
Create Date: 2026-11-28 15:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_scheduler_sla"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("job_runs", sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))
    op.add_column("job_runs", sa.Column("requested_by_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_job_runs_requested_by_id_users"),
        "job_runs",
        "users",
        ["requested_by_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_unique_constraint(
        op.f("uq_job_runs_job_id_scheduled_for"), "job_runs", ["job_id", "scheduled_for"]
    )
    op.drop_constraint(op.f("ck_job_runs_status_valid"), "job_runs", type_="check")
    op.create_check_constraint(
        op.f("ck_job_runs_status_valid"),
        "job_runs",
        "status IN ('queued', 'running', 'succeeded', 'failed', 'skipped')",
    )
    op.create_index(
        "ix_job_runs_queued",
        "job_runs",
        ["id"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.add_column(
        "tickets", sa.Column("sla_clock_started_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "tickets", sa.Column("sla_next_check_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_tickets_sla_next_check",
        "tickets",
        ["sla_next_check_at"],
        unique=False,
        postgresql_where=sa.text("sla_next_check_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_tickets_sla_next_check",
        table_name="tickets",
        postgresql_where=sa.text("sla_next_check_at IS NOT NULL"),
    )
    op.drop_column("tickets", "sla_next_check_at")
    op.drop_column("tickets", "sla_clock_started_at")
    op.drop_index(
        "ix_job_runs_queued", table_name="job_runs", postgresql_where=sa.text("status = 'queued'")
    )
    op.execute("DELETE FROM job_runs WHERE status = 'queued'")
    op.drop_constraint(op.f("ck_job_runs_status_valid"), "job_runs", type_="check")
    op.create_check_constraint(
        op.f("ck_job_runs_status_valid"),
        "job_runs",
        "status IN ('running', 'succeeded', 'failed', 'skipped')",
    )
    op.drop_constraint(op.f("uq_job_runs_job_id_scheduled_for"), "job_runs", type_="unique")
    op.drop_constraint(op.f("fk_job_runs_requested_by_id_users"), "job_runs", type_="foreignkey")
    op.drop_column("job_runs", "requested_by_id")
    op.drop_column("job_runs", "scheduled_for")
