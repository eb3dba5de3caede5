"""Attachment storage: one interface, two backends (local disk, S3-compatible object storage).

Use `get_storage()` for the configured backend and `new_storage_key()` for every new object.
"""

from core.storage.base import (
    ObjectInfo,
    ObjectTooLarge,
    PresignedUpload,
    Storage,
    StoredObject,
    content_disposition,
    new_storage_key,
    sanitise_filename,
    validate_key,
)
from core.storage.factory import get_storage

__all__ = [
    "ObjectInfo",
    "ObjectTooLarge",
    "PresignedUpload",
    "Storage",
    "StoredObject",
    "content_disposition",
    "get_storage",
    "new_storage_key",
    "sanitise_filename",
    "validate_key",
]
