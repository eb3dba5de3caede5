"""The one error hierarchy of core; each process maps it at its edge (HTTP, SMTP, job run)."""


class CoreError(Exception):
    """Base of every error a core service raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail if detail is not None else message


class NotFound(CoreError):
    code = "not_found"


class Forbidden(CoreError):
    code = "forbidden"


class Unauthorized(CoreError):
    code = "unauthorized"


class Conflict(CoreError):
    code = "conflict"


class Invalid(CoreError):
    code = "invalid"


class RateLimited(CoreError):
    code = "rate_limited"


class Unavailable(CoreError):
    """A dependency (database, storage, relay) is down; retrying later can help."""

    code = "unavailable"
