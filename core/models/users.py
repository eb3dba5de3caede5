from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, text, true
from sqlalchemy.dialects.postgresql import CITEXT
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import (
    Base,
    Locale,
    Role,
    created_at_column,
    enum_check,
    id_column,
    updated_at_column,
)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        enum_check("role", Role),
        enum_check("locale", Locale),
        Index("ix_users_role_active", "role", "active"),
    )

    id: Mapped[int] = id_column()
    # citext: Kim@Univ.ac.kr and kim@univ.ac.kr are one person, and the unique index says so.
    email: Mapped[str] = mapped_column(CITEXT, unique=True)
    name: Mapped[str] = mapped_column(String(200), server_default="")
    role: Mapped[str] = mapped_column(String(16), server_default=Role.requester.value)
    locale: Mapped[str] = mapped_column(String(8), server_default=Locale.ko.value)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    password_hash: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    department: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    mis_synced_at: Mapped[datetime | None]
    bouncing_since: Mapped[datetime | None]
    bounce_reason: Mapped[str | None] = mapped_column(Text)
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = id_column()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # A team may have its own help address (network@, accounts@); mail to it lands in its queue.
    email: Mapped[str | None] = mapped_column(CITEXT, unique=True)
    lead_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at_column()


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class MagicLinkToken(Base):
    __tablename__ = "magic_link_tokens"

    id: Mapped[int] = id_column()
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Only the sha256 of the token is stored: a leaked table does not log anyone in.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    requested_ip: Mapped[str | None] = mapped_column(String(64))


class RateLimitCounter(Base):
    """Fixed-window counters shared by every replica (login, magic links, inbound floods)."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(server_default=text("0"))
