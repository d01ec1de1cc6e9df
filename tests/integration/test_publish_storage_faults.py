"""A PUT that keeps failing in the middle of a publish, on S3 (moto's server) and OSS (the emulator), through the
fault proxy: the run fails with a clear StorageError within its bound, the warehouse holds its last complete
month (readable, whole), and the next run, with the storage healthy again, ends identical to an uninterrupted
run.

The failing PUT is, in turn, a content-addressed object (before the commit), the manifest (the commit itself)
and a table copy (after the commit: the copies lag and the next run brings them up to date).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest

from chargeback.config.file import load_config_file
from chargeback.errors import StorageError
from chargeback.jobs.run_month import run_month
from chargeback.storage import LocalObjectStore, ObjectStore
from chargeback.warehouse import layout
from tests.support.fault_proxy import Fault, Request
from tests.support.fault_stores import LASTING, Faulty
from tests.support.memory_store import MemoryObjectStore
from tests.support.published import MONTH, ChangedMonth, assert_whole, published_state

NOW = datetime(2026, 6, 4, 2, 30, tzinfo=UTC)


def put_of(part: str, *, copy: bool = False) -> Callable[[Request], bool]:
    """PUTs of keys holding ``part`` (copies only, or writes only)."""

    def match(request: Request) -> bool:
        copied = any(name.lower() in ("x-amz-copy-source", "x-oss-copy-source") for name in request.headers)
        return request.method == "PUT" and part in unquote(request.path) and copied == copy

    return match


FAILING_PUTS = {
    "an object": put_of("/objects/billing_month=2026-05/allocations/"),
    "the manifest": put_of("/manifests/billing_month=2026-05/manifest.json"),
    "a table copy": put_of("/allocations/billing_month=2026-05/allocations.parquet", copy=True),
}


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> ChangedMonth:
    return ChangedMonth.write(tmp_path_factory.mktemp("changed"), days=3)


def run(month: ChangedMonth, bills: str, warehouse: ObjectStore) -> None:
    run_month(LocalObjectStore(getattr(month, bills)), warehouse, MONTH, load_config_file(str(month.mapping)),
              now=NOW)


@pytest.mark.parametrize("failing", FAILING_PUTS)
def test_a_put_failing_mid_publish_leaves_the_last_whole_month_and_the_next_run_repairs_it(
        faulty: Faulty, month: ChangedMonth, failing: str) -> None:
    expected = MemoryObjectStore()
    run(month, "previous", expected)
    previous_state = published_state(expected)
    run(month, "new", expected)
    new_state = published_state(expected)

    store = faulty.make_store(LASTING)
    run(month, "previous", store)
    assert published_state(faulty.direct) == previous_state
    rule = faulty.proxy.inject(Fault.error(500), times=None, match=FAILING_PUTS[failing])
    started = time.monotonic()
    with pytest.raises(StorageError, match=r"failed after 4 attempts.*HTTP 500"):
        run(month, "new", store)
    assert time.monotonic() - started < 30 and rule.applied == 4  # the put's bound, not a hang

    manifest = assert_whole(faulty.direct)  # readable and whole: the previous month, or the new one committed
    committed = manifest.fingerprint == new_state["manifest"]["fingerprint"]
    assert committed == (failing == "a table copy")
    state = published_state(faulty.direct)
    if committed:  # the commit stands; the copy Athena reads still holds the previous month, whole
        assert (state["manifest"], state["objects"]) == (new_state["manifest"], new_state["objects"])
        table = layout.allocations_key(MONTH)
        assert state["tables"][table] == previous_state["tables"][table] != new_state["tables"][table]
    else:
        assert state == previous_state

    faulty.proxy.clear()
    run(month, "new", faulty.make_store(LASTING))
    assert published_state(faulty.direct) == new_state
    assert_whole(faulty.direct)
