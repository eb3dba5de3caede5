"""A bounded schemathesis run against the real API process (uvicorn, real HTTP) and its
/openapi.json, signed in as an admin: no 5xx, and every response matches its documented schema."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from api.app import create_app
from core.auth.jwt import issue_access_token
from tests.conftest import PROJECT_DIR, _plain_dsn

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(database_url: str) -> dict[str, int]:
    with psycopg.connect(_plain_dsn(database_url)) as conn:
        ids = {}
        for role in ("admin", "requester"):
            ids[role] = conn.execute(
                "INSERT INTO users (email, name, role) VALUES (%s, %s, %s) RETURNING id",
                (f"fuzz-{role}@test.ac.kr", f"fuzz {role}", role),
            ).fetchone()[0]
        conn.commit()
    return ids


def _empty_tables(database_url: str) -> None:
    with psycopg.connect(_plain_dsn(database_url), autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


@pytest.fixture(scope="module")
def api_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LOCAL_UPLOAD_ROOT": str(tmp_path_factory.mktemp("uploads")),
        "STORAGE_BACKEND": "local",
        "LOG_LEVEL": "WARNING",
    }
    log = Path(tmp_path_factory.mktemp("log")) / "api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=PROJECT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                pytest.fail(f"the API did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        _empty_tables(database_url)


@pytest.fixture(scope="module")
def admin_headers(api_server: str, database_url: str) -> dict[str, str]:
    ids = _seed(database_url)
    return {"Authorization": f"Bearer {issue_access_token(user_id=ids['admin'])}"}


# The same document the process serves at /openapi.json (a test below checks they are equal).
schema = schemathesis.openapi.from_dict(create_app(manage_engine=False).openapi()).exclude(
    # Server-Sent Events never end; the authorisation matrix covers it.
    path="/api/v1/notifications/stream"
)


def test_served_openapi_is_the_one_fuzzed(api_server: str) -> None:
    served = httpx.get(f"{api_server}/openapi.json", timeout=10).json()
    assert served == create_app(manage_engine=False).openapi()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, api_server: str, admin_headers: dict[str, str]) -> None:
    case.call_and_validate(
        base_url=api_server,
        headers=admin_headers,
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
        timeout=30,
    )
