"""FastAPI app factory. The engine is made in the lifespan, at process start, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from api import observability
from api.errors import install_error_handlers
from api.routers import (
    auth,
    catalog,
    health,
    jobs,
    maillog,
    metrics,
    notifications,
    outbound,
    sla,
    storage_local,
    tickets,
    uploads,
    users,
)
from core import db
from core.config import Settings, get_settings


def operation_id(route: APIRoute) -> str:
    """Stable operation ids (`tickets-list`): the portal's generated client is named by them."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_app(settings: Settings | None = None, *, manage_engine: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_engine:
            observability.configure_logging(settings.log_level)
            db.init_engine("api", settings=settings)
        try:
            yield
        finally:
            if manage_engine:
                await db.dispose_engine()

    app = FastAPI(
        title="IT Service Desk API",
        version="0.1.0",
        description="Tickets, mail log and operations for the email-first IT service desk.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    observability.install(app)  # added last: outermost, so every response carries its id
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(metrics.router)
    app.include_router(health.router)
    app.include_router(storage_local.router)
    app.include_router(auth.router)
    app.include_router(tickets.router)
    app.include_router(uploads.router)
    app.include_router(users.router)
    app.include_router(catalog.teams_router)
    app.include_router(catalog.categories_router)
    app.include_router(catalog.canned_router)
    app.include_router(notifications.router)
    app.include_router(outbound.router)
    app.include_router(maillog.router)
    app.include_router(jobs.router)
    app.include_router(sla.router)
    return app
