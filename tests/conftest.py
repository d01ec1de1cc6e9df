"""Shared pytest fixtures and options.

The storage fixtures live in tests/support/fixtures.py, the stores behind the fault proxy in
tests/support/fault_stores.py. ``--update-goldens`` (or UPDATE_GOLDENS=1) rewrites
the golden files under tests/data/golden on purpose; review the diff before committing it.
moto's conditional writes are made atomic for the whole session (tests/support/moto_atomic.py).
"""

from __future__ import annotations

import os

import pytest

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
