"""Scratch folders of runs killed with SIGKILL are removed by the next run; a live run's folder is left alone
(real processes, a real kill -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from chargeback.scratch import scratch_dir, sweep

REAL_BILLS = Path(__file__).resolve().parents[1] / "data" / "real-bills"
HOLDER = """
import sys, time
from chargeback.scratch import scratch_dir
with scratch_dir() as path:
    (path / "piece-000001").write_bytes(b"x" * 4096)
    print(path, flush=True)
    time.sleep(120)
"""


def _holder(tmp: Path) -> tuple[subprocess.Popen[str], Path]:
    process = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "TMPDIR": str(tmp)})
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def _kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_the_next_run_removes_a_killed_runs_scratch_and_keeps_a_live_ones(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    killed, killed_dir = _holder(scratch)
    live, live_dir = _holder(scratch)
    try:
        _kill(killed)
        assert (killed_dir / "piece-000001").exists()  # SIGKILL ran no clean-up
        result = subprocess.run(
            [sys.executable, "-m", "chargeback.cli", "run", "--source", str(REAL_BILLS), "--warehouse",
             str(tmp_path / "warehouse"), "--month", "2026-05"],
            env={**os.environ, "TMPDIR": str(scratch)}, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert not killed_dir.exists()
        assert (live_dir / "piece-000001").exists()  # its lock is held: a run at work
        assert sorted(scratch.iterdir()) == [live_dir]  # the run's own folders went with it
    finally:
        _kill(live)
    assert sweep(scratch) == [live_dir]
    assert list(scratch.iterdir()) == []


def test_a_folder_without_its_lock_is_not_touched_and_a_scratch_dir_removes_itself(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    setting_up = tmp_path / "chargeback-abc123"  # made, its lock not yet in place
    setting_up.mkdir()
    with scratch_dir("scan-") as path:
        assert path.parent == tmp_path and path.name.startswith("chargeback-scan-")
        assert sweep(tmp_path) == []  # its own lock is held, in this very process
        (path / "groups.arrow").write_bytes(b"1")
    assert not path.exists()
    assert setting_up.exists()
