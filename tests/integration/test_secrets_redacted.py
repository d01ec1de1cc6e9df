"""No secret reaches a log, an error or stored state, even when a server echoes the request in its answer.

Real servers on 127.0.0.1: an HTTP server whose error bodies repeat the request (DingTalk's URL token and
signature, a Slack webhook's path token, a bearer token), an SMTP server repeating the login, and the OSS
emulator and moto's S3 server behind the fault proxy answering SignatureDoesNotMatch with the request (STS
security token included) echoed. The logs
are read twice: as records (caplog, attached to the package's loggers the way the entry points configure
them) and as the JSON lines a function writes, tracebacks and SDK exception chains included.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import boto3
import oss2
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from chargeback.alerts.channels import build_channels
from chargeback.alerts.job import run_alerts
from chargeback.cli import main
from chargeback.config.file import parse_config_file
from chargeback.delivery import DeliveryError, OutgoingMail
from chargeback.delivery.smtp import SmtpMailer
from chargeback.errors import StorageError
from chargeback.logs import configure_logging
from chargeback.storage import LocalObjectStore, ObjectStore, StoragePolicy
from chargeback.storage.oss import OssObjectStore
from chargeback.storage.s3 import S3ObjectStore, build_s3_client
from tests.support.alert_tables import series
from tests.support.fault_proxy import Fault, FaultProxy
from tests.support.fixtures import OSS_REGION
from tests.support.smtp import HOST, RecordingHandler, free_port, make_certificate
from tests.support.warehouse import publish_month
from tests.support.webhook_servers import echo_server

DING_TOKEN = "ding-access-token-7f3a9c21"
DING_SECRET = "SECding-secret-4b1e8d55"
SLACK_TOKEN = "slack-path-token-9d2c61ab"
SIEM_URL_TOKEN = "siem-url-token-5e6f7788"
SIEM_BEARER = "siem-bearer-token-1a2b3c4d"
OSS_SECRET = "oss-access-key-secret-0c9d8e7f"
OSS_STS_TOKEN = "CAISsts-security-token-3344556677"
AWS_SESSION_TOKEN = "FwoGZXIvYXdzEaws-session-token-99887766"
SECRETS = (DING_TOKEN, DING_SECRET, SLACK_TOKEN, SIEM_URL_TOKEN, SIEM_BEARER, OSS_SECRET, OSS_STS_TOKEN,
           AWS_SESSION_TOKEN)

MAPPING = """
cost_centers:
  search: {owners: [lead@example.com], workspaces: [llm-search], api_keys: ["2100001"]}
alerts:
  default_channels: [ding, slack, siem]
  channels:
    ding: {type: dingtalk, url_env: DING_URL, secret_env: DING_SECRET, allow_insecure: true}   # http on 127.0.0.1
    slack: {type: slack, url_env: SLACK_URL, allow_insecure: true}
    siem: {type: webhook, url_env: SIEM_URL, token_env: SIEM_TOKEN, allow_insecure: true}
  delivery: {timeout_seconds: 2, attempts: 2, backoff_seconds: 0}
"""
DAY, NOW = date(2026, 5, 10), datetime(2026, 5, 10, 9, tzinfo=UTC)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.LogCaptureFixture]:
    """The entry points' logging (JSON to the captured stderr), with caplog's handler on the same loggers."""
    loggers = [logging.getLogger(name) for name in ("chargeback", "oss2")]
    saved = [(logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    configure_logging("json", verbose=True)
    for logger in loggers:
        logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    try:
        yield caplog
    finally:  # as they were: later tests must not write to this test's captured stderr
        for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate


def leaked(*texts: str) -> list[str]:
    return [secret for secret in SECRETS for text in texts if secret in text]


def environ(base: str) -> dict[str, str]:
    return {"DING_URL": f"{base}/robot/send?access_token={DING_TOKEN}", "DING_SECRET": DING_SECRET,
            "SLACK_URL": f"{base}/services/T0001/B0002/{SLACK_TOKEN}",
            "SIEM_URL": f"{base}/siem/alerts?token={SIEM_URL_TOKEN}", "SIEM_TOKEN": SIEM_BEARER}


def stale_month(root: Path) -> LocalObjectStore:
    store = LocalObjectStore(root)
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["1"]), newest_source_time="2026-05-01T00:00:00Z")
    return store


def stored_state(root: Path) -> str:
    return "\n".join(path.read_text() for path in sorted((root / "state" / "alerts").rglob("*.json")))


# ------------------------------------------------------------------------------------------------ webhooks


def test_webhook_errors_that_echo_the_request_are_stored_and_logged_without_its_secrets(
    tmp_path: Path, logs: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    store = stale_month(tmp_path / "warehouse")
    mapping = parse_config_file(MAPPING)
    sent: list[str] = []
    with echo_server(sent) as base:
        channels = build_channels(mapping.alerts, environ=environ(base), mailer=None,
                                  sender="chargeback-alerts@example.com", sleep=lambda _: None)
        run = run_alerts(store, DAY, mapping, channels, now=NOW)
    # the servers did receive every secret, and answered with them
    assert {DING_TOKEN, SLACK_TOKEN, SIEM_URL_TOKEN, SIEM_BEARER} <= {s for s in SECRETS if s in "".join(sent)}
    assert "sign=" in "".join(sent)
    deliveries = {d.channel: d for d in run.outcomes[0].deliveries}
    assert {name: d.status for name, d in deliveries.items()} == {"ding": "failed", "slack": "failed",
                                                                 "siem": "failed"}
    assert deliveries["slack"].errors[0].startswith("HTTP 400: bad request: POST ")
    assert deliveries["ding"].errors[0].startswith("DingTalk errcode 310000: sign not match: POST ")
    assert all("[redacted]" in d.error for d in deliveries.values())
    state = stored_state(tmp_path / "warehouse")
    assert "[redacted]" in state
    err = capsys.readouterr().err
    assert "alert delivery attempt failed" in err  # the attempts were logged (at debug)...
    assert leaked(state, logs.text, err) == []  # ...without a secret


def test_the_alert_command_logs_and_stores_no_secret_from_an_echoing_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse = tmp_path / "warehouse"
    stale_month(warehouse)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    with echo_server() as base:
        for name, value in environ(base).items():
            monkeypatch.setenv(name, value)
        code = main(["--log-format", "json", "-v", "alert", "--warehouse", str(warehouse), "--mapping",
                     str(mapping), "--date", DAY.isoformat(), "--format", "json"])
    assert code == 1  # every channel failed: named, exit 1
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert "[redacted]" in json.dumps(summary)
    assert leaked(captured.out, captured.err, stored_state(warehouse)) == []


# ------------------------------------------------------------------------------------------------- storage


def failing_call(store: ObjectStore) -> StorageError:
    with pytest.raises(StorageError) as raised:
        store.read_bytes("bills/2026-05.csv")
    return raised.value


def log_failure(error: StorageError) -> None:
    """What the entry points do with a failed job: one error record, with the traceback."""
    logging.getLogger("chargeback.jobs").error("daily job failed: %s", error, exc_info=error)


def test_an_oss_error_echoing_the_signed_request_leaks_no_credential(
    oss_server: str, oss_bucket: oss2.Bucket, logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str]
) -> None:
    with FaultProxy(oss_server) as proxy:
        proxy.inject(Fault.echo(403), times=None)
        store = OssObjectStore(oss_bucket.bucket_name, "p", endpoint=proxy.endpoint, region=OSS_REGION,
                               access_key_id="STS.NKeyId", access_key_secret=OSS_SECRET,
                               security_token=OSS_STS_TOKEN, policy=StoragePolicy(attempts=2))
        error = failing_call(store)
        log_failure(error)
        sent = proxy.log[0]
    assert sent.header("x-oss-security-token") == OSS_STS_TOKEN  # the request carried it, the answer echoed it
    # the SDK's exception repeats it: the error's cause is a stand-in with the SDK's type and redacted words
    assert str(error.__cause__).startswith("oss2.exceptions.SignatureDoesNotMatch: HTTP 403")
    assert str(error).startswith(f"OSS get of oss://{oss_bucket.bucket_name}/p/bills/2026-05.csv failed: "
                                 "HTTP 403 SignatureDoesNotMatch: The request signature does not match.")
    err = capsys.readouterr().err
    assert "SignatureDoesNotMatch" in err and "Traceback" in err  # the chain was logged...
    assert leaked(str(error), logs.text, err) == []  # ...without a secret


def test_an_s3_error_echoing_the_signed_request_leaks_no_credential(
    moto_server: str, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "ASIATESTKEYID", "AWS_SECRET_ACCESS_KEY": "aws-secret-key-value",
                        "AWS_SESSION_TOKEN": AWS_SESSION_TOKEN}.items():
        monkeypatch.setenv(name, value)
    boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1").create_bucket(Bucket="echo-bills")
    with FaultProxy(moto_server) as proxy:
        proxy.inject(Fault.echo(403), times=None)
        # a session of its own: boto3's default one may hold the credentials of an earlier test
        client = build_s3_client(session=boto3.Session(), endpoint_url=proxy.endpoint, region="us-east-1")
        store = S3ObjectStore("echo-bills", "p", client=client, policy=StoragePolicy(attempts=2))
        error = failing_call(store)
        log_failure(error)
        sent = proxy.log[0]
    assert sent.header("X-Amz-Security-Token") == AWS_SESSION_TOKEN
    assert str(error).startswith("S3 get of s3://echo-bills/p/bills/2026-05.csv failed: HTTP 403 "
                                 "SignatureDoesNotMatch")
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert leaked(str(error), logs.text, err) == []


# ---------------------------------------------------------------------------------------------------- SMTP

SMTP_PASSWORD = "smtp-password-6a7b8c9d"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_an_smtp_refusal_that_echoes_the_login_leaks_no_password(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(str(cert), str(key))
    echoed: list[str] = []

    def refuse_and_echo(server: object, session: object, envelope: object, mechanism: str,
                        data: object) -> AuthResult:
        assert isinstance(data, LoginPassword)
        plain = base64.b64encode(b"\0" + data.login + b"\0" + data.password).decode()
        echoed.append(data.password.decode())
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.8 {data.login.decode()}/{data.password.decode()} ({plain}) refused")

    controller = Controller(RecordingHandler(), hostname=HOST, port=free_port(), tls_context=server_context,
                            require_starttls=True, authenticator=refuse_and_echo, auth_required=True)
    controller.start()
    try:
        mailer = SmtpMailer(HOST, controller.port, security="starttls", username="chargeback@example.com",
                            password=SMTP_PASSWORD, ssl_context=ssl.create_default_context(cafile=str(cert)))
        with pytest.raises(DeliveryError) as raised:
            mailer.send(OutgoingMail(subject="s", sender="chargeback@example.com", to=("a@example.com",),
                                     text="t", name="statement"))
    finally:
        controller.stop()
    assert set(echoed) == {SMTP_PASSWORD}  # the server saw it (smtplib tries PLAIN, then LOGIN) and repeated it
    message = str(raised.value)
    assert "login as 'chargeback@example.com' failed: 535" in message and "[redacted]" in message
    plain = base64.b64encode(f"\0chargeback@example.com\0{SMTP_PASSWORD}".encode()).decode()
    assert SMTP_PASSWORD not in message and plain not in message
