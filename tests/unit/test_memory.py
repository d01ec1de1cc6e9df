"""chargeback.memory: the C heap trim is found on glibc, and releasing memory keeps what is still in use."""

from __future__ import annotations

import pyarrow as pa

from chargeback import memory


def test_malloc_trim_is_found_in_the_process_own_c_library() -> None:
    # glibc's (every image and machine this runs on); elsewhere _malloc_trim gives None and trimming is skipped
    trim = memory._malloc_trim()
    assert trim is not None
    assert trim(0) in (0, 1)  # 1 when memory went back to the system, 0 when there was none to return


def test_release_memory_frees_only_what_is_unused() -> None:
    kept = pa.array(range(100_000), pa.int64())
    dropped = pa.array(range(1_000_000), pa.int64())
    del dropped
    memory.release_memory()
    assert kept[99_999].as_py() == 99_999
    assert pa.total_allocated_bytes() >= kept.nbytes
