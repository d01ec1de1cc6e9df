"""Settings: typed, read from an environment mapping, every bad variable named at once, secrets never shown."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest

from chargeback.config.environment import DeliveryEnvironment, Settings, check_endpoints
from chargeback.config.resolve import resolve_time_zone
from chargeback.errors import ConfigError

BASE = {"CHARGEBACK_SOURCE_URL": "s3://bills/alibaba", "CHARGEBACK_WAREHOUSE_URL": "s3://warehouse"}
ARN = "arn:aws:secretsmanager:ap-southeast-1:123456789012:secret:chargeback/smtp-AbCdEf"


def problems(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    return str(caught.value)


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.source_url == "s3://bills/alibaba"
    assert settings.mapping_url is None
    assert settings.delivery == DeliveryEnvironment()  # unset: the file or a default decides (resolve)
    assert settings.timezone is None and resolve_time_zone(settings) == ZoneInfo("Asia/Shanghai")
    assert settings.final_day == 6
    assert settings.allow_insecure is False


def test_all_fields_parsed() -> None:
    settings = Settings.from_env({
        **BASE, "CHARGEBACK_MAPPING_URL": "s3://warehouse/config/mapping.yaml",
        "CHARGEBACK_DELIVERY": "SMTP", "CHARGEBACK_SENDER": "billing@example.com",
        "CHARGEBACK_FINANCE_CC": "fin@example.com; cfo@example.com", "CHARGEBACK_TIMEZONE": "UTC",
        "CHARGEBACK_FINAL_DAY": "10", "CHARGEBACK_SMTP_HOST": "smtpdm.aliyun.com",
        "CHARGEBACK_SMTP_PORT": "80", "CHARGEBACK_SMTP_USER": "billing@example.com",
        "CHARGEBACK_SMTP_SECRET_ARN": ARN,
    })
    assert settings.delivery.backend == "smtp"
    assert settings.delivery.finance_cc == ("fin@example.com", "cfo@example.com")
    assert settings.timezone == ZoneInfo("UTC")
    assert (settings.final_day, settings.delivery.smtp_port) == (10, 80)
    assert settings.delivery.smtp_secret_arn == ARN
    assert settings.object_urls == ("s3://bills/alibaba", "s3://warehouse", "s3://warehouse/config/mapping.yaml")


def test_empty_values_count_as_unset() -> None:
    settings = Settings.from_env({**BASE, "CHARGEBACK_FINAL_DAY": "", "CHARGEBACK_MAPPING_URL": " "})
    assert settings.final_day == 6
    assert settings.mapping_url is None


def test_every_bad_variable_is_named_at_once() -> None:
    message = problems({
        "CHARGEBACK_SOURCE_URL": "ftp://bills", "CHARGEBACK_DELIVERY": "pigeon",
        "CHARGEBACK_TIMEZONE": "Mars/Base",
        "CHARGEBACK_FINAL_DAY": "31", "CHARGEBACK_FINANCE_CC": "fin@example.com, not-an-address",
        "CHARGEBACK_SMTP_PORT": "smtp", "CHARGEBACK_OSS_SECRET_ARN": "oss-keys",
        "CHARGEBACK_MAPPING_URL": "s3://warehouse/",
    })
    for expected in (
        "CHARGEBACK_SOURCE_URL: 'ftp://bills' is not a file path or a file://, s3:// or oss:// URL",
        "CHARGEBACK_WAREHOUSE_URL: required",
        "CHARGEBACK_DELIVERY: 'pigeon' is not one of outbox, smtp, ses",
        "CHARGEBACK_TIMEZONE: 'Mars/Base' is not an IANA time zone",
        "CHARGEBACK_FINAL_DAY: 31 is not between 1 and 28",
        "CHARGEBACK_FINANCE_CC: not an email address: 'not-an-address'",
        "CHARGEBACK_SMTP_PORT: 'smtp' is not a whole number",
        "CHARGEBACK_OSS_SECRET_ARN: 'oss-keys' is not a Secrets Manager secret ARN",
        "CHARGEBACK_MAPPING_URL: 's3://warehouse/' names a bucket but no object key",
    ):
        assert expected in message
    assert message.startswith("environment: 9 problems:\n  CHARGEBACK_SOURCE_URL: ")


def test_one_bad_variable_reads_as_one_line() -> None:
    assert problems({**BASE, "CHARGEBACK_SENDER": "billing"}) == (
        "environment: CHARGEBACK_SENDER: 'billing' is not an email address (or 'Name <address>')")


def test_oss_urls_need_an_endpoint() -> None:
    message = problems({**BASE, "CHARGEBACK_SOURCE_URL": "oss://bills/prefix"})
    assert message == "environment: CHARGEBACK_OSS_ENDPOINT: required for oss:// URLs"
    settings = Settings.from_env({**BASE, "CHARGEBACK_SOURCE_URL": "oss://bills/prefix",
                                  "CHARGEBACK_OSS_ENDPOINT": "oss-cn-hangzhou-internal.aliyuncs.com"})
    assert settings.uses("oss") and settings.uses("s3")


def test_secret_values_never_appear() -> None:
    secret = "Sup3r-S3cret!"
    env = {**BASE, "SMTP_PASSWORD": secret, "CHARGEBACK_SMTP_SECRET_ARN": ARN, "CHARGEBACK_DELIVERY": "smtp"}
    message = problems(env)
    assert "CHARGEBACK_SMTP_SECRET_ARN and SMTP_PASSWORD: set only one" in message
    assert secret not in message
    settings = Settings.from_env({**BASE, "SMTP_PASSWORD": secret})
    assert secret not in repr(settings)
    assert secret not in str(settings.describe())
    assert settings.describe()["SMTP_PASSWORD"] == "set"
    password = settings.delivery.smtp_password
    assert password is not None and password.get_secret_value() == secret


def test_env_names_by_platform() -> None:
    shared = {
        "CHARGEBACK_SOURCE_URL", "CHARGEBACK_WAREHOUSE_URL", "CHARGEBACK_MAPPING_URL", "CHARGEBACK_DELIVERY",
        "CHARGEBACK_SENDER", "CHARGEBACK_FINANCE_CC", "CHARGEBACK_TIMEZONE", "CHARGEBACK_FINAL_DAY",
        "CHARGEBACK_SMTP_HOST", "CHARGEBACK_SMTP_PORT", "CHARGEBACK_SMTP_USER", "CHARGEBACK_OSS_ENDPOINT",
        "CHARGEBACK_STORAGE_DEADLINE",
    }
    assert Settings.env_names("aws") == shared | {"CHARGEBACK_SMTP_SECRET_ARN", "CHARGEBACK_OSS_SECRET_ARN"}
    assert Settings.env_names("fc") == shared | {"CHARGEBACK_SMTP_SECRET_NAME", "CHARGEBACK_KMS_ENDPOINT"}
    # CHARGEBACK_ALLOW_INSECURE and a plain SMTP_PASSWORD are read, but no deployment may set them
    assert Settings.env_names() == Settings.env_names("aws") | Settings.env_names("fc") | {
        "CHARGEBACK_ALLOW_INSECURE", "SMTP_PASSWORD"}
    assert Settings.required_env_names() == {"CHARGEBACK_SOURCE_URL", "CHARGEBACK_WAREHOUSE_URL"}


def test_a_kms_secret_name_needs_the_kms_endpoint_and_excludes_the_other_password_sources() -> None:
    smtp = {**BASE, "CHARGEBACK_DELIVERY": "smtp", "CHARGEBACK_SENDER": "billing@example.com",
            "CHARGEBACK_SMTP_HOST": "smtpdm.aliyun.com", "CHARGEBACK_SMTP_USER": "billing@example.com"}
    settings = Settings.from_env({**smtp, "CHARGEBACK_SMTP_SECRET_NAME": "chargeback/smtp",
                                  "CHARGEBACK_KMS_ENDPOINT": "https://kms.cn-hangzhou.aliyuncs.com"})
    assert (settings.delivery.smtp_secret_name, settings.delivery.kms_endpoint) == ("chargeback/smtp",
        "https://kms.cn-hangzhou.aliyuncs.com")
    message = problems({**smtp, "CHARGEBACK_SMTP_SECRET_NAME": "chargeback/smtp", "SMTP_PASSWORD": "pw"})
    assert "CHARGEBACK_KMS_ENDPOINT: required with CHARGEBACK_SMTP_SECRET_NAME" in message
    assert "CHARGEBACK_SMTP_SECRET_NAME and SMTP_PASSWORD: set only one" in message
    assert "not a KMS secret name" in problems({**smtp, "CHARGEBACK_SMTP_SECRET_NAME": "bad name!"})


def test_storage_deadline_defaults_to_five_minutes_and_stays_within_the_function_timeout() -> None:
    assert Settings.from_env(BASE).storage_deadline == 300.0
    assert Settings.from_env({**BASE, "CHARGEBACK_STORAGE_DEADLINE": "45"}).storage_deadline == 45.0
    assert "CHARGEBACK_STORAGE_DEADLINE: 901 is not between 1 and 900 seconds" in problems(
        {**BASE, "CHARGEBACK_STORAGE_DEADLINE": "901"})
    assert "CHARGEBACK_STORAGE_DEADLINE: 'soon' is not a number of seconds" in problems(
        {**BASE, "CHARGEBACK_STORAGE_DEADLINE": "soon"})


def test_only_its_own_variables_are_read() -> None:
    settings = Settings.from_env({**BASE, "AWS_SECRET_ACCESS_KEY": "x", "PATH": "/bin"})
    assert "AWS_SECRET_ACCESS_KEY" not in settings.describe()


def test_storage_endpoints_must_be_https_unless_insecure_is_allowed() -> None:
    oss = {**BASE, "CHARGEBACK_SOURCE_URL": "oss://bills/prefix", "CHARGEBACK_OSS_ENDPOINT": "http://127.0.0.1:9000"}
    message = problems(oss)
    assert message == ("environment: CHARGEBACK_OSS_ENDPOINT: 'http://127.0.0.1:9000' is not https: credentials "
                       "and bills would travel unencrypted (set CHARGEBACK_ALLOW_INSECURE=true for a local test "
                       "server only)")
    assert Settings.from_env({**oss, "CHARGEBACK_ALLOW_INSECURE": "true"}).allow_insecure is True
    assert "CHARGEBACK_ALLOW_INSECURE: 'maybe' is not true or false" in problems(
        {**oss, "CHARGEBACK_ALLOW_INSECURE": "maybe"})
    # the command line hands OSS_ENDPOINT and AWS_ENDPOINT_URL to the SDKs: the same rule
    with pytest.raises(ConfigError, match=re.escape("AWS_ENDPOINT_URL: 'http://minio.internal:9000' is not https")):
        check_endpoints({"AWS_ENDPOINT_URL": "http://minio.internal:9000", "OSS_ENDPOINT": "https://oss.example"})
    check_endpoints({"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "CHARGEBACK_ALLOW_INSECURE": "1"})
    # oss2 reads a bare host as http://: the command line asks for the scheme, the settings add https
    with pytest.raises(ConfigError, match=re.escape("write https://oss-cn-hangzhou.aliyuncs.com")):
        check_endpoints({"OSS_ENDPOINT": "oss-cn-hangzhou.aliyuncs.com"})
    bare = Settings.from_env({**oss, "CHARGEBACK_OSS_ENDPOINT": "oss-cn-hangzhou.aliyuncs.com"})
    assert bare.oss_endpoint == "https://oss-cn-hangzhou.aliyuncs.com"
