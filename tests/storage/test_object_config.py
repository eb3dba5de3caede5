"""How the object backend finds its credentials and signs: the shared credentials file and
profile, SigV4 presigned URLs that bind Content-Type and Content-Length."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core.attachments import service
from core.config import Settings
from core.errors import Unavailable
from core.models import User
from core.storage import new_storage_key
from core.storage.s3 import ObjectStorage
from tests.storage.conftest import BUCKET, MotoServer


def _file_settings(object_settings: Settings, directory: Path, profile: str) -> Settings:
    return object_settings.model_copy(
        update={
            "object_storage_access_key": "",
            "object_storage_secret_key": "",
            "aws_shared_credentials_dir": str(directory),
            "object_storage_profile": profile,
        }
    )


async def test_keys_come_from_the_shared_credentials_file(
    object_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "credentials").write_text(
        "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = x\n\n"
        "[ncp]\naws_access_key_id = NCPFILEKEY\naws_secret_access_key = y\n"
    )
    storage = ObjectStorage.from_settings(_file_settings(object_settings, tmp_path, "ncp"))
    key = new_storage_key()
    await storage.put(key, b"from file", content_type="text/plain")
    url = await storage.presign_download(key, filename="a.txt", content_type="text/plain")
    # The presigned URL names the access key that signed it: the profile's, from the file.
    assert httpx.URL(url).params["X-Amz-Credential"].startswith("NCPFILEKEY/")
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).content == b"from file"
    await storage.delete(key)
    await storage.close()


async def test_a_missing_profile_or_file_is_named(
    object_settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "credentials").write_text(
        "[default]\naws_access_key_id = A\naws_secret_access_key = B\n"
    )
    storage = ObjectStorage.from_settings(_file_settings(object_settings, tmp_path, "nope"))
    with pytest.raises(Unavailable, match="profile 'nope'"):
        await storage.head(new_storage_key())
    storage = ObjectStorage.from_settings(_file_settings(object_settings, tmp_path / "no", "x"))
    with pytest.raises(Unavailable, match="no credentials file"):
        await storage.head(new_storage_key())


async def test_presigned_put_is_sigv4_and_binds_type_and_length(object_settings: Settings) -> None:
    storage = ObjectStorage.from_settings(object_settings)
    upload = await storage.presign_upload(new_storage_key(), size=123, content_type="image/png")
    params = httpx.URL(upload.url).params
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert params["X-Amz-SignedHeaders"].split(";") == ["content-length", "content-type", "host"]
    assert int(params["X-Amz-Expires"]) == object_settings.object_storage_presign_expires_sec
    assert httpx.URL(upload.url).path.startswith(f"/{object_settings.object_storage_bucket}/")
    await storage.close()


async def test_completion_hashes_the_bytes_not_the_clients_metadata(
    object_settings: Settings, moto: MotoServer, session: AsyncSession, uploader: User
) -> None:
    attachment, _ = await service.begin_upload(
        session,
        uploader_id=uploader.id,
        filename="a.bin",
        size=4,
        content_type="application/octet-stream",
        settings=object_settings,
    )
    moto.client().put_object(  # as a client could: its own x-amz-meta-sha256
        Bucket=BUCKET, Key=attachment.storage_key, Body=b"real", Metadata={"sha256": "0" * 64}
    )
    done = await service.complete_upload(
        session, attachment_id=attachment.id, uploader_id=uploader.id, settings=object_settings
    )
    assert done.sha256 == hashlib.sha256(b"real").hexdigest()
