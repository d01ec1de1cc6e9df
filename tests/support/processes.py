"""Real ``chargeback`` processes started at a moment of the test's choosing.

Each is a fresh Python process that runs the command line exactly as the console script does
(``chargeback.cli.main``), after it has imported the package and said so: on a loaded machine imports take
seconds, and a test of two runs "at once" or of a kill at a moment of a run must not depend on them. ``go``
starts several at the same instant.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

LAUNCHER = ("import sys\n"
            "from chargeback.cli import build_parser, main\n"
            "import chargeback.jobs.run_month, chargeback.reporting.job, chargeback.alerts.job\n"
            "build_parser()\n"
            "print('ready', flush=True)\n"
            "sys.stdin.readline()\n"
            "sys.exit(main(sys.argv[1:]))\n")


def launch(*argv: str, env: Mapping[str, str] | None = None, quiet: bool = False) -> subprocess.Popen[str]:
    """``chargeback ARGV`` in a new process that imports and then waits for ``go``."""
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else subprocess.PIPE, text=True,
        env={**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(sys.path)})


def go(*processes: subprocess.Popen[str]) -> None:
    """Start the processes together, once every one of them is ready."""
    for process in processes:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line == "ready", f"the process did not start: {line!r}"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()


def finish(process: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    """Wait for the process; its exit code, output and errors."""
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err or ""
