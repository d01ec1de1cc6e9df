"""Object storage: one interface (``ObjectStore``), three backends chosen by URL.

``file:///path`` or a plain path -> LocalObjectStore; ``s3://bucket/prefix`` -> S3ObjectStore (boto3);
``oss://bucket/prefix`` -> OssObjectStore (oss2). Cloud SDKs are imported only by their adapter.
The network adapters bound every call by a ``StoragePolicy`` (timeouts, deadlines, retries; storage/policy.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

from chargeback.errors import ConfigError
from chargeback.storage.base import ObjectInfo, ObjectStore, check_key, join_key
from chargeback.storage.local import LocalObjectStore
from chargeback.storage.policy import StoragePolicy

__all__ = ["LocalObjectStore", "ObjectInfo", "ObjectStore", "StoragePolicy", "check_key", "join_key", "open_store"]


def open_store(url: str, *, policy: StoragePolicy | None = None, **options: Any) -> ObjectStore:
    """The store for ``url``. ``policy`` bounds the calls of a network store (default: ``StoragePolicy()``);
    ``options`` go to the adapter (a boto3 client, an endpoint, credentials)."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file"):
        path = unquote(parsed.path) if scheme == "file" else url
        if scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"file URL {url!r} must not name a host (use file:///absolute/path)")
        return LocalObjectStore(path)
    if scheme == "s3":
        from chargeback.storage.s3 import S3ObjectStore

        return S3ObjectStore(parsed.netloc, parsed.path.strip("/"), policy=policy, **options)
    if scheme == "oss":
        from chargeback.storage.oss import OssObjectStore

        return OssObjectStore(parsed.netloc, parsed.path.strip("/"), policy=policy, **options)
    raise ConfigError(f"unsupported storage URL {url!r}: use file://, s3:// or oss://")
