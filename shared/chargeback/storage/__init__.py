"""Object storage: one interface (``ObjectStore``), three backends chosen by URL.

``file:///path`` or a plain path -> LocalObjectStore; ``s3://bucket/prefix`` -> S3ObjectStore (boto3);
``oss://bucket/prefix`` -> OssObjectStore (oss2). Cloud SDKs are imported only by their adapter.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

from chargeback.errors import ConfigError
from chargeback.storage.base import ObjectInfo, ObjectStore, check_key, join_key
from chargeback.storage.local import LocalObjectStore

__all__ = ["LocalObjectStore", "ObjectInfo", "ObjectStore", "check_key", "join_key", "open_store"]


def open_store(url: str, **options: Any) -> ObjectStore:
    """The store for ``url``. ``options`` go to the adapter (a boto3 client, an endpoint, credentials)."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file"):
        path = unquote(parsed.path) if scheme == "file" else url
        if scheme == "file" and parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"file URL {url!r} must not name a host (use file:///absolute/path)")
        return LocalObjectStore(path)
    if scheme == "s3":
        from chargeback.storage.s3 import S3ObjectStore

        return S3ObjectStore(parsed.netloc, parsed.path.strip("/"), **options)
    if scheme == "oss":
        from chargeback.storage.oss import OssObjectStore

        return OssObjectStore(parsed.netloc, parsed.path.strip("/"), **options)
    raise ConfigError(f"unsupported storage URL {url!r}: use file://, s3:// or oss://")
