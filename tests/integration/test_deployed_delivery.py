"""The deployed path as the platforms call it: what every statement and alert says in From, To and Cc.

Each case invokes the real handlers (``functions/*/handler.py``) the way its platform does: Lambda with an
EventBridge Scheduler input, Function Compute with timer-trigger bytes and a context carrying the role's STS
credentials, or through the custom container's HTTP protocol (``chargeback.runtime.fc_server``). Bills and
warehouse live on file://, S3 (moto) or OSS (oss2 against the local emulator); mail goes to the outbox, a real
SMTP server (aiosmtpd on 127.0.0.1, STARTTLS with a login) or SES (moto).

In every case ``CHARGEBACK_SENDER`` is set, the mapping's ``delivery.sender`` names another address, and only
the mapping names the finance recipients (``delivery.finance_cc``; ``CHARGEBACK_FINANCE_CC`` is unset). As the
README's table says, the environment's sender wins and the file's finance recipients apply: every alert and
every statement goes out From ``CHARGEBACK_SENDER``, and finance receives the one finance statement.
"""

from __future__ import annotations

import email
import http.client
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import getaddresses
from pathlib import Path
from typing import Any

import boto3
import oss2
import pytest
from functions.daily import handler as daily
from functions.monthly import handler as monthly
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chargeback.config.environment import Settings
from chargeback.runtime.fc_server import load_handler, make_server
from chargeback.storage import LocalObjectStore, ObjectStore
from chargeback.storage.oss import OssObjectStore
from chargeback.storage.s3 import S3ObjectStore
from tests.support.aws import REGION, aws
from tests.support.fixtures import OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET
from tests.support.functions import BILLS, FC_CONTEXT, LAMBDA_CONTEXT, TEAMS, fc_timer, scheduler_event, stock_s3
from tests.support.smtp import HOST, RecordingHandler, make_certificate, smtp_server

__all__ = ["aws"]

SENDER = "billing@example.com"
FINANCE = "finance@example.com"
SMTP_USER = "chargeback@example.com"
SMTP_PASSWORD = "direct-mail-password"

MAPPING = TEAMS + """\
delivery:
  sender: "From The File <file-sender@example.com>"   # CHARGEBACK_SENDER wins
  finance_cc: [finance@example.com]                   # CHARGEBACK_FINANCE_CC is unset: this applies
"""
# In May search spends 19.75 CNY of a budget of 10 (an alert to its owner) and research 3.125 of 1 (an alert to
# its owner and to the finops e-mail channel)
ALERTS = """\
alerts:
  budgets:
    - {cost_center: search, monthly: 10, thresholds: [100]}
    - {cost_center: research, monthly: 1, thresholds: [100], channels: [owners, finops]}
  default_channels: [finops]
  channels:
    finops: {type: email, to: [finops@example.com]}
  forecast: {enabled: false}
  stale_after_hours: 100000   # the bills here are days old on purpose
"""

DAILY_AT, MONTHLY_AT = "2026-06-04T02:30:00Z", "2026-06-05T03:30:00Z"  # 10:30 and 11:30 in Shanghai
_buckets = itertools.count(1)


@dataclass(frozen=True)
class Mail:
    kind: str  # statement | alert
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]


def mail_of(raw: bytes) -> Mail:
    message = email.message_from_bytes(raw)
    kind = "statement" if message["X-Chargeback-Statement"] else "alert" if message["X-Chargeback-Alert"] else "?"

    def addresses(header: str) -> tuple[str, ...]:
        return tuple(sorted(address for _, address in getaddresses(message.get_all(header, []))))

    [(_, sender)] = getaddresses([message["From"]])
    return Mail(kind, sender, addresses("To"), addresses("Cc"))


@dataclass
class Deployment:
    """One platform's environment, stores and mail backend, ready to invoke."""

    env: dict[str, str]
    warehouse: ObjectStore  # to read the outbox back
    sent: Callable[[], list[Mail]]


# ------------------------------------------------------------------------------------------------- stores


def file_stores(tmp_path: Path, mapping: str) -> tuple[dict[str, str], ObjectStore]:
    bills = LocalObjectStore(tmp_path / "bills")
    for key, data in BILLS.items():
        bills.write_bytes(key.removeprefix("bills/"), data)
    (tmp_path / "mapping.yaml").write_text(mapping)
    env = {"CHARGEBACK_SOURCE_URL": (tmp_path / "bills").as_uri(),
           "CHARGEBACK_WAREHOUSE_URL": (tmp_path / "warehouse").as_uri(),
           "CHARGEBACK_MAPPING_URL": (tmp_path / "mapping.yaml").as_uri()}
    return env, LocalObjectStore(tmp_path / "warehouse")


def s3_stores(session: boto3.Session, mapping: str) -> tuple[dict[str, str], ObjectStore]:
    env = stock_s3(session.client("s3"), mapping, REGION)
    return env, S3ObjectStore("chargeback-warehouse", "", client=session.client("s3"))


def oss_stores(endpoint: str, mapping: str) -> tuple[dict[str, str], ObjectStore]:
    number = next(_buckets)
    auth = oss2.AuthV2(OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET)
    bills = oss2.Bucket(auth, endpoint, f"deployed-bills-{number}")
    warehouse = oss2.Bucket(auth, endpoint, f"deployed-warehouse-{number}")
    for bucket in (bills, warehouse):
        bucket.create_bucket()
    for key, data in BILLS.items():
        bills.put_object(key, data)
    warehouse.put_object("chargeback/config/mapping.yaml", mapping.encode())
    env = {"CHARGEBACK_SOURCE_URL": f"oss://{bills.bucket_name}/bills",
           "CHARGEBACK_WAREHOUSE_URL": f"oss://{warehouse.bucket_name}/chargeback",
           "CHARGEBACK_MAPPING_URL": f"oss://{warehouse.bucket_name}/chargeback/config/mapping.yaml",
           "CHARGEBACK_OSS_ENDPOINT": endpoint,
           "CHARGEBACK_ALLOW_INSECURE": "true"}  # the emulator speaks plain http on 127.0.0.1
    return env, OssObjectStore(warehouse.bucket_name, "chargeback", bucket_client=warehouse)


def outbox_mail(warehouse: ObjectStore) -> Callable[[], list[Mail]]:
    def sent() -> list[Mail]:
        return [mail_of(warehouse.read_bytes(info.key)) for info in warehouse.list("outbox/")
                if info.key.endswith(".eml")]

    return sent


def ses_mail() -> list[Mail]:
    messages = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    return [mail_of(message.raw_data.encode()) for message in messages]


def smtp_mail(handler: RecordingHandler) -> Callable[[], list[Mail]]:
    def sent() -> list[Mail]:
        mails = []
        for received in handler.messages:
            mail = mail_of(received.data)
            assert sorted(received.rcpt_tos) == sorted({*mail.to, *mail.cc})  # the envelope matches the headers
            mails.append(mail)
        return mails

    return sent


# -------------------------------------------------------------------------------------------- deployments


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    """Replaces the function's environment: only the given variables of the settings are set."""
    def apply(env: dict[str, str]) -> None:
        for name in Settings.env_names():
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return apply


def deploy(case: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    """Stores and mail for ``case`` ('<platform>-<store>-<delivery>'); yields while the servers run."""
    _, store, delivery = case.split("-")
    smtp = delivery == "smtp"
    mapping = MAPPING + (f"  smtp: {{ca_file: '{request.getfixturevalue('certificate')[0]}'}}\n" if smtp else "")
    mapping += ALERTS
    if store == "file":
        env, warehouse = file_stores(tmp_path, mapping)
    elif store == "s3":
        env, warehouse = s3_stores(request.getfixturevalue("aws"), mapping)
    else:
        env, warehouse = oss_stores(request.getfixturevalue("oss_server"), mapping)
    env |= {"CHARGEBACK_SENDER": SENDER, "CHARGEBACK_DELIVERY": delivery}
    if delivery == "outbox":
        yield Deployment(env, warehouse, outbox_mail(warehouse))
    elif delivery == "ses":
        request.getfixturevalue("aws").client("ses").verify_domain_identity(Domain="example.com")
        yield Deployment(env, warehouse, ses_mail)
    else:
        handler = RecordingHandler()
        with smtp_server(handler, mode="starttls", certificate=request.getfixturevalue("certificate"),
                         users={SMTP_USER: SMTP_PASSWORD}) as server:
            env |= {"CHARGEBACK_SMTP_HOST": HOST, "CHARGEBACK_SMTP_PORT": str(server.port),
                    "CHARGEBACK_SMTP_USER": SMTP_USER}
            if store == "s3":  # on AWS the password is a Secrets Manager secret
                secrets = request.getfixturevalue("aws").client("secretsmanager")
                arn = secrets.create_secret(Name="chargeback/smtp",
                                            SecretString=json.dumps({"password": SMTP_PASSWORD}))["ARN"]
                env["CHARGEBACK_SMTP_SECRET_ARN"] = arn
            else:  # on Function Compute the value itself
                env["SMTP_PASSWORD"] = SMTP_PASSWORD
            yield Deployment(env, warehouse, smtp_mail(handler))


# ------------------------------------------------------------------------------------------------ invoking


def invoke_lambda(job: str, when: str) -> dict[str, Any]:
    handler = daily.lambda_handler if job == "daily" else monthly.lambda_handler
    result: dict[str, Any] = handler(scheduler_event(job, when), LAMBDA_CONTEXT)
    return result


def invoke_fc(job: str, when: str) -> dict[str, Any]:
    handler = daily.handler if job == "daily" else monthly.handler
    result: dict[str, Any] = json.loads(handler(fc_timer(job, when), FC_CONTEXT))
    return result


def invoke_fc_http(job: str, when: str) -> dict[str, Any]:
    """POST /invoke to the custom container's server, as Function Compute does, credentials in headers."""
    server = make_server(load_handler(f"functions.{job}.handler.handler"), host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
        connection.request("POST", "/invoke", body=fc_timer(job, when), headers={
            "x-fc-request-id": "req-deployed", "x-fc-access-key-id": FC_CONTEXT.credentials.access_key_id,
            "x-fc-access-key-secret": FC_CONTEXT.credentials.access_key_secret,
            "x-fc-security-token": FC_CONTEXT.credentials.security_token})
        response = connection.getresponse()
        body = response.read()
        connection.close()
    finally:
        server.shutdown()
        server.server_close()
    assert (response.status, response.getheader("x-fc-status")) == (200, "200"), body
    result: dict[str, Any] = json.loads(body)
    return result


INVOKE = {"lambda": invoke_lambda, "fc": invoke_fc, "fchttp": invoke_fc_http}
CASES = ["lambda-file-outbox", "lambda-s3-ses", "lambda-s3-smtp", "fc-file-smtp", "fc-oss-outbox",
         "fchttp-oss-smtp"]


@pytest.mark.parametrize("case", CASES)
def test_every_alert_and_statement_from_the_sender_and_one_finance_statement(
        case: str, request: pytest.FixtureRequest, tmp_path: Path,
        function_env: Callable[[dict[str, str]], None]) -> None:
    invoke = INVOKE[case.split("-")[0]]
    for deployment in deploy(case, request, tmp_path):
        function_env(deployment.env)
        result = invoke("daily", DAILY_AT)
        assert [(m["month"], m["action"]) for m in result["months"]] == [("2026-05", "ingested"),
                                                                         ("2026-06", "ingested")]
        alerts = deployment.sent()
        assert {(m.kind, m.sender) for m in alerts} == {("alert", SENDER)}
        assert sorted(m.to for m in alerts) == [("finops@example.com",), ("lead@example.com",),
                                                ("research-lead@example.com",)]
        assert all(m.cc == () for m in alerts)

        result = invoke("monthly", MONTHLY_AT)
        assert result["months"] == [{"month": "2026-05", "action": "sent", "kind": "final", "statements": 3}]
        statements = [m for m in deployment.sent() if m.kind == "statement"]
        assert sorted(statements, key=lambda m: m.to) == [
            Mail("statement", SENDER, (FINANCE,), ()),  # the finance statement
            Mail("statement", SENDER, ("lead@example.com",), ()),
            Mail("statement", SENDER, ("research-lead@example.com",), ()),
        ]
        # the next scheduled day sends nothing again: the ledgers hold
        invoke("monthly", "2026-06-06T03:30:00Z")
        invoke("daily", "2026-06-05T02:30:00Z")
        assert len(deployment.sent()) == len(alerts) + 3


def test_the_environment_s_finance_cc_replaces_the_file_s(request: pytest.FixtureRequest, tmp_path: Path,
                                                          function_env: Callable[[dict[str, str]], None]) -> None:
    for deployment in deploy("fc-file-outbox", request, tmp_path):
        function_env({**deployment.env, "CHARGEBACK_FINANCE_CC": "controller@example.com, audit@example.com"})
        invoke_fc("daily", DAILY_AT)
        invoke_fc("monthly", MONTHLY_AT)
        statements = [m for m in deployment.sent() if m.kind == "statement"]
        assert {m.to for m in statements if "lead@example.com" not in m.to
                and "research-lead@example.com" not in m.to} == {("audit@example.com", "controller@example.com")}


def test_without_chargeback_sender_the_file_s_sender_sends_both(request: pytest.FixtureRequest, tmp_path: Path,
                                                                function_env: Callable[[dict[str, str]], None]
                                                                ) -> None:
    for deployment in deploy("lambda-file-outbox", request, tmp_path):
        env = dict(deployment.env)
        del env["CHARGEBACK_SENDER"]
        function_env(env)
        invoke_lambda("daily", DAILY_AT)
        invoke_lambda("monthly", MONTHLY_AT)
        assert {(m.kind, m.sender) for m in deployment.sent()} == {("alert", "file-sender@example.com"),
                                                                  ("statement", "file-sender@example.com")}
