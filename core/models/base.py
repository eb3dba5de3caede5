"""Declarative base: naming convention for constraints, timezone-aware timestamps, string enums."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Identity, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}  # noqa: RUF012 - SQLAlchemy API


def id_column() -> Mapped[int]:
    return mapped_column(BigInteger, Identity(always=False), primary_key=True)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def updated_at_column() -> Mapped[datetime]:
    return mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


def enum_check(column: str, enum: type[StrEnum], name: str | None = None) -> CheckConstraint:
    """Store enums as text with a CHECK: adding a value later is a one-line migration."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=name or f"{column}_valid")


class Role(StrEnum):
    requester = "requester"
    agent = "agent"
    admin = "admin"


class Locale(StrEnum):
    ko = "ko"
    en = "en"


class TicketStatus(StrEnum):
    new = "new"
    open = "open"
    pending = "pending"
    resolved = "resolved"
    closed = "closed"


class TicketPriority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class Channel(StrEnum):
    email = "email"
    web = "web"


class Visibility(StrEnum):
    public = "public"
    internal = "internal"


class CommentSource(StrEnum):
    email = "email"
    web = "web"
    system = "system"


class ParticipantRole(StrEnum):
    cc = "cc"
    watcher = "watcher"


class AttachmentStatus(StrEnum):
    pending = "pending"  # presigned upload issued, not yet completed
    stored = "stored"


class InboundStatus(StrEnum):
    received = "received"
    processing = "processing"
    processed = "processed"
    quarantined = "quarantined"
    ignored = "ignored"
    failed = "failed"


class OutboundStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    suppressed = "suppressed"


class JobRunStatus(StrEnum):
    queued = "queued"  # "run now" from the API: the scheduler leader picks it up within a tick
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"


class JobTrigger(StrEnum):
    schedule = "schedule"
    manual = "manual"
    cli = "cli"
