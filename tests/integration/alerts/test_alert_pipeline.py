"""Alerts over what the real pipeline publishes: the anonymised real export ingested and allocated by run_month."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from chargeback.alerts.job import run_alerts
from chargeback.config.file import parse_config_file
from chargeback.jobs.run_month import run_month
from chargeback.storage import LocalObjectStore

REAL = Path(__file__).resolve().parents[2] / "data" / "real-bills"

MAPPING = """
cost_centers:
  creative:
    name: Creative studio
    owners: [creative-lead@example.com]
    api_keys: ["1234567"]
    budget: {monthly: 50}
  platform:
    owners: [platform-lead@example.com]
    workspaces: [llm-ex4mple0wksp0001]
shared_costs: {console: keep, unmapped: keep}
alerts:
  free_quota:
    used_percent: [30, 95]   # the grants come from the manifest (the rows' usage-detail JSON)
"""


def test_alerts_on_the_real_export(tmp_path):
    mapping = parse_config_file(MAPPING)
    now = datetime(2026, 5, 16, 12, tzinfo=UTC)
    warehouse = LocalObjectStore(tmp_path / "warehouse")
    run_month(LocalObjectStore(REAL), warehouse, "2026-05", mapping, now=now)
    run = run_alerts(warehouse, date(2026, 5, 16), mapping, {}, now=now, dry_run=True)
    found = sorted((o.rule, o.subject, o.alert.threshold, str(o.alert.value)) for o in run.outcomes if o.alert)
    assert found == [
        ("budget_actual", "cost center Creative studio", "50", "43.800000000000"),
        ("budget_actual", "cost center Creative studio", "80", "43.800000000000"),
        # run rate of 05-12..05-14 (complete days) = 35.8 / 3 a day, for the 17 days after 05-14
        ("budget_forecast", "cost center Creative studio", "100", "238.666666666667"),
        *[("free_quota_used", f"model happyhorse-1.0-{kind}", threshold, "100")
          for kind in ("i2v", "r2v", "t2v", "video-edit") for threshold in ("30", "95")],
        ("free_quota_used", "model qwen3.6-plus", "30", "32.6982"),  # 326,982 of 1,000,000 tokens
    ]
    forecast = next(o.alert for o in run.outcomes if o.rule == "budget_forecast")
    assert forecast is not None and forecast.value == Decimal("238.666666666667")
    # the newest bill file (2026-05-16 10:56:20 China time) is 9 hours old at 12:00 UTC: not stale
    assert run.notes[0] == ("Data through 2026-05-15 (newest billing date; 1 day behind 2026-05-16); "
                            "complete through 2026-05-14.")
