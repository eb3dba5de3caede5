from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import (
    Base,
    InboundStatus,
    OutboundStatus,
    created_at_column,
    enum_check,
    id_column,
)


class InboundMessage(Base):
    """Every mail our SMTP listener answered 250 to, with its envelope and what became of it.

    The raw bytes live in this row (bytea), written in the same transaction as the envelope: one
    commit makes the message durable, with no second system to keep consistent. A retention job
    clears `raw` later and keeps the metadata.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (
        enum_check("status", InboundStatus),
        # Workers claim received work in order of next attempt.
        Index(
            "ix_inbound_messages_claimable",
            "next_attempt_at",
            "id",
            postgresql_where=text("status IN ('received', 'processing')"),
        ),
        Index("ix_inbound_messages_status_received", "status", text("received_at DESC")),
        Index("ix_inbound_messages_message_id", "message_id"),
        Index("ix_inbound_messages_from_received", "from_address", "received_at"),
    )

    id: Mapped[int] = id_column()
    received_at: Mapped[datetime] = created_at_column()
    mail_from: Mapped[str] = mapped_column(Text, server_default="")
    rcpt_to: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    peer: Mapped[str | None] = mapped_column(String(128))
    helo: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    raw_size: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # Mail without a Message-ID is deduplicated by digest.
    raw_sha256: Mapped[str] = mapped_column(String(64), index=True)
    raw_purged_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str | None] = mapped_column(Text)
    # What could be proven about the sender (core/mail/trust.py): token, verified, unverified,
    # failed; the evidence is in parse_result["trust"].
    trust_level: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default=InboundStatus.received.value)
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = created_at_column()
    locked_until: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    # The named pipeline steps that ran, what they decided, parse defects.
    parse_result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    ticket_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    comment_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("comments.id", ondelete="SET NULL", use_alter=True)
    )


class OutboundEmail(Base):
    """The transactional outbox: a row is written in the same transaction as the change that
    causes the mail, and a sender worker delivers it later."""

    __tablename__ = "outbound_emails"
    __table_args__ = (
        enum_check("status", OutboundStatus),
        Index(
            "ix_outbound_emails_due",
            "next_attempt_at",
            "id",
            postgresql_where=text("status IN ('queued', 'sending')"),
        ),
        Index("ix_outbound_emails_status_created", "status", text("created_at DESC")),
        Index("ix_outbound_emails_ticket_recipient", "ticket_id", "recipient", "created_at"),
        # One mail per event per recipient, whoever tries to enqueue it twice.
        Index("uq_outbound_emails_event_recipient", "event_key", "recipient", unique=True),
    )

    id: Mapped[int] = id_column()
    created_at: Mapped[datetime] = created_at_column()
    kind: Mapped[str] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(String(255))
    ticket_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("tickets.id", ondelete="SET NULL")
    )
    comment_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("comments.id", ondelete="SET NULL")
    )
    recipient: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(8), server_default="ko")
    from_address: Mapped[str] = mapped_column(Text)
    reply_to: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(Text, unique=True)
    headers: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    # The message as written at enqueue time (7-bit, CRLF); files of a comment are added when sent.
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), server_default=OutboundStatus.queued.value)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = created_at_column()
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
