"""HTTP shapes of the API (what the portal's generated client sees)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_ID = 2**63 - 1


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]
Email = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_no_nul)]


class ErrorOut(BaseModel):
    error: str
    detail: Any = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": description}
    for code, description in (
        (400, "Invalid request (a rule refused it)"),
        (401, "Not signed in"),
        (403, "Not allowed"),
        (404, "Not found (or not visible to you)"),
        (409, "Conflict with the current state"),
        (422, "Payload validation failed"),
        (429, "Rate limited"),
        (503, "Database unavailable"),
    )
}


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class UserRef(Out):
    id: int
    name: str
    email: str
    role: Literal["requester", "agent", "admin"]


class UserOut(Out):
    id: int
    email: str
    name: str
    role: Literal["requester", "agent", "admin"]
    locale: Literal["ko", "en"]
    active: bool
    department: str | None
    phone: str | None
    external_id: str | None
    mis_synced_at: datetime | None
    team_ids: list[int] = []


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    user: UserOut


class TeamRef(Out):
    id: int
    name: str


class AttachmentOut(Out):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str | None
    is_inline: bool
    content_id: str | None
    comment_id: int | None
    download_url: str


class TicketSummary(Out):
    id: int
    number: int
    subject: str
    status: Literal["new", "open", "pending", "resolved", "closed"]
    priority: Literal["low", "normal", "high", "urgent"]
    channel: Literal["email", "web"]
    requester: UserRef | None
    assignee: UserRef | None
    team: TeamRef | None
    category_id: int | None
    created_at: datetime
    updated_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    sla_state: Literal["ok", "at_risk", "breached", "paused", "none"]
    attachment_count: int
    comment_count: int


class TicketPageOut(BaseModel):
    items: list[TicketSummary]
    next_cursor: str | None


class SlaOut(BaseModel):
    policy_id: int | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    paused: bool
    paused_at: datetime | None
    first_response_breached_at: datetime | None
    resolution_breached_at: datetime | None
    state: Literal["ok", "at_risk", "breached", "paused", "none"]


class TicketDetailOut(TicketSummary):
    participants: list[UserRef]
    merged_into_id: int | None
    follow_up_of_id: int | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    sla: SlaOut
    attachments: list[AttachmentOut]


class CountsOut(BaseModel):
    unassigned: int
    mine: int
    my_team: int
    open: int
    at_risk: int
    breached: int


MailTrust = Literal["token", "verified", "unverified", "failed"]


class CommentOut(BaseModel):
    id: int
    ticket_id: int
    author: UserRef | None
    visibility: Literal["public", "internal"]
    source: Literal["email", "web", "system"]
    body_text: str
    body_html: str | None
    quote_start: int | None
    is_auto_reply: bool
    mail_trust: MailTrust | None = Field(
        default=None,
        description="mail-borne comments: what could be proven about the sender (token: our "
        "reply address issued to them; verified: DMARC/DKIM/SPF via the campus relay; "
        "unverified; failed: SPF or DMARC fail)",
    )
    created_at: datetime
    attachments: list[AttachmentOut]


class TicketEventOut(BaseModel):
    id: int
    kind: str
    actor: UserRef | None
    data: dict[str, Any]
    created_at: datetime
