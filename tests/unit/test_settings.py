"""Settings: typed, read from a mapping, every bad variable named at once, secrets never shown."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from chargeback.errors import ConfigError
from chargeback.settings import Settings

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
    assert settings.delivery == "outbox"
    assert settings.timezone == ZoneInfo("Asia/Shanghai")
    assert settings.final_day == 6
    assert settings.smtp_port == 465
    assert settings.finance_cc == ()


def test_all_fields_parsed() -> None:
    settings = Settings.from_env({
        **BASE, "CHARGEBACK_MAPPING_URL": "s3://warehouse/config/mapping.yaml",
        "CHARGEBACK_DELIVERY": "SMTP", "CHARGEBACK_SENDER": "billing@example.com",
        "CHARGEBACK_FINANCE_CC": "fin@example.com; cfo@example.com", "CHARGEBACK_TIMEZONE": "UTC",
        "CHARGEBACK_FINAL_DAY": "10", "CHARGEBACK_SMTP_HOST": "smtpdm.aliyun.com",
        "CHARGEBACK_SMTP_PORT": "80", "CHARGEBACK_SMTP_USER": "billing@example.com",
        "CHARGEBACK_SMTP_SECRET_ARN": ARN,
    })
    assert settings.delivery == "smtp"
    assert settings.finance_cc == ("fin@example.com", "cfo@example.com")
    assert settings.timezone == ZoneInfo("UTC")
    assert (settings.final_day, settings.smtp_port) == (10, 80)
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
    assert message.startswith("environment: invalid settings: ")


def test_smtp_needs_host_user_sender_and_a_password_source() -> None:
    message = problems({**BASE, "CHARGEBACK_DELIVERY": "smtp"})
    assert "CHARGEBACK_SENDER: required when CHARGEBACK_DELIVERY=smtp" in message
    assert "CHARGEBACK_SMTP_HOST: required when CHARGEBACK_DELIVERY=smtp" in message
    assert "CHARGEBACK_SMTP_USER: required when CHARGEBACK_DELIVERY=smtp" in message
    assert ("CHARGEBACK_SMTP_SECRET_ARN, CHARGEBACK_SMTP_SECRET_NAME or SMTP_PASSWORD: one is required"
            in message)


def test_ses_needs_a_sender() -> None:
    assert problems({**BASE, "CHARGEBACK_DELIVERY": "ses"}) == (
        "environment: invalid settings: CHARGEBACK_SENDER: required when CHARGEBACK_DELIVERY=ses")


def test_oss_urls_need_an_endpoint() -> None:
    message = problems({**BASE, "CHARGEBACK_SOURCE_URL": "oss://bills/prefix"})
    assert message.endswith("CHARGEBACK_OSS_ENDPOINT: required for oss:// URLs")
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
    assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == secret


def test_env_names_by_platform() -> None:
    shared = {
        "CHARGEBACK_SOURCE_URL", "CHARGEBACK_WAREHOUSE_URL", "CHARGEBACK_MAPPING_URL", "CHARGEBACK_DELIVERY",
        "CHARGEBACK_SENDER", "CHARGEBACK_FINANCE_CC", "CHARGEBACK_TIMEZONE", "CHARGEBACK_FINAL_DAY",
        "CHARGEBACK_SMTP_HOST", "CHARGEBACK_SMTP_PORT", "CHARGEBACK_SMTP_USER", "CHARGEBACK_OSS_ENDPOINT",
        "CHARGEBACK_STORAGE_DEADLINE",
    }
    assert Settings.env_names("aws") == shared | {"CHARGEBACK_SMTP_SECRET_ARN", "CHARGEBACK_OSS_SECRET_ARN"}
    assert Settings.env_names("fc") == shared | {"CHARGEBACK_SMTP_SECRET_NAME", "CHARGEBACK_KMS_ENDPOINT"}
    # a plain password is for local runs only: no deployment sets it
    assert Settings.env_names() == Settings.env_names("aws") | Settings.env_names("fc") | {"SMTP_PASSWORD"}
    assert Settings.required_env_names() == {"CHARGEBACK_SOURCE_URL", "CHARGEBACK_WAREHOUSE_URL"}


def test_a_kms_secret_name_needs_the_kms_endpoint_and_excludes_the_other_password_sources() -> None:
    smtp = {**BASE, "CHARGEBACK_DELIVERY": "smtp", "CHARGEBACK_SENDER": "billing@example.com",
            "CHARGEBACK_SMTP_HOST": "smtpdm.aliyun.com", "CHARGEBACK_SMTP_USER": "billing@example.com"}
    settings = Settings.from_env({**smtp, "CHARGEBACK_SMTP_SECRET_NAME": "chargeback/smtp",
                                  "CHARGEBACK_KMS_ENDPOINT": "https://kms.cn-hangzhou.aliyuncs.com"})
    assert (settings.smtp_secret_name, settings.kms_endpoint) == ("chargeback/smtp",
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
