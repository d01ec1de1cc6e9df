"""Storage fixtures: a local store on tmp_path, a moto-backed S3 store, and OSS through the emulator.

``backend`` is the one parametrized fixture the contract suite runs on: it gives each test a
``StoreBackend`` that builds stores of one kind and counts the listing requests they send.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import oss2
import pytest
from moto import mock_aws

from chargeback.storage import LocalObjectStore, ObjectStore, open_store
from chargeback.storage.oss import DEFAULT_PAGE_SIZE as OSS_PAGE_SIZE
from chargeback.storage.oss import OssObjectStore
from chargeback.storage.s3 import DEFAULT_PAGE_SIZE as S3_PAGE_SIZE
from chargeback.storage.s3 import S3ObjectStore
from tests.support.oss_emulator import MotoS3Server, OssEmulator

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

S3_BUCKET = "chargeback-test"
S3_REGION = "us-east-1"
OSS_REGION = "cn-hangzhou"
OSS_ACCESS_KEY_ID = "test-oss-key-id"
OSS_ACCESS_KEY_SECRET = "test-oss-key-secret"  # the emulator does not check signatures
STORE_PREFIX = "warehouse/v1"

_oss_bucket_numbers = itertools.count(1)


@dataclass
class StoreBackend:
    """Builds stores of one kind, all over the same bucket or folder."""

    name: str
    make_store: Callable[..., ObjectStore]  # (prefix=STORE_PREFIX, page_size=None)
    store_url: str  # the URL of make_store()'s store, for open_store
    url_options: dict[str, Any]  # what open_store needs besides the URL (a client, credentials)
    listing_requests: Callable[[], int] | None  # listing calls sent so far; None when nothing pages

    def store(self, prefix: str = STORE_PREFIX, page_size: int | None = None) -> ObjectStore:
        return self.make_store(prefix=prefix, page_size=page_size)

    def open_url(self) -> ObjectStore:
        return open_store(self.store_url, **self.url_options)


@pytest.fixture(scope="session")
def oss_server() -> Iterator[str]:
    """The endpoint of the OSS emulator on 127.0.0.1, one for the whole session."""
    with OssEmulator() as emulator:
        yield emulator.endpoint


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """The endpoint of a moto server on 127.0.0.1 (S3 over real HTTP), one for the whole session."""
    with MotoS3Server() as server:
        yield server.endpoint


@pytest.fixture
def s3_client() -> Iterator[S3Client]:
    """A boto3 S3 client inside moto's in-process mock, with an empty bucket S3_BUCKET."""
    with mock_aws():
        client = boto3.client("s3", region_name=S3_REGION)
        client.create_bucket(Bucket=S3_BUCKET)
        yield client


@pytest.fixture
def oss_bucket(oss_server: str) -> oss2.Bucket:
    """An empty bucket on the OSS emulator, new for each test, signed with V4 like production.

    A fresh bucket per test also survives moto resetting its backends when a mock_aws test starts.
    """
    auth = oss2.AuthV4(OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET)
    bucket = oss2.Bucket(auth, oss_server, f"chargeback-oss-{next(_oss_bucket_numbers)}", region=OSS_REGION)
    bucket.create_bucket()
    return bucket


@pytest.fixture
def local_store(tmp_path: Path) -> LocalObjectStore:
    return LocalObjectStore(tmp_path / "store")


@pytest.fixture
def s3_store(s3_client: S3Client) -> S3ObjectStore:
    return S3ObjectStore(S3_BUCKET, STORE_PREFIX, client=s3_client)


@pytest.fixture
def oss_store(oss_bucket: oss2.Bucket) -> OssObjectStore:
    return OssObjectStore(oss_bucket.bucket_name, STORE_PREFIX, bucket_client=oss_bucket)


def _local_backend(tmp_path: Path) -> StoreBackend:
    root = tmp_path / "store"

    def make_store(prefix: str = STORE_PREFIX, page_size: int | None = None) -> ObjectStore:
        return LocalObjectStore(root / prefix)

    return StoreBackend("file", make_store, (root / STORE_PREFIX).as_uri(), {}, None)


def _s3_backend(client: S3Client) -> StoreBackend:
    seen = [0]

    def count_listing(**_: Any) -> None:
        seen[0] += 1

    client.meta.events.register("before-call.s3.ListObjectsV2", count_listing)

    def make_store(prefix: str = STORE_PREFIX, page_size: int | None = None) -> ObjectStore:
        return S3ObjectStore(S3_BUCKET, prefix, client=client, page_size=page_size or S3_PAGE_SIZE)

    return StoreBackend(
        "s3", make_store, f"s3://{S3_BUCKET}/{STORE_PREFIX}", {"client": client}, lambda: seen[0]
    )


def _oss_backend(bucket: oss2.Bucket, endpoint: str) -> StoreBackend:
    seen = [0]
    list_objects_v2 = bucket.list_objects_v2

    def counting_list_objects_v2(*args: Any, **kwargs: Any) -> Any:
        seen[0] += 1
        return list_objects_v2(*args, **kwargs)

    bucket.list_objects_v2 = counting_list_objects_v2  # ObjectIteratorV2 calls it through the instance

    def make_store(prefix: str = STORE_PREFIX, page_size: int | None = None) -> ObjectStore:
        return OssObjectStore(
            bucket.bucket_name, prefix, bucket_client=bucket, page_size=page_size or OSS_PAGE_SIZE
        )

    url_options = {
        "endpoint": endpoint,
        "access_key_id": OSS_ACCESS_KEY_ID,
        "access_key_secret": OSS_ACCESS_KEY_SECRET,
    }
    return StoreBackend(
        "oss", make_store, f"oss://{bucket.bucket_name}/{STORE_PREFIX}", url_options, lambda: seen[0]
    )


@pytest.fixture(params=["file", "s3", "oss"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> StoreBackend:
    """Each storage backend in turn; only the chosen backend's server or mock is started."""
    if request.param == "file":
        return _local_backend(tmp_path)
    if request.param == "s3":
        return _s3_backend(request.getfixturevalue("s3_client"))
    return _oss_backend(request.getfixturevalue("oss_bucket"), request.getfixturevalue("oss_server"))
