"""What only the OSS adapter does: credentials, endpoint, retries with backoff, error translation."""

from __future__ import annotations

from typing import Any

import oss2
import pytest
from oss2.exceptions import NoSuchKey, RequestError, ServerError

from chargeback.errors import ConfigError, NotFoundError, StorageError
from chargeback.storage.oss import OssObjectStore
from chargeback.storage.policy import StoragePolicy
from tests.support.fixtures import OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, OSS_REGION
from tests.support.oss_emulator import free_port

ENV_CREDENTIALS = {"OSS_ACCESS_KEY_ID": "env-key-id", "OSS_ACCESS_KEY_SECRET": "env-key-secret"}


def server_error(status: int, code: str, message: str = "") -> ServerError:
    return ServerError(status, {"x-oss-request-id": "REQ-1"}, b"", {"Code": code, "Message": message})


class ScriptedBucket:
    """An oss2.Bucket stand-in: each method raises the scripted errors in turn, then answers."""

    def __init__(self, **scripts: list[Exception]) -> None:
        self.scripts = scripts
        self.calls: list[str] = []

    def _answer(self, method: str, result: Any) -> Any:
        self.calls.append(method)
        script = self.scripts.get(method, [])
        if script:
            raise script.pop(0)
        return result

    def put_object(self, key: str, data: bytes, headers: Any = None) -> None:
        return self._answer("put_object", None)

    def get_object(self, key: str, byte_range: Any = None, headers: Any = None) -> Any:
        return self._answer("get_object", None)

    def object_exists(self, key: str) -> bool:
        return bool(self._answer("object_exists", True))

    def delete_object(self, key: str) -> None:
        return self._answer("delete_object", None)


def scripted_store(bucket: ScriptedBucket, sleeps: list[float], attempts: int = 5) -> OssObjectStore:
    return OssObjectStore("bills", "raw", bucket_client=bucket, policy=StoragePolicy(attempts=attempts),
                          sleep=sleeps.append)


def test_credentials_come_from_the_environment(oss_server: str, oss_bucket: oss2.Bucket) -> None:
    store = OssObjectStore(oss_bucket.bucket_name, "p", endpoint=oss_server, environ=ENV_CREDENTIALS)
    assert isinstance(store.client.auth, oss2.AuthV2)
    store.write_bytes("a.txt", b"from env")
    assert oss_bucket.get_object("p/a.txt").read() == b"from env"


def test_a_region_means_v4_signing(oss_server: str, oss_bucket: oss2.Bucket) -> None:
    store = OssObjectStore(
        oss_bucket.bucket_name, "p", endpoint=oss_server, region=OSS_REGION, environ=ENV_CREDENTIALS
    )
    assert isinstance(store.client.auth, oss2.AuthV4)
    assert store.client.region == OSS_REGION
    store.write_bytes("a.txt", b"v4")
    assert [info.key for info in store.list()] == ["a.txt"]


def test_a_security_token_means_sts_credentials(oss_server: str, oss_bucket: oss2.Bucket) -> None:
    environ = {**ENV_CREDENTIALS, "OSS_SECURITY_TOKEN": "sts-token"}
    store = OssObjectStore(
        oss_bucket.bucket_name, "p", endpoint=oss_server, region=OSS_REGION, environ=environ
    )
    assert isinstance(store.client.auth, oss2.StsAuth)
    assert store.client.auth.auth_version() == oss2.AUTH_VERSION_4
    store.write_bytes("a.txt", b"sts")
    assert store.read_bytes("a.txt") == b"sts"


def test_explicit_keys_win_and_take_no_token_from_the_environment() -> None:
    environ = {**ENV_CREDENTIALS, "OSS_SECURITY_TOKEN": "sts-token"}
    store = OssObjectStore(
        "bills", region=OSS_REGION, access_key_id="arg-id", access_key_secret="arg-secret", environ=environ
    )
    assert isinstance(store.client.auth, oss2.AuthV4)
    assert store.client.auth.credentials_provider.get_credentials().get_access_key_id() == "arg-id"


def test_missing_credentials_name_the_variables() -> None:
    with pytest.raises(ConfigError, match="OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET"):
        OssObjectStore("bills", region=OSS_REGION, environ={})
    with pytest.raises(ConfigError, match="OSS credentials are missing"):
        OssObjectStore("bills", region=OSS_REGION, access_key_id="only-the-id", environ=ENV_CREDENTIALS)


def test_endpoint_defaults_to_the_regions_public_endpoint() -> None:
    store = OssObjectStore("bills", region="cn-shanghai", environ=ENV_CREDENTIALS)
    assert store.client.endpoint == "https://oss-cn-shanghai.aliyuncs.com"
    with pytest.raises(ConfigError, match="needs an endpoint or a region"):
        OssObjectStore("bills", environ=ENV_CREDENTIALS)


def test_transient_errors_are_retried_with_doubling_waits() -> None:
    sleeps: list[float] = []
    bucket = ScriptedBucket(
        put_object=[RequestError(ConnectionResetError("reset")), server_error(503, "Busy")]
    )
    scripted_store(bucket, sleeps).write_bytes("a.csv", b"1")
    assert bucket.calls == ["put_object"] * 3
    assert sleeps == [0.5, 1.0]


def test_a_missing_object_is_not_retried() -> None:
    sleeps: list[float] = []
    bucket = ScriptedBucket(get_object=[NoSuchKey(404, {}, b"", {"Code": "NoSuchKey"})])
    with pytest.raises(NotFoundError, match=r"^oss://bills/raw/a.csv does not exist$"):
        scripted_store(bucket, sleeps).open("a.csv")
    assert (bucket.calls, sleeps) == (["get_object"], [])


def test_a_permanent_error_is_not_retried_and_names_the_object() -> None:
    sleeps: list[float] = []
    bucket = ScriptedBucket(
        delete_object=[server_error(403, "AccessDenied", "You have no right to access this object.")]
    )
    with pytest.raises(StorageError) as raised:
        scripted_store(bucket, sleeps).delete("a.csv")
    assert str(raised.value) == (
        "OSS delete of oss://bills/raw/a.csv failed: HTTP 403 AccessDenied: "
        "You have no right to access this object. (request id REQ-1)"
    )
    assert not isinstance(raised.value, NotFoundError)
    assert (bucket.calls, sleeps) == (["delete_object"], [])


def test_gives_up_after_the_configured_attempts() -> None:
    sleeps: list[float] = []
    bucket = ScriptedBucket(object_exists=[server_error(500, "InternalError")] * 10)
    with pytest.raises(
        StorageError,
        match=r"OSS head of oss://bills/raw/a.csv failed after 3 attempts in [\d.]+ s: HTTP 500 InternalError",
    ):
        scripted_store(bucket, sleeps, attempts=3).exists("a.csv")
    assert bucket.calls == ["object_exists"] * 3
    assert sleeps == [0.5, 1.0]


def test_a_failed_listing_page_is_fetched_again(oss_bucket: oss2.Bucket) -> None:
    for number in range(5):
        oss_bucket.put_object(f"p/{number}.csv", b"x")
    list_objects_v2 = oss_bucket.list_objects_v2
    calls: list[str] = []

    def second_page_fails_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("continuation_token") or "first")
        if len(calls) == 2:
            raise server_error(503, "ServiceUnavailable")
        return list_objects_v2(*args, **kwargs)

    oss_bucket.list_objects_v2 = second_page_fails_once
    sleeps: list[float] = []
    store = OssObjectStore(
        oss_bucket.bucket_name, "p", bucket_client=oss_bucket, page_size=2, sleep=sleeps.append
    )
    assert [info.key for info in store.list()] == [f"{number}.csv" for number in range(5)]
    assert len(calls) == 4  # 3 pages, the second one twice
    assert calls[1] == calls[2] != "first"
    assert sleeps == [0.5]


def test_unreachable_endpoint_fails_after_retries_without_leaking_secrets() -> None:
    sleeps: list[float] = []
    store = OssObjectStore(
        "bills",
        "raw",
        endpoint=f"http://127.0.0.1:{free_port()}",
        access_key_id="key-id",
        access_key_secret="SECRET-VALUE-123",
        security_token="STS-TOKEN-VALUE-456",
        policy=StoragePolicy(attempts=3),
        sleep=sleeps.append,
    )
    with pytest.raises(
        StorageError, match=r"OSS put of oss://bills/raw/a.csv failed after 3 attempts in [\d.]+ s: no answer"
    ) as raised:
        store.write_bytes("a.csv", b"1")
    assert "SECRET-VALUE-123" not in str(raised.value)
    assert "STS-TOKEN-VALUE-456" not in str(raised.value)
    assert sleeps == [0.5, 1.0]


def test_missing_bucket_is_a_storage_error_not_a_missing_object(oss_server: str) -> None:
    store = OssObjectStore(
        "no-such-bucket",
        endpoint=oss_server,
        access_key_id=OSS_ACCESS_KEY_ID,
        access_key_secret=OSS_ACCESS_KEY_SECRET,
    )
    with pytest.raises(
        StorageError, match=r"OSS get of oss://no-such-bucket/a.csv failed: HTTP 404 NoSuchBucket"
    ) as raised:
        store.read_bytes("a.csv")
    assert not isinstance(raised.value, NotFoundError)


def test_invalid_bucket_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="bad OSS bucket 'Bad_Bucket'"):
        OssObjectStore("Bad_Bucket", region=OSS_REGION, environ=ENV_CREDENTIALS)
