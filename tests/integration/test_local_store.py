"""The local folder adapter and special files: FIFOs, sockets and links out of the folder are listed with a
reason and never opened, so a run over such a folder finishes and says what it left out."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chargeback.cli import main
from chargeback.errors import NotFoundError, StorageError
from chargeback.storage import LocalObjectStore
from chargeback.storage.local import file_kind

REAL = Path(__file__).resolve().parents[1] / "data" / "real-bills"
FIFO_BILL = "1000000000000001-20260517000000_consumedetailbillv2.csv"


def finishes(fn: Callable[[], Any], seconds: float = 20.0) -> Any:
    """Run ``fn`` in a thread; fail (instead of hanging the suite) if it blocks."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{fn} blocked for {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "store"
    (root / "bills" / "linked-folder-target").mkdir(parents=True)
    (root / "bills" / "real.csv").write_bytes(b"a,b\n1,2\n")
    os.mkfifo(root / "bills" / "pipe.csv")
    outside = tmp_path / "outside.csv"
    outside.write_bytes(b"not yours")
    (root / "bills" / "outside.csv").symlink_to(outside)
    (root / "bills" / "dangling.csv").symlink_to(root / "bills" / "gone.csv")
    (root / "bills" / "inside.csv").symlink_to(root / "bills" / "real.csv")
    (root / "bills" / "folder-link").symlink_to(tmp_path, target_is_directory=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(root / "bills" / "sock"))
    try:
        yield root
    finally:
        listener.close()


def test_special_files_are_listed_with_the_reason_and_only_regular_files_as_objects(folder: Path) -> None:
    store = LocalObjectStore(folder)
    listed = {info.key: info for info in finishes(lambda: list(store.list("bills/")))}
    assert {key: info.unreadable for key, info in listed.items()} == {
        "bills/dangling.csv": "a broken symbolic link: not read",
        "bills/folder-link": "a symbolic link to a folder: not followed",
        "bills/inside.csv": "",
        "bills/outside.csv": "a symbolic link to a file outside the folder: not read",
        "bills/pipe.csv": "a named pipe (FIFO), not a regular file: not read",
        "bills/real.csv": "",
        "bills/sock": "a socket, not a regular file: not read",
    }
    assert listed["bills/inside.csv"].size == listed["bills/real.csv"].size == 8


def test_a_fifo_is_never_opened(folder: Path) -> None:
    store = LocalObjectStore(folder)
    for read in (store.open, store.read_bytes, store.local_path):
        with pytest.raises(StorageError, match=r"bills/pipe.csv is a named pipe \(FIFO\), not a regular file"):
            finishes(lambda read=read: read("bills/pipe.csv"))  # type: ignore[misc]
    assert not store.exists("bills/pipe.csv")
    with pytest.raises(StorageError, match="is a socket"):
        store.read_bytes("bills/sock")


def test_links_out_of_the_folder_are_refused_and_links_inside_are_followed(folder: Path) -> None:
    store = LocalObjectStore(folder)
    with pytest.raises(StorageError, match="resolves outside"):
        store.read_bytes("bills/outside.csv")
    with pytest.raises(StorageError, match="resolves outside"):
        store.read_bytes("bills/folder-link/outside.csv")
    with pytest.raises(NotFoundError):
        store.read_bytes("bills/dangling.csv")
    assert store.read_bytes("bills/inside.csv") == b"a,b\n1,2\n"


def test_every_kind_of_special_file_has_a_name() -> None:
    assert file_kind(stat.S_IFCHR) == "a character device"
    assert file_kind(stat.S_IFBLK) == "a block device"
    assert file_kind(stat.S_IFIFO) == "a named pipe (FIFO)"
    assert file_kind(stat.S_IFSOCK) == "a socket"


def test_a_run_over_a_folder_with_a_fifo_named_like_a_bill_finishes_and_reports_it(tmp_path: Path) -> None:
    source = tmp_path / "bills"
    shutil.copytree(REAL, source)
    os.mkfifo(source / FIFO_BILL)
    warehouse = tmp_path / "warehouse"
    code = finishes(lambda: main(["run", "--source", str(source), "--warehouse", str(warehouse),
                                  "--month", "2026-05"]), seconds=120)
    assert code == 0
    manifest = json.loads((warehouse / "manifests/billing_month=2026-05/manifest.json").read_text())
    assert {"key": FIFO_BILL, "reason": "a named pipe (FIFO), not a regular file: not read"} in manifest["ignored"]
    assert manifest["totals"] == {"CNY": "57.477867"}
    assert FIFO_BILL not in [s["key"] for s in manifest["sources"]]
