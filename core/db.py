"""Engine and sessions. Engines are made at process start (never at import) and name their process,
so `pg_stat_activity` shows who is who. Core services only flush; the process owns the commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from core.config import Settings, get_settings

_engine: AsyncEngine | None = None
_sessionmaker: async_sessionmaker[AsyncSession] | None = None


def create_engine(
    process_name: str, *, settings: Settings | None = None, url: str | None = None
) -> AsyncEngine:
    settings = settings or get_settings()
    return create_async_engine(
        url or settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        connect_args={"application_name": f"servicedesk-{process_name}", "connect_timeout": 5},
    )


def init_engine(process_name: str, *, settings: Settings | None = None) -> AsyncEngine:
    """Make the process-wide engine once, at process start."""
    global _engine, _sessionmaker
    if _engine is None:
        _engine = create_engine(process_name, settings=settings)
        _sessionmaker = async_sessionmaker(_engine, expire_on_commit=False)
    return _engine


def use_engine(engine: AsyncEngine) -> None:
    """Install an engine made elsewhere (tests, benches) as the process-wide one."""
    global _engine, _sessionmaker
    _engine = engine
    _sessionmaker = async_sessionmaker(engine, expire_on_commit=False)


def get_engine() -> AsyncEngine:
    if _engine is None:
        raise RuntimeError("database engine not initialised: call core.db.init_engine() at start")
    return _engine


def get_sessionmaker() -> async_sessionmaker[AsyncSession]:
    if _sessionmaker is None:
        raise RuntimeError("database engine not initialised: call core.db.init_engine() at start")
    return _sessionmaker


async def dispose_engine() -> None:
    global _engine, _sessionmaker
    if _engine is not None:
        await _engine.dispose()
    _engine = None
    _sessionmaker = None


@asynccontextmanager
async def session_scope() -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any exception."""
    async with get_sessionmaker()() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def driver_connection(session: AsyncSession) -> Any:
    """The psycopg connection under `session`, in the session's transaction.

    For the few statements run for every mail, where SQLAlchemy's statement handling cost more
    than the statement itself. They bypass the ORM: no autoflush, no identity map; repositories
    use it only for writes and for reads of rows the session has not changed."""
    connection = await session.connection()
    return (await connection.get_raw_connection()).driver_connection


async def driver_execute(session: AsyncSession, statement: str, params: Any = None) -> Any:
    """Run one statement on `session`'s psycopg connection (see driver_connection); the cursor.
    `statement` uses psycopg's placeholders (`%s`, `%(name)s`)."""
    return await (await driver_connection(session)).execute(statement, params)


async def connect_autocommit(
    engine: AsyncEngine, *, application_name: str, options: str = ""
) -> psycopg.AsyncConnection[Any]:
    """A psycopg connection of its own, outside the pool, in autocommit: for a process's small
    writes that must not wait for (or hold locks through) anybody's transaction."""
    url = engine.url.set(drivername="postgresql")
    return await psycopg.AsyncConnection.connect(
        url.render_as_string(hide_password=False),
        autocommit=True,
        application_name=application_name,
        options=options,
        connect_timeout=5,
    )
