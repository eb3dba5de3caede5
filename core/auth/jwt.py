"""Access tokens: HS256 JWTs signed with JWT_SECRET. Only HS256 is accepted on the way in, so a
token with `alg: none` or an asymmetric algorithm is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from core.config import Settings, get_settings
from core.errors import Unauthorized

ALGORITHM = "HS256"
AUDIENCE = "servicedesk"


def issue_access_token(*, user_id: int, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=settings.jwt_expires_min),
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def read_access_token(token: str, *, settings: Settings | None = None) -> int:
    """The user id in a valid token; Unauthorized for anything else."""
    settings = settings or get_settings()
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
        return int(claims["sub"])
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("session expired; sign in again") from exc
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise Unauthorized("invalid access token") from exc
