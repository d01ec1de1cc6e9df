"""The scheduled monthly job (``run_monthly``) composing the statements: settings, mailer and ledger.

SMTP as Alibaba DirectMail is configured for Function Compute: host, port, user and SMTP_PASSWORD from the
environment, STARTTLS on a port other than 465; the server is a real aiosmtpd on 127.0.0.1 with a login.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chargeback.config.environment import Settings
from chargeback.jobs.monthly import MonthStatements, run_monthly
from chargeback.runtime.clients import build_clients
from chargeback.runtime.entry import compose
from chargeback.storage import LocalObjectStore
from tests.support.allocations import MAPPING_YAML, publish_sample
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
        assert result.months == [MonthStatements("2026-05", "sent", "final", 5)]
        assert len(handler.messages) == 5
        totals = expected_totals()
        for received in handler.messages:
            center = parse_message(received.data)["X-Chargeback-Statement"].split("/")[0]
            if center != "finance":
                check_statement(received.data, center, totals[center])
            # finance gets the finance statement and what no team owns, never a copy of a team's
            assert ("finance@example.com" in received.rcpt_tos) == (center in ("finance", "unallocated"))

        run_monthly(context, date(2026, 6, 6), now=now)  # the schedule's next day
        assert len(handler.messages) == 5
