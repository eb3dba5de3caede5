"""The admin's inbound mail log: every mail the gateway accepted, what became of it and why;
reprocess, release from quarantine, discard. The rules are in core/inbound/maillog.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError

from api.deps import AdminUser, SessionDep
from api.schemas import MailTrust
from core.inbound import maillog
from core.models import InboundMessage, InboundStatus

router = APIRouter(prefix="/api/v1/admin/inbound", tags=["maillog"])

MAX_ID = 2**63 - 1
MessageId = Annotated[int, Path(ge=1, le=MAX_ID)]


class InboundSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    received_at: datetime
    processed_at: datetime | None
    status: InboundStatus
    reason: str | None
    attempts: int
    mail_from: str
    rcpt_to: list[str]
    from_address: str | None
    subject: str | None
    message_id: str | None
    raw_size: int
    ticket_id: int | None
    comment_id: int | None
    trust_level: MailTrust | None = Field(
        default=None, description="what could be proven about the sender (see `trust`)"
    )


class InboundPage(BaseModel):
    items: list[InboundSummary]
    next_cursor: str | None


class HeaderOut(BaseModel):
    name: str
    value: str


class TicketLink(BaseModel):
    id: int
    number: int


class AuthResultOut(BaseModel):
    method: str = Field(description="spf, dkim, dmarc, ...")
    result: str = Field(description="pass, fail, none, softfail, ...")
    domain: str | None = Field(description="the domain the result speaks for")
    aligned: bool = Field(description="same organisational domain as From (RFC 7489 3.1)")
    policy: str | None = Field(default=None, description="DMARC only: none/quarantine/reject")


class TrustOut(BaseModel):
    """The verdicts of core/mail/trust.py for one mail, as the mail log shows them."""

    level: MailTrust | None = None
    standing: str | None = Field(
        default=None, description="the rule that let the mail speak as its sender"
    )
    peer: str | None = None
    peer_trusted: bool = Field(default=False, description="one of MAILGATEWAY_TRUSTED_RELAYS")
    envelope_from: str = ""
    header_from: str | None = None
    sender: list[str] = Field(default_factory=list, description="the Sender header")
    reply_to: list[str] = Field(default_factory=list)
    envelope_mismatch: bool = Field(
        default=False, description="the envelope's domain is not the From's (a signal only)"
    )
    results: list[AuthResultOut] = Field(
        default_factory=list, description="the trusted relay's (or our own) results"
    )
    ignored: list[str] = Field(
        default_factory=list, description="Authentication-Results headers not believed, and why"
    )
    verified_by: str | None = None
    failed_by: str | None = None
    dmarc_policy: str | None = None
    checked_here: bool = Field(default=False, description="by MAIL_VERIFY_SELF, not a relay")
    token_owner: str | None = Field(default=None, description="whom the reply token was for")
    token_bound: bool | None = Field(
        default=None, description="the token's owner is the From (None: no token)"
    )


class InboundDetail(InboundSummary):
    peer: str | None
    helo: str | None
    raw_sha256: str
    raw_purged_at: datetime | None
    next_attempt_at: datetime
    locked_until: datetime | None
    headers: list[HeaderOut]
    parse_result: dict[str, Any] | None
    trust: TrustOut | None = Field(
        default=None, description="what could be proven about the sender, and how"
    )
    ticket: TicketLink | None


ReleaseMode = Literal["as_claimed", "plain"]
RELEASE_MODE_HELP = (
    "as_claimed: as what the mail claims (an agent's From becomes that agent's reply, Cc "
    "become participants); plain: a comment with no powers (no note, no participants; a "
    "mail claiming an agent's From becomes an internal note)"
)


class ReleaseIn(BaseModel):
    ticket_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="append to this ticket; omit for a new ticket"
    )
    mode: ReleaseMode = Field(default="as_claimed", description=RELEASE_MODE_HELP)
    requester_email: EmailStr | None = Field(
        default=None,
        description="who the mail is from, when its own sender is unusable (no address, an "
        "invalid one); omitted: the releasing admin brings it in",
    )


class BulkReleaseIn(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=maillog.MAX_BULK
    )
    mode: ReleaseMode = Field(default="as_claimed", description=RELEASE_MODE_HELP)


class BulkFailure(BaseModel):
    id: int
    error: str


class BulkReleaseOut(BaseModel):
    released: list[int]
    failed: list[BulkFailure]


def _detail(
    message: InboundMessage, headers: list[tuple[str, str]], number: int | None
) -> InboundDetail:
    summary = InboundSummary.model_validate(message).model_dump()
    return InboundDetail(
        **summary,
        peer=message.peer,
        helo=message.helo,
        raw_sha256=message.raw_sha256,
        raw_purged_at=message.raw_purged_at,
        next_attempt_at=message.next_attempt_at,
        locked_until=message.locked_until,
        headers=[HeaderOut(name=n, value=v) for n, v in headers],
        parse_result=message.parse_result,
        trust=_trust(message),
        ticket=TicketLink(id=message.ticket_id, number=number)
        if message.ticket_id is not None and number is not None
        else None,
    )


def _trust(message: InboundMessage) -> TrustOut | None:
    recorded = (message.parse_result or {}).get("trust")
    if not isinstance(recorded, dict):
        return None  # mail processed before trust was recorded
    try:
        return TrustOut.model_validate(recorded)
    except ValidationError:
        return None


async def _detail_of(session: SessionDep, message_id: int) -> InboundDetail:
    detail = await maillog.get_message(session, message_id)
    return _detail(detail.message, detail.headers, detail.ticket_number)


@router.get("", response_model=InboundPage)
async def list_inbound(
    admin: AdminUser,
    session: SessionDep,
    status: InboundStatus | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="subject, sender, Message-ID or reason")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    trust_level: MailTrust | None = None,
) -> InboundPage:
    """Inbound mails, newest first, optionally by status (received, processing, processed,
    ignored, quarantined) and by sender trust level; `reason` says why a mail was ignored or
    quarantined."""
    page = await maillog.list_messages(
        session,
        status=status.value if status else None,
        q=q,
        cursor=cursor,
        limit=limit,
        trust_level=trust_level,
    )
    return InboundPage(
        items=[InboundSummary.model_validate(m) for m in page.items], next_cursor=page.next_cursor
    )


@router.get("/{message_id}", response_model=InboundDetail)
async def get_inbound(
    message_id: MessageId, admin: AdminUser, session: SessionDep
) -> InboundDetail:
    """One inbound mail: envelope, decoded headers, the pipeline's steps and verdict, the ticket."""
    return await _detail_of(session, message_id)


@router.get(
    "/{message_id}/raw",
    response_class=Response,
    responses={200: {"content": {"message/rfc822": {}}, "description": "the mail as received"}},
)
async def download_inbound_raw(
    message_id: MessageId, admin: AdminUser, session: SessionDep
) -> Response:
    """The mail exactly as received (message/rfc822), for forensics or re-import elsewhere."""
    raw = await maillog.raw_bytes(session, message_id)
    return Response(
        content=raw,
        media_type="message/rfc822",
        headers={
            "Content-Disposition": f'attachment; filename="inbound-{message_id}.eml"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/{message_id}/reprocess", response_model=InboundDetail)
async def reprocess_inbound(
    message_id: MessageId, admin: AdminUser, session: SessionDep
) -> InboundDetail:
    """Run the pipeline on this mail again now; 409 if it is already on a ticket."""
    await maillog.reprocess(session, message_id=message_id, actor=admin)
    return await _detail_of(session, message_id)


@router.post("/{message_id}/release", response_model=InboundDetail)
async def release_inbound(
    message_id: MessageId, admin: AdminUser, session: SessionDep, body: ReleaseIn | None = None
) -> InboundDetail:
    """Deliver a quarantined or ignored mail anyway: as a new ticket, or onto `ticket_id`;
    `mode` says with which powers. The ticket gets a note naming who released it."""
    body = body or ReleaseIn()
    await maillog.release(
        session,
        message_id=message_id,
        ticket_id=body.ticket_id,
        mode=body.mode,
        requester_email=body.requester_email,
        actor=admin,
    )
    return await _detail_of(session, message_id)


@router.post("/release-bulk", response_model=BulkReleaseOut)
async def release_inbound_bulk(
    body: BulkReleaseIn, admin: AdminUser, session: SessionDep
) -> BulkReleaseOut:
    """Release many quarantined mails at once (after a flood): each onto the ticket its verdict
    named, else as a new ticket; those that cannot be released are listed with why."""
    result = await maillog.release_many(session, message_ids=body.ids, mode=body.mode, actor=admin)
    return BulkReleaseOut(
        released=result.released,
        failed=[BulkFailure(id=i, error=e) for i, e in result.failed],
    )


@router.post("/{message_id}/discard", response_model=InboundDetail)
async def discard_inbound(
    message_id: MessageId, admin: AdminUser, session: SessionDep
) -> InboundDetail:
    """Mark a quarantined or waiting mail as ignored (kept for the record)."""
    await maillog.discard(session, message_id=message_id, actor=admin)
    return await _detail_of(session, message_id)
