"""Signed tokens that stand in for presigned URLs when files live on local disk.

A token is `base64url(claims JSON) "." base64url(HMAC-SHA256(key, claims JSON))`. The claims bind
the storage key, the HTTP method, the expiry and, for uploads, the maximum size and content type;
for downloads, the filename and content type the response must carry. The HMAC key is derived
from `Settings.signing_secret` with a purpose label, so a token of another kind (mail reply tokens
use the same secret) can never pass as a storage token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from core.errors import Forbidden

_PURPOSE = b"servicedesk/storage-local/v1"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    key: str
    method: str
    expires_at: int  # unix seconds
    max_bytes: int | None = None
    content_type: str | None = None
    filename: str | None = None


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac_key(secret: bytes) -> bytes:
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def sign(
    secret: bytes,
    *,
    key: str,
    method: str,
    expires_at: int,
    max_bytes: int | None = None,
    content_type: str | None = None,
    filename: str | None = None,
) -> str:
    claims = {"k": key, "m": method.upper(), "e": int(expires_at)}
    if max_bytes is not None:
        claims["n"] = int(max_bytes)
    if content_type is not None:
        claims["t"] = content_type
    if filename is not None:
        claims["f"] = filename
    body = json.dumps(claims, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()
    mac = hmac.new(_mac_key(secret), body, hashlib.sha256).digest()
    return f"{_b64encode(body)}.{_b64encode(mac)}"


def verify(
    secret: bytes, token: str, *, key: str, method: str, now: float | None = None
) -> TokenClaims:
    """The token's claims if it is authentic, unexpired and issued for this key and method;
    Forbidden otherwise (the message says which, never what the right values would be)."""
    try:
        body_part, mac_part = token.split(".")
        body = _b64decode(body_part)
        mac = _b64decode(mac_part)
    except (ValueError, binascii.Error) as exc:
        raise Forbidden("malformed storage token") from exc
    expected = hmac.new(_mac_key(secret), body, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise Forbidden("storage token signature is invalid")
    try:
        raw = json.loads(body)
        claims = TokenClaims(
            key=str(raw["k"]),
            method=str(raw["m"]),
            expires_at=int(raw["e"]),
            max_bytes=int(raw["n"]) if "n" in raw else None,
            content_type=raw.get("t"),
            filename=raw.get("f"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise Forbidden("malformed storage token") from exc
    if (now if now is not None else time.time()) >= claims.expires_at:
        raise Forbidden("storage token has expired")
    if not hmac.compare_digest(claims.key.encode(), key.encode()):
        raise Forbidden("storage token was issued for another object")
    if claims.method != method.upper():
        raise Forbidden(f"storage token does not allow {method.upper()}")
    return claims
