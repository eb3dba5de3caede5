"""What the admin's outbound log shows of a mail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class OutboundEmailSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    kind: str
    ticket_id: int | None
    comment_id: int | None
    recipient: str
    locale: str
    subject: str
    message_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    sent_at: datetime | None


class OutboundEmailDetail(OutboundEmailSummary):
    event_key: str
    from_address: str
    reply_to: str | None
    headers: dict[str, Any]
    body_text: str
    body_html: str | None
    locked_until: datetime | None


class OutboundEmailPage(BaseModel):
    items: list[OutboundEmailSummary]
    next_cursor: int | None
