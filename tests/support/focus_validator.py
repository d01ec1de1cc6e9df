"""Run the FinOps Foundation's focus-validator 1.0.0 on a FOCUS CSV, in a virtual environment of its own.

focus-validator 1.0.0 pins pandas 2 and numpy 1 and needs ``multimethod<2``, so it lives in ``.venv-focus`` at
the repository root, created on first use and kept (a stamp file names the finished install). pip would pair
it with a pyarrow that needs numpy 2 (pyarrow declares no numpy requirement), so pyarrow is held below 21.
It exits 0 even when validation fails: the verdict is its ``Validation succeeded.`` line.

Its rule set "1.0" differs from the FOCUS 1.0 column IDs in two ways, so the file is validated as a copy
adapted for it, every value unchanged:

- four columns carry their display names: InvoiceIssuerName -> InvoiceIssuer, ProviderName -> Provider,
  PublisherName -> Publisher, ResourceId -> ResourceID;
- the SkuPriceId rule reads the 1.0-preview column ChargeType, so the copy repeats ChargeCategory under it.

Given a CSV it infers column types, so an all-digit account UID becomes an integer column and fails
``BillingAccountId_IsString`` (its ``--override-file`` cannot skip type checks). The adapted copy is therefore
handed over as Parquet, typed as FOCUS types them: strings as strings, decimals as floats (the validator's
decimal type is float), datetimes as their ISO text. ``as_csv=True`` hands over the CSV instead.

Usage: python tests/support/focus_validator.py FOCUS.csv   (exit 0 when validation succeeded)
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-focus"
VERSION = "1.0.0"
STAMP = VENV / ".installed"
PACKAGES = (f"focus-validator=={VERSION}", "multimethod<2", "pyarrow<21")
SUCCESS = "Validation succeeded."

DISPLAY_NAMES = {
    "InvoiceIssuerName": "InvoiceIssuer",
    "ProviderName": "Provider",
    "PublisherName": "Publisher",
    "ResourceId": "ResourceID",
}
DECIMAL_COLUMNS = frozenset({
    "BilledCost", "ConsumedQuantity", "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "ListCost",
    "ListUnitPrice", "PricingQuantity",
})


@dataclass
class ValidationRun:
    succeeded: bool
    output: str


def ensure_venv() -> Path:
    """The focus-validator executable, installing it into .venv-focus when it is not there yet."""
    executable = VENV / "bin" / "focus-validator"
    wanted = " ".join(PACKAGES) + "\n"
    if executable.exists() and STAMP.exists() and STAMP.read_text() == wanted:
        return executable
    if VENV.exists():
        shutil.rmtree(VENV)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *PACKAGES], check=True)
    STAMP.write_text(wanted)
    return executable


def _site_packages() -> Path:
    """focus-validator opens focus_validator/utils/currency_codes.csv relative to the working directory."""
    found = subprocess.run(
        [str(VENV / "bin" / "python"), "-c",
         "import focus_validator, os; print(os.path.dirname(os.path.dirname(focus_validator.__file__)))"],
        check=True, capture_output=True, text=True)
    return Path(found.stdout.strip())


def adapt_for_validator(focus_csv: bytes) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the CSV as focus-validator 1.0.0 names them (see the module docstring)."""
    rows = list(csv.reader(io.StringIO(focus_csv.decode("utf-8"))))
    header = [DISPLAY_NAMES.get(name, name) for name in rows[0]]
    body = rows[1:]
    if "ChargeCategory" in header and "ChargeType" not in header:
        at = header.index("ChargeCategory")
        header.append("ChargeType")
        body = [[*row, row[at]] for row in body]
    return header, body


def _write_csv(header: list[str], body: list[list[str]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)


def _write_parquet(header: list[str], body: list[list[str]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {}
    for index, name in enumerate(header):
        values = [row[index] if row[index] != "" else None for row in body]
        if name in DECIMAL_COLUMNS:
            arrays[name] = pa.array([None if v is None else float(v) for v in values], pa.float64())
        else:
            arrays[name] = pa.array(values, pa.string())
    pq.write_table(pa.table(arrays), path)


def validate_csv(focus_csv: bytes, *, as_csv: bool = False) -> ValidationRun:
    """Run ``focus-validator --data-file X --validate-version 1.0`` on an adapted copy of ``focus_csv``."""
    executable = ensure_venv()
    header, body = adapt_for_validator(focus_csv)
    with tempfile.TemporaryDirectory(prefix="focus-validator-") as tmp:
        data = Path(tmp) / ("focus.csv" if as_csv else "focus.parquet")
        (_write_csv if as_csv else _write_parquet)(header, body, data)
        command = [str(executable), "--data-file", str(data), "--validate-version", "1.0"]
        done = subprocess.run(command, cwd=_site_packages(), capture_output=True, text=True, timeout=600)
    return ValidationRun(SUCCESS in done.stdout, done.stdout + done.stderr)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    run = validate_csv(Path(argv[0]).read_bytes())
    print(run.output)
    return 0 if run.succeeded else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
