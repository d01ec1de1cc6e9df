"""Alibaba Cloud OSS adapter (``oss://bucket/prefix``) over the oss2 SDK.

oss2 is imported here and nowhere else in the core. Every call runs under the store's ``StoragePolicy``
(chargeback.storage.policy): the bucket client has its connect and read timeouts, its connections join the
attempt's deadline (a requests adapter with tracked connection classes), and ``StorageCall`` retries
connection failures, cut-off answers and 5xx answers with its backoff. Downloads resume where a body broke
(chargeback.storage.streams). A missing object becomes NotFoundError, anything else StorageError naming the
bucket and key. Credentials never reach a message: errors are described by status, code and message, with the
store's own secrets and anything credential-like redacted (OSS error bodies echo the string it signed, which
holds the STS token).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from xml.etree.ElementTree import ParseError

import oss2
import requests
from oss2.exceptions import (
    InconsistentError,
    NoSuchBucket,
    NoSuchKey,
    NotFound,
    OssError,
    PreconditionFailed,
    RequestError,
)

from chargeback.errors import ConfigError, NotFoundError, StorageError
from chargeback.redact import redact
from chargeback.storage.base import AlreadyExistsError, ObjectInfo, check_key
from chargeback.storage.deadline import TRACKED_POOLS, DeadlineExceeded
from chargeback.storage.policy import StoragePolicy
from chargeback.storage.retry import Clock, Sleep, StorageCall, type_and_text
from chargeback.storage.streams import Part, download_stream

T = TypeVar("T")

ACCESS_KEY_ID_ENV = "OSS_ACCESS_KEY_ID"
ACCESS_KEY_SECRET_ENV = "OSS_ACCESS_KEY_SECRET"  # noqa: S105 - the variable's name, not a secret
SECURITY_TOKEN_ENV = "OSS_SECURITY_TOKEN"  # noqa: S105 - the variable's name, not a secret
ENDPOINT_ENV = "OSS_ENDPOINT"  # e.g. https://oss-cn-hangzhou-internal.aliyuncs.com
REGION_ENV = "OSS_REGION"  # e.g. cn-hangzhou

DEFAULT_PAGE_SIZE = 1000  # the most one OSS listing page holds
POOL_SIZE = 10  # oss2's default connection pool size
FORBID_OVERWRITE = "x-oss-forbid-overwrite"  # PutObject refuses an existing key: 409 FileAlreadyExists
_TRANSIENT_CODES = frozenset({"InternalError", "ServiceUnavailable", "RequestTimeout", "Throttling",
                              "TooManyRequests", "RequestTimeTooSkewed"})


def default_endpoint(region: str) -> str:
    """The public OSS endpoint of ``region`` (e.g. cn-hangzhou)."""
    return f"https://oss-{region}.aliyuncs.com"


def is_transient(exc: Exception) -> bool:
    """Whether retrying may help: no answer, a dropped or cut-off answer, 5xx, throttling, a deadline."""
    if isinstance(exc, OssError) and not isinstance(exc, (RequestError, InconsistentError)):
        status = exc.status
        return (isinstance(status, int) and (status >= 500 or status in (408, 429))) or exc.code in _TRANSIENT_CODES
    # RequestError: no answer; requests' errors: the body broke off; a parse error: a cut-off listing;
    # InconsistentError: the CRC of the body did not match
    return isinstance(exc, (RequestError, InconsistentError, requests.RequestException, ParseError,
                            DeadlineExceeded))


def describe_oss_error(exc: Exception, secrets: tuple[str, ...] = ()) -> str:
    """Status, code, message and request id of an oss2 error; never its details, which echo request data.

    The words are redacted (``secrets`` and anything credential-like): a message may echo the request too.
    """
    if isinstance(exc, RequestError):
        text = f"no answer from OSS: {type(exc.exception).__name__}: {exc.exception}"
    elif isinstance(exc, OssError):
        text = f"HTTP {exc.status} {exc.code}".rstrip()
        if exc.message:
            text += f": {exc.message}"
        if exc.request_id:
            text += f" (request id {exc.request_id})"
    else:
        text = type_and_text(exc)
    return redact(text, secrets)


def _time(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


class TrackedHTTPAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter whose connections join the current attempt, so its deadline can shut them down."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = TRACKED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = TRACKED_POOLS
        return manager


def track_connections(bucket: Any) -> None:
    """Mount the tracked adapter on an ``oss2.Bucket``'s requests session (its ``session.session``)."""
    session = getattr(getattr(bucket, "session", None), "session", None)
    if isinstance(session, requests.Session) and not isinstance(session.get_adapter("https://"),
                                                                  TrackedHTTPAdapter):
        adapter = TrackedHTTPAdapter(pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE)
        session.mount("http://", adapter)
        session.mount("https://", adapter)


def auth_secrets(auth: Any) -> tuple[str, ...]:
    """The AccessKey secret and STS token behind an oss2 auth object, to redact them from messages."""
    try:
        credentials = auth.credentials_provider.get_credentials()
        return tuple(value for value in (credentials.get_access_key_secret(), credentials.get_security_token())
                     if value)
    except AttributeError:
        return ()


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

    ``bucket_client`` (an ``oss2.Bucket``) replaces everything about connecting (its connections are tracked
    for the deadlines; its timeouts are its own); otherwise one is built from ``endpoint`` (default: the
    public endpoint of ``region``), the credentials, ``proxies`` and the policy's timeouts.
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
        policy: StoragePolicy | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not bucket:
            raise ConfigError("an OSS store needs a bucket name (oss://bucket/prefix)")
        if page_size < 1:
            raise ConfigError(f"page_size must be at least 1, not {page_size}")
        self.bucket = bucket
        self.prefix = check_key(prefix.strip("/"), allow_empty=True)
        self._root = f"{self.prefix}/" if self.prefix else ""
        self.url = f"oss://{bucket}/{self.prefix}" if self.prefix else f"oss://{bucket}"
        self.page_size = page_size
        self.policy = policy or StoragePolicy()
        self._sleep = sleep
        self._clock = clock
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
                    environ=env,
                )
            if endpoint is None:
                if not region:
                    raise ConfigError("an OSS store needs an endpoint or a region")
                endpoint = default_endpoint(region)
            session = oss2.Session(adapter=TrackedHTTPAdapter(pool_connections=POOL_SIZE, pool_maxsize=POOL_SIZE))
            timeouts = (self.policy.connect_timeout, self.policy.read_timeout)  # requests takes (connect, read)
            try:
                bucket_client = oss2.Bucket(auth, endpoint, bucket, session=session, connect_timeout=timeouts,
                                            proxies=proxies, region=region)
            except oss2.exceptions.ClientError as exc:
                raise ConfigError(f"bad OSS bucket {bucket!r} or endpoint {endpoint!r}: {exc.body}") from exc
        else:
            track_connections(bucket_client)
        self.client = bucket_client
        self._secrets = auth_secrets(getattr(bucket_client, "auth", None))

    def _object_key(self, key: str) -> str:
        return self._root + check_key(key)

    def _where(self, key: str) -> str:
        return f"oss://{self.bucket}/{self._root}{key}"

    def _describe(self, exc: Exception) -> str:
        return describe_oss_error(exc, self._secrets)

    def _new_call(self, action: str, key: str) -> StorageCall:
        return StorageCall(f"OSS {action} of {self._where(key)}", self.policy, is_transient,
                           describe=self._describe,
                           translate=lambda exc: self._translated(action, key, exc),
                           sleep=self._sleep, clock=self._clock)

    def _translated(self, action: str, key: str, exc: Exception) -> Exception:
        where = self._where(key)
        if isinstance(exc, NoSuchKey) or (action == "head" and isinstance(exc, NotFound)
                                           and not isinstance(exc, NoSuchBucket)):
            return NotFoundError(f"{where} does not exist")
        if action == "create" and isinstance(exc, OssError) and (
                (exc.status == 409 and exc.code == "FileAlreadyExists") or exc.status == 412):
            return AlreadyExistsError(f"{where} already exists")
        if isinstance(exc, PreconditionFailed) and action == "get":
            return StorageError(f"{where} changed while it was being read; read it again")
        if isinstance(exc, (OssError, requests.RequestException)):
            return StorageError(f"OSS {action} of {where} failed: {self._describe(exc)}")
        return exc

    def _call(self, action: str, key: str, fn: Callable[[], T]) -> T:
        """Run one oss2 call with the policy's retries and deadlines; translate what still fails."""
        return self._new_call(action, key).run(lambda attempt: fn())

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
            yield ObjectInfo(key=entry.key[len(self._root) :], size=entry.size, etag=entry.etag,
                             modified=_time(entry.last_modified))

    def open(self, key: str) -> BinaryIO:
        object_key = self._object_key(key)

        def fetch(offset: int, etag: str) -> Part:
            headers = {"If-Match": f'"{etag}"'} if etag else None
            byte_range = (offset, None) if offset else None
            result = self.client.get_object(object_key, byte_range=byte_range, headers=headers)
            return Part(result, result.content_length, result.etag or "")

        return download_stream(fetch, self._new_call("get", key))

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        object_key = self._object_key(key)
        headers = {"Content-Type": content_type} if content_type else None
        self._call("put", key, lambda: self.client.put_object(object_key, data, headers=headers))

    def write_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        object_key = self._object_key(key)
        headers = {"Content-Type": content_type} if content_type else None
        self._call("put", key, lambda: self.client.put_object_from_file(object_key, str(path), headers=headers))

    def create(self, key: str, data: bytes, content_type: str | None = None) -> None:
        object_key = self._object_key(key)
        headers = {FORBID_OVERWRITE: "true", **({"Content-Type": content_type} if content_type else {})}
        self._call("create", key, lambda: self.client.put_object(object_key, data, headers=headers))

    def copy(self, source: str, key: str) -> None:
        source_key, object_key = self._object_key(source), self._object_key(key)
        try:
            self._call("copy", key, lambda: self.client.copy_object(self.bucket, source_key, object_key))
        except NotFoundError:
            raise NotFoundError(f"{self._where(source)} does not exist (copying it to {self._where(key)})") from None

    def stat(self, key: str) -> ObjectInfo | None:
        object_key = self._object_key(key)
        try:
            head = self._call("head", key, lambda: self.client.head_object(object_key))
        except NotFoundError:
            return None
        return ObjectInfo(key, int(head.content_length or 0), str(head.etag or ""), modified=_time(head.last_modified))

    def exists(self, key: str) -> bool:
        object_key = self._object_key(key)
        return bool(self._call("head", key, lambda: self.client.object_exists(object_key)))

    def delete(self, key: str) -> None:
        object_key = self._object_key(key)
        self._call("delete", key, lambda: self.client.delete_object(object_key))
