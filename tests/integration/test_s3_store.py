"""What only the S3 adapter does: client configuration, error translation, folder markers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from chargeback.errors import NotFoundError, StorageError
from chargeback.storage.policy import StoragePolicy
from chargeback.storage.s3 import S3ObjectStore, build_s3_client, track_connections
from tests.support.fixtures import S3_BUCKET, S3_REGION, STORE_PREFIX
from tests.support.oss_emulator import free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def test_client_has_the_policy_timeouts_and_leaves_retries_to_the_store() -> None:
    client = build_s3_client(region="eu-central-1", policy=StoragePolicy(connect_timeout=3, read_timeout=7))
    config = client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert (config.connect_timeout, config.read_timeout) == (3, 7)
    assert client.meta.region_name == "eu-central-1"
    # the deadlines need botocore's connection classes replaced: fails loudly if a botocore release moves them
    assert track_connections(client)
    pools = client._endpoint.http_session._pool_classes_by_scheme
    assert {scheme: cls.__name__ for scheme, cls in pools.items()} == {
        "http": "_TrackedAWSHTTPConnectionPool", "https": "_TrackedAWSHTTPSConnectionPool"}


def test_client_settings_for_oss_s3_api() -> None:
    client = build_s3_client(
        endpoint_url="https://s3.oss-cn-hangzhou.aliyuncs.com",
        region="cn-hangzhou",
        addressing_style="virtual",
        signature_version="s3",
        checksums="when_required",
    )
    config = client.meta.config
    assert client.meta.endpoint_url == "https://s3.oss-cn-hangzhou.aliyuncs.com"
    assert config.s3 == {"addressing_style": "virtual"}
    assert config.signature_version == "s3"
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"


def test_store_builds_its_own_client_when_none_is_given(s3_client: S3Client) -> None:
    store = S3ObjectStore(S3_BUCKET, STORE_PREFIX, region=S3_REGION, checksums="when_required")
    assert store.client is not s3_client
    store.write_bytes("a.csv", b"1,2")
    assert s3_client.get_object(Bucket=S3_BUCKET, Key=f"{STORE_PREFIX}/a.csv")["Body"].read() == b"1,2"
    assert store.read_bytes("a.csv") == b"1,2"


def test_content_type_is_stored(s3_store: S3ObjectStore, s3_client: S3Client) -> None:
    s3_store.write_bytes("report.html", b"<p>hi</p>", content_type="text/html; charset=utf-8")
    head = s3_client.head_object(Bucket=S3_BUCKET, Key=f"{STORE_PREFIX}/report.html")
    assert head["ContentType"] == "text/html; charset=utf-8"


def test_folder_markers_are_not_listed(s3_store: S3ObjectStore, s3_client: S3Client) -> None:
    s3_client.put_object(Bucket=S3_BUCKET, Key=f"{STORE_PREFIX}/empty-folder/", Body=b"")
    s3_store.write_bytes("empty-folder/real.csv", b"x")
    assert [info.key for info in s3_store.list()] == ["empty-folder/real.csv"]


def test_missing_bucket_is_a_storage_error_not_a_missing_object(s3_client: S3Client) -> None:
    store = S3ObjectStore("no-such-bucket", "p", client=s3_client)
    with pytest.raises(
        StorageError, match=r"S3 get of s3://no-such-bucket/p/a.csv failed: HTTP 404 NoSuchBucket"
    ) as raised:
        store.read_bytes("a.csv")
    assert not isinstance(raised.value, NotFoundError)
    with pytest.raises(StorageError, match="S3 list of s3://no-such-bucket/p/ failed"):
        list(store.list())


def test_unreachable_endpoint_fails_after_retries_without_leaking_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTKEYID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "SECRET-ACCESS-KEY-VALUE")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    sleeps: list[float] = []
    store = S3ObjectStore(
        "bills", "raw", endpoint_url=f"http://127.0.0.1:{free_port()}", region=S3_REGION,
        policy=StoragePolicy(attempts=2), sleep=sleeps.append,
    )
    attempts: list[str] = []

    def count_attempt(**_: Any) -> None:
        attempts.append("put")

    store.client.meta.events.register("before-send.s3.PutObject", count_attempt)
    with pytest.raises(
        StorageError, match=r"S3 put of s3://bills/raw/2024-05.csv failed after 2 attempts in [\d.]+ s: "
                            r"EndpointConnectionError"
    ) as raised:
        store.write_bytes("2024-05.csv", b"data")
    assert "SECRET-ACCESS-KEY-VALUE" not in str(raised.value)
    assert attempts == ["put", "put"]
    assert sleeps == [0.5]
