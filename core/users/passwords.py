"""Password hashing with argon2 (pwdlib's recommended hasher)."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash

_hasher = PasswordHash.recommended()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verifying against this keeps the time of "no such user" close to that of "wrong password".
    Made on first use, not at import: one argon2 hash takes 64 MB and most of a second, which
    processes that never check a password (mail gateway, workers) should not pay."""
    return _hasher.hash("servicedesk-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if not password_hash:
        _hasher.verify(password, _dummy_hash())
        return False
    return _hasher.verify(password, password_hash)
