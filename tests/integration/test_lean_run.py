"""``chargeback run`` as a fresh process never loads pandas (nor ``numpy.ma``), and gives the same tables as with
pandas loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.real_bills import BILLED, REAL

# Runs the command line in a fresh interpreter, then says what it loaded and what it published.
PROBE = """
import json, sys
from chargeback.cli import main
code = main(sys.argv[1:])
import pyarrow.parquet as pq
lines = pq.read_table(sys.argv[sys.argv.index("--warehouse") + 1] + "/lines/billing_month=2026-05/lines.parquet")
print(json.dumps({"code": code, "pandas": "pandas" in sys.modules, "numpy.ma": "numpy.ma" in sys.modules,
                  "billed": str(sum(lines["billed_cost"].to_pylist()).normalize())}))
"""


def _probe(tmp_path: Path, *, preload: bool) -> dict[str, object]:
    warehouse = tmp_path / ("with" if preload else "without")
    code = ("import pandas\n" if preload else "") + PROBE
    done = subprocess.run([sys.executable, "-c", code, "run", "--source", str(REAL), "--warehouse", str(warehouse),
                           "--month", "2026-05"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["lines"] = (warehouse / "lines" / "billing_month=2026-05" / "lines.parquet").read_bytes()
    return result


def test_run_never_loads_pandas_and_publishes_the_same_tables(tmp_path: Path) -> None:
    lean, loaded = _probe(tmp_path, preload=False), _probe(tmp_path, preload=True)
    assert lean["code"] == 0 and lean["pandas"] is False
    # the real export repeats lines: their superseded hashes reach polars as an Arrow buffer (scan.hash_series),
    # since a NumPy array handed to polars or Arrow imports numpy.ma
    assert lean["numpy.ma"] is False
    assert loaded["pandas"] is True
    assert lean["billed"] == loaded["billed"] == BILLED
    assert lean["lines"] == loaded["lines"]  # byte for byte: pyarrow without pandas writes the same Parquet


def test_without_pandas_blocks_the_import_only_while_in_force() -> None:
    code = """
from chargeback.lean import without_pandas
with without_pandas():
    try:
        import pandas
    except ModuleNotFoundError as exc:
        print("blocked", exc.name)
import pandas
print("loaded", pandas.__name__)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["blocked", "pandas", "loaded", "pandas"]


def test_the_console_script_flushes_what_it_printed_and_keeps_the_exit_code(tmp_path: Path) -> None:
    """``chargeback`` ends with os._exit (cli.entry): the summary still arrives whole, even through a pipe, and a
    bad input still exits 2 with its message."""
    script = Path(sys.executable).with_name("chargeback")
    done = subprocess.run([str(script), "run", "--source", str(REAL), "--warehouse", str(tmp_path / "w"),
                           "--month", "2026-05"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert f"billed total {BILLED} CNY" in done.stdout and done.stdout.endswith("\n")
    assert "<jemalloc>" not in done.stderr  # polars' allocator took the settings cli.py gives it, none refused
    bad = subprocess.run([str(script), "run", "--source", str(tmp_path / "empty"), "--warehouse",
                          str(tmp_path / "w"), "--month", "2026-05"], capture_output=True, text=True, timeout=120,
                         check=False)
    assert bad.returncode == 2 and "error: field 'month': no Model Studio bill for 2026-05" in bad.stderr


COSTS_PROBE = """
import contextlib, io, json, sys
from chargeback.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "pandas": "pandas" in sys.modules, "answer": json.loads(out.getvalue())}))
"""


def test_costs_never_loads_pandas_and_answers_the_same(tmp_path: Path) -> None:
    """``chargeback costs`` reads the summaries with ``ParquetFile``, not the dataset layer (which imports pandas):
    a fresh process answers without pandas, exactly as one that has it loaded."""
    from chargeback.cli import main

    warehouse = tmp_path / "wh"
    assert main(["run", "--source", str(REAL), "--warehouse", str(warehouse), "--month", "2026-05"]) == 0
    answers = []
    for preload in (False, True):
        done = subprocess.run([sys.executable, "-c", ("import pandas\n" if preload else "") + COSTS_PROBE, "costs",
                               "--warehouse", str(warehouse), "--month", "2026-05", "--by", "model,api_key_id",
                               "--format", "json"], capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        answers.append(json.loads(done.stdout.strip().splitlines()[-1]))
    lean, loaded = answers
    assert lean["code"] == loaded["code"] == 0
    assert (lean["pandas"], loaded["pandas"]) == (False, True)
    assert lean["answer"] == loaded["answer"]
    assert [t["billed_cost"] for t in lean["answer"]["totals"]] == [BILLED]
