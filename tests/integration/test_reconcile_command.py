"""``chargeback reconcile`` on the real export: 100% of the gap between list and billed is explained."""

import json
from pathlib import Path

from chargeback.cli import main

REAL = Path(__file__).resolve().parents[1] / "data" / "real-bills"


def test_reconcile_json_and_text(tmp_path, capsys):
    assert main(["run", "--source", str(REAL), "--warehouse", str(tmp_path), "--month", "2026-05"]) == 0
    capsys.readouterr()
    assert main(["reconcile", "--warehouse", str(tmp_path), "--month", "2026-05", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["list_total"], data["billed_total"], data["unexplained"]) == ("68.892267", "57.477867", "0")
    assert data["currency"] == "CNY"
    assert data["explained"] == {"promotions_and_discounts": "11.4144", "coupons": "0", "prepaid_plans": "0",
                                 "free_quota": "0", "rounding": "0"}
    assert main(["reconcile", "--warehouse", str(tmp_path), "--month", "2026-05"]) == 0
    text = capsys.readouterr().out
    assert "  list total    68.892267 CNY" in text and "  billed total  57.477867 CNY" in text
    assert "unexplained   0 CNY" in text
    assert "promotions and discounts   11.4144 CNY" in text
    assert "worth 43.570964 CNY at list price" in text


def test_reconcile_of_a_month_never_run_is_exit_2(tmp_path, capsys):
    assert main(["reconcile", "--warehouse", str(tmp_path), "--month", "2026-04"]) == 2
    assert "month 2026-04 is not in" in capsys.readouterr().err
