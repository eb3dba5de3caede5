"""The local backend's signed URLs, attacked over real HTTP: a tampered, expired, misdirected or
wrong-method token gets 403, a key that tries to leave the upload root gets 400 (or 403), and in
every case no file appears or changes anywhere under the test directory.

(moto does not check signatures or expiry, so these can only be shown on the local backend.)"""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from core.errors import Forbidden, Invalid
from core.storage import get_storage, local_tokens, new_storage_key
from core.storage.local import LOCAL_ROUTE_PREFIX, LocalStorage
from tests.storage.conftest import ApiServer, files_under


@pytest.fixture
def local(api_server: ApiServer) -> LocalStorage:
    storage = get_storage(api_server.settings)
    assert isinstance(storage, LocalStorage)
    return storage


def _url(api_server: ApiServer, key: str, token: str) -> str:
    return f"{api_server.url}{LOCAL_ROUTE_PREFIX}/{key}?token={quote(token)}"


def _retamper_claims(token: str, **changes: object) -> str:
    """Rewrite the claims but keep the original signature (what an attacker can do)."""
    body, mac = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    raw = json.dumps(claims, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + mac


def _token_of(url: str) -> str:
    return httpx.URL(url).params["token"]


async def test_tampered_upload_token_is_refused(api_server: ApiServer, local: LocalStorage) -> None:
    key = new_storage_key()
    upload = await local.presign_upload(key, size=5, content_type="text/plain")
    token = _token_of(upload.url)
    bigger = _retamper_claims(token, n=10_000_000)
    flipped = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    before = files_under(api_server.base_dir)
    async with httpx.AsyncClient() as http:
        for bad in (bigger, flipped, "garbage", ""):
            response = await http.put(
                _url(api_server, key, bad), content=b"x" * 100, headers=upload.headers
            )
            assert response.status_code in (403, 422), (bad, response.text)
            if bad:
                assert response.status_code == 403
                assert response.json()["error"] == "forbidden"
    assert files_under(api_server.base_dir) == before
    assert await local.head(key) is None


async def test_expired_token_is_refused(api_server: ApiServer, local: LocalStorage) -> None:
    key = new_storage_key()
    secret = api_server.settings.signing_secret
    expired_put = local_tokens.sign(
        secret,
        key=key,
        method="PUT",
        expires_at=int(time.time()) - 1,
        max_bytes=5,
        content_type="text/plain",
    )
    before = files_under(api_server.base_dir)
    async with httpx.AsyncClient() as http:
        response = await http.put(
            _url(api_server, key, expired_put),
            content=b"hello",
            headers={"Content-Type": "text/plain"},
        )
        assert response.status_code == 403
        assert "expired" in response.json()["detail"]
        assert files_under(api_server.base_dir) == before

        await local.put(key, b"secret", content_type="text/plain")
        expired_get = local_tokens.sign(
            secret,
            key=key,
            method="GET",
            expires_at=int(time.time()) - 1,
            content_type="text/plain",
            filename="a.txt",
        )
        response = await http.get(_url(api_server, key, expired_get))
    assert response.status_code == 403
    assert b"secret" not in response.content
    await local.delete(key)


async def test_token_for_another_key_is_refused(api_server: ApiServer, local: LocalStorage) -> None:
    mine, victim = new_storage_key(), new_storage_key()
    upload = await local.presign_upload(mine, size=5, content_type="text/plain")
    await local.put(victim, b"victim's file", content_type="text/plain")
    download = await local.presign_download(mine, filename="a.txt", content_type="text/plain")
    before = files_under(api_server.base_dir)
    async with httpx.AsyncClient() as http:
        # Use my upload token on the victim's key: must neither overwrite nor create.
        response = await http.put(
            _url(api_server, victim, _token_of(upload.url)),
            content=b"evil!",
            headers=upload.headers,
        )
        assert response.status_code == 403
        assert "another object" in response.json()["detail"]
        response = await http.get(_url(api_server, victim, _token_of(download)))
        assert response.status_code == 403
        assert b"victim" not in response.content
    assert files_under(api_server.base_dir) == before
    assert await local.get(victim) == b"victim's file"
    await local.delete(victim)


async def test_token_for_another_method_is_refused(
    api_server: ApiServer, local: LocalStorage
) -> None:
    key = new_storage_key()
    await local.put(key, b"keep me", content_type="text/plain")
    download = await local.presign_download(key, filename="a.txt", content_type="text/plain")
    async with httpx.AsyncClient() as http:
        response = await http.put(
            _url(api_server, key, _token_of(download)),
            content=b"replaced",
            headers={"Content-Type": "text/plain"},
        )
    assert response.status_code == 403
    assert await local.get(key) == b"keep me"
    await local.delete(key)


async def test_body_over_the_signed_size_gets_413_and_leaves_nothing(
    api_server: ApiServer, local: LocalStorage
) -> None:
    key = new_storage_key()
    upload = await local.presign_upload(key, size=1000, content_type="text/plain")
    before = files_under(api_server.base_dir)

    async def chunked():  # no Content-Length: the limit must hold while streaming
        for _ in range(5):
            yield b"x" * 300

    async with httpx.AsyncClient() as http:
        declared = await http.put(upload.url, content=b"x" * 1001, headers=upload.headers)
        streamed = await http.put(upload.url, content=chunked(), headers=upload.headers)
    assert declared.status_code == 413, declared.text
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["error"] == "too_large"
    assert files_under(api_server.base_dir) == before
    assert await local.head(key) is None


async def test_other_content_type_than_signed_gets_400(
    api_server: ApiServer, local: LocalStorage
) -> None:
    key = new_storage_key()
    upload = await local.presign_upload(key, size=5, content_type="image/png")
    async with httpx.AsyncClient() as http:
        response = await http.put(
            upload.url, content=b"<svg>", headers={"Content-Type": "text/html"}
        )
    assert response.status_code == 400
    assert await local.head(key) is None


def _raw_put(api_server: ApiServer, raw_target: str, body: bytes) -> tuple[int, bytes]:
    """Send the request target byte for byte: httpx would normalise `..` away before sending."""
    url = httpx.URL(api_server.url)
    request = (
        f"PUT {raw_target} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection((url.host, url.port), timeout=10) as sock:
        sock.sendall(request)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    status = int(response.split(b" ", 2)[1])
    return status, response


ESCAPES = [
    # (the key the server will see after percent-decoding, the raw path we send)
    ("../escaped.txt", "..%2Fescaped.txt"),
    ("../escaped.txt", "%2E%2E/escaped.txt"),
    ("att/../../escaped.txt", "att/../../escaped.txt"),
    ("att/../../escaped.txt", "att%2F..%2F..%2Fescaped.txt"),
    (None, "att/2026/../../../escaped.txt"),
    ("/" + "{base}/escaped.txt", "%2F{base}%2Fescaped.txt"),
    ("/" + "{base}/escaped.txt", "/{base}/escaped.txt"),
    ("att/x\x00.txt", "att/x%00.txt"),
    ("..\\escaped.txt", "..%5Cescaped.txt"),
]


@pytest.mark.parametrize(("key", "raw"), ESCAPES)
async def test_path_escapes_are_refused_and_touch_nothing(
    api_server: ApiServer, key: str | None, raw: str
) -> None:
    base = str(api_server.base_dir).lstrip("/")
    key = key.replace("{base}", base) if key else "att/2026/../../../escaped.txt"
    raw = raw.replace("{base}", quote(base, safe="/"))
    # A correctly signed token for exactly that key: only the key check stands in the way.
    token = local_tokens.sign(
        api_server.settings.signing_secret,
        key=key,
        method="PUT",
        expires_at=int(time.time()) + 60,
        max_bytes=100,
        content_type="text/plain",
    )
    before = files_under(api_server.base_dir)
    status, response = _raw_put(
        api_server, f"{LOCAL_ROUTE_PREFIX}/{raw}?token={quote(token)}", b"pwned"
    )
    assert status in (400, 403), response
    assert files_under(api_server.base_dir) == before
    assert not (api_server.base_dir / "escaped.txt").exists()
    assert not (api_server.root.parent.parent / "escaped.txt").exists()


@pytest.mark.parametrize(
    "key", ["../x", "/etc/passwd", "a\x00b", "a\\b", "att/../../x", ".hidden", "att/.meta"]
)
async def test_core_refuses_escaping_keys(
    api_server: ApiServer, local: LocalStorage, key: str
) -> None:
    before = files_under(api_server.base_dir)
    with pytest.raises(Invalid):
        local.path_for(key)
    with pytest.raises(Invalid):
        await local.put(key, b"x", content_type="text/plain")
    with pytest.raises(Invalid):
        await local.delete(key)
    assert files_under(api_server.base_dir) == before


async def test_a_symlink_out_of_the_root_is_not_followed(
    api_server: ApiServer, local: LocalStorage, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    link = api_server.root / "linked"
    link.symlink_to(outside)
    try:
        with pytest.raises(Invalid):
            await local.put("linked/file", b"x", content_type="text/plain")
        assert list(outside.iterdir()) == []
    finally:
        link.unlink()


def test_token_verification_rules() -> None:
    secret = b"s" * 32
    token = local_tokens.sign(secret, key="att/a", method="PUT", expires_at=2_000, max_bytes=5)
    claims = local_tokens.verify(secret, token, key="att/a", method="put", now=1_000)
    assert (claims.key, claims.method, claims.max_bytes) == ("att/a", "PUT", 5)
    for kwargs in (
        {"key": "att/b", "method": "PUT", "now": 1_000},
        {"key": "att/a", "method": "GET", "now": 1_000},
        {"key": "att/a", "method": "PUT", "now": 2_000},
    ):
        with pytest.raises(Forbidden):
            local_tokens.verify(secret, token, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(Forbidden):
        local_tokens.verify(b"t" * 32, token, key="att/a", method="PUT", now=1_000)


async def test_download_headers_are_safe(api_server: ApiServer, local: LocalStorage) -> None:
    key = new_storage_key()
    await local.put(key, b"<script>alert(1)</script>", content_type="text/html")
    url = await local.presign_download(key, filename="x.html", content_type="text/html")
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    await local.delete(key)
