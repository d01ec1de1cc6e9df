"""Keeping the footprint flat: hand memory that Arrow, polars and the C allocator hold but no longer use back.

Freed Arrow buffers stay in the allocator's pools (and freed C heap in glibc's arenas) until asked for; a long
read would otherwise keep its high-water mark however little it still holds. Entry points (the command line,
the functions' image) also set :data:`ALLOCATOR_SETTINGS` in the environment before pyarrow or polars loads:

- Arrow's jemalloc pool: measured on the benchmark, the default mimalloc pool keeps memory freed by other
  threads, and a 1M-row month peaks near 425 MB instead of about 350 MB;
- polars' jemalloc (read as ``_RJEM_MALLOC_CONF``) with a background thread that hands pages freed a second
  ago back to the system: by default they wait for ten seconds of later allocations, and each table polars
  makes and drops after the scan added to the peak. Measured on the benchmark: about 30 MB lower at 1M rows
  and 45 MB at 10M, in the same time;
- glibc's malloc held to two arenas (``MALLOC_ARENA_MAX``): every zip member is cut into pieces by a thread of
  its own, and each new thread took a new arena that kept what it freed. Measured on the 10M-row zip: the
  arenas grew from 74 to 256 MB (33 MB of it in use) and the month peaked at 439 to 487 MB; with two arenas
  they stay under 120 MB and the month peaks at 343 to 385 MB, in the same time. glibc reads the variable only when a
  process starts, so a command line already running applies it with :func:`limit_malloc_arenas`.
"""

from __future__ import annotations

import contextlib
import ctypes
from functools import cache

ALLOCATOR_SETTINGS = {
    "ARROW_DEFAULT_MEMORY_POOL": "jemalloc",
    "_RJEM_MALLOC_CONF": "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0",
    "MALLOC_ARENA_MAX": "2",
}
"""Environment defaults for the allocators, set where a process starts (see the module doc)."""


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    # the process's own symbols include the C library's; ctypes.util.find_library would run ldconfig to find it
    with contextlib.suppress(OSError, AttributeError):
        return ctypes.CDLL(None).malloc_trim  # glibc only
    return None


_M_ARENA_MAX = -8  # mallopt's parameter number for MALLOC_ARENA_MAX (glibc's malloc.h)


def limit_malloc_arenas() -> bool:
    """Hold this process's malloc to ``MALLOC_ARENA_MAX`` arenas from now on (True when glibc took it).

    Call it before the process starts threads: arenas made already stay.
    """
    with contextlib.suppress(OSError, AttributeError):
        return bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, int(ALLOCATOR_SETTINGS["MALLOC_ARENA_MAX"])))
    return False


def release_memory(*, heap: bool = True) -> None:
    """Return unused Arrow pool memory and (``heap``) free C heap to the operating system.

    The Arrow part is cheap enough to call after every chunk of a read; trimming the C heap walks it, so
    call that between phases.
    """
    import pyarrow as pa  # here: the entry points read ALLOCATOR_SETTINGS before pyarrow may load

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim() if heap else None
    if trim is not None:
        trim(0)
