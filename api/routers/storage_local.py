"""The local backend's stand-in for presigned URLs: PUT and GET of one object, authorised only by
the HMAC token in `?token=` (core/storage/local_tokens.py), never by a login.

Only mounted to any effect when STORAGE_BACKEND=local; with object storage the browser talks to
the bucket directly and these routes answer 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from api.errors import error_response
from core.config import get_settings
from core.errors import Invalid, NotFound
from core.storage import ObjectTooLarge, get_storage, validate_key
from core.storage.base import normalise_content_type
from core.storage.local import LOCAL_ROUTE_PREFIX, LocalStorage

router = APIRouter(prefix=LOCAL_ROUTE_PREFIX, tags=["storage"])

TokenParam = Annotated[str, Query(description="the signed token from the presigned URL")]

# What a browser must never do with a user's file served from the API's own origin.
_SAFE_DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}


def _local_storage(request: Request) -> LocalStorage:
    settings = getattr(request.app.state, "settings", None) or get_settings()
    storage = get_storage(settings)
    if not isinstance(storage, LocalStorage):
        raise NotFound("not found", detail="local storage is not in use")
    return storage


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


@router.put(
    "/{key:path}",
    responses={
        400: {"description": "Bad key or a content type other than the one signed"},
        403: {"description": "Token tampered with, expired, or issued for another object"},
        409: {"description": "The object was already uploaded"},
        413: {"description": "The body is larger than the size the token allows"},
    },
)
async def upload(key: str, token: TokenParam, request: Request) -> JSONResponse:
    """Receive the bytes of a presigned upload (the body is streamed to disk)."""
    storage = _local_storage(request)
    validate_key(key)
    claims = storage.verify_token(token, key=key, method="PUT")
    signed_type = claims.content_type or "application/octet-stream"
    sent_type = request.headers.get("content-type") or "application/octet-stream"
    if _media_type(normalise_content_type(sent_type)) != _media_type(signed_type):
        raise Invalid(
            "content type differs from the upload's",
            detail=f"send Content-Type: {signed_type} (this upload was issued for it)",
        )
    limit = claims.max_bytes
    declared = request.headers.get("content-length")
    if limit is not None and declared is not None and declared.isdigit() and int(declared) > limit:
        return error_response(
            413, "too_large", f"the body is {declared} bytes; this upload allows {limit}"
        )
    try:
        stored = await storage.put(
            key, request.stream(), content_type=signed_type, max_bytes=limit, overwrite=False
        )
    except ObjectTooLarge:
        return error_response(413, "too_large", f"the body is larger than {limit} bytes")
    return JSONResponse(
        {"key": stored.key, "size": stored.size, "sha256": stored.sha256},
        headers={"ETag": f'"{stored.sha256}"'},
    )


@router.get(
    "/{key:path}",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The file, with Content-Disposition naming it"},
        400: {"description": "Bad key"},
        403: {"description": "Token tampered with, expired, or issued for another object"},
        404: {"description": "No such object"},
    },
)
async def download(key: str, token: TokenParam, request: Request) -> Response:
    """Send the file of a presigned download, named by Content-Disposition (RFC 6266)."""
    storage = _local_storage(request)
    validate_key(key)
    claims = storage.verify_token(token, key=key, method="GET")
    info = await storage.head(key)
    if info is None:
        raise NotFound("object not found", detail="the file no longer exists")
    headers = {
        **storage.download_headers(claims),
        **_SAFE_DOWNLOAD_HEADERS,
        "Content-Length": str(info.size),
    }
    return StreamingResponse(
        storage.stream(key), headers=headers, media_type=headers["Content-Type"]
    )
