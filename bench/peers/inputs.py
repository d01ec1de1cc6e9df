"""The plain CSV files a peer engine reads, decompressing zips itself (the same way for every peer).

Neither DuckDB nor polars reads a zip archive. What a competent user does with a pushed zip is unpack it and
point the engine at the CSVs, so each peer does exactly that inside its own timed process: every CSV member
of every zip is streamed by Python's ``zipfile`` into a temporary folder (on the bills' disk here),
members side by side on one thread per core (zlib releases the GIL), and the folder is removed when the
query is done. Plain CSV files are read where they are.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path


def find_bills(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Every .csv and .zip named, or found under a named folder, in name order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.suffix.lower() in (".csv", ".zip"))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path} does not exist")
    if not found:
        raise FileNotFoundError("no .csv or .zip bill files found")
    return found


def _extract(archive_path: Path, member: str, target: Path) -> Path:
    with zipfile.ZipFile(archive_path) as archive, archive.open(member) as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return target


@contextmanager
def csv_files(paths: Iterable[str | os.PathLike[str]], *, threads: int | None = None) -> Iterator[list[Path]]:
    """The CSV files to read: plain ones as they are, zip members unpacked (removed again on exit)."""
    bills = find_bills(paths)
    zips = [p for p in bills if p.suffix.lower() == ".zip"]
    if not zips:
        yield bills
        return
    workdir = Path(tempfile.mkdtemp(prefix="bench-unzipped-"))
    try:
        jobs: list[tuple[Path, str, Path]] = []
        for n, archive_path in enumerate(zips):
            with zipfile.ZipFile(archive_path) as archive:
                for m, info in enumerate(archive.infolist()):
                    if not info.is_dir() and info.filename.lower().endswith(".csv"):
                        jobs.append((archive_path, info.filename, workdir / f"{n:03d}-{m:03d}.csv"))
        with ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 1) as pool:
            extracted = list(pool.map(lambda job: _extract(*job), jobs))
        yield [p for p in bills if p.suffix.lower() != ".zip"] + extracted
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
