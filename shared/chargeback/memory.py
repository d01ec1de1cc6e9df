"""Keeping the footprint flat: hand memory that Arrow, polars and the C allocator hold but no longer use back.

Freed Arrow buffers stay in the allocator's pools (and freed C heap in glibc's arenas) until asked for; a long
read would otherwise keep its high-water mark however little it still holds. Entry points (the command line,
the functions' image) also set :data:`ALLOCATOR_SETTINGS` in the environment before pyarrow or polars loads:

- Arrow's jemalloc pool: measured on the benchmark, the default mimalloc pool keeps memory freed by other
  threads, and a 1M-row month peaks near 425 MB instead of about 350 MB;
- polars' jemalloc (read as ``_RJEM_MALLOC_CONF``): one arena, and a background thread that hands pages freed
  50 ms ago back to the system. By default they wait for ten seconds of later allocations, and the scan's
  churn (its dirty pages grow with its throughput times the decay, so a faster host peaks higher) stacked on
  the Arrow work that follows it. A second's decay measured about 30 MB lower at 1M rows than the default, a
  quarter second 20 to 35 MB lower again; 50 ms and one arena, interleaved against a quarter second on an idle
  host: the 1M-row month 377 to 390 MB against 391 to 455 (wall 2.05 against 2.10 s) and the 10M-row month
  377 to 391 against 387 to 392 MB (10.3 against 10.5 s). The zips were measured together with the smaller
  inflate buffers of ``bills.sources`` (1 MiB against 4 and 8): 1M rows 389 to 397 against 427 to 455 MB
  (3.04 against 3.16 s), 10M rows 377 to 394 against 395 to 396 MB (19.4 to 21.0 against 21.7 to 22.4 s). No decay
  at all held 370 MB but cost a second at 1M rows; one arena alone, without the shorter decay, changed little;
- glibc's malloc held to two arenas (``MALLOC_ARENA_MAX``): every zip member is cut into pieces by a thread of
  its own, and each new thread took a new arena that kept what it freed. Measured on the 10M-row zip: the
  arenas grew from 74 to 256 MB (33 MB of it in use) and the month peaked at 439 to 487 MB; with two arenas
  they stay under 120 MB and the month peaks at 343 to 385 MB, in the same time. glibc reads the variable only when a
  process starts, so a command line already running applies it with :func:`apply_allocator_settings`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from functools import cache

ALLOCATOR_SETTINGS = {
    "ARROW_DEFAULT_MEMORY_POOL": "jemalloc",
    "_RJEM_MALLOC_CONF": "background_thread:true,dirty_decay_ms:50,muzzy_decay_ms:0,narenas:1",
    "MALLOC_ARENA_MAX": "2",
}
"""Environment defaults for the allocators, set where a process starts (see the module doc)."""

POLARS_JEMALLOC_DEFAULT = "dirty_decay_ms:500,muzzy_decay_ms:1000"
"""What ``import polars`` writes into ``_RJEM_MALLOC_CONF`` before any setting of the environment's (which it
appends): a command started from a Python process that imported polars inherits it, though nobody chose it."""


@cache
def _c_library() -> ctypes.CDLL | None:
    """glibc's functions, from the process's own symbols (ctypes.util.find_library would run ldconfig)."""
    with contextlib.suppress(OSError):
        library = ctypes.CDLL(None)
        if hasattr(library, "malloc_trim") and hasattr(library, "mallopt"):
            return library
    return None  # not glibc: nothing here is tuned or trimmed


_M_ARENA_MAX = -8  # mallopt's parameter number for MALLOC_ARENA_MAX (glibc's malloc.h)


def apply_allocator_settings() -> bool:
    """Give this process :data:`ALLOCATOR_SETTINGS` where its environment sets none (the command line's start).

    Arrow and polars read theirs from the environment when they load. glibc read ``MALLOC_ARENA_MAX`` when the
    process started, so unless the environment had its own value then, the limit is applied with ``mallopt``,
    which holds for arenas made from now on: call this before any thread. True when glibc took the limit.
    """
    arenas_preset = "MALLOC_ARENA_MAX" in os.environ
    _forget_polars_default()
    for name, value in ALLOCATOR_SETTINGS.items():
        os.environ.setdefault(name, value)
    library = _c_library()
    if arenas_preset or library is None:
        return False
    return bool(library.mallopt(_M_ARENA_MAX, int(ALLOCATOR_SETTINGS["MALLOC_ARENA_MAX"])))


def _forget_polars_default() -> None:
    """Drop :data:`POLARS_JEMALLOC_DEFAULT` from the front of ``_RJEM_MALLOC_CONF``, keeping what follows it
    (a setting someone made before polars wrote its own in front)."""
    value = os.environ.get("_RJEM_MALLOC_CONF")
    if value is None or not (value + ",").startswith(POLARS_JEMALLOC_DEFAULT + ","):
        return
    chosen = value[len(POLARS_JEMALLOC_DEFAULT):].lstrip(",")
    if chosen:
        os.environ["_RJEM_MALLOC_CONF"] = chosen
    else:
        del os.environ["_RJEM_MALLOC_CONF"]


def release_memory() -> None:
    """Return unused Arrow pool memory and free C heap to the operating system.

    Trimming the C heap walks it: call this between phases (after each CSV of a read, at most), not per chunk.
    """
    import pyarrow as pa  # here: the entry points read ALLOCATOR_SETTINGS before pyarrow may load

    pa.default_memory_pool().release_unused()
    library = _c_library()
    if library is not None:
        library.malloc_trim(0)
