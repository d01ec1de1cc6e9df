"""Several Alibaba Cloud accounts in one bill bucket: each account's bills count, whichever pushed last.

Hand-made buckets: two and three accounts whose v2 snapshots are pushed at different times, an account with
legacy files beside one with v2 pushes, and a consolidated bill that carries member accounts' rows.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from chargeback.cli import main
from tests.support.bills import legacy_csv, legacy_row, v2_csv, v2_row, zip_of

A, B, C = "1000000000000001", "1000000000000002", "1000000000000003"
SITE = "2688801000001"
K1 = "2100001;llm-ws0000000000000a;qwen-plus;input_token;;0"
K2 = "2300002;llm-ws0000000000000b;qwen-max;output_token;;0"


def push(root: Path, account: str, pushed: str, rows: list[dict[str, str]], *, site: str = SITE) -> str:
    """One v2 push of ``account``: {prefix}/{YYYYMM}/{pushed}/{UID}_{Site}_consumeDetailBillV2_{YYYYMM}.zip"""
    key = f"bills/202605/{pushed}/{account}_{site}_consumeDetailBillV2_202605.zip"
    path = root / "src" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zip_of({f"{account}.csv": v2_csv(rows)}))
    return key


def run(root: Path, *extra: str) -> int:
    return main(["run", "--source", str(root / "src"), "--warehouse", str(root / "wh"), "--month", "2026-05",
                 *extra])


def manifest(root: Path) -> dict:
    return json.loads((root / "wh/manifests/billing_month=2026-05/manifest.json").read_text())


def table(root: Path, name: str) -> list[dict]:
    folder = "allocations" if name == "allocations" else name
    return pq.read_table(root / f"wh/{folder}/billing_month=2026-05/{name}.parquet").to_pylist()


def by(rows: list[dict], column: str, amount: str = "billed_cost") -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row[column]] = totals.get(row[column], Decimal(0)) + Decimal(row[amount])
    return totals


def account_totals(root: Path) -> dict[str, dict[str, str]]:
    return {bill["account"]: bill["totals"] for bill in manifest(root)["accounts"]}


@pytest.mark.parametrize("last", [A, B])
def test_two_accounts_each_count_whichever_pushed_last(tmp_path, last):
    first = B if last == A else A
    older = push(tmp_path, first, "20260519100000", [v2_row(K1, "9.99", account=first)])  # its own next replaces it
    push(tmp_path, first, "20260520100000", [v2_row(K1, "1.25", account=first),
                                             v2_row(K2, "0.0000001", account=first, date="20260519")])
    push(tmp_path, last, "20260521100000", [v2_row(K2, "3.5", account=last)])
    assert run(tmp_path) == 0
    expected = {first: Decimal("1.2500001"), last: Decimal("3.5")}
    assert {a: Decimal(t["CNY"]) for a, t in account_totals(tmp_path).items()} == expected
    assert manifest(tmp_path)["totals"] == {"CNY": "4.7500001"}
    assert by(table(tmp_path, "allocations"), "account_id") == expected
    assert by(table(tmp_path, "allocations"), "payer_account_id") == expected  # each pays its own bill
    assert manifest(tmp_path)["superseded"] == [{"key": older, "reason": "older v2 snapshot 20260519100000"}]


def test_three_accounts_pushed_at_different_times_and_the_month_is_final_when_all_are(tmp_path):
    push(tmp_path, A, "20260603170000", [v2_row(K1, "10", account=A)])  # A's final push
    push(tmp_path, B, "20260515100000", [v2_row(K1, "2", account=B)])
    push(tmp_path, B, "20260601100000", [v2_row(K1, "2", account=B), v2_row(K2, "4.75", account=B)])
    push(tmp_path, C, "20260530100000", [v2_row(K2, "0.3", account=C)])
    push(tmp_path, C, "20260530100000", [v2_row(K2, "0.2", account=C)], site="5000000000001")  # C, another site
    assert run(tmp_path) == 0
    m = manifest(tmp_path)
    assert [(b["account"], b["scope"], b["status"], b["totals"]) for b in m["accounts"]] == [
        (A, SITE, "final", {"CNY": "10"}), (B, SITE, "open", {"CNY": "6.75"}),
        (C, SITE, "open", {"CNY": "0.3"}), (C, "5000000000001", "open", {"CNY": "0.2"})]
    assert m["status"] == "open" and m["totals"] == {"CNY": "17.25"}
    assert by(table(tmp_path, "lines"), "account_id") == {A: 10, B: Decimal("6.75"), C: Decimal("0.5")}
    assert [s["account"] for s in m["sources"]] == [A, B, C, C]

    push(tmp_path, B, "20260602150000", [v2_row(K1, "2", account=B), v2_row(K2, "4.8", account=B)])
    push(tmp_path, C, "20260603100000", [v2_row(K2, "0.3", account=C)])
    push(tmp_path, C, "20260603100000", [v2_row(K2, "0.2", account=C)], site="5000000000001")
    assert run(tmp_path) == 0
    m = manifest(tmp_path)
    assert m["status"] == "final" and m["totals"] == {"CNY": "17.3"}
    assert {b["account"]: b["status"] for b in m["accounts"]} == {A: "final", B: "final", C: "final"}


def test_legacy_files_of_one_account_beside_v2_pushes_of_another(tmp_path, capsys):
    legacy = tmp_path / "src" / "bills"
    legacy.mkdir(parents=True)
    (legacy / f"{B}_BillingItemDetail_20260514").write_bytes(legacy_csv([legacy_row(payable="1.5", account=B)]))
    (legacy / f"{B}_BillingItemDetail_20260515").write_bytes(
        legacy_csv([legacy_row(payable="2", account=B, date="2026-05-15")]))
    push(tmp_path, A, "20260521100000", [v2_row(K1, "7", account=A)])
    assert run(tmp_path) == 0
    assert account_totals(tmp_path) == {A: {"CNY": "7"}, B: {"CNY": "3.5"}}
    assert manifest(tmp_path)["family"] == "v2+legacy"
    assert "bills of 2 accounts" in capsys.readouterr().out

    # B's month file supersedes B's dailies only; A's push stays authoritative for A
    (legacy / f"{B}_BillingItemDetail_202605").write_bytes(
        legacy_csv([legacy_row(payable="1.5", account=B), legacy_row(payable="2.25", account=B, date="2026-05-15")]))
    assert run(tmp_path) == 0
    m = manifest(tmp_path)
    assert {b["account"]: (b["family"], b["status"], b["totals"]["CNY"]) for b in m["accounts"]} == {
        A: ("v2", "open", "7"), B: ("legacy", "final", "3.75")}
    assert sorted(s["reason"] for s in m["superseded"]) == ["the month file supersedes dailies"] * 2
    assert by(table(tmp_path, "allocations"), "account_id") == {A: 7, B: Decimal("3.75")}


def test_a_consolidated_bill_splits_by_member_account_and_keeps_the_payer(tmp_path):
    payer, m1, m2 = "1500000000000001", "1500000000000011", "1500000000000012"
    push(tmp_path, payer, "20260521100000", [
        v2_row(K1, "4", account=m1, payer=payer), v2_row(K2, "1.5", account=m2, payer=payer),
        v2_row(K1, "0.5", account=payer, payer=payer),
        v2_row(K1, "0.25", account="", payer="")])  # no identity at all: the file's account pays and owns
    assert run(tmp_path) == 0
    allocations = table(tmp_path, "allocations")
    assert by(allocations, "account_id") == {m1: 4, m2: Decimal("1.5"), payer: Decimal("0.75")}
    assert {r["payer_account_id"] for r in allocations} == {payer}
    assert account_totals(tmp_path) == {payer: {"CNY": "6.25"}}
    focus = table(tmp_path, "focus")
    assert {r["BillingAccountId"] for r in focus} == {payer}
    assert by(focus, "x_AccountId", "BilledCost") == {m1: 4, m2: Decimal("1.5"), payer: Decimal("0.75")}


@pytest.mark.parametrize("english", [False, True])
def test_the_bill_names_the_accounts(tmp_path, english):
    payer, member = "1500000000000001", "1500000000000011"
    key = f"bills/202605/20260521100000/{payer}_{SITE}_consumeDetailBillV2_202605.zip"
    (tmp_path / "src" / key).parent.mkdir(parents=True)
    (tmp_path / "src" / key).write_bytes(zip_of({"bill.csv": v2_csv([
        v2_row(K1, "4", account=member, payer=payer, account_name="team-login", payer_name="group-login"),
        v2_row(K2, "1", account=payer, payer=payer, payer_name="group-login")], english=english)}))
    assert run(tmp_path) == 0
    names = {(r["account_id"], r["account_name"], r["payer_account_name"]) for r in table(tmp_path, "allocations")}
    # the payer's own row names no owner: the owner is the payer, and so is the name
    assert names == {(member, "team-login", "group-login"), (payer, "group-login", "group-login")}
    focus = table(tmp_path, "focus")
    assert {r["BillingAccountName"] for r in focus} == {"group-login"}


def test_the_legacy_owner_column_names_the_member_and_the_account_column_the_payer(tmp_path):
    legacy = tmp_path / "src" / "bills"
    legacy.mkdir(parents=True)
    (legacy / f"{A}_BillingItemDetail_202605").write_bytes(legacy_csv([
        legacy_row(payable="1", account=A, owner=B, account_name="payer-login"),
        legacy_row(payable="2", account=A, owner="member-login", account_name="payer-login")]))
    assert run(tmp_path) == 0
    lines = table(tmp_path, "lines")
    assert {r["payer_account_name"] for r in lines} == {"payer-login"}
    assert by(lines, "account_id") == {B: 1, A: 2}  # a login name is no account ID: the payer's then
    assert {r["payer_account_id"] for r in lines} == {A}
