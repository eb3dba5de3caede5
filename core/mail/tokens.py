"""Signed references that let a reply find its ticket even when headers or bodies are mangled.

Two carriers, both HMAC-signed with the reply-token secret (Settings.signing_secret):

* the reply address: `help+r-1234-56-<sig>@univ.ac.kr` (reply) or `help+n-...` (internal note),
  put in Reply-To of every notification. The token names the ticket and the person it was sent
  to, so a stranger cannot forge one and the gateway knows who is answering.
* our Message-IDs: `<sd-1234-<random>-<sig>@univ.ac.kr>`, so In-Reply-To/References map back to the
  ticket even when the body was stripped.

Signatures are lowercase base32, because some MTAs lowercase local parts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from core.config import get_settings

SIGNATURE_BYTES = 10  # 80 bits: far beyond guessing over SMTP, short enough for an address
_REPLY_TOKEN = re.compile(r"^([rn])-(\d{1,18})-(\d{1,18})-([a-z2-7]{16})$")
_MESSAGE_ID = re.compile(r"^<?sd-(\d{1,18})-([a-z0-9]{8,32})-([a-z2-7]{16})@([^>\s]+)>?$")


@dataclass(frozen=True)
class ReplyToken:
    ticket_id: int
    user_id: int
    note: bool = False


def _sign(payload: str, secret: bytes | None = None) -> str:
    key = secret if secret is not None else get_settings().signing_secret
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.b32encode(digest).decode().lower()


def make_reply_token(
    *, ticket_id: int, user_id: int, note: bool = False, secret: bytes | None = None
) -> str:
    kind = "n" if note else "r"
    payload = f"{kind}-{ticket_id}-{user_id}"
    return f"{payload}-{_sign('reply:' + payload, secret)}"


def parse_reply_token(token: str, *, secret: bytes | None = None) -> ReplyToken | None:
    """The token's claims, or None when it is malformed or its signature does not match."""
    match = _REPLY_TOKEN.match(token.strip().lower())
    if not match:
        return None
    kind, ticket_id, user_id, signature = match.groups()
    expected = _sign(f"reply:{kind}-{ticket_id}-{user_id}", secret)
    if not hmac.compare_digest(signature, expected):
        return None
    return ReplyToken(ticket_id=int(ticket_id), user_id=int(user_id), note=kind == "n")


def split_plus_address(address: str) -> tuple[str, str | None]:
    """`help+tok@x` -> (`help@x`, `tok`); `help@x` -> (`help@x`, None). Lowercased."""
    address = address.strip().strip("<>").lower()
    local, sep, domain = address.rpartition("@")
    if not sep:
        return address, None
    base, plus, tag = local.partition("+")
    return f"{base}@{domain}", (tag if plus and tag else None)


def reply_address(base_address: str, token: str) -> str:
    local, _, domain = base_address.partition("@")
    return f"{local}+{token}@{domain}"


def make_message_id(*, ticket_id: int, domain: str, secret: bytes | None = None) -> str:
    nonce = secrets.token_hex(8)
    payload = f"{ticket_id}-{nonce}"
    return f"<sd-{payload}-{_sign('msgid:' + payload, secret)}@{domain}>"


def parse_message_id(message_id: str, *, secret: bytes | None = None) -> int | None:
    """The ticket id in one of our signed Message-IDs, or None for anyone else's id."""
    match = _MESSAGE_ID.match(message_id.strip().lower())
    if not match:
        return None
    ticket_id, nonce, signature, _domain = match.groups()
    expected = _sign(f"msgid:{ticket_id}-{nonce}", secret)
    if not hmac.compare_digest(signature, expected):
        return None
    return int(ticket_id)
