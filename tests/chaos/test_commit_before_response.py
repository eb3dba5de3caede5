"""Found by bench/chaos/attack: an agent's comment on a ticket the requester had just opened
sometimes got 404. The request session is a FastAPI dependency with `yield`, and such
dependencies default to scope "request": the commit after the `yield` ran AFTER the response had
been sent. A client could act on a 201 before its row was committed (404), and a commit that
failed after the 201 was a write lost with success reported. The session now ends with the
endpoint (scope "function"): commit first, then answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.deps import SessionDep
from bench.chaos.harness import free_port
from core.config import get_settings

PROBE = "chaos_commit_probe"


@pytest.fixture
async def refusing_table(committed_db: AsyncEngine) -> AsyncIterator[None]:
    """A table whose inserts fail only at COMMIT (a deferred constraint trigger)."""
    async with committed_db.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {PROBE}"))
        await conn.execute(text(f"CREATE TABLE {PROBE}.rows (id int, refuse bool)"))
        await conn.execute(
            text(
                f"CREATE FUNCTION {PROBE}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF NEW.refuse THEN RAISE EXCEPTION 'refused at commit'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        await conn.execute(
            text(
                f"CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON {PROBE}.rows "
                f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {PROBE}.refuse()"
            )
        )
    yield
    async with committed_db.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA {PROBE} CASCADE"))


async def test_the_commit_happens_before_the_answer(
    committed_db: AsyncEngine, refusing_table: None
) -> None:
    app = create_app(get_settings(), manage_engine=False)

    @app.post("/probe/{row_id}")
    async def probe(row_id: int, refuse: bool, session: SessionDep) -> dict[str, int]:
        await session.execute(
            text(f"INSERT INTO {PROBE}.rows VALUES (:id, :refuse)"),
            {"id": row_id, "refuse": refuse},
        )
        return {"id": row_id}

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(600):
            if server.started:
                break
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            refused = await client.post("/probe/1", params={"refuse": True})
            # Before the fix: 200 {"id": 1}, and the row was never committed.
            assert refused.status_code >= 500, refused.text
            for row_id in range(2, 12):
                taken = await client.post(f"/probe/{row_id}", params={"refuse": False})
                assert taken.status_code == 200
                # The answer came after the commit: another connection sees the row at once.
                async with committed_db.connect() as conn:
                    found = await conn.scalar(
                        text(f"SELECT count(*) FROM {PROBE}.rows WHERE id = :id"), {"id": row_id}
                    )
                assert found == 1, f"row {row_id} answered 200 before it was committed"
        async with committed_db.connect() as conn:
            assert await conn.scalar(text(f"SELECT count(*) FROM {PROBE}.rows WHERE id = 1")) == 0
    finally:
        server.should_exit = True
        await serving
