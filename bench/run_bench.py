"""``make bench``: the pipeline against a hand-written DuckDB query on the same generated bills.

For each size: generate a realistic v2 month once (``chargeback.synth``: 61 columns, JSON cells, one-minute
rows, a zip of several CSVs) under bench/data/, then run, as separate child processes, ``chargeback run`` (a
fresh warehouse each time) and ``bench/duckdb_baseline.py``, ``--repeat`` times each, interleaved. Each
child's wall time and peak memory are measured, not estimated: the kernel's ``ru_maxrss`` for the child
(``os.wait4``) and a sampled sum of RSS over the child's whole process tree (for pipelines that fork
workers); the larger is reported. Both paths' totals are checked against each other and against the
generator's exact expected totals. Results go to ``--out`` (JSON) and a short table to stdout.

This is a benchmark, not a test: nothing in ``make test`` depends on it or on machine speed. If ``chargeback
run`` is not there yet (or fails), the table says "ours: not available" and DuckDB still runs.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from statistics import median
from typing import Any

from chargeback.demo import synth
from chargeback.demo.synth import SynthSpec

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
MONTH = "2026-05"
UID, SITE_ID, SNAPSHOT = "1000000000000001", "2684201000001", "20260601120000"
DEFAULT_SIZES = "100000,300000,1000000"
BIG_SIZES = (3_000_000, 10_000_000)
MB = 1024 * 1024

# Targets from issue 7, evaluated at the largest default size.
TARGET_RATIO = 1.0
TARGET_RSS_MB = 400.0
TARGET_RSS_GROWTH = 0.20


def bench_spec(rows: int) -> SynthSpec:
    """The month generated for a size: the same callers at every size, so only the volume changes."""
    return SynthSpec(month=MONTH, rows=rows, workspaces=8, api_keys=120, seed=2026,
                     other_product_rows=max(10, rows // 10_000))


# ---------------------------------------------------------------------------------------------------------
# Data


@dataclass
class Dataset:
    rows: int
    root: Path  # the subscription folder: {root}/{YYYYMM}/{snapshot}/....zip
    zip_path: Path
    csv_bytes: int
    zip_bytes: int
    files: int
    expected: dict[str, Any]
    generate_seconds: float | None  # None when reused from an earlier --keep-data run


def _fingerprint(spec: SynthSpec, files: int) -> str:
    source = Path(synth.__file__).read_bytes()
    blob = json.dumps({"spec": asdict(spec), "files": files}, sort_keys=True, default=str).encode() + source
    return hashlib.sha256(blob).hexdigest()


def ensure_data(rows: int, files: int, data_dir: Path) -> Dataset:
    """Generate the month for ``rows`` unless an identical one (same spec, same generator) is on disk."""
    spec = bench_spec(rows)
    root = data_dir / f"rows-{rows}"
    meta_path = data_dir / f"rows-{rows}.json"
    fingerprint = _fingerprint(spec, files)
    if meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        zip_path = Path(meta["zip_path"])
        if meta.get("fingerprint") == fingerprint and zip_path.exists():
            expected = json.loads(meta["expected"], parse_float=Decimal)
            return Dataset(rows, root, zip_path, meta["csv_bytes"], zip_path.stat().st_size, files,
                           _decimals(expected), None)
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    push = synth.write_v2_push(root, spec, uid=UID, site_id=SITE_ID, snapshot=SNAPSHOT, files=files)
    seconds = time.perf_counter() - started
    meta = {"fingerprint": fingerprint, "zip_path": str(push.zip_path), "csv_bytes": push.csv_bytes,
            "generate_seconds": seconds, "expected": synth.totals_to_json(push.totals)}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return Dataset(rows, root, push.zip_path, push.csv_bytes, push.zip_path.stat().st_size, files,
                   push.totals, seconds)


def _decimals(value: Any) -> Any:
    """JSON totals back to Decimals (amount strings inside the money tables)."""
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    return value


def remove_data(dataset: Dataset, data_dir: Path) -> None:
    shutil.rmtree(dataset.root, ignore_errors=True)
    (data_dir / f"rows-{dataset.rows}.json").unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------------------
# Measuring a child process


@dataclass
class Run:
    seconds: float
    cpu_seconds: float  # user + system time of the child and its waited-for descendants (wait4)
    loadavg: float  # 1-minute load average when the child ended (other work on the machine)
    peak_rss_mb: float  # the larger of the two below
    maxrss_mb: float  # kernel: peak RSS of the child (or of its largest waited-for descendant)
    tree_rss_mb: float  # sampled every 20 ms: peak of the sum of RSS over the child's process tree
    returncode: int
    stdout: str
    stderr: str


class _TreeSampler(threading.Thread):
    """Polls /proc for the summed RSS of a process and all its descendants."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop_event = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def _tree_rss(self) -> int:
        parents: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/stat", "rb") as stat:
                        fields = stat.read().rsplit(b")", 1)[1].split()
                    parents[int(entry.name)] = int(fields[1])
                except (OSError, IndexError, ValueError):
                    continue
        tree, frontier = {self.pid}, [self.pid]
        while frontier:
            parent = frontier.pop()
            for pid, ppid in parents.items():
                if ppid == parent and pid not in tree:
                    tree.add(pid)
                    frontier.append(pid)
        total = 0
        for pid in tree:
            try:
                with open(f"/proc/{pid}/statm", "rb") as statm:
                    total += int(statm.read().split()[1]) * self._page
            except (OSError, IndexError, ValueError):
                continue
        return total

    def run(self) -> None:
        if not os.path.isdir("/proc"):
            return
        while not self._stop_event.is_set():
            self.peak = max(self.peak, self._tree_rss())
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def measure(cmd: list[str], *, timeout: float, cwd: Path | None = None) -> Run:
    """Run ``cmd`` as a fresh child; its wall time, peak memory, exit code and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd)
        sampler = _TreeSampler(proc.pid)
        sampler.start()
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # rusage of this child alone
        finally:
            killer.cancel()
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
        out.seek(0)
        err.seek(0)
        maxrss = usage.ru_maxrss * 1024 / MB  # kilobytes on Linux
        tree = sampler.peak / MB
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else -1.0
        return Run(round(seconds, 4), round(usage.ru_utime + usage.ru_stime, 3), round(load, 2),
                   round(max(maxrss, tree), 1), round(maxrss, 1), round(tree, 1), proc.returncode,
                   stdout, stderr)


# ---------------------------------------------------------------------------------------------------------
# The two contenders


def chargeback_command(override: str | None) -> list[str]:
    if override:
        return shlex.split(override)
    script = Path(sys.executable).parent / "chargeback"
    return [str(script)] if script.exists() else [sys.executable, "-m", "chargeback.cli"]


def read_ours(warehouse: Path) -> dict[str, Any]:
    """Totals from the warehouse the pipeline wrote: the manifest's and the allocations' (exact)."""
    found: dict[str, Any] = {}
    manifest = warehouse / "manifests" / f"billing_month={MONTH}" / "manifest.json"
    allocations = warehouse / "exports" / f"billing_month={MONTH}" / "allocations.csv"
    if manifest.exists():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        found["manifest_totals"] = {cur: Decimal(str(v)) for cur, v in (data.get("totals") or {}).items()}
    if allocations.exists():
        payable: dict[str, Decimal] = {}
        by_workspace: dict[str, Decimal] = {}
        by_key: dict[str, Decimal] = {}

        def add(table: dict[str, Decimal], key: str, value: Decimal) -> None:
            table[key] = table.get(key, Decimal(0)) + value

        with open(allocations, encoding="utf-8-sig", newline="") as stream:
            for row in csv.DictReader(stream):
                cost = Decimal(row["billed_cost"] or "0")
                add(payable, row.get("currency", "?"), cost)
                if "workspace_id" in row:
                    add(by_workspace, row["workspace_id"], cost)
                if "api_key_id" in row:
                    add(by_key, row["api_key_id"], cost)
        found["allocation_totals"] = payable
        if by_workspace:
            found["payable_by_workspace"] = by_workspace
        if by_key:
            found["payable_by_api_key"] = by_key
    return found


def _nonzero(table: dict[str, Decimal]) -> dict[str, Decimal]:
    return {k: v for k, v in table.items() if v}


def _compare(name: str, got: dict[str, Decimal] | None, want: dict[str, Decimal],
             problems: list[str]) -> bool:
    """Whether two money tables agree (zero entries ignored); a line for ``problems`` when not."""
    if got is None:
        problems.append(f"{name}: missing")
        return False
    if _nonzero(got) != _nonzero(want):
        keys = sorted(set(got) | set(want))
        diff = {k: (str(got.get(k)), str(want.get(k))) for k in keys if got.get(k) != want.get(k)}
        problems.append(f"{name}: differs (got, want) {dict(list(diff.items())[:5])}")
        return False
    return True


# ---------------------------------------------------------------------------------------------------------
# One size


def _summary(runs: list[Run]) -> dict[str, Any]:
    return {
        "median_seconds": round(median(r.seconds for r in runs), 4),
        "min_seconds": min(r.seconds for r in runs),
        "median_cpu_seconds": round(median(r.cpu_seconds for r in runs), 3),
        "peak_rss_mb": max(r.peak_rss_mb for r in runs),
        "median_peak_rss_mb": round(median(r.peak_rss_mb for r in runs), 1),
        "runs": [{k: v for k, v in asdict(r).items() if k not in ("stdout", "stderr")} for r in runs],
    }


def bench_size(dataset: Dataset, *, repeat: int, chargeback: list[str], timeout: float) -> dict[str, Any]:
    rows, csv_mb = dataset.rows, dataset.csv_bytes / MB
    expected = dataset.expected
    snapshot_dir = dataset.zip_path.parent
    ours_runs: list[Run] = []
    ours_error: str | None = None
    ours_found: dict[str, Any] = {}
    duck_runs: list[Run] = []
    duck_reports: list[dict[str, Any]] = []
    for attempt in range(repeat):
        if ours_error is None:
            warehouse = Path(tempfile.mkdtemp(prefix="bench-warehouse-"))
            try:
                cmd = [*chargeback, "run", "--source", dataset.root.as_uri(),
                       "--warehouse", warehouse.as_uri(), "--month", MONTH]
                run = measure(cmd, timeout=timeout)
                if run.returncode != 0:
                    tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
                    ours_error = f"exit {run.returncode}: " + " | ".join(tail)
                else:
                    ours_runs.append(run)
                    if attempt == 0:
                        ours_found = read_ours(warehouse)
            finally:
                shutil.rmtree(warehouse, ignore_errors=True)
        run = measure([sys.executable, str(HERE / "duckdb_baseline.py"), str(snapshot_dir)], timeout=timeout)
        if run.returncode != 0:
            raise RuntimeError(f"the DuckDB baseline failed at {rows} rows: {run.stderr.strip()[-2000:]}")
        duck_runs.append(run)
        duck_reports.append(_decimals(json.loads(run.stdout)))

    duck = _summary(duck_runs)
    duck["median_query_seconds"] = round(median(r["query_seconds"] for r in duck_reports), 4)
    duck["median_extract_seconds"] = round(median(r["extract_seconds"] for r in duck_reports), 4)
    duck["rows_per_s"] = round(rows / duck["median_seconds"])
    duck["mb_per_s"] = round(csv_mb / duck["median_seconds"], 1)
    duck["query_rows_per_s"] = round(rows / duck["median_query_seconds"])
    report = duck_reports[0]
    duck["totals"] = {k: report[k] for k in ("payable", "list_cost", "discount", "groups",
                                             "rows_model_studio")}

    problems: list[str] = []
    checks: dict[str, bool | None] = {}
    duck_checks = [
        _compare(f"duckdb {key}", report[key], expected[key], problems)
        for key in ("payable", "list_cost", "discount", "payable_by_workspace", "payable_by_api_key",
                    "payable_by_date", "payable_by_model", "payable_by_channel")
    ]
    if report["rows_model_studio"] != expected["rows_model_studio"]:
        problems.append(f"duckdb rows: {report['rows_model_studio']} != {expected['rows_model_studio']}")
        duck_checks.append(False)
    checks["duckdb_vs_expected"] = all(duck_checks)

    ours: dict[str, Any] = {"available": bool(ours_runs) and ours_error is None, "error": ours_error}
    if ours["available"]:
        ours.update(_summary(ours_runs))
        ours["rows_per_s"] = round(rows / ours["median_seconds"])
        ours["mb_per_s"] = round(csv_mb / ours["median_seconds"], 1)
        ours["totals"] = {k: v for k, v in ours_found.items() if k.endswith("totals")}
        if not ours_found:
            problems.append(f"ours: no manifests/ or allocations/ output for billing_month={MONTH}")
        ours_checks = [
            _compare("ours manifest", ours_found.get("manifest_totals"), expected["payable"], problems),
            _compare("ours allocations", ours_found.get("allocation_totals"), expected["payable"], problems),
        ]
        for key in ("payable_by_workspace", "payable_by_api_key"):
            if key in ours_found:
                ours_checks.append(_compare(f"ours {key}", ours_found[key], expected[key], problems))
        checks["ours_vs_expected"] = all(ours_checks)
        manifest_totals = ours_found.get("manifest_totals") or {}
        checks["ours_vs_duckdb"] = _nonzero(manifest_totals) == _nonzero(report["payable"])
    else:
        checks["ours_vs_expected"] = checks["ours_vs_duckdb"] = None

    ratios: dict[str, float | None] = {"wall": None, "vs_query_only": None, "rss": None, "cpu": None}
    if ours["available"]:
        ratios["wall"] = round(ours["median_seconds"] / duck["median_seconds"], 3)
        ratios["vs_query_only"] = round(ours["median_seconds"] / duck["median_query_seconds"], 3)
        ratios["rss"] = round(ours["peak_rss_mb"] / duck["peak_rss_mb"], 3)
        ratios["cpu"] = round(ours["median_cpu_seconds"] / duck["median_cpu_seconds"], 3)
    return {
        "rows": rows,
        "csv_mb": round(csv_mb, 1),
        "zip_mb": round(dataset.zip_bytes / MB, 1),
        "files_in_zip": dataset.files,
        "generate": {
            "seconds": None if dataset.generate_seconds is None else round(dataset.generate_seconds, 2),
            "rows_per_s": None if not dataset.generate_seconds else round(rows / dataset.generate_seconds),
            "reused": dataset.generate_seconds is None,
        },
        "expected": {k: expected[k] for k in ("payable", "list_cost", "discount", "rows", "rows_model_studio",
                                              "rows_other_product", "rows_free_quota", "rows_discounted")},
        "ours": ours,
        "duckdb": duck,
        "ratios": ratios,
        "checks": checks,
        "problems": problems,
    }


# ---------------------------------------------------------------------------------------------------------
# Report


def scaling(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Growth from the smallest to the largest size, and the issue's targets at the largest default size."""
    out: dict[str, Any] = {}
    ours = [r for r in results if r["ours"]["available"]]
    if len(ours) >= 2:
        first, last = ours[0], ours[-1]
        out["ours_rss_growth"] = round(last["ours"]["peak_rss_mb"] / first["ours"]["peak_rss_mb"] - 1, 3)
        out["ours_seconds_per_million_rows"] = {
            r["rows"]: round(r["ours"]["median_seconds"] * 1e6 / r["rows"], 2) for r in ours}
    if len(results) >= 2:
        first, last = results[0], results[-1]
        growth = last["duckdb"]["peak_rss_mb"] / first["duckdb"]["peak_rss_mb"] - 1
        out["duckdb_rss_growth"] = round(growth, 3)
    out["duckdb_seconds_per_million_rows"] = {
        r["rows"]: round(r["duckdb"]["median_seconds"] * 1e6 / r["rows"], 2) for r in results}
    million = next((r for r in results if r["rows"] == 1_000_000), results[-1] if results else None)
    if million and million["ours"]["available"]:
        out["targets"] = {
            "at_rows": million["rows"],
            "ratio_wall": million["ratios"]["wall"],
            "ratio_wall_ok": million["ratios"]["wall"] <= TARGET_RATIO,
            "peak_rss_mb": million["ours"]["peak_rss_mb"],
            "peak_rss_ok": million["ours"]["peak_rss_mb"] < TARGET_RSS_MB,
            "rss_growth_ok": out.get("ours_rss_growth", 0) < TARGET_RSS_GROWTH,
        }
    else:
        out["targets"] = "ours: not available"
    return out


def print_table(results: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    head = (f"{'rows':>10} {'CSV MB':>7} | "
            f"{'ours s':>7} {'cpu s':>6} {'rows/s':>8} {'MB/s':>6} {'RSS MB':>7} | "
            f"{'duckdb s':>8} {'cpu s':>6} {'query':>6} {'unzip':>6} {'rows/s':>8} {'RSS MB':>7} | "
            f"{'ratio':>6} | totals")
    print(head)
    print("-" * len(head))
    for r in results:
        o, d, c = r["ours"], r["duckdb"], r["checks"]
        if o["available"]:
            ours = (f"{o['median_seconds']:7.2f} {o['median_cpu_seconds']:6.2f} {o['rows_per_s']:8,d} "
                    f"{o['mb_per_s']:6.1f} {o['peak_rss_mb']:7.1f}")
            ratio = f"{r['ratios']['wall']:6.2f}"
        else:
            ours, ratio = f"{'ours: not available':>38}", f"{'n/a':>6}"
        marks = {True: "ok", False: "MISMATCH", None: "n/a"}
        totals = f"duckdb={marks[c['duckdb_vs_expected']]} ours={marks[c['ours_vs_expected']]}"
        duck = (f"{d['median_seconds']:8.2f} {d['median_cpu_seconds']:6.2f} {d['median_query_seconds']:6.2f} "
                f"{d['median_extract_seconds']:6.2f} {d['rows_per_s']:8,d} {d['peak_rss_mb']:7.1f}")
        print(f"{r['rows']:>10,d} {r['csv_mb']:7.0f} | {ours} | {duck} | {ratio} | {totals}")
    for r in results:
        if r["ours"]["error"]:
            print(f"ours at {r['rows']:,d} rows: {r['ours']['error'][:300]}")
            break
    for r in results:
        for problem in r["problems"]:
            print(f"at {r['rows']:,d} rows: {problem}")
    if isinstance(summary.get("targets"), dict):
        t = summary["targets"]
        print(f"targets at {t['at_rows']:,d} rows: "
              f"ratio {t['ratio_wall']} (<= {TARGET_RATIO}: {t['ratio_wall_ok']}), "
              f"peak RSS {t['peak_rss_mb']} MB (< {TARGET_RSS_MB:.0f}: {t['peak_rss_ok']}), "
              f"RSS growth {summary.get('ours_rss_growth')} (< {TARGET_RSS_GROWTH}: {t['rss_growth_ok']})")


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        import duckdb

        info["duckdb"] = duckdb.__version__
    except ImportError:  # pragma: no cover
        info["duckdb"] = None
    if hasattr(os, "getloadavg"):
        info["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            info["mem_total_mb"] = int(meminfo.readline().split()[1]) // 1024
    except OSError:
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help=f"comma-separated row counts (default {DEFAULT_SIZES})")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per contender and size; the median counts")
    parser.add_argument("--big", action="store_true",
                        help=f"add {', '.join(f'{s:,d}' for s in BIG_SIZES)} rows")
    parser.add_argument("--out", default=str(HERE / "results.json"), help="where the JSON results go")
    parser.add_argument("--keep-data", action="store_true",
                        help="keep the generated bills under bench/data (and reuse them next time)")
    parser.add_argument("--files", type=int, default=4, help="CSV members per zip (default 4)")
    parser.add_argument("--chargeback", help="command for the pipeline (default: this venv's chargeback)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a child is killed")
    parser.add_argument("--data-dir", default=str(DATA), help="where generated bills go (default bench/data)")
    args = parser.parse_args(argv)

    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()}
                   | (set(BIG_SIZES) if args.big else set()))
    if args.repeat < 1 or not sizes:
        parser.error("need at least one size and one repeat")
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    chargeback = chargeback_command(args.chargeback)
    info = machine()
    results: list[dict[str, Any]] = []
    for rows in sizes:
        print(f"[bench] {rows:,d} rows: generating or reusing data ...", file=sys.stderr, flush=True)
        dataset = ensure_data(rows, args.files, data_dir)
        if dataset.generate_seconds is not None:
            seconds = dataset.generate_seconds
            print(f"[bench]   generated {dataset.csv_bytes / MB:,.0f} MB of CSV in {seconds:.1f} s "
                  f"({rows / seconds:,.0f} rows/s)", file=sys.stderr, flush=True)
        print(f"[bench]   measuring ({args.repeat} runs each) ...", file=sys.stderr, flush=True)
        try:
            results.append(
                bench_size(dataset, repeat=args.repeat, chargeback=chargeback, timeout=args.timeout)
            )
        finally:
            if not args.keep_data:
                remove_data(dataset, data_dir)
    if hasattr(os, "getloadavg"):
        info["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    summary = scaling(results)
    spec = {k: str(v) for k, v in asdict(bench_spec(sizes[0])).items()
            if k not in ("rows", "other_product_rows")}
    document = {
        "benchmark": "chargeback run vs one hand-written DuckDB query (bench/duckdb_baseline.py)",
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "config": {"month": MONTH, "sizes": sizes, "repeat": args.repeat, "files_in_zip": args.files,
                   "chargeback": chargeback, "spec": spec},
        "notes": [
            "seconds: median wall time of a fresh child process, start-up included; duckdb's includes unzip",
            "ratio wall = ours / duckdb; vs_query_only = ours / duckdb query alone (no unzip, no start-up)",
            "cpu_seconds: user+system time of the child (wait4); less sensitive to other load than wall time",
            "peak_rss_mb: max of the kernel's ru_maxrss for the child and a 20 ms sample of its process tree",
            "MB/s counts uncompressed CSV bytes",
        ],
        "results": results,
        "scaling": summary,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, ensure_ascii=False, indent=2, default=plain_decimal)
    out.write_text(text + "\n", encoding="utf-8")
    print_table(results, summary)
    print(f"results: {out}")
    failed = any(r["checks"]["duckdb_vs_expected"] is False or r["checks"]["ours_vs_expected"] is False
                 or r["checks"]["ours_vs_duckdb"] is False for r in results)
    return 1 if failed else 0


def plain_decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return "0" if value == 0 else format(value.normalize(), "f")
    raise TypeError(f"cannot serialize {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
