"""Amazon S3 adapter (``s3://bucket/prefix``), also for S3-compatible stores such as OSS's S3 API.

boto3 is imported here and nowhere else in the core. Retries are boto3's own (standard mode);
what still fails becomes StorageError naming the bucket and key, or NotFoundError for a missing
object.

To reach Alibaba Cloud OSS through its S3-compatible API, pass
``endpoint_url="https://s3.oss-{region}.aliyuncs.com"``, ``addressing_style="virtual"``,
``signature_version="s3"`` and ``checksums="when_required"`` (OSS rejects the checksum headers
that boto3 adds by default).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chargeback.errors import ConfigError, NotFoundError, StorageError
from chargeback.storage.base import ObjectInfo, check_key
from chargeback.storage.streams import binary_stream

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ChecksumPolicy = Literal["when_supported", "when_required"]
AddressingStyle = Literal["auto", "virtual", "path"]

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_PAGE_SIZE = 1000  # the most one S3 listing page holds
_MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def build_s3_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    addressing_style: AddressingStyle | None = None,
    signature_version: str | None = None,
    checksums: ChecksumPolicy | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> S3Client:
    """An S3 client making at most ``max_attempts`` tries per call (standard-mode retries).

    Credentials come from boto3's usual chain.

    ``checksums`` sets both request checksum calculation and response checksum validation
    ("when_required" for OSS's S3 API); None keeps boto3's default.
    """
    # total_max_attempts counts the first try too; botocore's "max_attempts" would add one to it.
    options: dict[str, Any] = {"retries": {"mode": "standard", "total_max_attempts": max_attempts}}
    if addressing_style:
        options["s3"] = {"addressing_style": addressing_style}
    if signature_version:
        options["signature_version"] = signature_version
    if checksums:
        options["request_checksum_calculation"] = checksums
        options["response_checksum_validation"] = checksums
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=Config(**options))


class S3ObjectStore:
    """Objects under ``prefix`` in an S3 bucket. Writes are single PUTs, which S3 applies atomically."""

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
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        page_size: int = DEFAULT_PAGE_SIZE,
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
        self.client = client or build_s3_client(
            endpoint_url=endpoint_url,
            region=region,
            addressing_style=addressing_style,
            signature_version=signature_version,
            checksums=checksums,
            max_attempts=max_attempts,
        )

    def _object_key(self, key: str) -> str:
        return self._root + check_key(key)

    def _where(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._root}{key}"

    @contextmanager
    def _errors_translated(self, action: str, key: str) -> Iterator[None]:
        """Turn boto3 failures into this package's errors, naming the bucket and key, never credentials."""
        where = self._where(key)
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            if code in _MISSING_OBJECT_CODES:
                raise NotFoundError(f"{where} does not exist") from exc
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            message = error.get("Message", "")
            raise StorageError(
                f"S3 {action} of {where} failed: HTTP {status} {code} {message}".rstrip()
            ) from exc
        except BotoCoreError as exc:
            raise StorageError(f"S3 {action} of {where} failed: {type(exc).__name__}: {exc}") from exc

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if prefix:
            check_key(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket,
            Prefix=self._root + prefix,
            PaginationConfig={"PageSize": self.page_size},
        )
        with self._errors_translated("list", prefix):
            for page in pages:
                for entry in page.get("Contents", []):
                    object_key = entry["Key"]
                    if object_key.endswith("/"):  # a console "folder" marker, not an object
                        continue
                    yield ObjectInfo(
                        key=object_key[len(self._root) :],
                        size=entry["Size"],
                        etag=entry["ETag"].strip('"'),
                    )

    def open(self, key: str) -> BinaryIO:
        object_key = self._object_key(key)
        with self._errors_translated("get", key):
            response = self.client.get_object(Bucket=self.bucket, Key=object_key)
        return binary_stream(response["Body"], what=self._where(key), read_errors=(BotoCoreError,))

    def read_bytes(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        object_key = self._object_key(key)
        with self._errors_translated("put", key):
            if content_type:
                self.client.put_object(
                    Bucket=self.bucket, Key=object_key, Body=data, ContentType=content_type
                )
            else:
                self.client.put_object(Bucket=self.bucket, Key=object_key, Body=data)

    def exists(self, key: str) -> bool:
        object_key = self._object_key(key)
        try:
            with self._errors_translated("head", key):
                self.client.head_object(Bucket=self.bucket, Key=object_key)
        except NotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        object_key = self._object_key(key)
        with self._errors_translated("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=object_key)
