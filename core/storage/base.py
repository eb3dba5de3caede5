"""The storage interface every backend implements, and the helpers both share.

Keys are opaque, random and chosen by us (`new_storage_key`), never built from a user's filename;
the filename lives in the database and travels back to browsers in `Content-Disposition`
(`content_disposition`, RFC 6266 with the RFC 5987 `filename*` parameter for non-ASCII names).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO
from urllib.parse import quote

from core.errors import Invalid

# A key is 1-16 segments of [A-Za-z0-9_-.], none starting with a dot: no `..`, no absolute path,
# no backslash, no NUL, nothing a filesystem or a URL could read twice. Our own keys always fit.
_SEGMENT = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,127}$")
MAX_KEY_LENGTH = 255

PutData = bytes | AsyncIterator[bytes] | BinaryIO


class ObjectTooLarge(Invalid):
    """The data exceeds the size limit it was given (HTTP 413, SMTP 552 at the edges)."""

    code = "too_large"


def too_large(max_bytes: int) -> ObjectTooLarge:
    return ObjectTooLarge("file too large", detail=f"the file is larger than {max_bytes} bytes")


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str | None
    # Known when the object was written through `put` (recorded alongside it), else None.
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    url: str
    method: str
    headers: dict[str, str] = field(default_factory=dict)
    expires_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def new_storage_key(prefix: str = "att") -> str:
    """A fresh random key such as `att/2026/11/<uuid4 hex>`; never derived from user input."""
    if not _SEGMENT.match(prefix):
        raise ValueError(f"bad storage key prefix {prefix!r}")
    now = datetime.now(UTC)
    return f"{prefix}/{now:%Y}/{now:%m}/{uuid.uuid4().hex}"


def validate_key(key: str) -> str:
    """Refuse any key that is not one of ours in shape (see `_SEGMENT`); return it unchanged."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise Invalid("invalid storage key", detail="the storage key is empty or too long")
    segments = key.split("/")
    if len(segments) > 16 or not all(_SEGMENT.match(s) for s in segments):
        raise Invalid(
            "invalid storage key",
            detail="a storage key is slash-separated segments of letters, digits, '_', '-', '.'"
            " (no '..', no leading '/', no backslash, no NUL)",
        )
    return key


_CONTENT_TYPE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]{0,126}"
    r"(\s*;\s*[A-Za-z0-9_\-]+=(\"[^\"\\\x00-\x1f]*\"|[A-Za-z0-9_.\-]+))*$"
)
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def normalise_content_type(content_type: str | None) -> str:
    """A well-formed MIME type (parameters allowed), or Invalid; empty means octet-stream."""
    value = (content_type or "").strip()
    if not value:
        return DEFAULT_CONTENT_TYPE
    if len(value) > 255 or not _CONTENT_TYPE.match(value):
        raise Invalid("invalid content type", detail=f"not a MIME type: {value[:80]!r}")
    return value


def _ascii_fallback(filename: str) -> str:
    """ASCII for old clients: accents dropped ("é" → "e"), anything else (Hangul) → "_"."""
    out = []
    for ch in filename:
        if " " <= ch <= "~":
            out.append("_" if ch in '"\\' else ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(base if base and all(" " <= c <= "~" and c not in '"\\' for c in base) else "_")
    return "".join(out).strip() or "download"


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """`attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266, RFC 5987).

    Old clients read the quoted ASCII fallback; every current browser prefers `filename*`, so
    Korean names such as "보고서 최종(2).hwp" arrive intact. Control characters and path
    separators are dropped from the name first.
    """
    name = sanitise_filename(filename)
    disposition = "inline" if inline else "attachment"
    encoded = quote(name, safe="")
    fallback = _ascii_fallback(name)
    if fallback == name and "%" not in name:
        return f'{disposition}; filename="{fallback}"'
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def sanitise_filename(filename: str, *, max_length: int = 255) -> str:
    """The last path component, NFC-normalised (macOS sends NFD Hangul), without control
    characters; "download" if nothing is left."""
    name = unicodedata.normalize("NFC", filename or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if name in {"", ".", ".."}:
        name = "download"
    if len(name) > max_length:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: max_length - len(ext) - 1] + "." + ext
        else:
            name = name[:max_length]
    return name


class Storage(ABC):
    """Where attachment bytes live. Every method is async; backends never block the loop."""

    backend: str

    @abstractmethod
    async def put(
        self,
        key: str,
        data: PutData,
        *,
        content_type: str,
        max_bytes: int | None = None,
        overwrite: bool = True,
    ) -> StoredObject:
        """Store `data` under `key` atomically (readers see the old object or the whole new one).

        Raises Invalid if the data exceeds `max_bytes` (nothing is stored) and Conflict if
        `overwrite` is false and the key already exists."""

    @abstractmethod
    async def get(self, key: str) -> bytes:
        """The whole object; NotFound if missing."""

    @abstractmethod
    def stream(self, key: str, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        """The object in chunks; NotFound (raised on first iteration) if missing."""

    @abstractmethod
    async def head(self, key: str) -> ObjectInfo | None:
        """Size and type of the object, or None if it does not exist."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""

    @abstractmethod
    async def presign_upload(
        self, key: str, *, size: int, content_type: str, expires_in: int | None = None
    ) -> PresignedUpload:
        """A URL the client PUTs the bytes to directly, bound to this key, size and type."""

    @abstractmethod
    async def presign_download(
        self, key: str, *, filename: str, content_type: str, expires_in: int | None = None
    ) -> str:
        """A short-lived GET URL whose response carries `content_disposition(filename)`."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release pooled connections (optional)."""
