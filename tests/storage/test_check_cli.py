"""`servicedesk storage check` as an operator runs it: a subprocess with env vars, against moto,
a dead endpoint, a missing bucket, unknown credentials, and the local backend behind a real API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from core.storage.s3 import ObjectStorage
from tests.storage.conftest import (
    BUCKET,
    REGION,
    ApiServer,
    MotoServer,
    free_port,
    start_moto,
    stop_moto,
)


def run_check(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OBJECT_STORAGE_", "STORAGE_", "AWS_", "LOCAL_UPLOAD", "API_PUBLIC"))
    }
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "servicedesk", "storage", "check"],
        env=full_env,
        cwd=cwd,  # away from any .env in the project
        capture_output=True,
        text=True,
        timeout=120,
    )


def object_env(endpoint: str, bucket: str = BUCKET, key: str = "testing") -> dict[str, str]:
    return {
        "STORAGE_BACKEND": "object",
        "OBJECT_STORAGE_ENDPOINT": endpoint,
        "OBJECT_STORAGE_REGION": REGION,
        "OBJECT_STORAGE_BUCKET": bucket,
        "OBJECT_STORAGE_ACCESS_KEY": key,
        "OBJECT_STORAGE_SECRET_KEY": "testing",
        "OBJECT_STORAGE_PATH_STYLE": "true",
    }


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_check_passes_against_s3(moto: MotoServer, tmp_path: Path) -> None:
    result = run_check(object_env(moto.url), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: object storage at")
    assert "presigned PUT, presigned GET, delete" in result.stdout
    # the check cleans up after itself
    listed = moto.client().list_objects_v2(Bucket=BUCKET, Prefix="healthcheck/")
    assert listed.get("KeyCount", 0) == 0


def test_check_names_an_unreachable_endpoint(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    line = one_error_line(run_check(object_env(dead), tmp_path))
    assert "cannot reach the object storage endpoint" in line
    assert dead in line


def test_check_names_a_missing_bucket(moto: MotoServer, tmp_path: Path) -> None:
    line = one_error_line(run_check(object_env(moto.url, bucket="no-such-bucket"), tmp_path))
    assert "bucket 'no-such-bucket' does not exist" in line


@pytest.fixture(scope="module")
def moto_with_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto checking access keys against its IAM users (it knows none, so every key is unknown)."""
    server = start_moto(
        tmp_path_factory.mktemp("moto-auth") / "moto.log", {"INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    )
    yield server
    stop_moto(server)


def test_check_names_bad_credentials(moto_with_auth: MotoServer, tmp_path: Path) -> None:
    line = one_error_line(run_check(object_env(moto_with_auth.url, key="AKIAWRONG"), tmp_path))
    assert "bad credentials" in line


def test_check_names_an_unset_bucket(tmp_path: Path) -> None:
    line = one_error_line(run_check(object_env("http://127.0.0.1:9", bucket=""), tmp_path))
    assert "OBJECT_STORAGE_BUCKET is not set" in line


def test_check_passes_for_local_behind_the_api(api_server: ApiServer, tmp_path: Path) -> None:
    env = {
        "STORAGE_BACKEND": "local",
        "LOCAL_UPLOAD_ROOT": api_server.settings.local_upload_root,
        "API_PUBLIC_URL": api_server.url,
        "JWT_SECRET": api_server.settings.jwt_secret,
    }
    result = run_check(env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK: local storage")


def test_check_says_when_the_api_serving_local_urls_is_down(tmp_path: Path) -> None:
    env = {
        "STORAGE_BACKEND": "local",
        "LOCAL_UPLOAD_ROOT": str(tmp_path / "uploads"),
        "API_PUBLIC_URL": f"http://127.0.0.1:{free_port()}",
    }
    line = one_error_line(run_check(env, tmp_path))
    assert "presigned PUT: cannot reach" in line
    assert "API_PUBLIC_URL" in line


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_client_error("RequestTimeTooSkewed", 403), "clock skew"),
        (_client_error("SignatureDoesNotMatch", 403), "bad credentials"),
        (_client_error("InvalidAccessKeyId", 403), "bad credentials"),
        (_client_error("NoSuchBucket", 404), "does not exist"),
        (_client_error("AccessDenied", 403), "access denied"),
        (EndpointConnectionError(endpoint_url="https://x"), "cannot reach"),
    ],
)
def test_every_cause_has_its_own_sentence(error: Exception, expected: str) -> None:
    """The server-side causes moto cannot produce (clock skew, signature) are classified from the
    error codes S3 documents; this pins the sentence each one gets."""
    storage = ObjectStorage(
        endpoint="https://x", region="r", bucket="b", access_key="a", secret_key="s"
    )
    assert expected in storage.explain(error).message
