"""Allocation through the command line: shared keys split by a usage file beside the mapping, the key
inventory, and backfills that re-publish only the months whose allocation changed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from chargeback.cli import main
from tests.support.bills import v2_csv, v2_row
from tests.support.warehouse import LEASES

WS = "llm-ws0000000000000a"
SHARED = "2100001"
OTHER = "2300002"


def bills(root: Path, month: str, rows: list[dict[str, str]]) -> None:
    compact = month.replace("-", "")
    folder = root / f"src/bills/{compact}/{compact}20120000"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"1000000000000001_2688801000001_consumeDetailBillV2_{compact}.csv").write_bytes(v2_csv(rows))


def row(key: str, cost: str, day: str, model: str = "qwen-plus") -> dict[str, str]:
    return v2_row(f"{key};{WS};{model};input_token;;0", cost, date=day.replace("-", ""))


def allocations(root: Path, month: str) -> list[dict]:
    return pq.read_table(root / f"wh/allocations/billing_month={month}/allocations.parquet").to_pylist()


def totals(rows: list[dict], column: str = "cost_center") -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for r in rows:
        found[r[column]] = found.get(r[column], Decimal(0)) + r["billed_cost"]
    return found


def cli(root: Path, command: str, *args: str) -> int:
    common = ["--warehouse", str(root / "wh")]
    if command == "run":
        common = ["--source", str(root / "src"), *common]
    return main([command, *common, *args])


MAPPING = f"""cost_centers:
  company: {{}}
  search: {{parent: company, api_keys: ["{SHARED}"]}}
  labs: {{parent: company}}
  ads: {{parent: company}}
usage_splits:
  - {{api_key: "{SHARED}", source: usage/gateway.csv, consumers: {{team-search: search, team-labs: labs}}}}
"""


def test_a_shared_key_split_by_the_usage_file_beside_the_mapping(tmp_path: Path, capsys) -> None:
    bills(tmp_path, "2026-05", [row(SHARED, "10.00", "2026-05-01"), row(SHARED, "3.00", "2026-05-02"),
                                row(SHARED, "1.11", "2026-05-03")])
    (tmp_path / "config/usage").mkdir(parents=True)
    mapping = tmp_path / "config/teams.yaml"
    mapping.write_text(MAPPING)
    usage = tmp_path / "config/usage/gateway.csv"
    usage.write_text("date,consumer,tokens\n2026-05-01,team-search,600\n2026-05-01,team-labs,300\n"
                     "2026-05-01,ads,100\n2026-05-02,team-labs,1\n2026-05-02,intern-bot,2\n")
    assert cli(tmp_path, "run", "--month", "2026-05", "--mapping", str(mapping)) == 0
    out = capsys.readouterr().out
    rows = allocations(tmp_path, "2026-05")
    assert sum(r["billed_cost"] for r in rows) == Decimal("14.11")  # the key's total, unchanged
    # day 1: 6 : 3 : 1. Day 2: 1 : 2, intern-bot is nobody's: the key's own cost center (search). Day 3 has no
    # usage: the month's 600 : 301 : 100 : 2 of 111 cents are 66.40, 33.31, 11.07 and 0.22; the cent left over
    # after rounding down goes to the largest remainder, team-search.
    assert totals(rows) == {"search": Decimal("6.00") + Decimal("2.00") + Decimal("0.67") + Decimal("0.00"),
                            "labs": Decimal("3.00") + Decimal("1.00") + Decimal("0.33"),
                            "ads": Decimal("1.00") + Decimal("0.11")}
    assert totals(rows, "cost_center_path")["company/labs"] == Decimal("4.33")
    assert "consumers neither in 'consumers' nor cost centers: intern-bot (2 tokens in 2026-05)" in out
    assert "for 2026-05-03: split by the month's usage" in out

    assert cli(tmp_path, "run", "--month", "2026-05", "--mapping", str(mapping)) == 0
    assert "unchanged since the last run" in capsys.readouterr().out
    usage.write_text("date,consumer,tokens\n2026-05-01,team-search,1\n")  # a new usage file re-allocates
    assert cli(tmp_path, "run", "--month", "2026-05", "--mapping", str(mapping)) == 0
    assert "unchanged" not in capsys.readouterr().out
    assert totals(allocations(tmp_path, "2026-05")) == {"search": Decimal("14.11")}

    usage.write_text("date,consumer,tokens\n2026-05-01,team-search,1\n2026-05-01,team-labs,ten\n")
    assert cli(tmp_path, "run", "--month", "2026-05", "--mapping", str(mapping)) == 2
    err = capsys.readouterr().err
    assert f"{usage}, line 3, field 'tokens': 'ten' is not a number of tokens (a whole number, at least 0)" in err
    assert "Traceback" not in err
    assert totals(allocations(tmp_path, "2026-05")) == {"search": Decimal("14.11")}  # the last good state


def test_the_key_inventory_with_its_line_numbers(tmp_path: Path, capsys) -> None:
    bills(tmp_path, "2026-05", [row(SHARED, "1", "2026-05-01"), row(OTHER, "2", "2026-05-20")])
    mapping = tmp_path / "teams.yaml"
    mapping.write_text("cost_centers:\n  search: {}\n  labs: {}\napi_keys_file: keys.csv\n")
    (tmp_path / "keys.csv").write_text(f"api_key_id,cost_center,from,until\n{SHARED},search,,\n"
                                       f"{OTHER},labs,2026-05-10,\n")
    assert cli(tmp_path, "run", "--month", "2026-05", "--mapping", str(mapping)) == 0
    assert totals(allocations(tmp_path, "2026-05")) == {"search": Decimal(1), "labs": Decimal(2)}
    (tmp_path / "keys.csv").write_text(f"api_key_id,cost_center,from,until\n{SHARED},search,,\n"
                                       f"{OTHER},lab,2026-05-10,\n{OTHER},labs,2026-05-32,\n")
    assert cli(tmp_path, "run", "--month", "2026-05", "--mapping", str(mapping)) == 2
    err = capsys.readouterr().err
    assert (f"{mapping}: 2 problems:\n"
            f"  {tmp_path}/keys.csv, line 3, field 'cost_center': unknown cost center 'lab'; did you mean 'labs'?\n"
            f"  {tmp_path}/keys.csv, line 4, field 'from': '2026-05-32' is not a date (YYYY-MM-DD)") in err


BACKFILL = f"""cost_centers:
  search: {{api_keys: [{{id: "{OTHER}", until: {{until}}}}, "{SHARED}"], workspaces: [{WS}]}}
  labs: {{api_keys: [{{id: "{OTHER}", from: {{from}}}}]}}
"""


def backfill_mapping(path: Path, moved_on: str) -> Path:
    """Key OTHER belongs to search until the day before ``moved_on``, to labs from then on."""
    day = date.fromisoformat(moved_on)
    path.write_text(BACKFILL.replace("{until}", str(day - timedelta(days=1))).replace("{from}", moved_on))
    return path


@pytest.fixture
def three_months(tmp_path: Path) -> Path:
    for month in ("2026-01", "2026-02", "2026-03"):
        bills(tmp_path, month, [row(SHARED, "1.5", f"{month}-10"), row(OTHER, "2.25", f"{month}-15"),
                                v2_row(f";{WS};qwen-plus;output_token;bmp;0", "0.5",
                                       date=f"{month.replace('-', '')}20")])
    mapping = backfill_mapping(tmp_path / "teams.yaml", "2026-06-01")  # the key moves in June: not yet
    for month in ("2026-01", "2026-02", "2026-03"):
        assert cli(tmp_path, "run", "--month", month, "--mapping", str(mapping)) == 0
    return tmp_path


def published(root: Path) -> dict[Path, tuple[int, bytes]]:
    """Every published file with its time and bytes; the lease chain aside (a run takes it before it looks)."""
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted((root / "wh").rglob("*.*"))
            if not p.relative_to(root / "wh").as_posix().startswith(LEASES)}


def test_a_backfill_republishes_only_the_months_whose_allocation_changed(three_months: Path, capsys) -> None:
    root = three_months
    capsys.readouterr()
    before = published(root)
    mapping = backfill_mapping(root / "teams.yaml", "2026-02-01")  # decided later: the key moved in February
    assert cli(root, "allocate", "--month", "2026-01", "--to", "2026-04", "--mapping", str(mapping)) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("3 month(s) from 2026-01 to 2026-04 with mapping "
                                        f"{out.split('mapping ')[1].split(':')[0]}: 2 changed (2026-02, 2026-03), "
                                        "the others left as published")
    assert "month 2026-01: allocation unchanged, nothing re-published" in out
    assert "month 2026-04: not ingested, skipped" in out
    after = published(root)
    january = {p for p in before if "billing_month=2026-01" in str(p)}
    assert january and all(after[p] == before[p] for p in january)  # not a byte, not a timestamp
    for month in ("2026-02", "2026-03"):
        assert before[root / f"wh/manifests/billing_month={month}/manifest.json"] != \
            after[root / f"wh/manifests/billing_month={month}/manifest.json"]
        assert totals(allocations(root, month)) == {"search": Decimal("2.0"), "labs": Decimal("2.25")}
    assert totals(allocations(root, "2026-01")) == {"search": Decimal("4.25")}
    bills_read = {p for p in after if "/src/" in str(p)}
    assert not bills_read  # the warehouse alone: no bill was read or written

    assert cli(root, "allocate", "--month", "2026-01", "--to", "2026-03", "--mapping", str(mapping)) == 0
    assert "0 changed (none)" in capsys.readouterr().out
    assert published(root) == after

    assert cli(root, "allocate", "--month", "2026-05", "--to", "2026-06", "--mapping", str(mapping)) == 2
    assert "no month from 2026-05 to 2026-06 has been ingested" in capsys.readouterr().err
    assert cli(root, "allocate", "--month", "2026-03", "--to", "2026-01", "--mapping", str(mapping)) == 2
    assert "--to 2026-01 is before --month 2026-03" in capsys.readouterr().err
