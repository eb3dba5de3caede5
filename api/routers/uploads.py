"""Uploads (presigned PUT, then complete) and downloads (permission check, then a redirect to a
short-lived presigned GET), over core storage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from api.deps import CurrentUser, SessionDep
from api.schemas import ERROR_RESPONSES, AttachmentOut, Id, Text
from api.serialize import attachment_out
from core.attachments import access as attachment_access
from core.attachments import service as attachments

router = APIRouter(prefix="/api/v1", tags=["uploads"], responses=ERROR_RESPONSES)


class UploadIn(BaseModel):
    filename: Annotated[Text, Field(min_length=1, max_length=1000)]
    size: Annotated[int, Field(ge=0, le=2**53)]
    content_type: Annotated[Text, Field(max_length=255)] = "application/octet-stream"


class UploadOut(BaseModel):
    attachment_id: int
    upload_url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


@router.post("/uploads", status_code=201, response_model=UploadOut)
async def begin_upload(body: UploadIn, user: CurrentUser, session: SessionDep) -> UploadOut:
    """Start an upload: PUT the bytes to `upload_url` with `headers`, then call complete."""
    attachment, presigned = await attachments.begin_upload(
        session,
        uploader_id=user.id,
        filename=body.filename,
        size=body.size,
        content_type=body.content_type,
    )
    return UploadOut(
        attachment_id=attachment.id,
        upload_url=presigned.url,
        method=presigned.method,
        headers=presigned.headers,
        expires_at=presigned.expires_at,
    )


@router.post("/uploads/{attachment_id}/complete", response_model=AttachmentOut)
async def complete_upload(
    attachment_id: Id, user: CurrentUser, session: SessionDep
) -> AttachmentOut:
    """Check the uploaded object (size) and record it; then pass its id as an attachment."""
    attachment = await attachments.complete_upload(
        session, attachment_id=attachment_id, uploader_id=user.id
    )
    return attachment_out(attachment)


@router.get(
    "/attachments/{attachment_id}",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "Redirect to a short-lived download URL"}},
)
async def download_attachment(
    attachment_id: Id,
    user: CurrentUser,
    session: SessionDep,
    inline: Annotated[
        int,
        Query(
            ge=0,
            le=1,
            description="preview request; accepted, but storage still answers as a download "
            "(Content-Disposition: attachment) until presign_download can vary it",
        ),
    ] = 0,
) -> RedirectResponse:
    """Download a file you may see (302 to a presigned URL valid for a few minutes)."""
    attachment = await attachment_access.visible_attachment(
        session, user=user, attachment_id=attachment_id
    )
    url = await attachments.download_url(attachment)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "private, no-store"})
