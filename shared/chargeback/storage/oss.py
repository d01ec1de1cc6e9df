"""Alibaba Cloud OSS adapter (``oss://bucket/prefix``) over the oss2 SDK.

oss2 is imported here and nowhere else in the core. oss2 has no retry policy for single calls,
so each call goes through ``retry``: connection failures and 5xx answers are retried with
exponential backoff, a missing object becomes NotFoundError, anything else StorageError naming the
bucket and key. Credentials are never logged or put in messages.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO, TypeVar

import oss2
import requests
from oss2.exceptions import NoSuchKey, OssError, RequestError, ServerError

from chargeback.errors import ConfigError, NotFoundError, StorageError
from chargeback.storage.base import ObjectInfo, check_key
from chargeback.storage.retry import retry
from chargeback.storage.streams import binary_stream

T = TypeVar("T")

ACCESS_KEY_ID_ENV = "OSS_ACCESS_KEY_ID"
ACCESS_KEY_SECRET_ENV = "OSS_ACCESS_KEY_SECRET"  # noqa: S105 - the variable's name, not a secret
SECURITY_TOKEN_ENV = "OSS_SECURITY_TOKEN"  # noqa: S105 - the variable's name, not a secret
ENDPOINT_ENV = "OSS_ENDPOINT"  # e.g. https://oss-cn-hangzhou-internal.aliyuncs.com
REGION_ENV = "OSS_REGION"  # e.g. cn-hangzhou

DEFAULT_ATTEMPTS = 5
DEFAULT_BASE_DELAY = 0.5
DEFAULT_PAGE_SIZE = 1000  # the most one OSS listing page holds


def default_endpoint(region: str) -> str:
    """The public OSS endpoint of ``region`` (e.g. cn-hangzhou)."""
    return f"https://oss-{region}.aliyuncs.com"


def is_transient(exc: Exception) -> bool:
    """Whether retrying may help: no answer from OSS (RequestError) or a 5xx server error."""
    if isinstance(exc, RequestError):
        return True
    return isinstance(exc, ServerError) and isinstance(exc.status, int) and exc.status >= 500


def describe_oss_error(exc: Exception) -> str:
    """Status, code, message and request id of an oss2 error; never its details, which echo request data."""
    if isinstance(exc, RequestError):
        return f"no answer from OSS: {type(exc.exception).__name__}: {exc.exception}"
    if isinstance(exc, OssError):
        text = f"HTTP {exc.status} {exc.code}".rstrip()
        if exc.message:
            text += f": {exc.message}"
        if exc.request_id:
            text += f" (request id {exc.request_id})"
        return text
    return f"{type(exc).__name__}: {exc}"


def make_auth(
    *,
    access_key_id: str | None,
    access_key_secret: str | None,
    security_token: str | None,
    region: str | None,
    environ: Mapping[str, str],
) -> Any:
    """oss2 credentials: the explicit keys if given, else OSS_ACCESS_KEY_ID/_SECRET/OSS_SECURITY_TOKEN.

    A security token means STS temporary credentials (oss2.StsAuth). Signing is V4 when the region
    is known (V4 needs it), V2 otherwise.
    """
    if access_key_id is None and access_key_secret is None:
        access_key_id = environ.get(ACCESS_KEY_ID_ENV)
        access_key_secret = environ.get(ACCESS_KEY_SECRET_ENV)
        security_token = security_token or environ.get(SECURITY_TOKEN_ENV)
    if not access_key_id or not access_key_secret:
        raise ConfigError(
            "OSS credentials are missing: pass access_key_id and access_key_secret, "
            f"or set {ACCESS_KEY_ID_ENV} and {ACCESS_KEY_SECRET_ENV}"
        )
    if security_token:
        version = oss2.AUTH_VERSION_4 if region else oss2.AUTH_VERSION_2
        return oss2.StsAuth(access_key_id, access_key_secret, security_token, auth_version=version)
    if region:
        return oss2.AuthV4(access_key_id, access_key_secret)
    return oss2.AuthV2(access_key_id, access_key_secret)


class OssObjectStore:
    """Objects under ``prefix`` in an OSS bucket. Writes are single PUTs, which OSS applies atomically.

    ``bucket_client`` (an ``oss2.Bucket``) replaces everything about connecting; otherwise one is
    built from ``endpoint`` (default: the public endpoint of ``region``), the credentials and
    ``proxies``.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        auth: Any = None,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        security_token: str | None = None,
        proxies: dict[str, str] | None = None,
        bucket_client: oss2.Bucket | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        attempts: int = DEFAULT_ATTEMPTS,
        base_delay: float = DEFAULT_BASE_DELAY,
        sleep: Callable[[float], None] = time.sleep,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not bucket:
            raise ConfigError("an OSS store needs a bucket name (oss://bucket/prefix)")
        if page_size < 1 or attempts < 1:
            raise ConfigError(f"page_size and attempts must be at least 1, not {page_size} and {attempts}")
        self.bucket = bucket
        self.prefix = check_key(prefix.strip("/"), allow_empty=True)
        self._root = f"{self.prefix}/" if self.prefix else ""
        self.url = f"oss://{bucket}/{self.prefix}" if self.prefix else f"oss://{bucket}"
        self.page_size = page_size
        self._attempts = attempts
        self._base_delay = base_delay
        self._sleep = sleep
        if bucket_client is None:
            env = os.environ if environ is None else environ
            region = region or env.get(REGION_ENV) or None
            endpoint = endpoint or env.get(ENDPOINT_ENV) or None
            if auth is None:
                auth = make_auth(
                    access_key_id=access_key_id,
                    access_key_secret=access_key_secret,
                    security_token=security_token,
                    region=region,
                    environ=os.environ if environ is None else environ,
                )
            if endpoint is None:
                if not region:
                    raise ConfigError("an OSS store needs an endpoint or a region")
                endpoint = default_endpoint(region)
            try:
                bucket_client = oss2.Bucket(auth, endpoint, bucket, proxies=proxies, region=region)
            except oss2.exceptions.ClientError as exc:
                raise ConfigError(f"bad OSS bucket {bucket!r} or endpoint {endpoint!r}: {exc.body}") from exc
        self.client = bucket_client

    def _object_key(self, key: str) -> str:
        return self._root + check_key(key)

    def _where(self, key: str) -> str:
        return f"oss://{self.bucket}/{self._root}{key}"

    def _call(self, action: str, key: str, fn: Callable[[], T]) -> T:
        """Run one oss2 call with retries; translate what still fails."""
        where = self._where(key)
        try:
            return retry(
                fn,
                self._attempts,
                self._base_delay,
                is_transient,
                what=f"OSS {action} of {where}",
                describe=describe_oss_error,
                sleep=self._sleep,
            )
        except NoSuchKey as exc:
            raise NotFoundError(f"{where} does not exist") from exc
        except OssError as exc:
            raise StorageError(f"OSS {action} of {where} failed: {describe_oss_error(exc)}") from exc

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if prefix:
            check_key(prefix)
        # max_retries=1: the iterator's own retry has no backoff; a failed page fetch leaves the
        # iterator where it was, so calling next() again through _call retries just that page.
        pages = oss2.ObjectIteratorV2(
            self.client, prefix=self._root + prefix, max_keys=self.page_size, max_retries=1
        )
        while True:
            entry = self._call("list", prefix, lambda: next(pages, None))
            if entry is None:
                return
            if entry.is_prefix() or entry.key.endswith("/"):  # "folder" markers are not objects
                continue
            yield ObjectInfo(key=entry.key[len(self._root) :], size=entry.size, etag=entry.etag)

    def open(self, key: str) -> BinaryIO:
        object_key = self._object_key(key)
        result = self._call("get", key, lambda: self.client.get_object(object_key))
        return binary_stream(result, what=self._where(key), read_errors=(OssError, requests.RequestException))

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        object_key = self._object_key(key)
        headers = {"Content-Type": content_type} if content_type else None
        self._call("put", key, lambda: self.client.put_object(object_key, data, headers=headers))

    def exists(self, key: str) -> bool:
        object_key = self._object_key(key)
        return bool(self._call("head", key, lambda: self.client.object_exists(object_key)))

    def delete(self, key: str) -> None:
        object_key = self._object_key(key)
        self._call("delete", key, lambda: self.client.delete_object(object_key))
