"""One contract, two backends: local disk (presigned URLs served by a real API server) and a real
S3 HTTP endpoint (moto). Every test here runs against both."""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.attachments import service
from core.errors import Conflict, Invalid, NotFound
from core.models import Attachment, AttachmentStatus, User
from core.storage import ObjectTooLarge, PresignedUpload, new_storage_key
from tests.storage.conftest import MAX_BYTES, Backend

KOREAN_NAME = "보고서 최종(2).hwp"
HWP = "application/x-hwp"


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def filename_star(disposition: str) -> str:
    match = re.search(r"filename\*=UTF-8''([^;\s]+)", disposition)
    assert match, disposition
    return unquote(match.group(1), encoding="utf-8", errors="strict")


async def begin(
    backend: Backend, session: AsyncSession, uploader: User, filename: str, size: int, ctype: str
) -> tuple[Attachment, PresignedUpload]:
    return await service.begin_upload(
        session,
        uploader_id=uploader.id,
        filename=filename,
        size=size,
        content_type=ctype,
        settings=backend.settings,
    )


async def complete(
    backend: Backend, session: AsyncSession, attachment: Attachment, uploader_id: int
) -> Attachment:
    return await service.complete_upload(
        session, attachment_id=attachment.id, uploader_id=uploader_id, settings=backend.settings
    )


# --- put / get / stream / head / delete ---------------------------------------------------------


async def test_put_get_head_delete_round_trip(backend: Backend) -> None:
    storage, key = backend.storage, new_storage_key()
    data = b"\x00\xff binary \xea\xb0\x80" * 1000
    stored = await storage.put(key, data, content_type="application/octet-stream")
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()

    assert await storage.get(key) == data
    assert b"".join([c async for c in storage.stream(key, chunk_size=4096)]) == data
    info = await storage.head(key)
    assert info is not None
    assert (info.key, info.size, info.content_type, info.sha256) == (
        key,
        len(data),
        "application/octet-stream",
        stored.sha256,
    )

    await storage.delete(key)
    assert await storage.head(key) is None
    with pytest.raises(NotFound):
        await storage.get(key)
    await storage.delete(key)  # idempotent


@pytest.mark.parametrize("kind", ["bytes", "async-iterator", "file"])
async def test_put_accepts_every_input_kind(backend: Backend, kind: str) -> None:
    data = b"0123456789" * 7000  # several chunks
    source = {
        "bytes": lambda: data,
        "async-iterator": lambda: chunks(data[:1000], b"", data[1000:50000], data[50000:]),
        "file": lambda: io.BytesIO(data),
    }[kind]()
    key = new_storage_key()
    stored = await backend.storage.put(key, source, content_type="text/plain")
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert await backend.storage.get(key) == data
    await backend.storage.delete(key)


async def test_missing_object_is_none_or_not_found(backend: Backend) -> None:
    key = new_storage_key()
    assert await backend.storage.head(key) is None
    with pytest.raises(NotFound):
        await backend.storage.get(key)
    with pytest.raises(NotFound):
        async for _ in backend.storage.stream(key):
            pass


@pytest.mark.parametrize("kind", ["bytes", "async-iterator", "file"])
async def test_put_over_max_bytes_stores_nothing(backend: Backend, kind: str) -> None:
    data = b"x" * 3000
    source = {
        "bytes": lambda: data,
        "async-iterator": lambda: chunks(data[:1000], data[1000:]),
        "file": lambda: io.BytesIO(data),
    }[kind]()
    key = new_storage_key()
    with pytest.raises(ObjectTooLarge):
        await backend.storage.put(key, source, content_type="text/plain", max_bytes=2999)
    assert await backend.storage.head(key) is None


async def test_put_without_overwrite_refuses_an_existing_key(backend: Backend) -> None:
    key = new_storage_key()
    await backend.storage.put(key, b"first", content_type="text/plain")
    with pytest.raises(Conflict):
        await backend.storage.put(key, b"second", content_type="text/plain", overwrite=False)
    assert await backend.storage.get(key) == b"first"
    await backend.storage.put(key, b"third", content_type="text/plain")
    assert await backend.storage.get(key) == b"third"
    await backend.storage.delete(key)


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a\x00b", "a\\b", "att/./x", ""])
async def test_keys_that_could_escape_are_refused(backend: Backend, key: str) -> None:
    with pytest.raises(Invalid):
        await backend.storage.put(key, b"x", content_type="text/plain")
    with pytest.raises(Invalid):
        await backend.storage.presign_upload(key, size=1, content_type="text/plain")


# --- the upload flow over plain HTTP ------------------------------------------------------------


async def test_presigned_put_then_get_over_http(
    backend: Backend, session: AsyncSession, uploader: User
) -> None:
    data = "한글 HWP 문서 내용".encode() * 500
    attachment, upload = await begin(backend, session, uploader, KOREAN_NAME, len(data), HWP)
    assert attachment.status == AttachmentStatus.pending
    assert attachment.filename == KOREAN_NAME
    assert KOREAN_NAME not in attachment.storage_key and "보고서" not in upload.url
    assert upload.method == "PUT"
    assert upload.headers["Content-Type"] == HWP

    async with httpx.AsyncClient() as http:
        response = await http.put(upload.url, content=data, headers=upload.headers)
        assert response.status_code == 200, response.text

        done = await complete(backend, session, attachment, uploader.id)
        assert done.status == AttachmentStatus.stored
        assert done.sha256 == hashlib.sha256(data).hexdigest()
        assert done.completed_at is not None

        url = await service.download_url(done, settings=backend.settings)
        response = await http.get(url)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"].startswith(HWP)
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert filename_star(disposition) == KOREAN_NAME
    assert disposition.isascii()


async def test_completing_twice_is_harmless(
    backend: Backend, session: AsyncSession, uploader: User
) -> None:
    attachment, upload = await begin(backend, session, uploader, "a.txt", 3, "text/plain")
    async with httpx.AsyncClient() as http:
        assert (await http.put(upload.url, content=b"abc", headers=upload.headers)).is_success
    first = await complete(backend, session, attachment, uploader.id)
    again = await complete(backend, session, attachment, uploader.id)
    assert first.id == again.id and again.status == AttachmentStatus.stored


async def test_size_mismatch_is_refused_at_completion_and_the_object_deleted(
    backend: Backend, session: AsyncSession, uploader: User
) -> None:
    attachment, upload = await begin(backend, session, uploader, "log.txt", 100, "text/plain")
    # Fewer bytes than declared: the local endpoint allows up to the declared size, and moto does
    # not enforce the signed Content-Length, so completion is what must catch it.
    async with httpx.AsyncClient() as http:
        response = await http.put(upload.url, content=b"short", headers=upload.headers)
    assert response.is_success, response.text
    assert await backend.storage.head(attachment.storage_key) is not None

    with pytest.raises(Invalid, match="size mismatch"):
        await complete(backend, session, attachment, uploader.id)
    assert await backend.storage.head(attachment.storage_key) is None
    await session.refresh(attachment)
    assert attachment.status == AttachmentStatus.pending


async def test_completion_without_upload_is_refused(
    backend: Backend, session: AsyncSession, uploader: User
) -> None:
    attachment, _ = await begin(backend, session, uploader, "a.png", 10, "image/png")
    with pytest.raises(Invalid, match="not uploaded"):
        await complete(backend, session, attachment, uploader.id)


async def test_only_the_uploader_can_complete(
    backend: Backend, session: AsyncSession, uploader: User
) -> None:
    attachment, _ = await begin(backend, session, uploader, "a.png", 10, "image/png")
    with pytest.raises(NotFound):
        await complete(backend, session, attachment, uploader.id + 1)


async def test_oversize_is_refused_before_anything_is_issued(
    backend: Backend, session: AsyncSession, uploader: User
) -> None:
    with pytest.raises(ObjectTooLarge):
        await begin(
            backend, session, uploader, "big.iso", MAX_BYTES + 1, "application/octet-stream"
        )
    with pytest.raises(ObjectTooLarge):
        await service.store_bytes(
            session,
            data=chunks(b"x" * MAX_BYTES, b"y"),
            filename="big.bin",
            content_type="application/octet-stream",
            settings=backend.settings,
        )
    assert (await session.execute(Attachment.__table__.select())).first() is None


async def test_store_bytes_records_size_and_sha256(backend: Backend, session: AsyncSession) -> None:
    data = b"%PDF-1.7 mail attachment"
    attachment = await service.store_bytes(
        session,
        data=data,
        filename="첨부 파일.pdf",
        content_type="application/pdf",
        content_id="<img1@mail>",
        is_inline=True,
        settings=backend.settings,
    )
    assert attachment.status == AttachmentStatus.stored
    assert (attachment.size, attachment.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert (attachment.content_id, attachment.is_inline) == ("<img1@mail>", True)
    assert await backend.storage.get(attachment.storage_key) == data


async def test_korean_filename_round_trips_through_content_disposition(
    backend: Backend, session: AsyncSession
) -> None:
    # macOS hands browsers NFD Hangul; it is stored and sent back as NFC.
    nfd_name = unicodedata.normalize("NFD", KOREAN_NAME)
    attachment = await service.store_bytes(
        session,
        data=b"HWP Document File",
        filename=nfd_name,
        content_type=HWP,
        settings=backend.settings,
    )
    assert attachment.filename == KOREAN_NAME
    async with httpx.AsyncClient() as http:
        response = await http.get(await service.download_url(attachment, settings=backend.settings))
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert filename_star(disposition) == KOREAN_NAME
    assert 'filename="' in disposition  # the ASCII fallback for old clients
    assert response.content == b"HWP Document File"


async def test_pending_download_is_refused(
    backend: Backend, session: AsyncSession, uploader: User
) -> None:
    attachment, _ = await begin(backend, session, uploader, "a.txt", 1, "text/plain")
    with pytest.raises(NotFound):
        await service.download_url(attachment, settings=backend.settings)


async def test_stale_uploads_are_found_and_discarded(
    backend: Backend, session: AsyncSession, uploader: User
) -> None:
    stale, upload = await begin(backend, session, uploader, "old.txt", 3, "text/plain")
    fresh, _ = await begin(backend, session, uploader, "new.txt", 3, "text/plain")
    stored = await service.store_bytes(
        session,
        data=b"abc",
        filename="kept.txt",
        content_type="text/plain",
        settings=backend.settings,
    )
    await session.execute(
        update(Attachment)
        .where(Attachment.id.in_([stale.id, stored.id]))
        .values(created_at=Attachment.created_at - timedelta(days=2))
    )
    async with httpx.AsyncClient() as http:  # half-finished: uploaded, never completed
        assert (await http.put(upload.url, content=b"abc", headers=upload.headers)).is_success

    found = await service.find_stale_uploads(session, timedelta(days=1))
    assert [a.id for a in found] == [stale.id]
    assert fresh.id not in {a.id for a in found}

    assert await service.discard_upload(session, attachment=found[0], settings=backend.settings)
    assert await backend.storage.head(stale.storage_key) is None
    assert await service.find_stale_uploads(session, timedelta(days=1)) == []
    assert await backend.storage.get(stored.storage_key) == b"abc"
