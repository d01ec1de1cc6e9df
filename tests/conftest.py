"""Shared pytest fixtures and options.

The storage fixtures live in tests/support/fixtures.py, the stores behind the fault proxy in
tests/support/fault_stores.py. ``--update-goldens`` (or UPDATE_GOLDENS=1) rewrites
the golden files under tests/data/golden on purpose; review the diff before committing it.
moto's conditional writes are made atomic for the whole session (tests/support/moto_atomic.py).
The fast path reads every UTF-8 bill CSV in this process (:func:`fast_path_for_small_bills`).
"""

from __future__ import annotations

import os

import pytest

from chargeback.bills import reader
from tests.support import moto_atomic
from tests.support.fault_stores import faulty
from tests.support.fixtures import (
    backend,
    local_store,
    moto_server,
    oss_bucket,
    oss_server,
    oss_store,
    s3_client,
    s3_store,
)
from tests.support.real_bills import real_export

__all__ = ["backend", "faulty", "local_store", "moto_server", "oss_bucket", "oss_server", "oss_store",
           "real_export", "s3_client", "s3_store"]

moto_atomic.install()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="rewrite the golden files under tests/data/golden from the current output")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens")) or os.environ.get("UPDATE_GOLDENS") == "1"


@pytest.fixture(autouse=True)
def fast_path_for_small_bills(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the fast path read every UTF-8 CSV, however small. A deployment sends a CSV under
    ``reader.SCAN_FROM_BYTES`` to the exact reader, and nearly every bill of the suite is that small: without
    this the fast path would go untested but for the few large bills. The exact reader stays under test
    through the GBK bills, the fast path's declines and tests/integration/test_reader_choice.py, which also
    runs the deployed threshold; commands run as subprocesses keep it too."""
    monkeypatch.setattr(reader, "SCAN_FROM_BYTES", 0)
