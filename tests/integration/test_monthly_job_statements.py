"""The scheduled monthly job (``run_monthly``) composing the statements: settings, mailer and ledger.

SMTP as Alibaba DirectMail is configured for Function Compute: host, port and user from the environment, the
password from SMTP_PASSWORD (local runs) or from KMS Secrets Manager with the role's STS credentials (a
deployment), STARTTLS on a port other than 465; the server is a real aiosmtpd on 127.0.0.1 with a login.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chargeback.config.environment import Settings
from chargeback.errors import ConfigError, StorageError
from chargeback.jobs.monthly import MonthStatements, run_monthly
from chargeback.runtime.clients import OssCredentials, build_clients
from chargeback.runtime.entry import compose
from chargeback.storage import LocalObjectStore
from tests.support.allocations import MAPPING_YAML, publish_sample
from tests.support.kms import FakeKms, kms_server
from tests.support.mail import parse_message
from tests.support.smtp import HOST, RecordingHandler, make_certificate, smtp_server
from tests.support.statements import check_statement, expected_totals


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return make_certificate(tmp_path_factory.mktemp("tls"))


def test_monthly_job_sends_each_statement_once_through_smtp(tmp_path, certificate):
    warehouse = LocalObjectStore(tmp_path / "warehouse")
    publish_sample(warehouse)
    handler = RecordingHandler()
    with smtp_server(handler, mode="starttls", certificate=certificate,
                     users={"chargeback@example.com": "direct-mail-pw"}) as server:
        mapping = tmp_path / "mapping.yaml"
        # The relay's private CA is the one thing the mapping adds; host, port and login come from settings.
        mapping.write_text(MAPPING_YAML.replace("  finance_cc: [finance@example.com]\n",
                                                f"  smtp: {{ca_file: '{server.ca_file}'}}\n"))
        env = {
            "CHARGEBACK_SOURCE_URL": str(tmp_path / "bills"),
            "CHARGEBACK_WAREHOUSE_URL": warehouse.url,
            "CHARGEBACK_MAPPING_URL": str(mapping),
            "CHARGEBACK_DELIVERY": "smtp",
            "CHARGEBACK_SENDER": "chargeback@example.com",
            "CHARGEBACK_FINANCE_CC": "finance@example.com",
            "CHARGEBACK_SMTP_HOST": HOST,
            "CHARGEBACK_SMTP_PORT": str(server.port),
            "CHARGEBACK_SMTP_USER": "chargeback@example.com",
            "SMTP_PASSWORD": "direct-mail-pw",
        }
        settings = Settings.from_env(env)
        clients = build_clients(settings, stores=("warehouse", "mapping"))
        context = compose("monthly", settings, clients, env)
        now = datetime(2026, 6, 5, 2, 30, tzinfo=UTC)

        result = run_monthly(context, date(2026, 6, 5), now=now)
        assert result.months == [MonthStatements("2026-05", "sent", "final", 4)]
        assert len(handler.messages) == 4
        totals = expected_totals()
        for received in handler.messages:
            center = parse_message(received.data)["X-Chargeback-Statement"].split("/")[0]
            check_statement(received.data, center, totals[center])
            assert "finance@example.com" in received.rcpt_tos

        run_monthly(context, date(2026, 6, 6), now=now)  # the schedule's next day
        assert len(handler.messages) == 4


def test_on_function_compute_the_smtp_password_comes_from_kms_with_the_role_credentials(tmp_path, certificate):
    warehouse = LocalObjectStore(tmp_path / "warehouse")
    publish_sample(warehouse)
    role = OssCredentials("STS.NRoleKeyId", "role-key-secret", "CAISrole-sts-token")
    kms = FakeKms(role.access_key_id, role.access_key_secret, role.security_token or "",
                  secrets={"chargeback/smtp": '{"password": "direct-mail-pw"}'})
    handler = RecordingHandler()
    with smtp_server(handler, mode="starttls", certificate=certificate,
                     users={"chargeback@example.com": "direct-mail-pw"}) as server, kms_server(kms) as endpoint:
        mapping = tmp_path / "mapping.yaml"
        mapping.write_text(MAPPING_YAML.replace("  finance_cc: [finance@example.com]\n",
                                                f"  smtp: {{ca_file: '{server.ca_file}'}}\n"))
        env = {
            "CHARGEBACK_SOURCE_URL": str(tmp_path / "bills"), "CHARGEBACK_WAREHOUSE_URL": warehouse.url,
            "CHARGEBACK_MAPPING_URL": str(mapping), "CHARGEBACK_DELIVERY": "smtp",
            "CHARGEBACK_SENDER": "chargeback@example.com", "CHARGEBACK_FINANCE_CC": "finance@example.com",
            "CHARGEBACK_SMTP_HOST": HOST,
            "CHARGEBACK_SMTP_PORT": str(server.port), "CHARGEBACK_SMTP_USER": "chargeback@example.com",
            "CHARGEBACK_SMTP_SECRET_NAME": "chargeback/smtp", "CHARGEBACK_KMS_ENDPOINT": endpoint,
        }
        env = {**env, "CHARGEBACK_ALLOW_INSECURE": "true"}  # the stand-in KMS speaks http on 127.0.0.1
        settings = Settings.from_env(env)
        clients = build_clients(settings, stores=("warehouse", "mapping"), fc_credentials=role)
        assert "role-key-secret" not in repr(clients)
        context = compose("monthly", settings, clients, env)  # the mailer reads the password from KMS here
        result = run_monthly(context, date(2026, 6, 5), now=datetime(2026, 6, 5, 2, 30, tzinfo=UTC))
        assert result.months == [MonthStatements("2026-05", "sent", "final", 4)]
        assert len(handler.messages) == 4  # the SMTP server took the login: the password was the right one
        [call] = kms.calls
        assert (call["Action"], call["SecretName"], call["SecurityToken"]) == (
            "GetSecretValue", "chargeback/smtp", "CAISrole-sts-token")

        missing = Settings.from_env({**env, "CHARGEBACK_SMTP_SECRET_NAME": "chargeback/other"})
        with pytest.raises(StorageError, match=r"cannot read KMS secret 'chargeback/other' \(HTTP 404 "
                                               r"Forbidden.ResourceNotFound") as raised:
            compose("monthly", missing, build_clients(missing, stores=("warehouse", "mapping"),
                                                      fc_credentials=role), env)
        assert "role-key-secret" not in str(raised.value) and "CAISrole" not in str(raised.value)
        with pytest.raises(ConfigError, match="Function Compute role's credentials"):
            compose("monthly", settings, build_clients(settings, stores=("warehouse", "mapping")), env)
        wrong_key = OssCredentials(role.access_key_id, "not-the-secret", role.security_token)
        with pytest.raises(StorageError, match="IncompleteSignature"):  # the stand-in checks the signature
            compose("monthly", settings, build_clients(settings, stores=("warehouse", "mapping"),
                                                       fc_credentials=wrong_key), env)
