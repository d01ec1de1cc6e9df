"""``chargeback costs`` as a user runs it: on the real export (the FAQ's three questions, against sums made
here from the raw bills), on S3 and OSS warehouses, and with the mistakes a user makes."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from chargeback.cli import main
from tests.support.fixtures import OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, StoreBackend
from tests.support.real_bills import MONTH, REAL, publish_real_export


def chargeback(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--log-format", "text", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def raw_bill_by_model() -> dict[tuple[str, str], Decimal]:
    """Payable per (model, token direction) straight from the two CSVs: each bill line (账单明细ID) once."""
    seen: set[str] = set()
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for path in sorted(REAL.glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as stream:
            for line in csv.DictReader(stream):
                if line["标识信息/账单明细ID"] in seen:
                    continue
                seen.add(line["标识信息/账单明细ID"])
                parts = line["资源信息/实例ID（出账粒度）"].split(";")
                direction = "input" if "input" in parts[3] else "output" if "output" in parts[3] else "unit"
                sums[(parts[2], direction)] += Decimal(line["应付信息/应付金额（含税）"] or "0")
    return dict(sums)


@pytest.fixture
def real_warehouse(real_export: Path) -> Path:
    return real_export


def test_by_model_on_the_real_export_sums_to_the_bill_exactly(capsys, real_warehouse):
    code, out, err = chargeback(capsys, "costs", "--warehouse", str(real_warehouse), "--month", MONTH,
                                "--by", "model", "--format", "json")
    assert code == 0, err
    answer = json.loads(out)
    rows = answer["rows"]
    assert sum((Decimal(r["billed_cost"]) for r in rows), Decimal(0)) == Decimal("57.477867")
    assert answer["totals"] == [{**answer["totals"][0], "currency": "CNY", "billed_cost": "57.477867"}]
    raw: dict[str, Decimal] = defaultdict(Decimal)
    for (model, _), amount in raw_bill_by_model().items():
        raw[model] += amount
    assert {r["model"]: Decimal(r["billed_cost"]) for r in rows} == raw
    assert all(r["currency"] == "CNY" and isinstance(r["tokens"], int) for r in rows)
    assert answer["totals"][0]["free_quota_covered"] == "43.570964"  # as `chargeback reconcile` values it
    assert answer["missing_months"] == [] and answer["source"] == "costs"


def test_the_faq_s_third_question_input_plus_output_of_one_model(capsys, real_warehouse):
    # the real export has no qwen-max; qwen3-omni-flash has both input and output lines
    code, out, err = chargeback(capsys, "costs", "--warehouse", str(real_warehouse), "--month", MONTH,
                                "--where", "model=qwen3-omni-flash", "--by", "io_type", "--format", "json")
    assert code == 0, err
    answer = json.loads(out)
    raw = raw_bill_by_model()
    by_direction = {r["io_type"]: Decimal(r["billed_cost"]) for r in answer["rows"]}
    assert by_direction == {"input": raw[("qwen3-omni-flash", "input")],
                            "output": raw[("qwen3-omni-flash", "output")]}
    assert Decimal(answer["totals"][0]["billed_cost"]) == Decimal("0.020267") == sum(by_direction.values())
    assert answer["totals"][0]["tokens"] == 1688  # 454 input + 1,234 output tokens, from the bill's 千tokens

    code, out, _ = chargeback(capsys, "costs", "--warehouse", str(real_warehouse), "--month", MONTH,
                              "--where", "model=qwen3-omni-flash")
    assert code == 0
    assert "Model Studio costs, 2026-05, where model = 'qwen3-omni-flash'" in out
    # the table follows the money display policy (cents); JSON and CSV carry the exact 0.020267
    assert out.splitlines()[3].split()[:2] == ["CNY", "0.02"]


def test_the_faq_s_first_question_and_the_table_of_people(capsys, real_warehouse):
    code, out, _ = chargeback(capsys, "costs", "--warehouse", real_warehouse.as_uri(), "--month", MONTH)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Model Studio costs, 2026-05"
    header, total = lines[2].split(), lines[3].split()
    assert header[:3] == ["currency", "billed", "list"] and total[:2] == ["CNY", "57.48"]  # rounded for people
    code, out, _ = chargeback(capsys, "costs", "--warehouse", str(real_warehouse), "--month", MONTH, "--by",
                              "api_key_id", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(out.splitlines()))
    assert [(r["kind"], r["api_key_id"], r["billed_cost"]) for r in rows] == [
        ("row", "1234567", "43.8"), ("row", "", "13.677867"), ("total", "", "57.477867")]


def test_help_shows_the_faq_s_questions(capsys):
    with pytest.raises(SystemExit):
        main(["costs", "--help"])
    out = capsys.readouterr().out
    for question in ("What did Model Studio cost last month?", "What did model calling cost in total",
                     "What did calling qwen-max cost, input plus output"):
        assert question in out
    assert "--where model=qwen-max --by io_type" in out


def test_mistakes_exit_2_with_a_clear_message(capsys, real_warehouse, tmp_path):
    code, _, err = chargeback(capsys, "costs", "--warehouse", str(real_warehouse), "--month", MONTH, "--by", "modle")
    assert code == 2 and "unknown dimension 'modle'; did you mean 'model'?" in err
    code, _, err = chargeback(capsys, "costs", "--warehouse", str(tmp_path), "--month", MONTH)
    assert code == 2 and "month 2026-05 is not in the warehouse" in err and "Traceback" not in err
    code, out, err = chargeback(capsys, "costs", "--warehouse", str(real_warehouse), "--month", "2026-04",
                                "--to", MONTH, "--format", "json")
    assert code == 0
    assert json.loads(out)["missing_months"][0]["month"] == "2026-04"
    assert "note: month 2026-04 is not in the warehouse" in err


def test_each_backend_answers_the_same(capsys, backend: StoreBackend, monkeypatch):
    publish_real_export(backend.store())
    if backend.name == "oss":
        monkeypatch.setenv("OSS_ENDPOINT", backend.url_options["endpoint"])
        monkeypatch.setenv("OSS_ACCESS_KEY_ID", OSS_ACCESS_KEY_ID)
        monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", OSS_ACCESS_KEY_SECRET)
        monkeypatch.setenv("CHARGEBACK_ALLOW_INSECURE", "true")  # the emulator speaks http on 127.0.0.1
    by_day = ["--by", "billing_date"]  # the day: read from the allocations, not the summary
    for extra in ([], by_day):
        code, out, err = chargeback(capsys, "costs", "--warehouse", backend.store_url, "--month", MONTH,
                                    "--format", "json", *extra)
        assert code == 0, err
        answer = json.loads(out)
        assert answer["totals"][0]["billed_cost"] == "57.477867", backend.name
        assert answer["source"] == ("allocations" if extra else "costs")
