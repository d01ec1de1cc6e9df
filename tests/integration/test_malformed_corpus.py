"""The malformed corpus through the real ``chargeback run``: exit 2 naming file, line and field, or exact totals.

Every case starts from a month published from the real export; a refused input must leave that warehouse
byte-identical, and no case may end in a traceback (tests/support/malformed.py holds the cases).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from chargeback import cli
from tests.support.malformed import BILL_CASES, CONFIG_CASES, EARLY, FULL, REAL, REAL_TOTAL, Case, config_bytes
from tests.support.warehouse import published_files

MONTH = "2026-05"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding the month as the real export alone publishes it."""
    root = tmp_path_factory.mktemp("published")
    source = root / "src"
    source.mkdir()
    for name in (FULL, EARLY):
        shutil.copy(REAL / name, source / name)
    assert cli.main(["run", "--source", str(source), "--warehouse", str(root / "wh"), "--month", MONTH]) == 0
    return root / "wh"


def _source(tmp_path: Path, case: Case) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    if not case.alone:
        for name in (FULL, EARLY):
            shutil.copy(REAL / name, source / name)
    for key, data in case.files.items():
        (source / key).parent.mkdir(parents=True, exist_ok=True)
        (source / key).write_bytes(data)
    return source


@pytest.mark.parametrize("case", BILL_CASES, ids=[c.name for c in BILL_CASES])
def test_a_malformed_bill_is_refused_with_its_line_or_read_exactly(case: Case, published: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    warehouse = tmp_path / "wh"
    shutil.copytree(published, warehouse)
    before = published_files(warehouse)
    source = _source(tmp_path, case)
    capsys.readouterr()
    code = cli.main(["--log-format", "text", "run", "--source", str(source), "--warehouse", str(warehouse),
                     "--month", MONTH, "--force", *case.args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if case.error:
        assert code == 2, err
        message = err.strip().splitlines()[-1]
        for part in case.error:
            assert part in message, f"{part!r} not in {message!r}"
        assert published_files(warehouse) == before  # nothing published
        return
    assert code == 0, err
    manifest = json.loads((warehouse / f"manifests/billing_month={MONTH}/manifest.json").read_text())
    assert {c: Decimal(v) for c, v in manifest["totals"].items()} == case.totals
    counts = manifest["counts"]
    assert counts["rows_read"] == sum(counts[k] for k in ("model_studio_rows", "other_product_rows",
                                                          "other_month_rows", "duplicate_rows"))
    for name, value in case.counts.items():
        assert counts[name] == value, name


@pytest.mark.parametrize(("name", "text", "parts"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_a_malformed_mapping_is_refused_before_any_bill_is_read(name: str, text: str, parts: tuple[str, ...],
                                                                published: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    warehouse = tmp_path / "wh"
    shutil.copytree(published, warehouse)
    before = published_files(warehouse)
    mapping = tmp_path / "teams.yaml"
    mapping.write_bytes(config_bytes(text))
    capsys.readouterr()
    code = cli.main(["run", "--source", str(REAL), "--warehouse", str(warehouse), "--month", MONTH,
                     "--mapping", str(mapping), "--force"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    for part in (str(mapping), *parts):
        assert part in err, f"{part!r} not in {err!r}"
    assert published_files(warehouse) == before


SUBPROCESS_CASES = ("duplicated payable column placed first", "billing date '20261345'", "an encrypted member",
                    "a newer export restates a line: 6.4 -> 7.63")


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_as_a_real_process(name: str, published: Path, tmp_path: Path) -> None:
    """A few cases as a user runs them: the console script in its own process, exit code and stderr."""
    case = next(c for c in BILL_CASES if c.name == name)
    warehouse = tmp_path / "wh"
    shutil.copytree(published, warehouse)
    before = published_files(warehouse)
    source = _source(tmp_path, case)
    done = subprocess.run([sys.executable, "-m", "chargeback.cli", "run", "--source", str(source), "--warehouse",
                           str(warehouse), "--month", MONTH, "--force"], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr
    if case.error:
        assert done.returncode == 2, done.stderr
        assert all(part in done.stderr for part in case.error), done.stderr
        assert published_files(warehouse) == before
    else:
        assert done.returncode == 0, done.stderr
        assert "restated by a newer export" in done.stdout


def test_the_corpus_is_large_enough() -> None:
    assert len(BILL_CASES) + len(CONFIG_CASES) >= 80
    assert sum(1 for c in BILL_CASES if c.error) >= 50 and sum(1 for c in BILL_CASES if c.totals) >= 15
    assert Decimal("57.477867") == REAL_TOTAL
