"""Statements through Amazon SES (moto), and an SMTP password read from AWS Secrets Manager (moto)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chargeback.delivery.ses import SesMailer
from chargeback.errors import ConfigError
from chargeback.reporting.job import send_statements
from chargeback.storage import LocalObjectStore
from tests.support.allocations import MONTH, publish_sample, sample_mapping
from tests.support.delivery import mailer_for
from tests.support.mail import parse_message
from tests.support.smtp import HOST, RecordingHandler, make_certificate, smtp_server
from tests.support.statements import check_statement, expected_totals

REGION = "us-east-1"
NOW = datetime(2026, 6, 5, 2, 0, tzinfo=UTC)
SENDER = "Chargeback <chargeback@example.com>"


@pytest.fixture
def aws(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def warehouse(tmp_path):
    store = LocalObjectStore(tmp_path / "warehouse")
    publish_sample(store)
    return store


def sent_messages():
    return ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages


def test_statements_go_through_ses_raw_once(aws, warehouse):
    client = boto3.client("sesv2", region_name=REGION)
    client.create_email_identity(EmailIdentity="example.com")
    mailer = mailer_for({"backend": "ses", "sender": SENDER, "ses": {"region": REGION}},
                          clients={"sesv2": client})
    assert isinstance(mailer, SesMailer)

    results = send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW, sender=SENDER,
                              finance_cc=("finance@example.com",))
    assert [r.outcome for r in results] == ["sent"] * 5
    messages = sent_messages()
    assert len(messages) == 5
    assert {r.delivery_id for r in results} == {m.id for m in messages}
    totals = expected_totals()
    for sent in messages:
        data = sent.raw_data.encode("utf-8")
        center = parse_message(data)["X-Chargeback-Statement"].split("/")[0]
        if center == "finance":
            assert "finance@example.com" in str(sent.destinations)  # the finance statement goes to finance
            continue
        check_statement(data, center, totals[center])

    again = send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW, sender=SENDER,
                            finance_cc=("finance@example.com",))
    assert {r.outcome for r in again} == {"unchanged"}
    assert len(sent_messages()) == 5


def test_an_unverified_sender_fails_every_statement_by_name(aws, warehouse):
    mailer = SesMailer(boto3.client("sesv2", region_name=REGION))
    results = send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW, sender=SENDER,
                              only="search")
    assert [r.outcome for r in results] == ["failed"]
    assert "MessageRejected" in results[0].detail
    assert "lead@search.example.com" in results[0].detail
    assert sent_messages() == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


def test_smtp_password_from_secrets_manager(aws, warehouse, certificate):
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = secrets.create_secret(Name="chargeback/smtp",
                                SecretString=json.dumps({"password": "from-the-vault"}))["ARN"]
    handler = RecordingHandler()
    with smtp_server(handler, mode="starttls", certificate=certificate,
                     users={"chargeback@example.com": "from-the-vault"}) as server:
        config = {"backend": "smtp", "sender": SENDER,
                  "smtp": {"host": HOST, "port": server.port, "security": "starttls",
                           "username": "chargeback@example.com", "password_secret_arn": arn,
                           "ca_file": str(server.ca_file)}}
        mailer = mailer_for(config, env={}, clients={"secretsmanager": secrets})
        [result] = send_statements(warehouse, MONTH, sample_mapping(), mailer, now=NOW, sender=SENDER,
                                   only="ops")
    assert result.outcome == "sent", result.detail
    assert len(handler.messages) == 1


def test_a_missing_secret_is_a_config_error(aws):
    secrets = boto3.client("secretsmanager", region_name=REGION)
    arn = f"arn:aws:secretsmanager:{REGION}:{DEFAULT_ACCOUNT_ID}:secret:chargeback/none-AbCdEf"
    config = {"backend": "smtp", "sender": SENDER,
              "smtp": {"host": HOST, "username": "c@example.com", "password_secret_arn": arn}}
    with pytest.raises(ConfigError, match="cannot read the SMTP password secret"):
        mailer_for(config, env={}, clients={"secretsmanager": secrets})
