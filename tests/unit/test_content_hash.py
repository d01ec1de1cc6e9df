"""hash_file: a local file's content hash, mapped a window at a time, equals the hash of its bytes."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import pytest
import xxhash

from chargeback.bills import sources

WINDOW = mmap.ALLOCATIONGRANULARITY  # the smallest window a mapping allows: many windows on a small file


@pytest.mark.parametrize("size", [0, 1, WINDOW - 1, WINDOW, WINDOW + 1, 3 * WINDOW + 17])
def test_a_file_hashes_as_its_bytes_whatever_its_size_against_the_window(tmp_path: Path, size: int,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_HASH_WINDOW", WINDOW)
    data = os.urandom(size)
    path = tmp_path / "bill.csv"
    path.write_bytes(data)
    assert sources.hash_file(path) == f"{sources.CONTENT_HASH}:{xxhash.xxh3_128(data).hexdigest()}"


def test_one_changed_byte_in_a_later_window_changes_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_HASH_WINDOW", WINDOW)
    data = bytearray(os.urandom(2 * WINDOW + 5))
    path = tmp_path / "bill.csv"
    path.write_bytes(data)
    before = sources.hash_file(path)
    data[-3] ^= 1
    path.write_bytes(data)
    assert sources.hash_file(path) != before
