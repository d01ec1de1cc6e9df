"""A changed month and what a whole published month looks like: the test support of the publish protocol's
crash, kill and race tests.

``ChangedMonth`` writes two bill folders for one month, the previous inputs (one v2 push) and the new inputs
(the same push and a newer one that restates it: other amounts, one more key), and a mapping with three cost
centers. ``assert_whole`` checks a warehouse the way a reader depends on it: every object the manifest names
is there with its hash, the table copies are the named objects or an earlier complete version, and the
allocations add up, per cost center, to the manifest's totals. ``published_state`` is what two warehouses must
share to be "identical": the manifest (without the times of its run), and the bytes of every table and object
it names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from chargeback.storage import LocalObjectStore, ObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.manifest import Manifest, manifest_to_bytes, read_manifest
from chargeback.warehouse.publish import check_published, lagging_copies
from chargeback.warehouse.read import read_allocations, read_output
from tests.support.v2_bills import v2_key, v2_row, v2_zip

MONTH = "2026-05"
KEYS = {"search": "2100001", "research": "2300002", "ops": "2500005"}
MAPPING = """\
cost_centers:
  search: {name: Search, owners: [lead@search.example.com], api_keys: ["2100001"]}
  research: {name: Research, owners: [lead@research.example.com], api_keys: ["2300002"]}
  ops: {name: Ops, owners: [lead@ops.example.com], api_keys: ["2500005"]}
"""
RUN_TIMES = ("ingested_at", "allocated_at")  # of the run, not of the month: two runs differ only here


def _rows(days: int, scale: int, *, extra_key: bool) -> list[dict[str, str]]:
    rows = []
    line = 0
    for day in range(1, days + 1):
        for center, key in KEYS.items():
            for model in ("qwen-plus", "qwen-max"):
                line += 1
                amount = Decimal(day * scale + len(center)) / 1000
                rows.append(v2_row(line, f"202605{day:02d}", f"{key};llm-ws0000000000000a;{model};input_token;app",
                                   str(amount)))
        if extra_key:
            line += 1
            rows.append(v2_row(line, f"202605{day:02d}", "2900009;llm-ws0000000000000a;qwen-plus;output_token;app",
                               "0.25"))
    return rows


@dataclass(frozen=True)
class ChangedMonth:
    """Folders of bills for the previous and the new inputs of one month, and the mapping file."""

    previous: Path
    new: Path
    mapping: Path

    @classmethod
    def write(cls, root: Path, days: int = 20) -> ChangedMonth:
        previous, new = root / "bills-previous", root / "bills-new"
        first = v2_zip("202605", _rows(days, 37, extra_key=False))
        restated = v2_zip("202605", _rows(days, 41, extra_key=True))
        for folder, pushes in ((previous, {"20260521101500": first}),
                               (new, {"20260521101500": first, "20260522101500": restated})):
            for pushed, data in pushes.items():
                path = folder / v2_key("bills", "202605", pushed)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        mapping = root / "mapping.yaml"
        mapping.write_text(MAPPING)
        return cls(previous / "bills", new / "bills", mapping)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_whole(store: ObjectStore, month: str = MONTH) -> Manifest:
    """Assert that ``store`` holds ``month`` whole, as every reader relies on; returns its manifest."""
    manifest = read_manifest(store, month)
    assert manifest is not None, "no manifest"
    assert check_published(store, manifest) == []
    for key in manifest.outputs:
        assert read_output(store, manifest, key) is not None  # there, with the manifest's SHA-256
    allocations = read_allocations(store, month, manifest)
    assert allocations is not None
    found: dict[str, dict[str, Decimal]] = {}
    for center, currency, cost in zip(allocations["cost_center"], allocations["currency"], allocations["billed_cost"],
                                      strict=True):
        found.setdefault(center, {}).setdefault(currency, Decimal(0))
        found[center][currency] += cost
    assert found == {c: dict(t) for c, t in manifest.totals_by_cost_center.items()}
    for key in lagging_copies(store, manifest):  # a copy not yet replaced holds an earlier whole version
        assert key in manifest.objects and store.exists(key)
    return manifest


def published_state(store: ObjectStore, month: str = MONTH) -> dict[str, Any]:
    """What two warehouses share when they hold the same month: the manifest without its run's times, and the
    bytes of every table key and named object (leases, records and unnamed objects are not part of it)."""
    manifest = read_manifest(store, month)
    assert manifest is not None
    document = json.loads(manifest_to_bytes(manifest))
    for name in RUN_TIMES:
        document.pop(name, None)
    tables = {key: _sha(store.read_bytes(key)) for key in manifest.outputs}
    objects = {stored.key: _sha(store.read_bytes(stored.key)) for stored in manifest.objects.values()}
    return {"manifest": document, "tables": tables, "objects": objects}


def copy_store(source: Mapping[str, bytes] | LocalObjectStore, target: Path) -> LocalObjectStore:
    """A new local warehouse at ``target`` holding what ``source`` holds."""
    copy = LocalObjectStore(target)
    if isinstance(source, LocalObjectStore):
        for info in source.list():
            copy.write_bytes(info.key, source.read_bytes(info.key))
    else:
        for key, data in source.items():
            copy.write_bytes(key, data)
    return copy


__all__ = ["KEYS", "MAPPING", "MONTH", "ChangedMonth", "assert_whole", "copy_store", "layout", "published_state"]
