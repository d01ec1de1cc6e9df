"""Measuring one child process: wall time, CPU time, peak memory, and what else ran on the machine.

Each contender runs as a fresh child, started by a small spawner process (see ``Spawner``). Its CPU time is
user + system from ``os.wait4`` (the child and the descendants it waited for). Peak memory is the larger of
the kernel's ``ru_maxrss`` for the child (exact, one process) and a sampled peak of the RSS summed over the
child's process tree (so a contender that forks workers is not under-counted). The sampler reads
``/proc/PID/statm`` of the known tree every 20 ms and looks for new descendants every 0.5 s: a full
``/proc`` scan costs about 6 ms here, and doing it every 20 ms would take a third of a core from the
contenders on a 2-core machine. The 1-minute load average is read before and after each run: the machine
is shared, and it says how much else was running.

Every contender gets the environment the harness was started with (``launch_environment``), not the one it
has by the time it measures: importing polars writes polars' own allocator default into ``os.environ``
(``_RJEM_MALLOC_CONF``), and a contender started after that inherited it as if a user had set it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MB = 1024 * 1024


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float  # the larger of the two below
    maxrss_mb: float  # kernel: peak RSS of the child (or of its largest waited-for descendant)
    tree_rss_mb: float  # sampled: peak of the RSS summed over the child's process tree
    load_before: float
    load_after: float
    returncode: int
    stdout: str
    stderr: str

    def record(self) -> dict[str, Any]:
        """The run as stored in results.json (without its output)."""
        return {k: v for k, v in asdict(self).items() if k not in ("stdout", "stderr")}


def load_average() -> float:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else -1.0


class TreeSampler(threading.Thread):
    """Polls the summed RSS of a process and its descendants; ``peak`` is the largest sum seen (bytes)."""

    def __init__(self, pid: int, interval: float = 0.02, rescan: float = 0.5) -> None:
        super().__init__(daemon=True, name="bench-rss")
        self.pid, self.interval, self.rescan, self.peak = pid, interval, rescan, 0
        self._stop_event = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._tree = {pid}

    def _descendants(self) -> set[int]:
        parents: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/stat", "rb") as stat:
                        parents[int(entry.name)] = int(stat.read().rsplit(b")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        tree, frontier = {self.pid}, [self.pid]
        while frontier:
            parent = frontier.pop()
            for pid, ppid in parents.items():
                if ppid == parent and pid not in tree:
                    tree.add(pid)
                    frontier.append(pid)
        return tree

    def _rss(self) -> int:
        total = 0
        for pid in self._tree:
            try:
                with open(f"/proc/{pid}/statm", "rb") as statm:
                    total += int(statm.read().split()[1]) * self._page
            except (OSError, IndexError, ValueError):
                continue
        return total

    def run(self) -> None:
        if not os.path.isdir("/proc"):
            return
        next_scan = time.monotonic() + 0.05
        while not self._stop_event.is_set():
            if time.monotonic() >= next_scan:
                self._tree = self._descendants()
                next_scan = time.monotonic() + self.rescan
            self.peak = max(self.peak, self._rss())
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def launch_environment() -> dict[str, str]:
    """The environment this process was started with (``/proc/self/environ``), whatever its imports have set
    since; ``os.environ`` where that cannot be read."""
    try:
        raw = Path("/proc/self/environ").read_bytes()
    except OSError:
        return dict(os.environ)
    pairs = (entry.split(b"=", 1) for entry in raw.split(b"\0") if b"=" in entry)
    return {os.fsdecode(name): os.fsdecode(value) for name, value in pairs}


class Spawner:
    """Starts the contenders from a small helper process, so their ``ru_maxrss`` is theirs alone.

    Linux records a process's peak RSS across ``exec``, starting from the memory of the process it was forked
    from: a child forked by this harness (which holds pyarrow and the expected results, a few hundred MB)
    would report at least the harness's size. The helper is this module run as a script; it imports nothing
    heavy, forks every contender, waits for it with ``wait4`` and reports its pid, exit status, times and
    ``ru_maxrss`` as JSON lines.
    """

    def __init__(self) -> None:
        self._proc = subprocess.Popen([sys.executable, "-S", "-u", __file__, "--serve"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, env=launch_environment())

    def _ask(self, request: dict[str, Any]) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()

    def _answer(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the spawner process ended")
        return json.loads(line)

    def measure(self, cmd: list[str], *, timeout: float, cwd: Path | None = None,
                env: dict[str, str] | None = None) -> Run:
        """Run ``cmd`` as a fresh child and measure it; a child past ``timeout`` seconds is killed."""
        with tempfile.NamedTemporaryFile() as out, tempfile.NamedTemporaryFile() as err:
            load_before = load_average()
            self._ask({"cmd": cmd, "timeout": timeout, "cwd": str(cwd) if cwd else None, "env": env,
                       "stdout": out.name, "stderr": err.name})
            sampler = TreeSampler(self._answer()["pid"])
            sampler.start()
            try:
                done = self._answer()
            finally:
                sampler.stop()
            maxrss, tree = done["maxrss_kb"] * 1024 / MB, sampler.peak / MB
            return Run(
                seconds=round(done["seconds"], 4), cpu_seconds=round(done["cpu_seconds"], 3),
                peak_rss_mb=round(max(maxrss, tree), 1), maxrss_mb=round(maxrss, 1), tree_rss_mb=round(tree, 1),
                load_before=load_before, load_after=load_average(), returncode=done["returncode"],
                stdout=Path(out.name).read_bytes().decode("utf-8", "replace"),
                stderr=Path(err.name).read_bytes().decode("utf-8", "replace"),
            )

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait(timeout=30)


def serve() -> None:
    """The spawner's loop: one JSON request per line in, a pid line and a result line out."""
    for line in sys.stdin:
        request = json.loads(line)
        with open(request["stdout"], "wb") as out, open(request["stderr"], "wb") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(request["cmd"], stdout=out, stderr=err, cwd=request["cwd"],
                                    env=request["env"])
            print(json.dumps({"pid": proc.pid}), flush=True)
            killer = threading.Timer(request["timeout"], proc.kill)
            killer.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            finally:
                killer.cancel()
            seconds = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
        print(json.dumps({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                          "maxrss_kb": usage.ru_maxrss, "returncode": proc.returncode}), flush=True)


_spawner: Spawner | None = None


def measure(cmd: list[str], *, timeout: float, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` as a fresh child of the (shared, lazily started) spawner and measure it."""
    global _spawner
    if _spawner is None:
        _spawner = Spawner()
    return _spawner.measure(cmd, timeout=timeout, cwd=cwd, env=env)


if __name__ == "__main__" and sys.argv[1:] == ["--serve"]:
    serve()
