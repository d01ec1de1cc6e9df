"""The embedded demo: two months of realistic bills generated locally, then the whole pipeline on them.

The bills are v2 subscription pushes made by ``chargeback.demo.synth`` (deterministic: the same bytes every time);
May carries a spend spike on the 20th so that the anomaly and budget alerts have something to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path

from chargeback.alerts.channels import build_channels
from chargeback.alerts.job import run_alerts
from chargeback.alerts.model import AlertRun
from chargeback.config.file import load_config_file
from chargeback.dashboard.job import publish_dashboard
from chargeback.delivery.outbox import OutboxMailer
from chargeback.demo.synth import Anomaly, SynthSpec, write_v2_push
from chargeback.jobs.run_month import RunSummary, run_month
from chargeback.reporting.job import StatementResult, send_statements
from chargeback.storage import LocalObjectStore
from chargeback.warehouse import layout

DEMO_UID = "1000000000000001"
DEMO_MONTH = "2026-05"
DEMO_ALERT_DAY = date(2026, 5, 21)  # the day after the spike
DEMO_SENDER = "chargeback@example.com"
DEMO_PUSHES = (
    # month, rows, final snapshot folder, anomaly
    ("2026-04", 18_000, "20260503170000", None),
    ("2026-05", 24_000, "20260603170000", Anomaly(day=20, api_key_index=1, factor=30)),
)


@dataclass
class DemoResult:
    bills: Path
    warehouse: Path
    mapping: Path
    outbox: Path
    summaries: list[RunSummary]
    statements: list[StatementResult]
    alerts: AlertRun
    dashboard: Path | None = None  # the page the daily job would publish, in the warehouse

    @property
    def summary(self) -> RunSummary:
        """The demo month's run."""
        return self.summaries[-1]


def prepare_demo(out: Path) -> tuple[Path, Path]:
    """Write the demo bills and mapping under ``out`` (kept if already there); returns (bills, mapping)."""
    bills = out / "bills"
    for month, rows, snapshot, anomaly in DEMO_PUSHES:
        folder = bills / month.replace("-", "") / snapshot
        if not folder.is_dir():
            spec = SynthSpec(month=month, rows=rows, workspaces=3, api_keys=5, seed=11, anomaly=anomaly)
            write_v2_push(bills, spec, uid=DEMO_UID, snapshot=snapshot, files=2)
    mapping = out / "mapping.yaml"
    if not mapping.exists():
        mapping.parent.mkdir(parents=True, exist_ok=True)
        mapping.write_bytes(resources.files("chargeback.demo").joinpath("mapping.yaml").read_bytes())
    return bills, mapping


def run_demo(out: Path, *, now: datetime) -> DemoResult:
    """Ingest and allocate the demo months into ``out/warehouse``, write the demo month's statements and the
    alerts of the day after the spike into ``out/outbox``, and publish the dashboard as the daily job does
    (``out/warehouse/dashboard/index.html``). Safe to rerun: nothing is sent twice."""
    bills, mapping_file = prepare_demo(out)
    warehouse = LocalObjectStore(out / "warehouse")
    mapping = load_config_file(mapping_file)
    summaries = [run_month(LocalObjectStore(bills), warehouse, month, mapping, now=now)
                 for month, *_ in DEMO_PUSHES]
    outbox = OutboxMailer(LocalObjectStore(out / "outbox"))
    channels = build_channels(mapping.alerts, environ={}, mailer=outbox, sender=DEMO_SENDER)
    # the daily alerts run before the month's statements, which mark the anomaly days the alerts found
    alerts = run_alerts(warehouse, DEMO_ALERT_DAY, mapping, channels, now=now)
    statements = send_statements(warehouse, DEMO_MONTH, mapping, outbox, now=now,
                                 finance_cc=("finance@example.com",), sender=DEMO_SENDER)
    publish_dashboard(warehouse, mapping, month=DEMO_MONTH, now=now)
    dashboard = warehouse.local_path(layout.dashboard_key())
    return DemoResult(bills, out / "warehouse", mapping_file, out / "outbox", summaries, statements, alerts,
                      dashboard if dashboard.is_file() else None)
