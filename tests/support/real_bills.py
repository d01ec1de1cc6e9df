"""The real anonymised export (``tests/data/real-bills/``) published as ``chargeback run`` publishes it: the
warehouse the FAQ's questions, the Athena checks and the README's snippets are asked of."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from chargeback.config.file import load_config_file
from chargeback.jobs.run_month import run_month
from chargeback.storage import LocalObjectStore, ObjectStore

REAL = Path(__file__).resolve().parents[1] / "data" / "real-bills"
MONTH = "2026-05"
BILLED = "57.477867"  # CNY, what the export's lines are payable (tests/data/real-bills/README.md)


def publish_real_export(warehouse: ObjectStore) -> ObjectStore:
    """Run the month of the real export into ``warehouse`` with the default mapping; returns the warehouse."""
    run_month(LocalObjectStore(REAL), warehouse, MONTH, load_config_file(None),
              now=datetime(2026, 5, 16, 3, tzinfo=UTC))
    return warehouse


@pytest.fixture(scope="session")
def real_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder warehouse with the real export published, shared by the tests that only read it."""
    root = tmp_path_factory.mktemp("real-export")
    publish_real_export(LocalObjectStore(root))
    return root
