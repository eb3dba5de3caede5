"""Pick the backend named by STORAGE_BACKEND; one instance per distinct storage configuration."""

from __future__ import annotations

import threading

from core.config import Settings, get_settings
from core.storage.base import Storage

_lock = threading.Lock()
_instances: dict[tuple[object, ...], Storage] = {}


def _cache_key(settings: Settings) -> tuple[object, ...]:
    return (
        settings.storage_backend,
        settings.local_upload_root,
        settings.api_public_url,
        settings.signing_secret,
        settings.object_storage_endpoint,
        settings.object_storage_region,
        settings.object_storage_bucket,
        settings.object_storage_access_key,
        settings.object_storage_secret_key,
        settings.object_storage_profile,
        settings.object_storage_path_style,
        settings.object_storage_presign_expires_sec,
        settings.aws_shared_credentials_dir,
    )


def build_storage(settings: Settings) -> Storage:
    """A new backend instance for `settings` (uncached)."""
    if settings.storage_backend == "object":
        from core.storage.s3 import ObjectStorage

        return ObjectStorage.from_settings(settings)
    from core.storage.local import LocalStorage

    return LocalStorage(
        settings.local_upload_root,
        signing_secret=settings.signing_secret,
        public_base_url=settings.api_public_url,
        presign_expires_sec=settings.object_storage_presign_expires_sec,
    )


def get_storage(settings: Settings | None = None) -> Storage:
    """The backend for `settings` (default: the process settings), made once and reused."""
    settings = settings or get_settings()
    key = _cache_key(settings)
    with _lock:
        storage = _instances.get(key)
        if storage is None:
            storage = _instances[key] = build_storage(settings)
        return storage
