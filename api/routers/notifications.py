"""In-app notifications: list, unread count, mark read, and a live stream (Server-Sent Events).

The stream polls the database every couple of seconds with a short session of its own; it never
holds a database connection between polls, so a thousand open browser tabs cost a thousand idle
sockets, not a thousand pool slots.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import CurrentUser, SessionDep
from core.db import get_sessionmaker
from core.notifications import repository, service
from core.notifications.schemas import (
    NotificationOut,
    NotificationPage,
    ReadAllResult,
    UnreadCount,
)

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])

POLL_SECONDS = 2.0
KEEPALIVE_SECONDS = 15.0
NotificationId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", response_model=NotificationPage)
async def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    unread: Annotated[bool | None, Query(description="only unread ones")] = None,
    cursor: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationPage:
    """Your notifications, newest first (`next_cursor` pages further back)."""
    rows, next_cursor = await service.list_notifications(
        session, user=user, unread_only=bool(unread), cursor=cursor, limit=limit
    )
    return NotificationPage(
        items=[NotificationOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get("/unread-count", response_model=UnreadCount)
async def unread_count(user: CurrentUser, session: SessionDep) -> UnreadCount:
    """How many of your notifications are unread."""
    return UnreadCount(count=await service.unread_count(session, user=user))


@router.post("/read-all", response_model=ReadAllResult)
async def read_all(user: CurrentUser, session: SessionDep) -> ReadAllResult:
    """Mark every notification of yours read."""
    return ReadAllResult(updated=await service.read_all(session, user=user))


@router.post("/{notification_id}/read", response_model=NotificationOut)
async def mark_read(
    notification_id: NotificationId, user: CurrentUser, session: SessionDep
) -> NotificationOut:
    """Mark one notification read (404 if it is not yours)."""
    notification = await service.mark_read(session, user=user, notification_id=notification_id)
    return NotificationOut.model_validate(notification)


def _event(name: str, payload: dict, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(payload, ensure_ascii=False, default=str)}\n\n"


async def _poll(user_id: int, after_id: int) -> tuple[list[NotificationOut], int]:
    async with get_sessionmaker()() as session:
        rows = await service.newer_than(session, user_id=user_id, after_id=after_id)
        count = await repository.unread_count(session, user_id=user_id)
        return [NotificationOut.model_validate(r) for r in rows], count


async def _stream(request: Request, user_id: int, after_id: int, count: int) -> AsyncIterator[str]:
    yield "retry: 5000\n\n"
    yield _event("unread_count", {"count": count})
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        await asyncio.sleep(POLL_SECONDS)
        try:
            rows, new_count = await _poll(user_id, after_id)
        except Exception:  # database down: keep the stream, try again on the next poll
            logger.warning("notification stream poll failed", exc_info=True)
            continue
        for row in rows:
            after_id = row.id
            yield _event("notification", row.model_dump(mode="json"), event_id=row.id)
        if new_count != count or rows:
            count = new_count
            yield _event("unread_count", {"count": count})
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None,
) -> StreamingResponse:
    """Server-Sent Events: `notification` for each new notification (its id is the event id,
    so a reconnect with Last-Event-ID misses nothing) and `unread_count` when the count changes."""
    after_id = (
        last_event_id
        if last_event_id is not None
        else await service.latest_id(session, user_id=user.id)
    )
    count = await service.unread_count(session, user=user)
    # Give the connection back now: the stream polls with short sessions of its own.
    await session.commit()
    return StreamingResponse(
        _stream(request, user.id, after_id, count),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
