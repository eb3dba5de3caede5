"""The attachment rules: presigned upload, completion check, direct store (mail), cleanup.

The upload flow (original README): (1) `begin_upload` records a pending row and issues a presigned
PUT bound to the declared size and content type; (2) the client uploads directly to storage;
(3) `complete_upload` HEADs the object and accepts it only if it exists and its size matches,
then reads it once to record its sha256; (4) `download_url` issues a short-lived presigned
GET — the caller checks the permission first. Uploads never completed stay pending and are
found by `find_stale_uploads`.

Services only flush; the process commits. Storage keys are random (`new_storage_key`); the user's
filename is only ever stored in the row and sent back in Content-Disposition.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession

from core.attachments import repository
from core.config import Settings, get_settings
from core.errors import Invalid, NotFound
from core.models import Attachment, AttachmentStatus
from core.storage import (
    ObjectTooLarge,
    PresignedUpload,
    Storage,
    get_storage,
    new_storage_key,
    sanitise_filename,
)
from core.storage.base import normalise_content_type


def _limit(settings: Settings) -> int:
    return settings.attachment_max_bytes


def _clean_filename(filename: str) -> str:
    if not (filename or "").strip():
        raise Invalid("filename is required")
    return sanitise_filename(filename)


async def begin_upload(
    session: AsyncSession,
    *,
    uploader_id: int | None,
    filename: str,
    size: int,
    content_type: str,
    ticket_id: int | None = None,
    comment_id: int | None = None,
    storage: Storage | None = None,
    settings: Settings | None = None,
) -> tuple[Attachment, PresignedUpload]:
    """A pending attachment row and the presigned PUT the client uploads the bytes to."""
    settings = settings or get_settings()
    storage = storage or get_storage(settings)
    name = _clean_filename(filename)
    content_type = normalise_content_type(content_type)
    if size < 0:
        raise Invalid("invalid size", detail="size must not be negative")
    if size > _limit(settings):
        raise ObjectTooLarge(
            "file too large", detail=f"{size} bytes; the limit is {_limit(settings)} bytes"
        )
    attachment = await repository.add(
        session,
        Attachment(
            ticket_id=ticket_id,
            comment_id=comment_id,
            uploader_id=uploader_id,
            filename=name,
            content_type=content_type,
            size=size,
            storage_key=new_storage_key(),
            status=AttachmentStatus.pending.value,
        ),
    )
    upload = await storage.presign_upload(
        attachment.storage_key, size=size, content_type=content_type
    )
    return attachment, upload


async def complete_upload(
    session: AsyncSession,
    *,
    attachment_id: int,
    uploader_id: int | None,
    storage: Storage | None = None,
    settings: Settings | None = None,
) -> Attachment:
    """Accept an uploaded object only if it exists and has the declared size (HEAD); a wrong size
    deletes the object so the client can upload again. Completing twice is harmless."""
    settings = settings or get_settings()
    storage = storage or get_storage(settings)
    attachment = await repository.get_for_update(session, attachment_id)
    if attachment is None or attachment.uploader_id != uploader_id:
        raise NotFound("attachment not found")
    if attachment.status == AttachmentStatus.stored.value:
        return attachment
    info = await storage.head(attachment.storage_key)
    if info is None:
        raise Invalid("not uploaded", detail="upload the file to the presigned URL first")
    if info.size != attachment.size:
        await storage.delete(attachment.storage_key)
        raise Invalid(
            "size mismatch",
            detail=f"declared {attachment.size} bytes but {info.size} were uploaded; "
            "the upload was discarded",
        )
    # Read it once (at most ATTACHMENT_MAX_BYTES) and hash what is really there: a sha256 in the
    # object's metadata could have been set by the uploading client, so it is not trusted.
    sha256, counted = await _hash_object(storage, attachment.storage_key)
    if counted != attachment.size:
        await storage.delete(attachment.storage_key)
        raise Invalid("size mismatch", detail="the object changed while it was verified")
    attachment.sha256 = sha256
    attachment.status = AttachmentStatus.stored.value
    attachment.completed_at = datetime.now(UTC)
    await session.flush()
    return attachment


async def _hash_object(storage: Storage, key: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    async for chunk in storage.stream(key, chunk_size=1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


async def store_bytes(
    session: AsyncSession,
    *,
    data: bytes | AsyncIterator[bytes] | BinaryIO,
    filename: str,
    content_type: str,
    ticket_id: int | None = None,
    comment_id: int | None = None,
    uploader_id: int | None = None,
    content_id: str | None = None,
    is_inline: bool = False,
    storage: Storage | None = None,
    settings: Settings | None = None,
) -> Attachment:
    """Store bytes we hold already (a mail's attachment) and record them; ObjectTooLarge over
    ATTACHMENT_MAX_BYTES. The object is written before the row: if the row cannot be written the
    object is deleted again."""
    settings = settings or get_settings()
    storage = storage or get_storage(settings)
    name = sanitise_filename(filename or "attachment")
    content_type = normalise_content_type(content_type)
    key = new_storage_key()
    stored = await storage.put(
        key, data, content_type=content_type, max_bytes=_limit(settings), overwrite=False
    )
    try:
        return await repository.add(
            session,
            Attachment(
                ticket_id=ticket_id,
                comment_id=comment_id,
                uploader_id=uploader_id,
                filename=name,
                content_type=content_type,
                size=stored.size,
                sha256=stored.sha256,
                storage_key=key,
                content_id=content_id,
                is_inline=is_inline,
                status=AttachmentStatus.stored.value,
                completed_at=datetime.now(UTC),
            ),
        )
    except BaseException:
        await storage.delete(key)
        raise


async def get_attachment(session: AsyncSession, attachment_id: int) -> Attachment:
    attachment = await repository.get(session, attachment_id)
    if attachment is None:
        raise NotFound("attachment not found")
    return attachment


async def download_url(
    attachment: Attachment,
    *,
    expires_in: int | None = None,
    storage: Storage | None = None,
    settings: Settings | None = None,
) -> str:
    """A short-lived presigned GET for a stored attachment. The CALLER checks that the user may
    see it first; this function knows nothing about permissions."""
    if attachment.status != AttachmentStatus.stored.value:
        raise NotFound("attachment not found", detail="the upload was never completed")
    storage = storage or get_storage(settings or get_settings())
    return await storage.presign_download(
        attachment.storage_key,
        filename=attachment.filename,
        content_type=attachment.content_type,
        expires_in=expires_in,
    )


async def find_stale_uploads(
    session: AsyncSession, older_than: timedelta | datetime, *, limit: int = 500
) -> list[Attachment]:
    """Pending uploads created more than `older_than` ago (or before that time), oldest first."""
    return await repository.list_pending_created_before(session, cutoff=older_than, limit=limit)


async def discard_upload(
    session: AsyncSession,
    *,
    attachment: Attachment,
    storage: Storage | None = None,
    settings: Settings | None = None,
) -> bool:
    """Delete a never-completed upload: its row (only if still pending) and any partial object.
    False if it was completed meanwhile (then nothing is touched)."""
    storage = storage or get_storage(settings or get_settings())
    if not await repository.delete_if_pending(session, attachment.id):
        return False
    await storage.delete(attachment.storage_key)
    return True
