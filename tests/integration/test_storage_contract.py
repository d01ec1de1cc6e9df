"""The ObjectStore contract, run over every backend: local folder, S3 (moto) and OSS (oss2 + emulator)."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from chargeback.errors import InputError, NotFoundError, StorageError
from chargeback.storage import AlreadyExistsError, ObjectInfo, ObjectStore
from tests.support.fixtures import StoreBackend

UNSAFE_KEYS = ["../x", "/abs", "a//b"]


def keys_of(store: ObjectStore, prefix: str = "") -> list[str]:
    return [info.key for info in store.list(prefix)]


def test_store_satisfies_the_port(backend: StoreBackend) -> None:
    store = backend.store()
    assert isinstance(store, ObjectStore)
    assert store.url.endswith("warehouse/v1")


def test_write_then_read_returns_the_same_bytes(backend: StoreBackend) -> None:
    store = backend.store()
    data = bytes(range(256)) * 3
    store.write_bytes("bills/2024-05.csv", data, content_type="text/csv")
    assert store.read_bytes("bills/2024-05.csv") == data
    assert list(store.list()) == [
        ObjectInfo("bills/2024-05.csv", len(data), store_etag(store, "bills/2024-05.csv"))
    ]


def store_etag(store: ObjectStore, key: str) -> str:
    (info,) = [info for info in store.list() if info.key == key]
    assert info.etag
    return info.etag


def test_empty_object_roundtrips(backend: StoreBackend) -> None:
    store = backend.store()
    store.write_bytes("empty.txt", b"")
    assert store.read_bytes("empty.txt") == b""
    assert [(info.key, info.size) for info in store.list()] == [("empty.txt", 0)]


def test_overwrite_replaces_content_and_etag(backend: StoreBackend) -> None:
    store = backend.store()
    store.write_bytes("manifest.json", b'{"version": 1}')
    first_etag = store_etag(store, "manifest.json")
    store.write_bytes("manifest.json", b'{"version": 2, "rows": 10}')
    assert store.read_bytes("manifest.json") == b'{"version": 2, "rows": 10}'
    assert [(info.key, info.size) for info in store.list()] == [("manifest.json", 26)]
    assert store_etag(store, "manifest.json") != first_etag


def test_list_with_a_prefix(backend: StoreBackend) -> None:
    store = backend.store()
    for key in ["2024-01/a.csv", "2024-01/b.csv", "2024-010/c.csv", "2024-02/a.csv", "readme.txt"]:
        store.write_bytes(key, key.encode())
    assert keys_of(store, "2024-01/") == ["2024-01/a.csv", "2024-01/b.csv"]
    assert keys_of(store, "2024-01") == ["2024-01/a.csv", "2024-01/b.csv", "2024-010/c.csv"]
    assert keys_of(store, "2024-03/") == []
    assert [info.size for info in store.list("2024-02/")] == [len(b"2024-02/a.csv")]


def test_list_is_recursive_sorted_and_relative_to_the_root(backend: StoreBackend) -> None:
    store = backend.store()
    sibling = backend.store(prefix="warehouse/v2")
    sibling.write_bytes("outside.txt", b"not ours")
    for key in ["z.txt", "a/b/c/d.txt", "a/e.txt", "a/b/f.txt"]:
        store.write_bytes(key, b"x" * len(key))
    listed = list(store.list())
    assert [info.key for info in listed] == ["a/b/c/d.txt", "a/b/f.txt", "a/e.txt", "z.txt"]
    assert [info.size for info in listed] == [11, 9, 7, 5]
    assert keys_of(sibling) == ["outside.txt"]


def test_list_follows_pages(backend: StoreBackend) -> None:
    store = backend.store(page_size=10)
    keys = [f"lines/part-{number:03d}.parquet" for number in range(25)]
    for key in reversed(keys):
        store.write_bytes(key, b"p")
    before = backend.listing_requests() if backend.listing_requests else 0
    assert keys_of(store, "lines/") == keys
    if backend.listing_requests:
        assert backend.listing_requests() - before == 3  # 10 + 10 + 5


def test_list_beyond_one_default_page(backend: StoreBackend) -> None:
    store = backend.store()
    keys = [f"many/{number:04d}" for number in range(1100)]
    for key in keys:
        store.write_bytes(key, b"")
    before = backend.listing_requests() if backend.listing_requests else 0
    assert keys_of(store) == keys
    if backend.listing_requests:
        assert backend.listing_requests() - before == 2  # 1,000 + 100


def test_unicode_keys(backend: StoreBackend) -> None:
    store = backend.store()
    key = "账单/2024年5月/通义千问 用量+明细%.csv"
    store.write_bytes(key, "模型,费用\nqwen-max,1.2345678\n".encode())
    store.write_bytes("账单/2024年4月.csv", b"april")
    assert keys_of(store, "账单/2024年5月/") == [key]
    assert keys_of(store, "账单/") == ["账单/2024年4月.csv", key]
    assert store.read_bytes(key).decode() == "模型,费用\nqwen-max,1.2345678\n"
    assert store.exists(key)
    store.delete(key)
    assert not store.exists(key)


def test_open_streams_the_object_in_pieces(backend: StoreBackend) -> None:
    store = backend.store()
    data = random.Random(7).randbytes(3 * 1024 * 1024 + 17)
    store.write_bytes("big.bin", data)
    pieces = []
    with store.open("big.bin") as stream:
        assert stream.read(10) == data[:10]
        pieces.append(data[:10])
        while piece := stream.read(64 * 1024):
            assert len(piece) <= 64 * 1024
            pieces.append(piece)
    assert stream.closed
    assert b"".join(pieces) == data


def test_open_supports_readline(backend: StoreBackend) -> None:
    store = backend.store()
    store.write_bytes("bill.csv", b"header\nrow 1\nrow 2")
    with store.open("bill.csv") as stream:
        assert stream.readline() == b"header\n"
        assert list(stream) == [b"row 1\n", b"row 2"]


def test_missing_object_raises_not_found(backend: StoreBackend) -> None:
    store = backend.store()
    with pytest.raises(NotFoundError, match=r"nothing-here\.csv"):
        store.read_bytes("nothing-here.csv")
    with pytest.raises(NotFoundError):
        store.open("nothing-here.csv")
    assert issubclass(NotFoundError, StorageError)


def test_exists_follows_writes_and_deletes(backend: StoreBackend) -> None:
    store = backend.store()
    assert not store.exists("a/b.csv")
    store.write_bytes("a/b.csv", b"1")
    assert store.exists("a/b.csv")
    assert not store.exists("a/b")
    assert not store.exists("a/b.csv.tmp")


def test_delete_removes_only_that_object(backend: StoreBackend) -> None:
    store = backend.store()
    store.write_bytes("keep.csv", b"1")
    store.write_bytes("drop.csv", b"2")
    store.delete("drop.csv")
    assert keys_of(store) == ["keep.csv"]
    with pytest.raises(NotFoundError):
        store.read_bytes("drop.csv")


def test_deleting_a_missing_object_is_not_an_error(backend: StoreBackend) -> None:
    store = backend.store()
    store.delete("never-written.csv")
    assert keys_of(store) == []


@pytest.mark.parametrize("unsafe_key", UNSAFE_KEYS)
def test_unsafe_keys_are_rejected(backend: StoreBackend, unsafe_key: str) -> None:
    store = backend.store()
    with pytest.raises(InputError, match="unsafe object key"):
        store.write_bytes(unsafe_key, b"escape")
    with pytest.raises(InputError):
        store.read_bytes(unsafe_key)
    with pytest.raises(InputError):
        store.open(unsafe_key)
    with pytest.raises(InputError):
        store.exists(unsafe_key)
    with pytest.raises(InputError):
        store.delete(unsafe_key)
    with pytest.raises(InputError):
        list(store.list(unsafe_key))
    assert keys_of(backend.store(prefix="warehouse")) == []


def test_store_url_round_trip(backend: StoreBackend) -> None:
    written = backend.store()
    written.write_bytes("months/2024-05/lines.csv", b"a,b\n1,2\n")
    opened = backend.open_url()
    assert type(opened) is type(written)
    assert opened.url == written.url
    assert opened.read_bytes("months/2024-05/lines.csv") == b"a,b\n1,2\n"
    opened.write_bytes("months/2024-05/manifest.json", b"{}")
    assert keys_of(written, "months/") == ["months/2024-05/lines.csv", "months/2024-05/manifest.json"]


def test_create_writes_only_a_new_key(backend: StoreBackend) -> None:
    store = backend.store()
    store.create("leases/run/0001.json", b'{"token": "a"}', content_type="application/json")
    with pytest.raises(AlreadyExistsError):
        store.create("leases/run/0001.json", b'{"token": "b"}')
    assert store.read_bytes("leases/run/0001.json") == b'{"token": "a"}'  # the first writer's bytes stay
    store.create("leases/run/0002.json", b'{"token": "b"}')
    assert keys_of(store, "leases/") == ["leases/run/0001.json", "leases/run/0002.json"]


def test_racing_creates_of_one_key_let_exactly_one_win(backend: StoreBackend) -> None:
    store = backend.store()
    outcomes: list[str] = []

    def create(token: str) -> None:
        try:
            store.create("race/0001.json", token.encode())
            outcomes.append("won")
        except AlreadyExistsError:
            outcomes.append("lost")

    threads = [threading.Thread(target=create, args=(f"writer-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost"] * 7 + ["won"]
    assert store.read_bytes("race/0001.json").startswith(b"writer-")


def test_stat_gives_size_etag_and_time_or_none(backend: StoreBackend) -> None:
    store = backend.store()
    assert store.stat("nothing.bin") is None
    store.write_bytes("objects/a.bin", b"12345")
    info = store.stat("objects/a.bin")
    assert info is not None and info.key == "objects/a.bin" and info.size == 5
    assert info.etag == store_etag(store, "objects/a.bin")
    assert info.modified is not None and info.modified.tzinfo is not None
    (listed,) = store.list("objects/")
    assert listed.modified is not None


def test_copy_keeps_bytes_and_etag(backend: StoreBackend) -> None:
    store = backend.store()
    store.write_bytes("objects/x-abc.parquet", b"new table")
    store.write_bytes("allocations/billing_month=2026-05/allocations.parquet", b"old table, longer")
    store.copy("objects/x-abc.parquet", "allocations/billing_month=2026-05/allocations.parquet")
    assert store.read_bytes("allocations/billing_month=2026-05/allocations.parquet") == b"new table"
    copied, source = store.stat("allocations/billing_month=2026-05/allocations.parquet"), store.stat("objects/x-abc.parquet")
    assert copied is not None and source is not None
    assert (copied.size, copied.etag) == (source.size, source.etag)
    with pytest.raises(NotFoundError, match=r"missing\.parquet"):
        store.copy("objects/missing.parquet", "allocations/billing_month=2026-06/allocations.parquet")
    # the copy lives on its own: replacing or deleting the source (as the sweep of old objects does) leaves it
    store.write_bytes("objects/x-abc.parquet", b"another")
    assert store.read_bytes("allocations/billing_month=2026-05/allocations.parquet") == b"new table"
    store.delete("objects/x-abc.parquet")
    assert store.read_bytes("allocations/billing_month=2026-05/allocations.parquet") == b"new table"
    assert [i.key for i in store.list("allocations/")] == ["allocations/billing_month=2026-05/allocations.parquet"]


def test_write_file_stores_the_file_as_write_bytes_would(backend: StoreBackend, tmp_path: Path) -> None:
    store = backend.store()
    data = random.Random(5).randbytes(3 * 1024 * 1024 + 17)  # more than one read of the file
    spooled = tmp_path / "focus.csv"
    spooled.write_bytes(data)
    store.write_bytes("exports/old.csv", b"the previous export")
    store.write_file("exports/old.csv", spooled, content_type="text/csv")
    store.write_bytes("exports/same.csv", data)
    assert store.read_bytes("exports/old.csv") == data
    from_file, from_bytes = store.stat("exports/old.csv"), store.stat("exports/same.csv")
    assert from_file is not None and from_bytes is not None
    assert from_file.size == len(data)
    if backend.name != "file":  # one PUT either way: the ETag is the bytes' MD5 on S3 and OSS
        assert from_file.etag == from_bytes.etag
    assert spooled.read_bytes() == data  # the store reads the file and leaves it to its owner
