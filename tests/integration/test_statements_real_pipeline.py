"""Statements over the real pipeline: the anonymised real Model Studio export, run, then report.

Every statement's totals equal its cost center's published allocation rows exactly; the CSV sums to the same;
the text and HTML parts show the same numbers.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from chargeback.cli import main
from chargeback.config.file import load_config_file
from chargeback.reporting.finance import build_finance_statement
from chargeback.storage import LocalObjectStore
from chargeback.warehouse.manifest import read_manifest
from chargeback.warehouse.read import read_allocations
from tests.support.mail import parse_message, text_of
from tests.support.statements import check_statement

REAL = Path(__file__).resolve().parents[1] / "data" / "real-bills"
MONTH = "2026-05"


def allocation_totals(warehouse: Path) -> dict[str, dict[str, Decimal]]:
    frame = read_allocations(LocalObjectStore(warehouse), MONTH)
    assert frame is not None
    totals: dict[str, dict[str, Decimal]] = {}
    for center, currency, cost in zip(frame["cost_center"], frame["currency"], frame["billed_cost"], strict=True):
        by_currency = totals.setdefault(center, {})
        by_currency[currency] = by_currency.get(currency, Decimal(0)) + cost
    return totals


MAPPING = """
cost_centers:
  creative:
    name: Creative studio
    owners: [creative-lead@example.com]
    api_keys: ["1234567"]
  platform:
    name: Platform team
    owners: [platform-lead@example.com]
    workspaces: [llm-ex4mple0wksp0001]
shared_costs: {console: keep, unmapped: keep}
"""


def test_statements_match_the_published_rows(tmp_path, capsys):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    warehouse, outbox = tmp_path / "warehouse", tmp_path / "outbox"
    assert main(["run", "--source", str(REAL), "--warehouse", str(warehouse), "--month", MONTH,
                 "--mapping", str(mapping)]) == 0
    capsys.readouterr()

    assert main(["report", "--warehouse", str(warehouse), "--month", MONTH, "--mapping", str(mapping),
                 "--outbox", str(outbox)]) == 0
    lines = capsys.readouterr().out.splitlines()
    totals = allocation_totals(warehouse)
    assert sum(totals["creative"].values()) + sum(totals["platform"].values()) == Decimal("57.477867")
    assert [line.split("\t")[1] for line in lines] == [*sorted(totals), "finance"]
    for line in lines[:-1]:
        center, path = line.split("\t")[1], Path(line.split("\t")[-1])
        check_statement(path.read_bytes(), center, totals[center])
    # the finance statement reconciles with the bill's payable total per account, to the last decimal
    store = LocalObjectStore(warehouse)
    manifest = read_manifest(store, MONTH)
    view = build_finance_statement(read_allocations(store, MONTH), manifest, load_config_file(mapping))
    assert [(r.account, r.currency, r.bill, r.allocated) for r in view.reconciliation] == [
        (a.account, c, v, v) for a in manifest.accounts for c, v in a.totals.items()]
    assert sum(r.allocated for r in view.reconciliation) == Decimal("57.477867")
    finance = text_of(parse_message((outbox / "statement_2026-05_finance_v1.eml").read_bytes()), "text/plain")
    assert "Bill (payable) CNY 57.48, Allocated CNY 57.48: Equal to the bill to the last decimal." in finance

    creative = text_of(parse_message((outbox / "statement_2026-05_creative_v1.eml").read_bytes()), "text/plain")
    assert "Total: CNY 43.80" in creative
    platform = text_of(parse_message((outbox / "statement_2026-05_platform_v1.eml").read_bytes()), "text/plain")
    assert "Console: 13.68" in platform  # console calls stay with the workspace's cost center (keep)
    # The bill's 20% promotion: 11.4144 in all, split by who paid.
    assert "Discounts: 8.00" in creative and "Discounts: 3.41" in platform
    # Platform used only free quota of happyhorse-1.0-i2v; creative's paid rows tell its list price.
    assert ("happyhorse-1.0-i2v, Video seconds, 1080P: Free usage 5 seconds, Saved at list price 8.00"
            in platform)


def test_without_a_mapping_each_workspace_gets_an_outbox_statement(tmp_path, capsys):
    warehouse = tmp_path / "warehouse"
    assert main(["run", "--source", str(REAL), "--warehouse", str(warehouse), "--month", MONTH]) == 0
    capsys.readouterr()
    assert main(["report", "--warehouse", str(warehouse), "--month", MONTH]) == 0
    captured = capsys.readouterr()
    assert "outbox only" in captured.err
    totals = allocation_totals(warehouse)
    paths = [Path(line.split("\t")[-1]) for line in captured.out.splitlines()]
    assert [p.parent for p in paths] == [warehouse / "outbox"] * (len(totals) + 1)  # and the finance statement
    for path, center in zip(paths, sorted(totals), strict=False):
        check_statement(path.read_bytes(), center, totals[center])
