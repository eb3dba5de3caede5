"""End-to-end check of the configured storage: write, read, presigned PUT and GET through real
HTTP, delete. Used by `servicedesk storage check`; every failure is one line naming the cause."""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass

import httpx

from core.config import Settings
from core.errors import CoreError
from core.storage.base import Storage, new_storage_key
from core.storage.factory import build_storage

_CHECK_FILENAME = "점검 파일 check.txt"
_S3_ERROR_CODE = re.compile(r"<Code>([^<]+)</Code>")


class StorageCheckFailed(Exception):
    """One line that says what is wrong."""


@dataclass(frozen=True, slots=True)
class CheckReport:
    backend: str
    where: str
    steps: tuple[str, ...]


def describe_target(settings: Settings) -> str:
    if settings.storage_backend == "object":
        return f"{settings.object_storage_endpoint} bucket {settings.object_storage_bucket!r}"
    return f"{settings.local_upload_root} (presigned URLs via {settings.api_public_url})"


def storage_for_check(settings: Settings) -> Storage:
    """A fresh backend that gives up fast (one attempt), so a dead endpoint is reported quickly."""
    if settings.storage_backend == "object":
        from core.storage.s3 import ObjectStorage

        return ObjectStorage.from_settings(settings, max_attempts=1)
    return build_storage(settings)


async def check_storage(
    storage: Storage, *, where: str, http: httpx.AsyncClient | None = None
) -> CheckReport:
    """Run every step; raise StorageCheckFailed with one line on the first failure."""
    own_client = http is None
    client = http or httpx.AsyncClient(timeout=15.0)
    key, upload_key = new_storage_key("healthcheck"), new_storage_key("healthcheck")
    payload = f"servicedesk storage check {uuid.uuid4().hex}\n".encode()
    steps: list[str] = []
    try:
        await _step("write", storage.put(key, payload, content_type="text/plain"))
        steps.append("write")
        if await _step("read", storage.get(key)) != payload:
            raise StorageCheckFailed("read: the object read back differs from what was written")
        info = await _step("head", storage.head(key))
        if info is None or info.size != len(payload):
            raise StorageCheckFailed("head: the object's size is wrong or it is missing")
        steps.append("read")

        upload = await _step(
            "presign upload",
            storage.presign_upload(upload_key, size=len(payload), content_type="text/plain"),
        )
        await _http(
            client,
            "presigned PUT",
            upload.method,
            upload.url,
            where,
            content=payload,
            headers=upload.headers,
        )
        info = await _step("head after presigned PUT", storage.head(upload_key))
        if info is None or info.size != len(payload):
            raise StorageCheckFailed("presigned PUT answered OK but the object is not there")
        steps.append("presigned PUT")

        url = await _step(
            "presign download",
            storage.presign_download(
                upload_key, filename=_CHECK_FILENAME, content_type="text/plain"
            ),
        )
        response = await _http(client, "presigned GET", "GET", url, where)
        if response.content != payload:
            raise StorageCheckFailed("presigned GET returned other bytes than were uploaded")
        if "filename*=UTF-8''" not in response.headers.get("content-disposition", ""):
            raise StorageCheckFailed(
                "presigned GET lacks the RFC 5987 Content-Disposition (Korean names would break)"
            )
        steps.append("presigned GET")

        await _step("delete", storage.delete(key))
        await _step("delete", storage.delete(upload_key))
        if await _step("head after delete", storage.head(key)) is not None:
            raise StorageCheckFailed("delete: the object is still there after DELETE")
        steps.append("delete")
    finally:
        for leftover in (key, upload_key):
            # Best effort: the failure that matters has been raised already.
            with contextlib.suppress(Exception):
                await storage.delete(leftover)
        if own_client:
            await client.aclose()
    return CheckReport(backend=storage.backend, where=where, steps=tuple(steps))


async def _step(name: str, awaitable):  # type: ignore[no-untyped-def]
    try:
        return await awaitable
    except CoreError as exc:
        message = exc.message if exc.detail == exc.message else f"{exc.message}: {exc.detail}"
        raise StorageCheckFailed(f"{name}: {message}") from exc


async def _http(
    client: httpx.AsyncClient, step: str, method: str, url: str, where: str, **kwargs: object
) -> httpx.Response:
    host = httpx.URL(url).copy_with(query=None, path="/")
    try:
        response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
    except httpx.TransportError as exc:
        raise StorageCheckFailed(
            f"{step}: cannot reach {host} ({type(exc).__name__})"
            + (
                "; local presigned URLs are served by the API: is it running at API_PUBLIC_URL?"
                if "presigned URLs via" in where
                else ""
            )
        ) from exc
    if response.is_success:
        return response
    code = _S3_ERROR_CODE.search(response.text or "")
    reason = code.group(1) if code else response.text.strip()[:200]
    if code and code.group(1) == "RequestTimeTooSkewed":
        reason = "clock skew (RequestTimeTooSkewed): synchronise this machine's clock with NTP"
    elif code and code.group(1) in {"SignatureDoesNotMatch", "InvalidAccessKeyId"}:
        reason = f"bad credentials ({code.group(1)})"
    raise StorageCheckFailed(f"{step}: HTTP {response.status_code} from {host}: {reason}")
