"""Stores whose every request passes the fault proxy (``tests.support.fault_proxy``), on S3 (moto's server) and
OSS (the emulator), with a direct store beside each to arrange and check the data; and the shrunk storage
policies the fault tests use.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import boto3
import oss2
import pytest

from chargeback.storage import ObjectStore
from chargeback.storage.oss import OssObjectStore
from chargeback.storage.policy import StoragePolicy
from chargeback.storage.s3 import S3ObjectStore
from tests.support.fault_proxy import FaultProxy
from tests.support.fixtures import OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, OSS_REGION

S3_REGION = "us-east-1"
# recovering faults: ten attempts, waits of 10 ms doubling to 250 ms (1.31 s in all), 0.5 s per attempt, 2 s per call
RECOVERING = replace(StoragePolicy.within(2.0), request_deadline=0.5, read_timeout=0.5, connect_timeout=0.5,
                     attempts=10, base_delay=0.01, max_delay=0.25)
# faults that stay: four attempts, 0.3 s per attempt, 1 s per call
LASTING = replace(RECOVERING, attempts=4, request_deadline=0.3, call_deadline=1.0)

_buckets = itertools.count(1)


@dataclass
class Faulty:
    """A store whose every request passes the proxy, and a direct one to arrange and check the data."""

    name: str
    proxy: FaultProxy
    direct: ObjectStore
    make_store: Callable[[StoragePolicy], ObjectStore]


@pytest.fixture(params=["s3", "oss"])
def faulty(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Faulty]:
    if request.param == "s3":
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        upstream = request.getfixturevalue("moto_server")
        bucket = f"faults-{next(_buckets)}"
        boto3.client("s3", endpoint_url=upstream, region_name=S3_REGION).create_bucket(Bucket=bucket)
        direct: ObjectStore = S3ObjectStore(bucket, "p", endpoint_url=upstream, region=S3_REGION)

        def make_s3(policy: StoragePolicy) -> ObjectStore:
            return S3ObjectStore(bucket, "p", endpoint_url=proxy.endpoint, region=S3_REGION, policy=policy,
                                 page_size=2)

        make = make_s3
    else:
        upstream = request.getfixturevalue("oss_server")
        oss_bucket: oss2.Bucket = request.getfixturevalue("oss_bucket")
        direct = OssObjectStore(oss_bucket.bucket_name, "p", bucket_client=oss_bucket)

        def make_oss(policy: StoragePolicy) -> ObjectStore:
            return OssObjectStore(oss_bucket.bucket_name, "p", endpoint=proxy.endpoint, region=OSS_REGION,
                                  access_key_id=OSS_ACCESS_KEY_ID, access_key_secret=OSS_ACCESS_KEY_SECRET,
                                  policy=policy, page_size=2)

        make = make_oss
    with FaultProxy(upstream) as proxy:
        yield Faulty(request.param, proxy, direct, make)
