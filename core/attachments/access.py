"""Who may fetch a file: whoever may see its ticket and its comment (core/tickets/access.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.attachments import repository
from core.errors import NotFound
from core.models import Attachment, Comment, User
from core.tickets import access


async def visible_attachment(
    session: AsyncSession, *, user: User, attachment_id: int
) -> Attachment:
    """The attachment if `user` may download it; NotFound otherwise (no oracle)."""
    attachment = await repository.get(session, attachment_id)
    if attachment is None:
        raise NotFound("attachment not found")
    comment = await session.get(Comment, attachment.comment_id) if attachment.comment_id else None
    if not await access.can_download(session, user, attachment, comment=comment):
        raise NotFound("attachment not found")
    return attachment
