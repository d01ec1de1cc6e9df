"""The embedded demo: lay out the shipped bills in a local folder and run the pipeline on them."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from chargeback.allocation.mapping import load_mapping
from chargeback.jobs.run_month import RunSummary, run_month
from chargeback.storage import LocalObjectStore

DEMO_MONTH = "2026-05"


@dataclass
class DemoResult:
    bills: Path
    warehouse: Path
    mapping: Path
    summary: RunSummary


def prepare_demo(out: Path) -> tuple[Path, Path]:
    """Copy the demo bills and mapping under ``out``; returns (bills folder, mapping file)."""
    bills = out / "bills"
    bills.mkdir(parents=True, exist_ok=True)
    package = resources.files("chargeback.demo")
    for item in package.joinpath("bills").iterdir():
        if item.name.endswith(".csv"):
            target = bills / item.name
            if not target.exists():
                with item.open("rb") as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
    mapping = out / "mapping.yaml"
    if not mapping.exists():
        mapping.write_bytes(package.joinpath("mapping.yaml").read_bytes())
    return bills, mapping


def run_demo(out: Path, *, now: datetime) -> DemoResult:
    """Run ingest and allocation of the demo month into ``out/warehouse``."""
    bills, mapping_file = prepare_demo(out)
    warehouse = out / "warehouse"
    summary = run_month(LocalObjectStore(bills), LocalObjectStore(warehouse), DEMO_MONTH,
                        load_mapping(mapping_file), now=now)
    return DemoResult(bills, warehouse, mapping_file, summary)
