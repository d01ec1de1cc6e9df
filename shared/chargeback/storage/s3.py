"""Amazon S3 adapter (``s3://bucket/prefix``), also for S3-compatible stores such as OSS's S3 API.

boto3 is imported here and nowhere else in the core. Every call runs under the store's ``StoragePolicy``
(chargeback.storage.policy): the client has its connect and read timeouts and no retries of its own, and
``StorageCall`` retries transient failures with its backoff and deadlines. Downloads resume where a body
broke (chargeback.storage.streams). What still fails becomes StorageError naming the bucket and key (its
words redacted), or NotFoundError for a missing object.

To reach Alibaba Cloud OSS through its S3-compatible API, pass
``endpoint_url="https://s3.oss-{region}.aliyuncs.com"``, ``addressing_style="virtual"``,
``signature_version="s3"`` and ``checksums="when_required"`` (OSS rejects the checksum headers
that boto3 adds by default).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TypeVar

import boto3
from botocore.awsrequest import (
    AWSHTTPConnection,
    AWSHTTPConnectionPool,
    AWSHTTPSConnection,
    AWSHTTPSConnectionPool,
)
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    HTTPClientError,
    IncompleteReadError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

from chargeback.errors import ConfigError, NotFoundError, StorageError
from chargeback.redact import redact
from chargeback.storage.base import AlreadyExistsError, ObjectInfo, check_key
from chargeback.storage.deadline import DeadlineExceeded, TrackedConnection
from chargeback.storage.policy import StoragePolicy
from chargeback.storage.retry import Clock, Sleep, StorageCall, type_and_text
from chargeback.storage.streams import Part, download_stream

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")

ChecksumPolicy = Literal["when_supported", "when_required"]
AddressingStyle = Literal["auto", "virtual", "path"]

DEFAULT_PAGE_SIZE = 1000  # the most one S3 listing page holds
_MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_TRANSIENT_CODES = frozenset({
    "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "Throttling", "ThrottlingException",
    "TooManyRequests", "RequestLimitExceeded", "BandwidthLimitExceeded",
    "ConditionalRequestConflict",  # a conditional write raced another one in flight: S3 asks to retry
})

log = logging.getLogger(__name__)


class _TrackedAWSHTTPConnection(TrackedConnection, AWSHTTPConnection):  # type: ignore[misc]
    pass


class _TrackedAWSHTTPSConnection(TrackedConnection, AWSHTTPSConnection):  # type: ignore[misc]
    pass


class _TrackedAWSHTTPConnectionPool(AWSHTTPConnectionPool):
    ConnectionCls = _TrackedAWSHTTPConnection


class _TrackedAWSHTTPSConnectionPool(AWSHTTPSConnectionPool):
    ConnectionCls = _TrackedAWSHTTPSConnection


def track_connections(client: Any) -> bool:
    """Make ``client``'s connections join the current attempt, so its deadline can shut them down.

    botocore has no public hook for its connection classes: this sets them on the client's HTTP session,
    the one place botocore itself reads them from. False (and a warning) if a botocore release moved it; the
    connect and read timeouts still apply then.
    """
    http_session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    pools = getattr(http_session, "_pool_classes_by_scheme", None)
    manager = getattr(http_session, "_manager", None)
    if not isinstance(pools, dict) or manager is None:
        log.warning("this botocore keeps its connection pools elsewhere: S3 deadlines rely on timeouts only")
        return False
    if pools.get("https") is not _TrackedAWSHTTPSConnectionPool:
        pools.update({"http": _TrackedAWSHTTPConnectionPool, "https": _TrackedAWSHTTPSConnectionPool})
        manager.clear()  # pools made before now use the old classes
        for proxy_manager in getattr(http_session, "_proxy_managers", {}).values():
            proxy_manager.clear()
    return True


def build_s3_client(
    *,
    session: Any | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    addressing_style: AddressingStyle | None = None,
    signature_version: str | None = None,
    checksums: ChecksumPolicy | None = None,
    policy: StoragePolicy | None = None,
) -> S3Client:
    """An S3 client with the policy's connect and read timeouts and no retries of its own (the store retries).

    Credentials come from boto3's usual chain, or from ``session`` (a boto3.Session). ``checksums`` sets both
    request checksum calculation and response checksum validation ("when_required" for OSS's S3 API); None
    keeps boto3's default.
    """
    policy = policy or StoragePolicy()
    # total_max_attempts counts the first try too: 1 = no retry inside botocore.
    options: dict[str, Any] = {
        "retries": {"mode": "standard", "total_max_attempts": 1},
        "connect_timeout": policy.connect_timeout,
        "read_timeout": policy.read_timeout,
        "tcp_keepalive": True,
    }
    if addressing_style:
        options["s3"] = {"addressing_style": addressing_style}
    if signature_version:
        options["signature_version"] = signature_version
    if checksums:
        options["request_checksum_calculation"] = checksums
        options["response_checksum_validation"] = checksums
    factory = session.client if session is not None else boto3.client
    client: S3Client = factory("s3", endpoint_url=endpoint_url, region_name=region, config=Config(**options))
    track_connections(client)
    return client


def is_transient(exc: Exception) -> bool:
    """Whether retrying may help: no connection, a dropped or cut-off answer, 5xx, throttling, a deadline."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = exc.response.get("Error", {}).get("Code", "")
        return (isinstance(status, int) and (status >= 500 or status in (408, 429))) or code in _TRANSIENT_CODES
    # a parse error is an answer cut off mid-document (botocore does not check a listing's length)
    return isinstance(exc, (BotoConnectionError, HTTPClientError, ConnectionClosedError, IncompleteReadError,
                            ResponseParserError, DeadlineExceeded))


def describe_s3_error(exc: Exception) -> str:
    """Status, code and message of a boto3 error, with anything secret-looking redacted."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return redact(f"HTTP {status} {error.get('Code', '')} {error.get('Message', '')}".rstrip())
    return redact(type_and_text(exc))


class S3ObjectStore:
    """Objects under ``prefix`` in an S3 bucket. Writes are single PUTs, which S3 applies atomically.

    ``client`` replaces everything about connecting (build it with ``build_s3_client``: a client with its
    own retries multiplies the attempts); otherwise one is built from the other arguments and ``policy``.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: S3Client | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: AddressingStyle | None = None,
        signature_version: str | None = None,
        checksums: ChecksumPolicy | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        policy: StoragePolicy | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        if not bucket:
            raise ConfigError("an S3 store needs a bucket name (s3://bucket/prefix)")
        if page_size < 1:
            raise ConfigError(f"page_size must be at least 1, not {page_size}")
        self.bucket = bucket
        self.prefix = check_key(prefix.strip("/"), allow_empty=True)
        self._root = f"{self.prefix}/" if self.prefix else ""
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.page_size = page_size
        self.policy = policy or StoragePolicy()
        self._sleep = sleep
        self._clock = clock
        if client is None:
            client = build_s3_client(endpoint_url=endpoint_url, region=region, addressing_style=addressing_style,
                                     signature_version=signature_version, checksums=checksums,
                                     policy=self.policy)
        else:
            track_connections(client)
        self.client = client

    def _object_key(self, key: str) -> str:
        return self._root + check_key(key)

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._root}{key}"

    def _new_call(self, action: str, key: str) -> StorageCall:
        return StorageCall(f"S3 {action} of {self._where(key)}", self.policy, is_transient,
                           describe=describe_s3_error,
                           translate=lambda exc: self._translated(action, key, exc),
                           sleep=self._sleep, clock=self._clock)

    def _translated(self, action: str, key: str, exc: Exception) -> Exception:
        """This package's error for a boto3 failure, naming the bucket and key, never credentials."""
        where = self._where(key)
        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _MISSING_OBJECT_CODES:
                return NotFoundError(f"{where} does not exist")
            if code == "PreconditionFailed" and action == "get":
                return StorageError(f"{where} changed while it was being read; read it again")
            if code == "PreconditionFailed" and action == "create":
                return AlreadyExistsError(f"{where} already exists")
            return StorageError(f"S3 {action} of {where} failed: {describe_s3_error(exc)}")
        if isinstance(exc, BotoCoreError):
            return StorageError(f"S3 {action} of {where} failed: {describe_s3_error(exc)}")
        return exc

    def _call(self, action: str, key: str, fn: Callable[[], T]) -> T:
        """Run one boto3 call with the policy's retries and deadlines; translate what still fails."""
        return self._new_call(action, key).run(lambda attempt: fn())

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if prefix:
            check_key(prefix)
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._root + prefix, "MaxKeys": self.page_size}
        while True:
            page: Any = self._call("list", prefix, lambda: self.client.list_objects_v2(**request))
            for entry in page.get("Contents", []):
                object_key = entry["Key"]
                if object_key.endswith("/"):  # a console "folder" marker, not an object
                    continue
                yield ObjectInfo(key=object_key[len(self._root) :], size=entry["Size"], etag=entry["ETag"].strip('"'),
                                 modified=entry.get("LastModified"))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            request["ContinuationToken"] = token

    def open(self, key: str) -> BinaryIO:
        object_key = self._object_key(key)

        def fetch(offset: int, etag: str) -> Part:
            request: dict[str, Any] = {"Bucket": self.bucket, "Key": object_key}
            if offset:
                request["Range"] = f"bytes={offset}-"
            if etag:
                request["IfMatch"] = etag
            response: Any = self.client.get_object(**request)
            return Part(response["Body"], response.get("ContentLength"), response.get("ETag", ""))

        return download_stream(fetch, self._new_call("get", key))

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self._object_key(key), "Body": data}
        if content_type:
            request["ContentType"] = content_type
        self._call("put", key, lambda: self.client.put_object(**request))

    def write_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self._object_key(key)}
        if content_type:
            request["ContentType"] = content_type

        def put() -> Any:  # each attempt reads the file from its start: one PUT, so the ETag stays its MD5
            with open(path, "rb") as body:
                return self.client.put_object(**request, Body=body)

        self._call("put", key, put)

    def create(self, key: str, data: bytes, content_type: str | None = None) -> None:
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self._object_key(key), "Body": data,
                                   "IfNoneMatch": "*"}
        if content_type:
            request["ContentType"] = content_type
        self._call("create", key, lambda: self.client.put_object(**request))

    def copy(self, source: str, key: str) -> None:
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": self._object_key(key),
                                   "CopySource": {"Bucket": self.bucket, "Key": self._object_key(source)}}
        try:
            self._call("copy", key, lambda: self.client.copy_object(**request))
        except NotFoundError:
            raise NotFoundError(f"{self._where(source)} does not exist (copying it to {self._where(key)})") from None

    def stat(self, key: str) -> ObjectInfo | None:
        object_key = self._object_key(key)
        try:
            head: Any = self._call("head", key, lambda: self.client.head_object(Bucket=self.bucket, Key=object_key))
        except NotFoundError:
            return None
        return ObjectInfo(key, int(head["ContentLength"]), str(head["ETag"]).strip('"'),
                          modified=head.get("LastModified"))

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def delete(self, key: str) -> None:
        object_key = self._object_key(key)
        self._call("delete", key, lambda: self.client.delete_object(Bucket=self.bucket, Key=object_key))
