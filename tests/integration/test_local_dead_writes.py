"""A ``kill -9`` in the middle of a local write leaves its temporary file; the store removes it once it is old.

The writer is a real process, killed while it copies into the warehouse from a FIFO the test feeds (so the
kill lands mid-write for certain). Afterwards the object is absent, the listing hides the temporary file, a
later write into the folder keeps it while it is young (it could be a live write of another run), and a store
for which it counts as old removes it on its first write there. Only the store's own temporary files go.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from chargeback.storage import LocalObjectStore

FOLDER = "objects/billing_month=2026-05/focus"
KEY = f"{FOLDER}/focus-0123.csv"
WRITER = ("import sys\n"
          "from chargeback.storage import LocalObjectStore\n"
          "LocalObjectStore(sys.argv[1]).write_file(sys.argv[2], __import__('pathlib').Path(sys.argv[3]))\n")


def temporaries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith(".tmp-")) if folder.is_dir() else []


def killed_mid_write(root: Path, fifo: Path) -> Path:
    """A real process writing ``KEY`` from ``fifo``, killed once part of the bytes are in its temporary file;
    the file it leaves."""
    os.mkfifo(fifo)
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(root), KEY, str(fifo)],
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        feed = os.open(fifo, os.O_WRONLY)  # returns once the writer has opened the FIFO
        data = memoryview(b"x" * (3 << 20))  # more than the writer's 1 MiB reads: some reaches its file
        while data:
            data = data[os.write(feed, data):]
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size for p in temporaries(root / FOLDER)):
            assert time.monotonic() < deadline and process.poll() is None, "the writer never wrote"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
        os.close(feed)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    (left,) = temporaries(root / FOLDER)
    return left


def test_a_killed_write_leaves_no_object_and_its_file_goes_once_old(tmp_path: Path) -> None:
    root = tmp_path / "warehouse"
    left = killed_mid_write(root, tmp_path / "feed")
    store = LocalObjectStore(root)
    assert not (root / KEY).exists()
    assert [info.key for info in store.list("objects/")] == []  # the half-written file is not an object

    store.write_bytes(f"{FOLDER}/other.csv", b"a,b\n")  # young: perhaps another run's write, kept
    assert temporaries(root / FOLDER) == [left]

    aged = LocalObjectStore(root, stale_write_after=timedelta(0))
    aged.write_bytes(f"{FOLDER}/third.csv", b"c\n")
    assert temporaries(root / FOLDER) == []
    assert aged.read_bytes(f"{FOLDER}/other.csv") == b"a,b\n"
    assert aged.read_bytes(f"{FOLDER}/third.csv") == b"c\n"
    assert [info.key for info in aged.list("objects/")] == [f"{FOLDER}/other.csv", f"{FOLDER}/third.csv"]


def test_age_is_the_status_change_time_and_only_temporary_files_go(tmp_path: Path) -> None:
    folder = tmp_path / FOLDER
    folder.mkdir(parents=True)
    two_days_ago = time.time() - 2 * 86400
    backdated = folder / ".tmp-copy-in-progress"  # what copy() holds just before its rename
    backdated.write_bytes(b"copied")
    os.utime(backdated, (two_days_ago, two_days_ago))
    LocalObjectStore(tmp_path).write_bytes(f"{FOLDER}/a.csv", b"a")
    assert backdated.exists()  # modified long ago, but changed just now: a live copy's file

    kept = [folder / "data.csv", folder / ".tmp-folder" / "inside"]
    kept[0].write_bytes(b"d")
    kept[1].parent.mkdir()
    kept[1].write_bytes(b"i")
    LocalObjectStore(tmp_path, stale_write_after=timedelta(0)).write_bytes(f"{FOLDER}/b.csv", b"b")
    assert not backdated.exists()
    assert all(path.exists() for path in kept)  # an object, and a folder: not temporary files of ours
