"""Two real processes of ``run``, ``report`` and ``alert`` on the same month at the same instant.

``report`` (10 trials, 12 statements, a real SMTP server on 127.0.0.1): every statement is delivered exactly
once and both processes exit 0. ``alert`` (5 trials, alerts to two webhooks counted by a real HTTP server and
to an e-mail channel on the SMTP server): every alert arrives once per channel, each webhook call with an
``Idempotency-Key``. ``run`` with two different mappings (5 trials): both exit 0 and the month ends whole and
identical to an uninterrupted run of whichever mapping published last.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email import message_from_bytes
from pathlib import Path

import pytest

from chargeback.config.file import load_config_file
from chargeback.jobs.run_month import run_month
from chargeback.storage import LocalObjectStore
from chargeback.warehouse.manifest import read_manifest
from tests.support.alert_tables import row as alert_row
from tests.support.alert_tables import series
from tests.support.allocations import row
from tests.support.processes import finish, go, launch
from tests.support.published import MAPPING, MONTH, ChangedMonth, assert_whole, published_state
from tests.support.smtp import RecordingHandler, SmtpServer, smtp_server
from tests.support.warehouse import publish_month
from tests.support.webhook_servers import Recorder, http_server

CENTERS = 12


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with smtp_server(RecordingHandler()) as server:
        yield server


def together(*argvs: list[str], env: dict[str, str] | None = None) -> list[tuple[int, str, str]]:
    processes = [launch(*argv, env=env) for argv in argvs]
    go(*processes)
    return [finish(process) for process in processes]


def test_two_reports_at_once_deliver_every_statement_exactly_once(smtp: SmtpServer, tmp_path: Path) -> None:
    base = tmp_path / "base"
    rows = [row("2026-05-14", f"{n + 1}.25", cost_center=f"team{n:02d}", api_key_id=f"21{n:05d}")
            for n in range(CENTERS)]
    publish_month(LocalObjectStore(base), MONTH, rows, status="final")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "cost_centers:\n" + "".join(f'  team{n:02d}: {{owners: [lead{n:02d}@example.com], api_keys: ["21{n:05d}"]}}\n'
                                    for n in range(CENTERS))
        + f"delivery: {{backend: smtp, sender: chargeback@example.com, finance_cc: [finance@example.com], "
          f"smtp: {{host: 127.0.0.1, port: {smtp.port}, security: none}}}}\n")
    for trial in range(10):
        warehouse = tmp_path / f"trial-{trial}"
        shutil.copytree(base, warehouse)
        smtp.handler.messages.clear()
        argv = ["report", "--warehouse", str(warehouse), "--month", MONTH, "--mapping", str(mapping)]
        results = together(argv, argv)
        assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
        statements = Counter(message_from_bytes(m.data)["X-Chargeback-Statement"] for m in smtp.handler.messages)
        # every cost center's statement and the finance statement, each once
        assert len(statements) == CENTERS + 1 and set(statements.values()) == {1}, f"trial {trial}: {statements}"
        lines = [line.split("\t")[0].strip() for _, out, _ in results for line in out.splitlines()]
        # each sent by one run, found sent by the other
        assert Counter(lines) == {"sent": CENTERS + 1, "unchanged": CENTERS + 1}


ALERT_MAPPING = """
cost_centers:
  search:
    owners: [lead@example.com]
    api_keys: ["2100001"]
    budget: {monthly: 500, thresholds: [50, 80, 100]}
    channels: [platform, siem, finance]
alerts:
  sender: chargeback@example.com
  default_channels: [platform, siem, finance]
  channels:
    platform: {type: webhook, url_env: RACE_PLATFORM_URL, allow_insecure: true}
    siem: {type: webhook, url_env: RACE_SIEM_URL, allow_insecure: true}
    finance: {type: email, to: [finance@example.com]}
  forecast: {enabled: false}
  stale_after_hours: 100000
  delivery: {backoff_seconds: 0}
"""


def test_two_alert_runs_at_once_deliver_every_alert_once_per_channel(smtp: SmtpServer, tmp_path: Path) -> None:
    base = tmp_path / "base"
    steady = series(date(2026, 5, 1), ["20"] * 14, api_key_id="2100001", cost_center="search")
    publish_month(LocalObjectStore(base), MONTH, [
        *steady, alert_row(date(2026, 5, 15), "300", model="qwen-max", api_key_id="2100001", cost_center="search"),
        alert_row(date(2026, 5, 16), "1", api_key_id="2100001", cost_center="search")])
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(ALERT_MAPPING + f"delivery: {{backend: smtp, smtp: {{host: 127.0.0.1, port: {smtp.port}, "
                                       "security: none}}\n")
    platform, siem = Recorder([(200, b"{}")]), Recorder([(200, b"{}")])
    with http_server(platform) as platform_url, http_server(siem) as siem_url:
        env = {"RACE_PLATFORM_URL": f"{platform_url}/hook", "RACE_SIEM_URL": f"{siem_url}/hook"}
        for trial in range(5):
            warehouse = tmp_path / f"trial-{trial}"
            shutil.copytree(base, warehouse)
            platform.requests.clear()
            siem.requests.clear()
            smtp.handler.messages.clear()
            argv = ["alert", "--warehouse", str(warehouse), "--date", "2026-05-17", "--mapping", str(mapping),
                    "--format", "json"]
            results = together(argv, argv, env=env)
            assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
            hooks = {name: Counter(r.headers["Idempotency-Key"] for r in recorder.requests)
                     for name, recorder in (("platform", platform), ("siem", siem))}
            alerts = Counter(r.headers["X-Chargeback-Alert"] for r in platform.requests)
            mails = [message_from_bytes(m.data)["X-Chargeback-Alert"] for m in smtp.handler.messages]
            # the highest budget threshold crossed (the lower two superseded), anomalies of four subjects
            assert len(alerts) == 5, alerts
            assert set(alerts.values()) == {1} and Counter(
                r.headers["X-Chargeback-Alert"] for r in siem.requests) == alerts, f"trial {trial}"
            # finance gets one digest of the same alerts, once
            listed = {a.strip() for a in mails[0].replace("\r\n", "").split(",")} if len(mails) == 1 else set()
            assert listed == set(alerts), f"trial {trial}: e-mails {mails}"
            assert all(set(keys.values()) == {1} and len(keys) == len(alerts) for keys in hooks.values())
            assert not set(hooks["platform"]) & set(hooks["siem"])  # a key per channel


SHARED_MAPPING = MAPPING.replace('api_keys: ["2300002"]', 'api_keys: []').replace(
    'api_keys: ["2100001"]', 'api_keys: ["2100001", "2300002"]')


def test_two_runs_with_different_mappings_at_once_leave_one_whole_month(tmp_path: Path) -> None:
    month = ChangedMonth.write(tmp_path / "bills", days=5)
    shared = tmp_path / "shared.yaml"
    shared.write_text(SHARED_MAPPING)
    base = tmp_path / "base"
    now = datetime(2026, 6, 4, tzinfo=UTC)
    run_month(LocalObjectStore(month.previous), LocalObjectStore(base), MONTH, load_config_file(str(month.mapping)),
              now=now)
    references = {}
    for mapping in (month.mapping, shared):
        reference = tmp_path / f"reference-{mapping.stem}"
        shutil.copytree(base, reference)
        config = load_config_file(str(mapping))
        run_month(LocalObjectStore(month.new), LocalObjectStore(reference), MONTH, config, now=now)
        references[config.version] = published_state(LocalObjectStore(reference))
    assert len(references) == 2
    last = Counter()
    for trial in range(5):
        warehouse = tmp_path / f"trial-{trial}"
        shutil.copytree(base, warehouse)
        results = together(*[["run", "--source", str(month.new), "--warehouse", str(warehouse), "--month", MONTH,
                               "--mapping", str(mapping)] for mapping in (month.mapping, shared)])
        assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
        store = LocalObjectStore(warehouse)
        manifest = assert_whole(store)
        assert manifest.mapping_version in references
        assert published_state(store) == references[manifest.mapping_version], f"trial {trial}"
        assert read_manifest(store, MONTH) == manifest
        last[manifest.mapping_version] += 1
    assert sum(last.values()) == 5
