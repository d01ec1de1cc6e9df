"""chargeback.memory: the C heap trim is found on glibc, releasing memory keeps what is still in use, and the
command line holds malloc to its arena limit."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa

from chargeback import memory


def test_malloc_trim_is_found_in_the_process_own_c_library() -> None:
    # glibc's (every image and machine this runs on); elsewhere _c_library gives None and nothing is trimmed
    library = memory._c_library()
    assert library is not None
    assert library.malloc_trim(0) in (0, 1)  # 1 when memory went back to the system, 0 when there was none


def test_release_memory_frees_only_what_is_unused() -> None:
    kept = pa.array(range(100_000), pa.int64())
    dropped = pa.array(range(1_000_000), pa.int64())
    del dropped
    memory.release_memory()
    assert kept[99_999].as_py() == 99_999
    assert pa.total_allocated_bytes() >= kept.nbytes


_COUNT_ARENAS = r"""
import ctypes, os, sys, tempfile, threading
if sys.argv[1] == "cli":
    import chargeback.cli  # noqa: F401  (applies the arena limit, as every command does)
def work():
    held = [bytes(1000 + i % 7) for i in range(2000)]  # above pymalloc's 512 bytes: glibc's malloc serves them
    barrier.wait()
    del held
barrier = threading.Barrier(6)
threads = [threading.Thread(target=work) for _ in range(6)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile(delete=False) as named:
    path = named.name
stream = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(stream))
libc.fclose(ctypes.c_void_p(stream))
print(open(path).read().count("<heap nr="))
os.unlink(path)
"""


def _arenas(mode: str, preset: str | None = None) -> int:
    env = {name: value for name, value in os.environ.items() if name != "MALLOC_ARENA_MAX"}
    if preset is not None:
        env["MALLOC_ARENA_MAX"] = preset
    done = subprocess.run([sys.executable, "-c", _COUNT_ARENAS, mode], capture_output=True, text=True, env=env,
                          check=True, timeout=120)
    return int(done.stdout)


def test_the_command_line_holds_malloc_to_the_arena_limit_however_many_threads_allocate() -> None:
    limit = int(memory.ALLOCATOR_SETTINGS["MALLOC_ARENA_MAX"])
    assert _arenas("plain") > limit  # six threads allocating at once take arenas of their own by default
    assert _arenas("cli") <= limit


def test_an_arena_limit_the_environment_already_set_is_left_as_glibc_took_it() -> None:
    assert _arenas("cli", preset="8") > int(memory.ALLOCATOR_SETTINGS["MALLOC_ARENA_MAX"])


_POLARS_CONF = "import os, chargeback.cli, polars; print(os.environ['_RJEM_MALLOC_CONF'])"


def _polars_conf(preset: str | None) -> str:
    env = {name: value for name, value in os.environ.items() if name != "_RJEM_MALLOC_CONF"}
    if preset is not None:
        env["_RJEM_MALLOC_CONF"] = preset
    done = subprocess.run([sys.executable, "-c", _POLARS_CONF], capture_output=True, text=True, env=env,
                          check=True, timeout=120)
    return done.stdout.strip()


def test_polars_own_default_inherited_from_a_parent_is_not_taken_for_a_choice() -> None:
    ours = memory.ALLOCATOR_SETTINGS["_RJEM_MALLOC_CONF"]
    # polars puts its default in front of whatever the environment had: the last setting of a key wins
    assert _polars_conf(None) == f"{memory.POLARS_JEMALLOC_DEFAULT},{ours}"
    # a parent that imported polars passes its default on: chargeback's settings still apply
    assert _polars_conf(memory.POLARS_JEMALLOC_DEFAULT) == f"{memory.POLARS_JEMALLOC_DEFAULT},{ours}"
    # a setting somebody made is kept, also behind the default a parent's polars put in front of it
    assert _polars_conf("dirty_decay_ms:7") == f"{memory.POLARS_JEMALLOC_DEFAULT},dirty_decay_ms:7"
    assert _polars_conf(f"{memory.POLARS_JEMALLOC_DEFAULT},dirty_decay_ms:7") == \
        f"{memory.POLARS_JEMALLOC_DEFAULT},dirty_decay_ms:7"
