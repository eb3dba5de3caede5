"""The `servicedesk` command, run as a user would run it: a real subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import create_database, drop_database

PROJECT_DIR = Path(__file__).resolve().parents[2]


def servicedesk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "servicedesk", *args],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def fresh_db(test_server_url: str):
    url = create_database(test_server_url, prefix="sd_cli")
    yield url
    drop_database(url)


def test_migrate_then_create_user_and_seed_twice(fresh_db: str) -> None:
    env = {**os.environ, "DATABASE_URL": fresh_db}
    migrated = servicedesk("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    for _ in range(2):
        seeded = servicedesk("seed-demo", env=env)
        assert seeded.returncode == 0, seeded.stderr
    assert "0 created" in seeded.stdout
    args = [
        "create-user",
        "--email",
        "New.Agent@univ.ac.kr",
        "--name",
        "새 상담원",
        "--role",
        "agent",
        "--password",
        "long-enough-pw",
    ]
    first = servicedesk(*args, env=env)
    assert first.returncode == 0 and "created agent" in first.stdout, first.stderr
    second = servicedesk(*[a.lower() if "@" in a else a for a in args], env=env)
    assert second.returncode == 0 and "already exists" in second.stdout, second.stderr
    bad = servicedesk("create-user", "--email", "not-an-address", env=env)
    assert bad.returncode == 1 and "invalid email" in bad.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_quickstart_without_database_url_starts_an_embedded_postgres() -> None:
    """The README's run command on a machine where DATABASE_URL is unset."""
    pg_dir = tempfile.mkdtemp(prefix="sd-embedded-", dir="/tmp")
    os.chmod(pg_dir, 0o755)  # the postgres user must reach it when we run as root
    api_port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TEST_DATABASE_URL"}}
    env.update(EMBEDDED_PG_DIR=pg_dir, EMBEDDED_PG_PORT=str(_free_port()), API_PORT=str(api_port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "servicedesk", "quickstart", "--only", "api"],
        env=env,
        cwd=tempfile.mkdtemp(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{api_port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert ready is not None and ready.status_code == 200, (
            proc.stdout.read() if proc.poll() is not None else "not ready"
        )
        docs = httpx.get(f"http://127.0.0.1:{api_port}/openapi.json", timeout=5).json()
        assert "/readyz" in docs["paths"]
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert "embedded PostgreSQL" in output
    assert "admin@demo.ac.kr" in output
    assert proc.returncode == 0, output
