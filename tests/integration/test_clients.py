"""Clients are built once from the settings; secrets come from moto Secrets Manager or the FC context."""

from __future__ import annotations

import json

import boto3
import pytest

from chargeback.config.environment import Settings
from chargeback.errors import ConfigError, StorageError
from chargeback.runtime.clients import OssCredentials, build_clients, open_store, store_options
from chargeback.storage import StoragePolicy
from chargeback.storage.s3 import S3ObjectStore
from tests.support.aws import aws

__all__ = ["aws"]

BASE = {"CHARGEBACK_SOURCE_URL": "oss://example-bill-bucket/bills", "CHARGEBACK_WAREHOUSE_URL": "s3://warehouse",
        "CHARGEBACK_OSS_ENDPOINT": "https://oss-cn-hangzhou.aliyuncs.com"}


def secret(session: boto3.Session, name: str, value: str) -> str:
    arn: str = session.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"]
    return arn


def test_oss_keys_from_secrets_manager(aws: boto3.Session) -> None:
    oss_arn = secret(aws, "chargeback/oss", json.dumps({"access_key_id": "LTAI5tExample",
                                                        "access_key_secret": "oss-secret-value"}))
    smtp_arn = secret(aws, "chargeback/smtp", json.dumps({"password": "smtp-secret-value"}))
    settings = Settings.from_env({**BASE, "CHARGEBACK_OSS_SECRET_ARN": oss_arn, "CHARGEBACK_DELIVERY": "smtp",
                                  "CHARGEBACK_SENDER": "billing@example.com",
                                  "CHARGEBACK_SMTP_HOST": "smtpdm.aliyun.com",
                                  "CHARGEBACK_SMTP_USER": "billing@example.com",
                                  "CHARGEBACK_SMTP_SECRET_ARN": smtp_arn})
    clients = build_clients(settings, session=aws)
    assert clients.oss == OssCredentials("LTAI5tExample", "oss-secret-value")
    assert "secret-value" not in repr(clients)
    assert clients.for_mail() == {"secretsmanager": clients.secrets}  # the SMTP password is read by the mailer
    assert clients.ses is None
    options = store_options(settings.source_url, settings, clients)
    policy = StoragePolicy()  # CHARGEBACK_STORAGE_DEADLINE unset: the defaults
    assert options == {"endpoint": "https://oss-cn-hangzhou.aliyuncs.com", "access_key_id": "LTAI5tExample",
                       "access_key_secret": "oss-secret-value", "security_token": None, "policy": policy}
    assert store_options(settings.warehouse_url, settings, clients) == {"client": clients.s3, "policy": policy}
    # the S3 client has the policy's timeouts and leaves the retries to the store
    config = clients.s3.meta.config
    assert (config.connect_timeout, config.read_timeout) == (policy.connect_timeout, policy.read_timeout)
    assert config.retries["total_max_attempts"] == 1


def test_the_storage_deadline_setting_bounds_every_store(aws: boto3.Session) -> None:
    settings = Settings.from_env({**BASE, "CHARGEBACK_SOURCE_URL": "s3://bills/x", "CHARGEBACK_STORAGE_DEADLINE": "40"})
    clients = build_clients(settings, session=aws)
    store = open_store(settings.warehouse_url, settings, clients)
    assert isinstance(store, S3ObjectStore)
    assert store.policy == StoragePolicy.within(40) and store.policy.request_deadline == 8
    assert clients.s3.meta.config.connect_timeout == 5


def test_ses_clients(aws: boto3.Session) -> None:
    settings = Settings.from_env({"CHARGEBACK_SOURCE_URL": "s3://bills/x", "CHARGEBACK_WAREHOUSE_URL": "s3://wh",
                                  "CHARGEBACK_DELIVERY": "ses", "CHARGEBACK_SENDER": "billing@example.com"})
    clients = build_clients(settings, session=aws)
    assert clients.ses is not None and clients.sesv2 is not None
    assert clients.for_mail() == {"sesv2": clients.sesv2, "secretsmanager": clients.secrets}
    assert clients.oss is None


def test_fc_role_credentials_serve_oss_without_aws() -> None:
    settings = Settings.from_env({**BASE, "CHARGEBACK_WAREHOUSE_URL": "oss://example-warehouse/chargeback",
                                  "SMTP_PASSWORD": "fc-smtp-password", "CHARGEBACK_DELIVERY": "smtp",
                                  "CHARGEBACK_SENDER": "billing@example.com",
                                  "CHARGEBACK_SMTP_HOST": "smtpdm.aliyun.com",
                                  "CHARGEBACK_SMTP_USER": "billing@example.com"})
    sts = OssCredentials("STS.NTest", "sts-secret", "CAIStoken")
    clients = build_clients(settings, fc_credentials=sts)
    assert clients.session is None and clients.s3 is None  # no AWS client on Function Compute
    assert clients.oss == sts
    assert clients.for_mail() == {}
    assert store_options(settings.warehouse_url, settings, clients)["security_token"] == "CAIStoken"


def test_only_the_stores_a_job_opens_get_credentials(aws: boto3.Session) -> None:
    # the monthly job reads the warehouse only: the OSS secret of the bill bucket is not fetched
    arn = "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:chargeback/oss-AbCdEf"  # does not exist
    settings = Settings.from_env({**BASE, "CHARGEBACK_OSS_SECRET_ARN": arn})
    clients = build_clients(settings, stores=("warehouse", "mapping"), session=aws)
    assert clients.oss is None and clients.s3 is not None
    with pytest.raises(StorageError, match="cannot read secret"):
        build_clients(settings, session=aws)


def test_oss_without_credentials_is_a_config_error() -> None:
    settings = Settings.from_env({**BASE, "CHARGEBACK_WAREHOUSE_URL": "oss://example-warehouse"})
    with pytest.raises(ConfigError, match="CHARGEBACK_OSS_SECRET_ARN: required for oss:// URLs outside"):
        build_clients(settings)


def test_bad_or_missing_secrets(aws: boto3.Session) -> None:
    arn = secret(aws, "chargeback/oss-bad", json.dumps({"id": "LTAI5tExample", "key": "leak-me-not"}))
    settings = Settings.from_env({**BASE, "CHARGEBACK_OSS_SECRET_ARN": arn})
    expected = "must be JSON with 'access_key_id' and 'access_key_secret'"
    with pytest.raises(ConfigError, match=expected) as caught:
        build_clients(settings, session=aws)
    assert "leak-me-not" not in str(caught.value)
    missing = arn.replace("oss-bad", "oss-gone")
    settings = Settings.from_env({**BASE, "CHARGEBACK_OSS_SECRET_ARN": missing})
    with pytest.raises(StorageError, match=r"cannot read secret .*ResourceNotFoundException"):
        build_clients(settings, session=aws)


def test_fc_context_credentials() -> None:
    from types import SimpleNamespace

    context = SimpleNamespace(credentials=SimpleNamespace(access_key_id="STS.a", access_key_secret="b",
                                                          security_token="c"))
    assert OssCredentials.from_fc_context(context) == OssCredentials("STS.a", "b", "c")
    assert OssCredentials.from_fc_context(SimpleNamespace()) is None
