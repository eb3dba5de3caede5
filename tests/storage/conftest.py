"""Fixtures for the storage tests: a real S3 HTTP endpoint (moto server in a subprocess), a real
API server (uvicorn on a free port) serving the local backend's presigned URLs, and one
`backend` fixture parametrised over both so the contract suite runs twice."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
import uvicorn
from botocore.config import Config
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.models import User
from core.storage import Storage, get_storage

BUCKET = "servicedesk-test"
REGION = "kr-standard"
MAX_BYTES = 64 * 1024  # a small ATTACHMENT_MAX_BYTES so "too large" costs nothing to test


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen[bytes]

    def client(self, access_key: str = "testing", secret_key: str = "testing"):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )


def start_moto(log_path: Path, extra_env: dict[str, str] | None = None) -> MotoServer:
    port = free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - the server writes to it until it stops
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(extra_env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited: {log_path.read_text()[-2000:]}")
        try:
            httpx.get(f"{url}/moto-api/", timeout=1.0)
            return MotoServer(url=url, process=process)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto server did not answer within 30 s") from None
            time.sleep(0.1)


def stop_moto(server: MotoServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
    server.client().create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    yield server
    stop_moto(server)


@pytest.fixture(scope="session")
def object_settings(moto: MotoServer) -> Settings:
    return Settings(
        storage_backend="object",
        object_storage_endpoint=moto.url,
        object_storage_region=REGION,
        object_storage_bucket=BUCKET,
        object_storage_access_key="testing",
        object_storage_secret_key="testing",
        object_storage_path_style=True,
        attachment_max_bytes=MAX_BYTES,
    )


@dataclass
class ApiServer:
    url: str
    settings: Settings
    base_dir: Path  # parent of the upload root: nothing may ever appear here but the root

    @property
    def root(self) -> Path:
        return Path(self.settings.local_upload_root)


@pytest.fixture(scope="session")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The real API app on a real socket, serving the local backend's presigned URLs."""
    from api.app import create_app

    base = tmp_path_factory.mktemp("local-storage")
    (base / "uploads").mkdir()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        storage_backend="local",
        local_upload_root=str(base / "uploads"),
        api_public_url=url,
        attachment_max_bytes=MAX_BYTES,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, manage_engine=False), log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    yield ApiServer(url=url, settings=settings, base_dir=base)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@dataclass
class Backend:
    name: str
    settings: Settings
    storage: Storage


@pytest.fixture(params=["local", "object"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "local":
        settings = request.getfixturevalue("api_server").settings
    else:
        settings = request.getfixturevalue("object_settings")
    return Backend(name=request.param, settings=settings, storage=get_storage(settings))


@pytest.fixture
async def uploader(session: AsyncSession) -> User:
    user = User(email=f"u{uuid.uuid4().hex[:8]}@test.ac.kr", name="업로더")
    session.add(user)
    await session.flush()
    return user


def files_under(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}
