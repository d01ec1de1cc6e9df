"""``kill -9`` of real ``chargeback run`` processes at 20 random moments of a changed month's publish.

Each process runs the command line (``chargeback.cli.main``, as the console script does) in a fresh Python
process; it imports the package, says it is ready and waits for a line on stdin, so the test can start the run
when it wants to, not when the interpreter is done importing (on a loaded machine that takes seconds; a few
processes import while earlier ones are checked). A moment is drawn (a fixed seed) as a point of the publish's
progress, which the test watches in the warehouse: after the j-th of its writes (the content-addressed
objects, the manifest, the table copies; j from 0, right at the first object, to all of them), plus a random
few milliseconds; then SIGKILL. So the kills fall all along the protocol however fast the machine runs it.
After every kill the month in the warehouse is whole (every object its manifest names is there with its hash,
the allocations add up to the manifest), and both a rerun with the new inputs and one with the previous inputs
end identical to an uninterrupted run. The reruns take over the dead process's lease at once (same machine,
process gone).
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import time
from collections import Counter, deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chargeback.config.file import load_config_file
from chargeback.jobs.run_month import run_month
from chargeback.storage import LocalObjectStore
from chargeback.warehouse.manifest import read_manifest
from chargeback.warehouse.publish import lagging_copies
from tests.support.processes import go, launch
from tests.support.published import MONTH, ChangedMonth, assert_whole, published_state

TRIALS = 20
SEED = 20260604
AHEAD = 3  # processes importing while a trial runs


def launch_run(month: ChangedMonth, warehouse: Path) -> subprocess.Popen[str]:
    """A ``chargeback run`` of the new inputs into ``warehouse``, importing, then waiting for its start."""
    return launch("run", "--source", str(month.new), "--warehouse", str(warehouse), "--month", MONTH,
                  "--mapping", str(month.mapping), quiet=True)


def tables(warehouse: Path) -> dict[str, tuple[int, int]]:
    """Every object of the warehouse but the leases and half-written files, with its inode and time."""
    found = {}
    for path in warehouse.rglob("*"):
        relative = path.relative_to(warehouse).as_posix()
        if path.name.startswith(".tmp-") or relative.startswith("state/"):
            continue
        try:
            status = path.stat()
        except FileNotFoundError:
            continue
        if path.is_file():
            found[relative] = (status.st_ino, status.st_mtime_ns)
    return found


def writes_seen(warehouse: Path, before: dict[str, tuple[int, int]]) -> int:
    """How many objects the run has written so far (each object of a publish is written once)."""
    return sum(1 for key, version in tables(warehouse).items() if before.get(key) != version)


def kill_after(process: subprocess.Popen[str], warehouse: Path, writes: int, extra: float) -> None:
    """SIGKILL once ``writes`` of the run's writes are in the warehouse, and ``extra`` seconds more."""
    before = tables(warehouse)
    go(process)
    while writes_seen(warehouse, before) < max(writes, 1):
        if process.poll() is not None:
            return
        time.sleep(0.0005)
    time.sleep(extra)
    process.send_signal(signal.SIGKILL)


def rerun(bills: Path, warehouse: Path, mapping: Path) -> None:
    run_month(LocalObjectStore(bills), LocalObjectStore(warehouse), MONTH, load_config_file(str(mapping)),
              now=datetime.now(UTC))


def _phase(warehouse: Path, previous_state: dict[str, Any]) -> str:
    store = LocalObjectStore(warehouse)
    if published_state(store)["manifest"] == previous_state["manifest"]:
        return "before the commit"
    manifest = read_manifest(store, MONTH)
    assert manifest is not None
    return "after the commit, copies lagging" if lagging_copies(store, manifest) else "after the copies"


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> ChangedMonth:
    return ChangedMonth.write(tmp_path_factory.mktemp("changed"), days=5)


def test_kill_minus_9_at_random_moments_of_a_publish(month: ChangedMonth, tmp_path: Path) -> None:
    base = tmp_path / "base"
    rerun(month.previous, base, month.mapping)
    previous_state = published_state(LocalObjectStore(base))

    # one uninterrupted run: what the publish writes, and what it ends with
    reference = tmp_path / "reference"
    shutil.copytree(base, reference)
    process = launch_run(month, reference)
    before = tables(reference)
    go(process)
    assert process.wait(timeout=300) == 0
    publish_writes = writes_seen(reference, before)
    assert publish_writes == 13  # 6 objects (lines, allocations and CSV, FOCUS and CSV, costs), the manifest, 6 copies
    new_state = published_state(LocalObjectStore(reference))
    assert new_state["manifest"]["fingerprint"] != previous_state["manifest"]["fingerprint"]

    rng = random.Random(SEED)
    phases: Counter[str] = Counter()
    runs = 0
    ready: deque[tuple[subprocess.Popen[str], Path]] = deque()

    def prepare() -> None:
        warehouse = tmp_path / f"run-{runs + len(ready)}"
        shutil.copytree(base, warehouse)
        ready.append((launch_run(month, warehouse), warehouse))

    for _ in range(AHEAD):
        prepare()
    while sum(phases.values()) < TRIALS:
        assert runs < 3 * TRIALS, "too many runs ended before their kill"
        process, torn = ready.popleft()
        runs += 1
        prepare()
        kill_after(process, torn, rng.randint(0, publish_writes), rng.uniform(0, 0.02))
        if process.wait(timeout=300) != -signal.SIGKILL:
            continue  # it finished before the signal: not a kill during the publish
        phases[_phase(torn, previous_state)] += 1

        manifest = assert_whole(LocalObjectStore(torn))  # the manifest's outputs all exist and match it
        assert manifest.fingerprint in (previous_state["manifest"]["fingerprint"],
                                        new_state["manifest"]["fingerprint"])
        with_previous = tmp_path / f"run-{runs}-previous"
        shutil.copytree(torn, with_previous)
        rerun(month.new, torn, month.mapping)
        assert published_state(LocalObjectStore(torn)) == new_state, f"run {runs}: rerun with the new inputs"
        rerun(month.previous, with_previous, month.mapping)
        assert published_state(LocalObjectStore(with_previous)) == previous_state, (
            f"run {runs}: rerun with the previous inputs")
        shutil.rmtree(with_previous)
        shutil.rmtree(torn)
    for process, _ in ready:
        process.kill()
        process.wait()
    print(f"kill -9 phases: {dict(phases)} in {runs} runs")
    assert phases["before the commit"] and phases["after the commit, copies lagging"] + phases[
        "after the copies"], dict(phases)
