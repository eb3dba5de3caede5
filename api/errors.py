"""Map core errors (and everything else) to the one error shape: {"error": ..., "detail": ...}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core import errors

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[errors.CoreError], int] = {
    errors.NotFound: 404,
    errors.Forbidden: 403,
    errors.Unauthorized: 401,
    errors.Conflict: 409,
    errors.Invalid: 400,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
}


def error_response(status: int, error: str, detail: object) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": error, "detail": detail})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(errors.CoreError)
    async def core_error(_: Request, exc: errors.CoreError) -> JSONResponse:
        status = next((s for t, s in STATUS_BY_ERROR.items() if isinstance(exc, t)), 400)
        return error_response(status, exc.code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return error_response(422, "validation_error", detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        name = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return error_response(exc.status_code, name, exc.detail)

    @app.exception_handler(OperationalError)
    async def database_down(_: Request, exc: OperationalError) -> JSONResponse:
        logger.warning("database unavailable: %s", exc.orig)
        return error_response(503, "unavailable", "the database is unavailable; try again shortly")

    @app.exception_handler(DataError)
    async def database_rejected_value(_: Request, exc: DataError) -> JSONResponse:
        # A value PostgreSQL cannot store or compare (out of range, NUL byte): the input's fault.
        return error_response(400, "invalid", "a value is out of range or malformed")

    @app.exception_handler(IntegrityError)
    async def database_conflict(_: Request, exc: IntegrityError) -> JSONResponse:
        # A unique or foreign-key constraint refused the change (often a concurrent request).
        return error_response(409, "conflict", "the change conflicts with existing data")

    @app.exception_handler(DBAPIError)
    async def database_error(_: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return error_response(503, "unavailable", "the database connection was lost")
        logger.exception("database error")
        return error_response(500, "internal_error", "an internal error occurred")

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "an internal error occurred")
