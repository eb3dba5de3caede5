from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    Text,
    false,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import (
    AttachmentStatus,
    Base,
    Channel,
    CommentSource,
    ParticipantRole,
    TicketPriority,
    TicketStatus,
    Visibility,
    created_at_column,
    enum_check,
    id_column,
    updated_at_column,
)

# Human-facing ticket numbers ([#1234] in subjects). A sequence, not max()+1: unique under
# concurrent inserts without a lock, and never reused after a rollback or a delete.
ticket_number_seq = Sequence("ticket_number_seq", start=1000, metadata=Base.metadata)


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    name_en: Mapped[str | None] = mapped_column(String(200))
    default_team_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("teams.id", ondelete="SET NULL")
    )
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = created_at_column()


class Ticket(Base):
    __tablename__ = "tickets"
    # The number and timestamps the database assigns come back in the INSERT's RETURNING
    # instead of a SELECT after it.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        enum_check("status", TicketStatus),
        enum_check("priority", TicketPriority),
        enum_check("channel", Channel),
        # Queue views: open tickets of a team / an assignee / nobody, newest first.
        Index("ix_tickets_status_updated", "status", text("updated_at DESC"), text("id DESC")),
        Index("ix_tickets_team_status_updated", "team_id", "status", text("updated_at DESC")),
        Index(
            "ix_tickets_assignee_status_updated", "assignee_id", "status", text("updated_at DESC")
        ),
        Index("ix_tickets_requester_updated", "requester_id", text("updated_at DESC")),
        # Keyset pages of the whole desk (and of searches) in either sort, and a team's queue
        # newest first: the list reads index order and stops at the page size.
        Index("ix_tickets_updated_id", text("updated_at DESC"), text("id DESC")),
        Index("ix_tickets_created_id", text("created_at DESC"), text("id DESC")),
        Index(
            "ix_tickets_team_status_created",
            "team_id",
            "status",
            text("created_at DESC"),
            text("id DESC"),
        ),
        # SLA scans touch only tickets that are due and not satisfied or paused.
        Index(
            "ix_tickets_first_response_due",
            "first_response_due_at",
            postgresql_where=text("first_response_at IS NULL AND sla_paused_at IS NULL"),
        ),
        Index(
            "ix_tickets_resolution_due",
            "resolution_due_at",
            postgresql_where=text("resolved_at IS NULL AND sla_paused_at IS NULL"),
        ),
        # The SLA scan's only entry point: tickets whose next reminder or breach is due.
        Index(
            "ix_tickets_sla_next_check",
            "sla_next_check_at",
            postgresql_where=text("sla_next_check_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = id_column()
    number: Mapped[int] = mapped_column(
        BigInteger, ticket_number_seq, server_default=ticket_number_seq.next_value(), unique=True
    )
    subject: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default=TicketStatus.new.value)
    priority: Mapped[str] = mapped_column(String(16), server_default=TicketPriority.normal.value)
    channel: Mapped[str] = mapped_column(String(16), server_default=Channel.web.value)
    requester_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    team_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("teams.id", ondelete="SET NULL")
    )
    category_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("categories.id", ondelete="SET NULL")
    )
    merged_into_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    # A reply to a long-closed ticket opens a new one linked to the old.
    follow_up_of_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("tickets.id", ondelete="SET NULL")
    )
    # Message-ID of the mail that opened the ticket; notifications reference it so clients thread.
    thread_message_id: Mapped[str | None] = mapped_column(Text, index=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # SLA: due times in wall-clock UTC, recomputed on priority/team change and on resume.
    sla_policy_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("sla_policies.id", ondelete="SET NULL")
    )
    first_response_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    sla_paused_at: Mapped[datetime | None]
    # Business seconds consumed before the current pause, so a resume continues the same clock.
    sla_elapsed_business_seconds: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    first_response_breached_at: Mapped[datetime | None]
    resolution_breached_at: Mapped[datetime | None]
    # Start of the running SLA segment (null while paused or stopped).
    sla_clock_started_at: Mapped[datetime | None]
    # When the SLA scan must next look at this ticket (a reminder or a breach); null: never.
    sla_next_check_at: Mapped[datetime | None]


class TicketParticipant(Base):
    __tablename__ = "ticket_participants"
    __table_args__ = (enum_check("role", ParticipantRole),)

    ticket_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16), server_default=ParticipantRole.cc.value)
    created_at: Mapped[datetime] = created_at_column()


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        enum_check("visibility", Visibility),
        enum_check("source", CommentSource),
        Index("ix_comments_ticket_created", "ticket_id", "created_at"),
        # One comment per mail, however often the mail arrives.
        Index(
            "uq_comments_message_id",
            "message_id",
            unique=True,
            postgresql_where=text("message_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = id_column()
    ticket_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    visibility: Mapped[str] = mapped_column(String(16), server_default=Visibility.public.value)
    source: Mapped[str] = mapped_column(String(16), server_default=CommentSource.web.value)
    body_text: Mapped[str] = mapped_column(Text, server_default="")
    # nh3-sanitised HTML, never the raw HTML of a mail.
    body_html: Mapped[str | None] = mapped_column(Text)
    # Where the quoted history starts in body_text (the display folds what follows).
    quote_start: Mapped[int | None] = mapped_column(Integer)
    message_id: Mapped[str | None] = mapped_column(Text)
    inbound_message_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("inbound_messages.id", ondelete="SET NULL")
    )
    is_auto_reply: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # For mail-borne comments: the sender's trust level (core/mail/trust.py), shown as a badge.
    mail_trust: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = created_at_column()


class Attachment(Base):
    __tablename__ = "attachments"
    # created_at comes back in the INSERT's RETURNING (callers show it) instead of a SELECT.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012
    __table_args__ = (
        enum_check("status", AttachmentStatus),
        Index(
            "ix_attachments_pending_created",
            "created_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = id_column()
    ticket_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"), index=True
    )
    comment_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("comments.id", ondelete="CASCADE"), index=True
    )
    uploader_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    filename: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(
        String(255), server_default="application/octet-stream"
    )
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    # Random, never derived from the user's filename.
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    content_id: Mapped[str | None] = mapped_column(Text)
    is_inline: Mapped[bool] = mapped_column(Boolean, server_default=false())
    status: Mapped[str] = mapped_column(String(16), server_default=AttachmentStatus.stored.value)
    created_at: Mapped[datetime] = created_at_column()
    completed_at: Mapped[datetime | None]


class TicketEvent(Base):
    """The audit history of a ticket: who changed what, when."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_created", "ticket_id", "created_at"),)

    id: Mapped[int] = id_column()
    ticket_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("tickets.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = created_at_column()


class CannedResponse(Base):
    __tablename__ = "canned_responses"

    id: Mapped[int] = id_column()
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(8), server_default="ko")
    team_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("teams.id", ondelete="CASCADE")
    )
    created_by_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
