"""The month's line-ID hashes spilled to disk by bucket (``bills.reader._LineHashes``): the repeated ones and the
CSVs that hold them, found one bucket at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chargeback.bills.reader import _LineHashes


def test_repeated_hashes_and_their_csvs_across_every_bucket(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    first, second, third = (rng.integers(0, 2**64 - 1, size=50_000, dtype=np.uint64) for _ in range(3))
    shared = first[[3, 999, 40_000]]  # lines of CSV 0 also in CSV 2, wherever their top bits put them
    third[[10, 20, 30]] = shared
    second[5] = second[6]  # one CSV repeating a line of its own
    hashes = _LineHashes(tmp_path / "hashes", 3)
    for index, ids in enumerate((first, second, third)):
        hashes.add(index, ids)
    found, owners = hashes.repeated()
    assert sorted(found.tolist()) == sorted({*shared.tolist(), int(second[5])})
    assert owners == {0, 1, 2}
    assert len({int(h) >> 60 for h in first}) == _LineHashes.BUCKETS  # the test did reach every bucket


def test_no_repeated_line_no_csv_to_read_again(tmp_path: Path) -> None:
    hashes = _LineHashes(tmp_path / "hashes", 3)
    hashes.add(0, np.array([1, 2, 3], dtype=np.uint64))
    hashes.add(1, np.array([4, 2**63 + 5], dtype=np.uint64))
    hashes.add(2, np.empty(0, dtype=np.uint64))
    found, owners = hashes.repeated()
    assert found.size == 0 and owners == set()


def test_a_month_of_more_csvs_than_two_bytes_count_keeps_every_owner(tmp_path: Path) -> None:
    hashes = _LineHashes(tmp_path / "hashes", 70_000)
    hashes.add(69_999, np.array([11, 12], dtype=np.uint64))
    hashes.add(3, np.array([12], dtype=np.uint64))
    found, owners = hashes.repeated()
    assert found.tolist() == [12] and owners == {3, 69_999}
