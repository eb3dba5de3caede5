"""The admin's outbound mail log: what was sent, what waits, what failed and why; retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import AdminUser, SessionDep
from core.models import OutboundStatus
from core.outbox import service
from core.outbox.schemas import OutboundEmailDetail, OutboundEmailPage, OutboundEmailSummary

router = APIRouter(prefix="/api/v1/admin/outbound", tags=["outbound"])

EmailId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", response_model=OutboundEmailPage)
async def list_outbound(
    admin: AdminUser,
    session: SessionDep,
    status: OutboundStatus | None = None,
    q: Annotated[str | None, Query(max_length=200, description="recipient or subject")] = None,
    ticket_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    cursor: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> OutboundEmailPage:
    """Outbound mails, newest first, optionally by status (queued, sending, sent, failed,
    suppressed); `last_error` says why a mail failed or was held back."""
    rows, next_cursor = await service.list_emails(
        session, status=status, q=q, ticket_id=ticket_id, cursor=cursor, limit=limit
    )
    return OutboundEmailPage(
        items=[OutboundEmailSummary.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/{email_id}", response_model=OutboundEmailDetail)
async def get_outbound(
    email_id: EmailId, admin: AdminUser, session: SessionDep
) -> OutboundEmailDetail:
    """One outbound mail with its headers, bodies and delivery history."""
    return OutboundEmailDetail.model_validate(await service.get_email(session, email_id))


@router.post("/{email_id}/retry", response_model=OutboundEmailDetail)
async def retry_outbound(
    email_id: EmailId, admin: AdminUser, session: SessionDep
) -> OutboundEmailDetail:
    """Queue a failed, suppressed or sent mail again (attempts reset); 409 if it is still
    queued or being sent."""
    return OutboundEmailDetail.model_validate(await service.retry(session, email_id))
