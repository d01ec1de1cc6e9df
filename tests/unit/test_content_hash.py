"""hash_file: a local file's content hash, mapped a window at a time, equals the hash of its bytes; a month's
reading hashes each local file beside its own scan."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import pytest
import xxhash

from chargeback.bills import sources
from chargeback.bills.discovery import select_month
from chargeback.bills.reader import read_month
from chargeback.errors import InputError
from chargeback.storage import LocalObjectStore
from tests.support.malformed import DATE, FULL, PAID, PAYABLE, PUSH, REAL, real_with

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


def test_a_month_that_fails_on_one_csv_does_not_hash_the_files_it_never_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each local file is hashed beside its own reading: a bad first file is named at once, not after every
    other file of the month has been hashed."""
    store = LocalObjectStore(tmp_path)
    store.write_bytes(PUSH + ".csv", real_with(PAID, DATE, "abc"))
    store.write_bytes(PUSH + "_1.csv", (REAL / FULL).read_bytes())
    hashed: list[str] = []
    hash_file = sources.hash_file
    monkeypatch.setattr(sources, "hash_file", lambda path: hashed.append(path.name) or hash_file(path))
    selection = select_month(list(store.list("")), "2026-05")
    assert len(selection.files) == 2
    with pytest.raises(InputError) as failed:
        read_month(store, selection.files, "2026-05")
    assert failed.value.source == PUSH + ".csv" and failed.value.line == PAID + 2
    assert hashed == [Path(PUSH).name + ".csv"]


def test_every_file_of_a_month_read_whole_is_hashed_as_its_bytes(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    files = {PUSH + ".csv": (REAL / FULL).read_bytes(), PUSH + "_1.csv": real_with(PAID, PAYABLE, "7.63")}
    for key, data in files.items():
        store.write_bytes(key, data)
    read = read_month(store, select_month(list(store.list("")), "2026-05").files, "2026-05")
    assert {f.bill.key: f.content_hash for f in read.files} == {
        key: f"{sources.CONTENT_HASH}:{xxhash.xxh3_128(data).hexdigest()}" for key, data in files.items()}
