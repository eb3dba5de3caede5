"""Attachments in S3-compatible object storage (NCP Object Storage in production).

boto3 is synchronous, so every call runs in a worker thread (`asyncio.to_thread`). Requests are
signed with SigV4; NCP wants path-style addressing. boto3 >= 1.36 adds CRC32 checksums to every
upload by default, which several S3-compatible services reject: checksums are sent only when an
operation requires them. A presigned PUT signs Content-Type and Content-Length, so S3 refuses a
body of another size or type; completion checks the size again anyway (HEAD), because not every
S3-compatible server enforces it.

Errors become core errors with one line that names the cause (bad credentials, missing bucket,
clock skew, unreachable endpoint): `servicedesk storage check` prints exactly that line.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from core.config import Settings
from core.errors import Conflict, CoreError, Invalid, NotFound, Unavailable
from core.storage.base import (
    ObjectInfo,
    ObjectTooLarge,
    PresignedUpload,
    PutData,
    Storage,
    StoredObject,
    content_disposition,
    normalise_content_type,
    too_large,
    validate_key,
)

_SPOOL_IN_MEMORY = 8 * 1024 * 1024
_CHUNK = 1024 * 1024

_CREDENTIAL_CODES = {
    "InvalidAccessKeyId": "the access key is not recognised (bad credentials)",
    "SignatureDoesNotMatch": "the secret key does not match the access key (bad credentials)",
    "InvalidToken": "the session token is invalid (bad credentials)",
    "ExpiredToken": "the session token has expired (bad credentials)",
}


class ObjectStorage(Storage):
    backend = "object"

    def __init__(
        self,
        *,
        endpoint: str,
        region: str,
        bucket: str,
        access_key: str = "",
        secret_key: str = "",
        credentials_dir: str = "",
        profile: str = "default",
        path_style: bool = True,
        presign_expires_sec: int = 600,
        max_attempts: int = 3,
        connect_timeout: float = 5.0,
    ) -> None:
        if not bucket:
            raise Invalid("OBJECT_STORAGE_BUCKET is not set")
        if bool(access_key) != bool(secret_key):
            raise Invalid(
                "set both OBJECT_STORAGE_ACCESS_KEY and OBJECT_STORAGE_SECRET_KEY, or neither "
                "(then the credentials file in AWS_SHARED_CREDENTIALS_DIR is used)"
            )
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self._access_key = access_key
        self._secret_key = secret_key
        self._credentials_dir = credentials_dir
        self._profile = profile or "default"
        self._path_style = path_style
        self._expires = presign_expires_sec
        self._max_attempts = max_attempts
        self._connect_timeout = connect_timeout
        self._client: Any = None
        self._client_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ObjectStorage:
        options: dict[str, Any] = {
            "endpoint": settings.object_storage_endpoint,
            "region": settings.object_storage_region,
            "bucket": settings.object_storage_bucket,
            "access_key": settings.object_storage_access_key,
            "secret_key": settings.object_storage_secret_key,
            "credentials_dir": settings.aws_shared_credentials_dir,
            "profile": settings.object_storage_profile,
            "path_style": settings.object_storage_path_style,
            "presign_expires_sec": settings.object_storage_presign_expires_sec,
        }
        options.update(overrides)
        return cls(**options)

    # --- client -----------------------------------------------------------------------------
    def _make_client(self) -> Any:
        core_session = botocore.session.Session()
        credentials: dict[str, str] = {}
        if self._access_key:
            credentials = {
                "aws_access_key_id": self._access_key,
                "aws_secret_access_key": self._secret_key,
            }
        elif self._credentials_dir:
            path = os.path.join(self._credentials_dir, "credentials")
            if not os.path.isfile(path):
                raise Unavailable(f"no credentials file at {path} (AWS_SHARED_CREDENTIALS_DIR)")
            core_session.set_config_variable("credentials_file", path)
            core_session.set_config_variable("profile", self._profile)
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if self._path_style else "virtual"},
            connect_timeout=self._connect_timeout,
            read_timeout=60,
            retries={"max_attempts": self._max_attempts, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.Session(botocore_session=core_session)
        return session.client(
            "s3",
            endpoint_url=self.endpoint or None,
            region_name=self.region or None,
            config=config,
            **credentials,
        )

    def _s3(self) -> Any:
        with self._client_lock:
            if self._client is None:
                try:
                    self._client = self._make_client()
                except ProfileNotFound as exc:
                    raise Unavailable(
                        f"profile {self._profile!r} is not in the credentials file "
                        f"({self._credentials_dir}/credentials)"
                    ) from exc
            return self._client

    def _call(self, operation: str, **params: Any) -> Any:
        """One boto3 call (run it in a thread), its errors turned into core errors."""
        try:
            return getattr(self._s3(), operation)(**params)
        except CoreError:
            raise
        except (ClientError, BotoCoreError) as exc:
            raise self.explain(exc, key=params.get("Key")) from exc

    async def _run(self, operation: str, **params: Any) -> Any:
        return await asyncio.to_thread(self._call, operation, **params)

    def explain(self, exc: Exception, *, key: str | None = None) -> CoreError:
        """The core error, with a one-line cause, for a boto3 failure."""
        where = f"{self.endpoint} bucket {self.bucket!r}"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in {"NoSuchKey", "NotFound"} or (code == "404" and key is not None):
                return NotFound("object not found", detail=key or "")
            if code == "NoSuchBucket":
                return Unavailable(f"bucket {self.bucket!r} does not exist at {self.endpoint}")
            if code in _CREDENTIAL_CODES:
                return Unavailable(f"{_CREDENTIAL_CODES[code]} at {self.endpoint}")
            if code == "RequestTimeTooSkewed":
                return Unavailable(
                    "clock skew: this machine's clock differs too much from the storage "
                    f"server's at {self.endpoint} (RequestTimeTooSkewed); synchronise it with NTP"
                )
            if code == "PreconditionFailed":
                return Conflict("object already exists", detail=key or "")
            if code == "EntityTooLarge":
                return ObjectTooLarge("file too large", detail=error.get("Message", code))
            if code in {"AccessDenied", "403"} or status == 403:
                return Unavailable(
                    f"access denied at {where} (HTTP 403: wrong credentials, or the key may not "
                    "use this bucket)"
                )
            return Unavailable(
                f"object storage error at {where}: {code or status} {error.get('Message', '')}"
            )
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return Unavailable(
                "no object storage credentials: set OBJECT_STORAGE_ACCESS_KEY and "
                "OBJECT_STORAGE_SECRET_KEY, or AWS_SHARED_CREDENTIALS_DIR"
            )
        if isinstance(exc, ProfileNotFound):
            return Unavailable(f"credentials profile {self._profile!r} not found")
        if isinstance(exc, BotoConnectionError):
            return Unavailable(
                f"cannot reach the object storage endpoint {self.endpoint} "
                f"({type(exc).__name__}); check OBJECT_STORAGE_ENDPOINT and the network"
            )
        return Unavailable(f"object storage failure at {where}: {type(exc).__name__}: {exc}")

    # --- the interface ----------------------------------------------------------------------
    async def put(
        self,
        key: str,
        data: PutData,
        *,
        content_type: str,
        max_bytes: int | None = None,
        overwrite: bool = True,
    ) -> StoredObject:
        validate_key(key)
        content_type = normalise_content_type(content_type)
        if isinstance(data, bytes | bytearray | memoryview):
            body = bytes(data)
            if max_bytes is not None and len(body) > max_bytes:
                raise too_large(max_bytes)
            stored = StoredObject(key=key, size=len(body), sha256=hashlib.sha256(body).hexdigest())
            await self._run(
                "put_object", **self._put_params(key, body, stored, content_type, overwrite)
            )
            return stored
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
        try:
            digest = hashlib.sha256()
            size = 0

            def take(chunk: bytes) -> None:
                nonlocal size
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise too_large(max_bytes)
                digest.update(chunk)
                spool.write(chunk)

            if hasattr(data, "read"):
                source: BinaryIO = data  # type: ignore[assignment]

                def copy() -> None:
                    while chunk := source.read(_CHUNK):
                        take(chunk)

                await asyncio.to_thread(copy)
            else:
                async for chunk in data:  # type: ignore[union-attr]
                    if chunk:
                        await asyncio.to_thread(take, chunk)
            spool.seek(0)
            stored = StoredObject(key=key, size=size, sha256=digest.hexdigest())
            params = self._put_params(key, spool, stored, content_type, overwrite)
            await self._run("put_object", ContentLength=size, **params)
            return stored
        finally:
            spool.close()

    def _put_params(
        self, key: str, body: Any, stored: StoredObject, content_type: str, overwrite: bool
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": body,
            "ContentType": content_type,
            "Metadata": {"sha256": stored.sha256},
        }
        if not overwrite:
            params["IfNoneMatch"] = "*"
        return params

    async def get(self, key: str) -> bytes:
        validate_key(key)

        def read() -> bytes:
            response = self._call("get_object", Bucket=self.bucket, Key=key)
            with response["Body"] as body:
                return body.read()

        return await asyncio.to_thread(read)

    async def stream(self, key: str, chunk_size: int = 65536) -> AsyncIterator[bytes]:
        validate_key(key)
        response = await self._run("get_object", Bucket=self.bucket, Key=key)
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, chunk_size):
                yield chunk
        finally:
            await asyncio.to_thread(body.close)

    async def head(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        try:
            response = await self._run("head_object", Bucket=self.bucket, Key=key)
        except NotFound:
            return None
        return ObjectInfo(
            key=key,
            size=int(response["ContentLength"]),
            content_type=response.get("ContentType"),
            sha256=(response.get("Metadata") or {}).get("sha256"),
        )

    async def delete(self, key: str) -> None:
        validate_key(key)
        with contextlib.suppress(NotFound):
            await self._run("delete_object", Bucket=self.bucket, Key=key)

    async def presign_upload(
        self, key: str, *, size: int, content_type: str, expires_in: int | None = None
    ) -> PresignedUpload:
        validate_key(key)
        content_type = normalise_content_type(content_type)
        if size < 0:
            raise Invalid("invalid size", detail="size must not be negative")
        expires = expires_in or self._expires
        url = await asyncio.to_thread(
            self._presign,
            "put_object",
            {"Bucket": self.bucket, "Key": key, "ContentType": content_type, "ContentLength": size},
            expires,
        )
        return PresignedUpload(
            url=url,
            method="PUT",
            headers={"Content-Type": content_type},
            expires_at=datetime.now(UTC) + timedelta(seconds=expires),
        )

    async def presign_download(
        self, key: str, *, filename: str, content_type: str, expires_in: int | None = None
    ) -> str:
        validate_key(key)
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseContentDisposition": content_disposition(filename),
            "ResponseContentType": normalise_content_type(content_type),
        }
        return await asyncio.to_thread(
            self._presign, "get_object", params, expires_in or self._expires
        )

    def _presign(self, operation: str, params: dict[str, Any], expires: int) -> str:
        http_method = "PUT" if operation == "put_object" else "GET"
        try:
            return self._s3().generate_presigned_url(
                operation, Params=params, ExpiresIn=expires, HttpMethod=http_method
            )
        except CoreError:
            raise
        except (ClientError, BotoCoreError) as exc:
            raise self.explain(exc, key=params.get("Key")) from exc

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)
