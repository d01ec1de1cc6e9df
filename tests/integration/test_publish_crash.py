"""A publish that dies after any of its writes leaves the month whole, and a rerun with either inputs repairs it.

The store wrapper lets the first k - 1 writes of a run through and fails the k-th and every one after it, as a
process that dies there would; this runs for every k of a changed month's publish. Then: the month in the
warehouse is whole (every object its manifest names is there with its hash, the allocations add up to the
manifest), a rerun with the new inputs ends identical to an uninterrupted run, and so does a rerun with the
previous inputs (whose fingerprint the published manifest may still carry). Also the cases where "unchanged"
must not be believed: a named object lost, a table copy that lags, a month torn by an earlier version.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pytest

from chargeback.cli import main
from chargeback.config.file import load_config_file
from chargeback.errors import StorageError
from chargeback.jobs.run_month import run_month
from chargeback.storage import LocalObjectStore, ObjectInfo, ObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import manifest_to_bytes, read_manifest
from chargeback.warehouse.read import MonthNeedsRerunError, read_allocations
from tests.support.memory_store import MemoryObjectStore
from tests.support.published import MONTH, ChangedMonth, assert_whole, published_state

NOW = datetime(2026, 6, 4, 2, 30, tzinfo=UTC)


class Died(StorageError):
    """The injected end of a run."""


class DiesAtWrite:
    """``inner``, except that its ``fail_at``-th write and every later one fail (0: never)."""

    def __init__(self, inner: ObjectStore, fail_at: int = 0) -> None:
        self.inner, self.fail_at, self.writes = inner, fail_at, 0
        self.url = inner.url

    def _write(self, what: str) -> None:
        self.writes += 1
        if self.fail_at and self.writes >= self.fail_at:
            raise Died(f"died at write {self.writes} ({what})")

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self.inner.list(prefix)

    def open(self, key: str) -> BinaryIO:
        return self.inner.open(key)

    def read_bytes(self, key: str) -> bytes:
        return self.inner.read_bytes(key)

    def stat(self, key: str) -> ObjectInfo | None:
        return self.inner.stat(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._write(f"put {key}")
        self.inner.write_bytes(key, data, content_type)

    def write_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        self._write(f"put {key}")
        self.inner.write_file(key, path, content_type)

    def create(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._write(f"create {key}")
        self.inner.create(key, data, content_type)

    def copy(self, source: str, key: str) -> None:
        self._write(f"copy to {key}")
        self.inner.copy(source, key)

    def delete(self, key: str) -> None:
        self._write(f"delete {key}")
        self.inner.delete(key)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> ChangedMonth:
    return ChangedMonth.write(tmp_path_factory.mktemp("changed"))


def run(bills: Path, warehouse: ObjectStore, mapping: Path) -> None:
    run_month(LocalObjectStore(bills), warehouse, MONTH, load_config_file(str(mapping)), now=NOW)


def test_a_publish_that_dies_after_any_write_leaves_a_whole_month_and_reruns_repair_it(month: ChangedMonth) -> None:
    published_before = MemoryObjectStore()
    run(month.previous, published_before, month.mapping)
    previous_state = published_state(published_before)
    counting = DiesAtWrite(MemoryObjectStore())
    counting.inner.objects.update(published_before.objects)  # type: ignore[attr-defined]
    run(month.new, counting, month.mapping)
    new_state = published_state(counting.inner)
    assert new_state != previous_state and new_state["manifest"]["fingerprint"] != previous_state[
        "manifest"]["fingerprint"]
    writes = counting.writes
    assert writes >= 12  # the lease, 5 objects, the manifest, 5 table copies, the lease's release

    seen = set()
    for fail_at in range(1, writes + 1):
        torn = MemoryObjectStore()
        torn.objects.update(published_before.objects)
        try:
            run(month.new, DiesAtWrite(torn, fail_at), month.mapping)
        except Died:
            pass
        else:  # only the release of the lease, the last write, fails quietly: the lease expires by itself
            assert fail_at == writes
        manifest = assert_whole(torn)
        seen.add("new" if manifest.fingerprint == new_state["manifest"]["fingerprint"] else "previous")
        left = dict(torn.objects)

        run(month.new, torn, month.mapping)
        assert published_state(torn) == new_state, f"rerun with the new inputs after dying at write {fail_at}"
        again = MemoryObjectStore()
        again.objects.update(left)
        run(month.previous, again, month.mapping)
        assert published_state(again) == previous_state, f"rerun with the previous inputs, write {fail_at}"
    assert seen == {"previous", "new"}  # deaths before and after the commit


def test_unchanged_is_believed_only_when_every_named_object_is_there(month: ChangedMonth, tmp_path: Path) -> None:
    warehouse = LocalObjectStore(tmp_path / "wh")
    run(month.previous, warehouse, month.mapping)
    state = published_state(warehouse)
    manifest = read_manifest(warehouse, MONTH)
    assert manifest is not None
    lost = manifest.objects[layout.allocations_key(MONTH)].key
    warehouse.delete(lost)
    with pytest.raises(MonthNeedsRerunError, match=r"needs a rerun: .*allocations.* is missing"):
        read_allocations(warehouse, MONTH)
    summary = run_month(LocalObjectStore(month.previous), warehouse, MONTH, load_config_file(str(month.mapping)),
                        now=NOW)
    assert summary.changed and lost in summary.written  # rebuilt, not "unchanged"
    assert published_state(warehouse) == state

    warehouse.write_bytes(layout.allocations_key(MONTH), b"a copy a run never finished")
    summary = run_month(LocalObjectStore(month.previous), warehouse, MONTH, load_config_file(str(month.mapping)),
                        now=NOW)
    assert not summary.changed and summary.written == (layout.allocations_key(MONTH),)  # the copy repaired
    assert published_state(warehouse) == state
    assert_whole(warehouse)


def test_a_month_torn_by_an_earlier_version_is_named_and_repaired_by_either_rerun(month: ChangedMonth, tmp_path: Path,
                                                                                  capsys: pytest.CaptureFixture[str]
                                                                                  ) -> None:
    # what the earlier publish left when it died: the old manifest (schema 2, no objects) over the new tables
    old, new = LocalObjectStore(tmp_path / "old"), LocalObjectStore(tmp_path / "new")
    run(month.previous, old, month.mapping)
    run(month.new, new, month.mapping)
    manifest = read_manifest(old, MONTH)
    assert manifest is not None
    torn_root = tmp_path / "torn"
    torn = LocalObjectStore(torn_root)
    document = json.loads(manifest_to_bytes(manifest))
    del document["objects"]
    document["schema_version"] = 2
    torn.write_bytes(layout.manifest_key(MONTH), json.dumps(document).encode())
    for key in manifest.outputs:
        torn.write_bytes(key, new.read_bytes(key))

    code = main(["report", "--warehouse", str(torn_root), "--month", MONTH, "--outbox", str(tmp_path / "out")])
    assert code == 1
    error = capsys.readouterr().err
    assert "month 2026-05" in error and "needs a rerun" in error and "SHA-256 differs" in error
    assert not (tmp_path / "out").exists()  # no statement from a torn month

    assert main(["run", "--source", str(month.previous), "--warehouse", str(torn_root), "--month", MONTH,
                 "--mapping", str(month.mapping)]) == 0
    assert "unchanged" not in capsys.readouterr().out
    assert published_state(torn) == published_state(old)
    assert_whole(torn)
