"""Scratch folders on the local disk (a bill's pieces, spilled hashes, a scan's sinks) that a killed run does
not leave behind.

A run holds a lock on its folder for as long as it lives; the kernel lets go of it when the process ends, however
it ends. Each new folder sweeps away the folders of runs that died (kill -9, a platform timeout) before it
starts: without that, a warm function instance whose runs were killed kept every piece they had written
(hundreds of MB a run) on its few GB of ``/tmp`` until the disk was full. A folder whose lock is held belongs to
a live run, on this machine or in another process at once, and is left alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "chargeback-"
_LOCK = ".lock"


@contextlib.contextmanager
def scratch_dir(kind: str = "") -> Iterator[Path]:
    """A new folder ``chargeback-<kind>...`` in the system's temporary folder, removed when the block ends;
    the folders dead runs left there are removed first."""
    sweep(Path(tempfile.gettempdir()))
    path = Path(tempfile.mkdtemp(prefix=PREFIX + kind))
    try:
        with _held(path):
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _held(path: Path) -> Iterator[None]:
    """Lock ``path`` for this process: the lock file is locked under another name, then renamed into place, so
    a sweep never finds it unlocked while its run lives."""
    pending = path / f"{_LOCK}.{os.getpid()}"
    with pending.open("wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        pending.rename(path / _LOCK)
        yield


def sweep(root: Path) -> list[Path]:
    """Remove the scratch folders under ``root`` whose run has ended (their lock is free); the ones removed."""
    removed = []
    for path in root.glob(PREFIX + "*"):
        lock_path = path / _LOCK
        try:
            lock = lock_path.open("rb")
        except OSError:  # not ours, not a folder, or a run still setting up: left alone
            continue
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # a live run holds it
                continue
            shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    if removed:
        log.info("removed %d scratch folder(s) that ended runs left behind", len(removed))
    return removed
