"""Attachments on local disk, under LOCAL_UPLOAD_ROOT.

Each object is one file at `<root>/<key>`; its content type and sha256 sit beside it in a hidden
`.<name>.meta` file (valid keys never start a segment with a dot, so the two cannot collide).
Writes go to a temporary file in the same directory, are fsynced, then renamed into place, so a
reader sees the old object or the whole new one, never half a file. "Presigned" URLs point at the
API (`/api/v1/storage/local/<key>?token=...`) and carry an HMAC token (`local_tokens`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlencode

from core.errors import Conflict, Invalid, NotFound
from core.storage import local_tokens
from core.storage.base import (
    ObjectInfo,
    PresignedUpload,
    PutData,
    Storage,
    StoredObject,
    content_disposition,
    normalise_content_type,
    too_large,
    validate_key,
)

# The API route that serves local "presigned" URLs (api/routers/storage_local.py).
LOCAL_ROUTE_PREFIX = "/api/v1/storage/local"
_CHUNK = 1024 * 1024


class _Writer:
    """A temporary file beside the target that hashes and counts what it is given."""

    def __init__(self, directory: Path, name: str, max_bytes: int | None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.tmp = directory / f".{name}.{uuid.uuid4().hex}.tmp"
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        self.max_bytes = max_bytes
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise too_large(self.max_bytes)
        self.digest.update(chunk)
        view = memoryview(chunk)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def write_file(self, source: BinaryIO) -> None:
        while chunk := source.read(_CHUNK):
            self.write(chunk)

    def finish(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1

    def discard(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.tmp.unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_meta(meta_path: Path, meta: dict[str, object]) -> None:
    tmp = meta_path.with_name(f"{meta_path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(meta, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, meta_path)


class LocalStorage(Storage):
    backend = "local"

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        signing_secret: bytes,
        public_base_url: str,
        presign_expires_sec: int = 600,
    ) -> None:
        self.root = Path(root).resolve()
        self._secret = signing_secret
        self._base_url = public_base_url.rstrip("/")
        self._expires = presign_expires_sec

    # --- key → path -------------------------------------------------------------------------
    def path_for(self, key: str) -> Path:
        """The file of `key`, guaranteed to be inside the root (Invalid otherwise)."""
        validate_key(key)
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise Invalid("invalid storage key", detail="the key leaves the storage root")
        return path

    @staticmethod
    def _meta_path(path: Path) -> Path:
        return path.with_name(f".{path.name}.meta")

    # --- the interface ----------------------------------------------------------------------
    async def put(
        self,
        key: str,
        data: PutData,
        *,
        content_type: str,
        max_bytes: int | None = None,
        overwrite: bool = True,
    ) -> StoredObject:
        path = self.path_for(key)
        content_type = normalise_content_type(content_type)
        is_bytes = isinstance(data, bytes | bytearray | memoryview)
        if is_bytes and max_bytes is not None and len(data) > max_bytes:  # type: ignore[arg-type]
            raise too_large(max_bytes)
        writer = await asyncio.to_thread(_Writer, path.parent, path.name, max_bytes)
        try:
            if isinstance(data, bytes | bytearray | memoryview):
                await asyncio.to_thread(writer.write, bytes(data))
            elif hasattr(data, "read"):
                await asyncio.to_thread(writer.write_file, data)  # type: ignore[arg-type]
            else:
                async for chunk in data:  # type: ignore[union-attr]
                    if chunk:
                        await asyncio.to_thread(writer.write, chunk)
            await asyncio.to_thread(writer.finish)
            stored = StoredObject(key=key, size=writer.size, sha256=writer.digest.hexdigest())
            await asyncio.to_thread(
                self._publish, writer.tmp, path, overwrite, stored, content_type
            )
        except BaseException:
            await asyncio.to_thread(writer.discard)
            raise
        return stored

    def _publish(
        self, tmp: Path, path: Path, overwrite: bool, stored: StoredObject, content_type: str
    ) -> None:
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the key exists: no overwrite, no race
            except FileExistsError:
                raise Conflict("object already exists", detail=f"{stored.key} exists") from None
            tmp.unlink()
        _write_meta(
            self._meta_path(path),
            {"content_type": content_type, "sha256": stored.sha256, "size": stored.size},
        )
        _fsync_dir(path.parent)

    async def get(self, key: str) -> bytes:
        path = self.path_for(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound("object not found", detail=key) from None

    async def stream(self, key: str, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        path = self.path_for(key)
        try:
            fh = await asyncio.to_thread(open, path, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound("object not found", detail=key) from None
        try:
            while chunk := await asyncio.to_thread(fh.read, chunk_size):
                yield chunk
        finally:
            await asyncio.to_thread(fh.close)

    async def head(self, key: str) -> ObjectInfo | None:
        path = self.path_for(key)
        return await asyncio.to_thread(self._head, key, path)

    def _head(self, key: str, path: Path) -> ObjectInfo | None:
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        meta: dict[str, object] = {}
        with contextlib.suppress(FileNotFoundError, ValueError):
            meta = json.loads(self._meta_path(path).read_text(encoding="utf-8"))
        same_size = meta.get("size") == stat.st_size
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            content_type=meta.get("content_type") if same_size else None,  # type: ignore[arg-type]
            sha256=meta.get("sha256") if same_size else None,  # type: ignore[arg-type]
        )

    async def delete(self, key: str) -> None:
        path = self.path_for(key)

        def remove() -> None:
            path.unlink(missing_ok=True)
            self._meta_path(path).unlink(missing_ok=True)

        await asyncio.to_thread(remove)

    # --- "presigned" URLs served by the API -------------------------------------------------
    def _url(self, key: str, token: str) -> str:
        return f"{self._base_url}{LOCAL_ROUTE_PREFIX}/{key}?{urlencode({'token': token})}"

    async def presign_upload(
        self, key: str, *, size: int, content_type: str, expires_in: int | None = None
    ) -> PresignedUpload:
        validate_key(key)
        content_type = normalise_content_type(content_type)
        if size < 0:
            raise Invalid("invalid size", detail="size must not be negative")
        expires_at = int(time.time()) + (expires_in or self._expires)
        token = local_tokens.sign(
            self._secret,
            key=key,
            method="PUT",
            expires_at=expires_at,
            max_bytes=size,
            content_type=content_type,
        )
        return PresignedUpload(
            url=self._url(key, token),
            method="PUT",
            headers={"Content-Type": content_type},
            expires_at=datetime.fromtimestamp(expires_at, UTC),
        )

    async def presign_download(
        self, key: str, *, filename: str, content_type: str, expires_in: int | None = None
    ) -> str:
        validate_key(key)
        content_type = normalise_content_type(content_type)
        expires_at = int(time.time()) + (expires_in or self._expires)
        token = local_tokens.sign(
            self._secret,
            key=key,
            method="GET",
            expires_at=expires_at,
            content_type=content_type,
            filename=filename,
        )
        return self._url(key, token)

    # --- used by the API route --------------------------------------------------------------
    def verify_token(
        self, token: str, *, key: str, method: str, now: Callable[[], float] | None = None
    ) -> local_tokens.TokenClaims:
        """Forbidden unless `token` was issued by us for this key and method and is unexpired."""
        return local_tokens.verify(
            self._secret, token, key=key, method=method, now=now() if now else None
        )

    @staticmethod
    def download_headers(claims: local_tokens.TokenClaims) -> dict[str, str]:
        return {
            "Content-Type": claims.content_type or "application/octet-stream",
            "Content-Disposition": content_disposition(claims.filename or "download"),
        }
