"""``make bench``: ``chargeback run`` against the queries a competent user would write, on equal terms.

The harness runs sections; each is a key under ``sections`` in results.json and a part of the README's
generated Scale block:

- ``month``: one billing month of 100k and 1M rows (``--big`` adds 10M), each as plain CSVs and as the zip
  as pushed. Contenders, as fresh child processes, interleaved (ours, duckdb, polars, ours, ...):
  ``chargeback run`` (a new warehouse each run), ``peers/duckdb_query.py`` (one SQL query) and
  ``peers/polars_query.py`` (a lazy scan), all doing the same work up to the allocation grain. Every run's
  output is compared, group by group, with the generator's exact result (``grain.py``).
- ``startup``: ``chargeback --help`` and ``chargeback run`` of the real export in ``tests/data/real-bills``.
- ``warehouse``: a year of 1M allocation rows a month, built through the product's publish code, and a
  grouped ``chargeback costs`` query on it (``warehouse.py``).

A section is a ``run(ctx)`` returning a JSON-able dict, a ``render(result)`` giving README lines, and
``problems(result)`` listing what makes ``make bench`` fail; ``--sections`` runs some of them, and the others
keep their previous results in results.json (each section says when it was recorded).

Exit status: 1 when a contender fails or any output differs from the expected result (or, with
``--require-targets``, when a target of issue 12 is missed), else 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import billgen  # noqa: E402
import grain  # noqa: E402
import warehouse  # noqa: E402
from measure import MB, Run, measure  # noqa: E402

MONTH = "2026-05"
DEFAULT_SIZES = (100_000, 1_000_000)
BIG_SIZE = 10_000_000
FORMS = ("plain", "zip")
CONTENDERS = ("ours", "duckdb", "polars")
PEERS = ("duckdb", "polars")
REAL_EXPORT_DIR = ROOT / "tests" / "data" / "real-bills"
REAL_EXPORT_TOTAL = {"CNY": "57.477867"}  # tests/data/real-bills/README.md

# Targets of issue 12.
TARGET_RATIO = 1.0  # ours / the faster peer, plain CSVs, at 1M and 10M rows; ours / duckdb for the zip
TARGET_LINEAR = 11.0  # ours at 10M / ours at 1M
TARGET_RSS_MB = 400.0
TARGET_HELP_S = 0.3
TARGET_REAL_EXPORT_S = 1.0


@dataclass
class Context:
    args: argparse.Namespace
    data_dir: Path
    chargeback: list[str]

    def log(self, text: str) -> None:
        print(f"[bench] {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Section:
    name: str
    run: Callable[[Context], dict[str, Any]]
    render: Callable[[dict[str, Any]], list[str]]
    problems: Callable[[dict[str, Any]], list[str]]
    failed_targets: Callable[[dict[str, Any]], list[str]]


def _summary(runs: list[Run], extra: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = [r.seconds for r in runs]
    summary: dict[str, Any] = {
        "median_seconds": round(median(seconds), 3),
        "min_seconds": min(seconds),
        "max_seconds": max(seconds),
        "median_cpu_seconds": round(median(r.cpu_seconds for r in runs), 3),
        "peak_rss_mb": max(r.peak_rss_mb for r in runs),
        "median_peak_rss_mb": round(median(r.peak_rss_mb for r in runs), 1),
        "load": [min(min(r.load_before, r.load_after) for r in runs),
                 max(max(r.load_before, r.load_after) for r in runs)],
        "runs": [{**r.record(), **e} for r, e in zip(runs, extra, strict=True)],
    }
    for key in ("unpack_seconds", "query_seconds"):
        values = [e[key] for e in extra if key in e]
        if values:
            summary[f"median_{key}"] = round(median(values), 3)
    return summary


# ---------------------------------------------------------------------------------------------------------
# Section "month": the pipeline and its peers on one month


def chargeback_command(override: str | None) -> list[str]:
    if override:
        return shlex.split(override)
    script = Path(sys.executable).parent / "chargeback"
    return [str(script)] if script.exists() else [sys.executable, "-m", "chargeback.cli"]


def _form_root(dataset: billgen.Dataset, form: str) -> Path:
    return dataset.plain_root if form == "plain" else dataset.zip_root


def _command(ctx: Context, contender: str, dataset: billgen.Dataset, form: str, workdir: Path) -> list[str]:
    root = _form_root(dataset, form)
    if contender == "ours":
        return [*ctx.chargeback, "run", "--source", root.as_uri(), "--warehouse", (workdir / "wh").as_uri(),
                "--month", MONTH]
    push = root / dataset.spec.yyyymm / billgen.SNAPSHOT
    return [sys.executable, str(HERE / "peers" / f"{contender}_query.py"), "--out",
            str(workdir / "result.parquet"), "--month", MONTH, str(push)]


def _check(contender: str, dataset: billgen.Dataset, workdir: Path,
           expected: dict[grain.Key, grain.Sums]) -> list[str]:
    if contender == "ours":
        got, problems = grain.check_ours(workdir / "wh", MONTH, dataset)
    else:
        path = workdir / "result.parquet"
        got, problems = (grain.rows_to_grain(grain.read_parquet_rows(path)), []) if path.exists() else (
            None, ["no result.parquet written"])
    if got is not None:
        problems += grain.compare(got, expected)
    return problems


def ensure_dataset(ctx: Context, rows: int) -> billgen.Dataset:
    spec = billgen.BillSpec(rows=rows)
    root = ctx.data_dir / f"rows-{rows}"
    dataset = billgen.load_dataset(spec, root)
    if dataset is not None:
        ctx.log(f"{rows:,d} rows: reusing {root}")
        return dataset
    ctx.log(f"{rows:,d} rows: generating under {root} ...")
    dataset = billgen.write_dataset(spec, root, log=lambda text: ctx.log("  " + text))
    ctx.log(f"  {dataset.csv_bytes / MB:,.0f} MB of CSV, {dataset.zip_bytes / MB:,.0f} MB zipped, "
            f"in {dataset.generate_seconds:.0f} s")
    return dataset


def _warm(paths: list[Path]) -> None:
    """Read the inputs once, untimed, so every contender finds them in the page cache alike."""
    for path in paths:
        with path.open("rb") as stream:
            while stream.read(16 << 20):
                pass


def bench_block(ctx: Context, dataset: billgen.Dataset, form: str) -> dict[str, Any]:
    """One size in one form: every contender ``--repeat`` times, interleaved."""
    rows, csv_mb = dataset.spec.rows, dataset.csv_bytes / MB
    _warm(dataset.csv_paths if form == "plain" else [dataset.zip_path])
    expected = grain.expected_grain(dataset)
    runs: dict[str, list[Run]] = {c: [] for c in ctx.args.contenders}
    extra: dict[str, list[dict[str, Any]]] = {c: [] for c in ctx.args.contenders}
    errors: dict[str, str] = {}
    problems: dict[str, list[str]] = {c: [] for c in ctx.args.contenders}
    engines: dict[str, str] = {}
    for attempt in range(ctx.args.repeat):
        for contender in ctx.args.contenders:
            if contender in errors:
                continue
            workdir = Path(tempfile.mkdtemp(prefix=f"bench-{contender}-"))
            try:
                run = measure(_command(ctx, contender, dataset, form, workdir), timeout=ctx.args.timeout)
                if run.returncode != 0:
                    tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
                    errors[contender] = f"exit {run.returncode}: " + " | ".join(tail)
                    continue
                found = _check(contender, dataset, workdir, expected)
                if found and not problems[contender]:
                    problems[contender] = [f"run {attempt + 1}: {p}" for p in found]
                info: dict[str, Any] = {}
                if contender != "ours":
                    report = json.loads(run.stdout.strip().splitlines()[-1])
                    engines[contender] = report["engine"]
                    info = {k: report[k] for k in ("unpack_seconds", "query_seconds")}
                runs[contender].append(run)
                extra[contender].append(info)
                ctx.log(f"  {rows:,d} {form:5s} {contender:6s} run {attempt + 1}: {run.seconds:7.2f} s, "
                        f"cpu {run.cpu_seconds:7.2f} s, {run.peak_rss_mb:6.0f} MB, load {run.load_after}"
                        + ("" if not found else "  MISMATCH"))
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
    contenders: dict[str, Any] = {}
    for contender in ctx.args.contenders:
        entry: dict[str, Any] = {"error": errors.get(contender), "problems": problems[contender],
                                 "same_totals": None}
        if runs[contender]:
            entry.update(_summary(runs[contender], extra[contender]))
            entry["same_totals"] = not problems[contender]
            entry["mb_per_s"] = round(csv_mb / entry["median_seconds"], 1)
            entry["rows_per_s"] = round(rows / entry["median_seconds"])
            if contender in engines:
                entry["engine"] = engines[contender]
        contenders[contender] = entry
    timed = {c: e["median_seconds"] for c, e in contenders.items() if e.get("median_seconds") and c in PEERS}
    faster = min(timed, key=timed.__getitem__) if timed else None
    for entry in contenders.values():
        if faster and entry.get("median_seconds"):
            entry["vs_faster_peer"] = round(entry["median_seconds"] / timed[faster], 2)
            entry["cpu_vs_faster_peer"] = round(
                entry["median_cpu_seconds"] / contenders[faster]["median_cpu_seconds"], 2)
    return {"rows": rows, "form": form, "csv_mb": round(csv_mb, 1), "zip_mb": round(dataset.zip_bytes / MB, 1),
            "csv_files": dataset.spec.members, "groups": dataset.expected["groups"], "faster_peer": faster,
            "contenders": contenders}


def _find(results: list[dict[str, Any]], rows: int, form: str) -> dict[str, Any] | None:
    return next((r for r in results if r["rows"] == rows and r["form"] == form), None)


def _ours(block: dict[str, Any] | None, key: str = "median_seconds") -> Any:
    return (block or {}).get("contenders", {}).get("ours", {}).get(key)


def month_targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets, each with what was measured and whether it passed (None: not measured)."""
    targets: list[dict[str, Any]] = []

    def target(name: str, value: float | None, limit: float, unit: str, *, below: bool = False) -> None:
        ok = None if value is None else (value < limit if below else value <= limit)
        targets.append({"target": name, "measured": value, "limit": limit, "unit": unit, "ok": ok})

    for rows in (1_000_000, BIG_SIZE):
        label = f"{rows // 1_000_000}M"
        plain = _find(results, rows, "plain")
        ratio = (plain or {}).get("contenders", {}).get("ours", {}).get("vs_faster_peer")
        target(f"ours / faster peer, plain CSVs, {label} rows", ratio, TARGET_RATIO, "x")
    one, ten = _ours(_find(results, 1_000_000, "plain")), _ours(_find(results, BIG_SIZE, "plain"))
    target("ours at 10M / ours at 1M rows (linear: within 11x)", None if not (one and ten) else round(ten / one, 2),
           TARGET_LINEAR, "x")
    for rows in (1_000_000, BIG_SIZE):
        block = _find(results, rows, "zip")
        duck = (block or {}).get("contenders", {}).get("duckdb", {}).get("median_seconds")
        mine = _ours(block)
        target(f"ours / DuckDB (unzip + query), zip as pushed, {rows // 1_000_000}M rows",
               None if not (duck and mine) else round(mine / duck, 2), TARGET_RATIO, "x")
    for rows in (1_000_000, BIG_SIZE):
        peaks = [p for form in FORMS if (p := _ours(_find(results, rows, form), "peak_rss_mb")) is not None]
        target(f"ours peak RSS, {rows // 1_000_000}M rows (both forms, worst run)", max(peaks) if peaks else None,
               TARGET_RSS_MB, "MB", below=True)
    return targets


def run_month(ctx: Context) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for rows in ctx.args.sizes:
        dataset = ensure_dataset(ctx, rows)
        try:
            for form in ctx.args.forms:
                ctx.log(f"{rows:,d} rows, {form}: {ctx.args.repeat} runs of {', '.join(ctx.args.contenders)}")
                results.append(bench_block(ctx, dataset, form))
        finally:
            if not ctx.args.keep_data:
                shutil.rmtree(dataset.root, ignore_errors=True)
    return {"month": MONTH, "repeat": ctx.args.repeat, "results": results, "targets": month_targets(results)}


def month_problems(section: dict[str, Any]) -> list[str]:
    out = []
    for block in section["results"]:
        where = f"{block['rows']:,d} rows {block['form']}"
        for name, entry in block["contenders"].items():
            if entry["error"]:
                out.append(f"{where}: {name} failed: {entry['error'][:400]}")
            out += [f"{where}: {name}: {p}" for p in entry["problems"]]
    return out


def _num(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def render_month(section: dict[str, Any]) -> list[str]:
    names = {"ours": "`chargeback run`", "duckdb": "DuckDB, one SQL query", "polars": "polars, lazy scan"}
    lines = [
        f"Median of {section['repeat']} interleaved runs, each a fresh process (start-up included); the zip "
        "form includes each contender's own decompression. CPU is user + system time; peak RSS the worst run; "
        "MB/s counts uncompressed CSV bytes.",
        "",
        "| rows | input | contender | wall s (min to max) | CPU s | peak RSS MB | MB/s | rows/s | vs faster peer |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for block in section["results"]:
        size = f"{block['csv_mb']:,.0f} MB CSV" if block["form"] == "plain" else f"{block['zip_mb']:,.0f} MB zip"
        files = f", {block['csv_files']} files" if block["csv_files"] > 1 else ""
        for name, e in block["contenders"].items():
            label = names.get(name, name) + (f" ({e['engine'].split()[-1]})" if e.get("engine") else "")
            if not e.get("median_seconds"):
                lines.append(f"| {block['rows']:,d} | {block['form']} ({size}{files}) | {label} | failed | | | | | |")
                continue
            flag = "" if e["same_totals"] else " (totals differ)"
            lines.append(
                f"| {block['rows']:,d} | {block['form']} ({size}{files}) | {label}{flag} | "
                f"{e['median_seconds']:,.2f} ({e['min_seconds']:,.2f} to {e['max_seconds']:,.2f}) | "
                f"{e['median_cpu_seconds']:,.2f} | {e['peak_rss_mb']:,.0f} | {e['mb_per_s']:,.0f} | "
                f"{e['rows_per_s']:,d} | {_num(e.get('vs_faster_peer'))}x |")
    lines += ["", "| target (issue 12) | measured | limit | |", "|---|---:|---:|---|"]
    for t in section["targets"]:
        verdict = {True: "pass", False: "**fail**", None: "not measured"}[t["ok"]]
        digits = 0 if t["unit"] == "MB" else 2
        measured = "n/a" if t["measured"] is None else f"{_num(t['measured'], digits)} {t['unit']}"
        lines.append(f"| {t['target']} | {measured} | "
                     f"{'< ' if t['unit'] == 'MB' else '<= '}{t['limit']:g} {t['unit']} | {verdict} |")
    return lines


def failed_month_targets(section: dict[str, Any]) -> list[str]:
    return [t["target"] for t in section["targets"] if t["ok"] is False]


# ---------------------------------------------------------------------------------------------------------
# Section "startup": the fixed costs


def run_startup(ctx: Context) -> dict[str, Any]:
    repeat = ctx.args.startup_repeat
    help_runs: list[Run] = []
    python_runs: list[Run] = []
    real_runs: list[Run] = []
    problems: list[str] = []
    for _ in range(repeat):
        python_runs.append(measure([sys.executable, "-c", "pass"], timeout=60))
        help_runs.append(measure([*ctx.chargeback, "--help"], timeout=60))
        with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp:
            run = measure([*ctx.chargeback, "run", "--source", REAL_EXPORT_DIR.as_uri(), "--warehouse",
                           Path(tmp).as_uri(), "--month", MONTH], timeout=120)
            real_runs.append(run)
            manifest = Path(tmp) / "manifests" / f"billing_month={MONTH}" / "manifest.json"
            totals = json.loads(manifest.read_text(encoding="utf-8")).get("totals") if manifest.exists() else None
            if run.returncode != 0 or totals != REAL_EXPORT_TOTAL:
                problems.append(f"the real export: exit {run.returncode}, totals {totals} "
                                f"(expected {REAL_EXPORT_TOTAL}): {run.stderr.strip()[-300:]}")
    if any(r.returncode != 0 for r in help_runs):
        problems.append("chargeback --help failed")
    ctx.log(f"startup: help {median(r.seconds for r in help_runs):.2f} s, real export "
            f"{median(r.seconds for r in real_runs):.2f} s")
    section = {
        "python_startup": _summary(python_runs, [{}] * repeat),
        "help": _summary(help_runs, [{}] * repeat),
        "real_export": _summary(real_runs, [{}] * repeat),
        "problems": problems,
    }
    section["targets"] = [
        {"target": "`chargeback --help`", "measured": section["help"]["median_seconds"], "limit": TARGET_HELP_S,
         "unit": "s", "ok": section["help"]["median_seconds"] < TARGET_HELP_S},
        {"target": "`chargeback run` of the real export (156 lines), end to end",
         "measured": section["real_export"]["median_seconds"], "limit": TARGET_REAL_EXPORT_S, "unit": "s",
         "ok": section["real_export"]["median_seconds"] < TARGET_REAL_EXPORT_S},
    ]
    return section


def render_startup(section: dict[str, Any]) -> list[str]:
    lines = ["| fixed cost | wall s (median) | CPU s | peak RSS MB | limit | |", "|---|---:|---:|---:|---:|---|"]
    p = section["python_startup"]
    lines.append(f"| `python -c pass` (for scale) | {p['median_seconds']:.3f} | {p['median_cpu_seconds']:.3f} | "
                 f"{p['peak_rss_mb']:.0f} | | |")
    for key, target in zip(("help", "real_export"), section["targets"], strict=True):
        e = section[key]
        lines.append(f"| {target['target']} | {e['median_seconds']:.3f} | {e['median_cpu_seconds']:.3f} | "
                     f"{e['peak_rss_mb']:.0f} | < {target['limit']:g} s | {'pass' if target['ok'] else '**fail**'} |")
    return lines


SECTIONS: dict[str, Section] = {
    "month": Section("month", run_month, render_month, month_problems, failed_month_targets),
    "startup": Section("startup", run_startup, render_startup, lambda s: list(s["problems"]),
                       lambda s: [t["target"] for t in s["targets"] if not t["ok"]]),
    "warehouse": Section("warehouse", warehouse.run_section, warehouse.render_section, warehouse.section_problems,
                         warehouse.failed_targets),
}


# ---------------------------------------------------------------------------------------------------------
# The machine and the command line


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform(), "loadavg_at_start": list(os.getloadavg())}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            info["cpu"] = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
                               platform.processor())
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            info["mem_total_mb"] = int(meminfo.readline().split()[1]) // 1024
    except OSError:
        pass
    for module in ("duckdb", "polars", "pyarrow"):
        try:
            info[module] = __import__(module).__version__
        except ImportError:
            info[module] = None
    info["chargeback_commit"] = _git("rev-parse", "--short", "HEAD") + ("+changes" if _git("status", "--porcelain",
                                                                                        "shared") else "")
    return info


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="comma-separated row counts (default 100000,1000000)")
    parser.add_argument("--big", action="store_true", help="add the 10M-row month (ten 1M-row CSVs)")
    parser.add_argument("--forms", default=",".join(FORMS), help="plain, zip or both (default both)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="ours, duckdb, polars (default all)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"of {', '.join(SECTIONS)} (default all)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender, size and form (median)")
    parser.add_argument("--startup-repeat", type=int, default=5, help="runs of each start-up measurement")
    parser.add_argument("--warehouse-months", type=int, default=12, help="months of the warehouse section")
    parser.add_argument("--warehouse-rows", type=int, default=1_000_000,
                        help="allocation rows a month of the warehouse section (about)")
    parser.add_argument("--query-repeat", type=int, default=7, help="runs of each warehouse query (median)")
    parser.add_argument("--keep-data", action="store_true",
                        help="keep the generated bills under bench/data and reuse them next time")
    parser.add_argument("--data-dir", default=str(HERE / "data"), help="where generated bills go")
    parser.add_argument("--out", default=str(HERE / "results.json"), help="where the JSON results go")
    parser.add_argument("--readme", help="rewrite the generated block of this README from the results")
    parser.add_argument("--chargeback", help="command for the pipeline (default: this venv's chargeback)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a child is killed")
    parser.add_argument("--require-targets", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    args.sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()}
                        | ({BIG_SIZE} if args.big else set()))
    args.forms = [f for f in args.forms.split(",") if f]
    args.contenders = [c for c in args.contenders.split(",") if c]
    args.sections = [s for s in args.sections.split(",") if s]
    for values, allowed, what in ((args.forms, FORMS, "form"), (args.contenders, CONTENDERS, "contender"),
                                  (args.sections, SECTIONS, "section")):
        unknown = set(values) - set(allowed)
        if unknown or not values:
            parser.error(f"unknown or missing {what}: {', '.join(sorted(unknown)) or '(none)'}")
    if args.repeat < 1 or not args.sizes or min(args.sizes) < 1:
        parser.error("need at least one size and one repeat")
    return args


def _previous_sections(path: Path, running: list[str]) -> dict[str, Any]:
    """The sections of the previous results that this run does not measure again (kept as they were, with the
    time they were recorded), so ``--sections warehouse`` does not drop the month measurements."""
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    kept = {}
    for name, section in previous.get("sections", {}).items():
        if name not in running and name in SECTIONS:
            kept[name] = {**section, "recorded_at": section.get("recorded_at", previous.get("recorded_at"))}
    return kept


def compile_package() -> None:
    """Byte-compile ``chargeback`` once, as installing a wheel (or building the functions' image) does.

    The package is installed editable here, and an environment with ``PYTHONDONTWRITEBYTECODE`` set would
    otherwise make every timed run compile it from source again, a cost no deployment pays."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "shared" / "chargeback")], check=True,
                   stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    import report

    args = parse_args(argv)
    ctx = Context(args, Path(args.data_dir), chargeback_command(args.chargeback))
    ctx.data_dir.mkdir(parents=True, exist_ok=True)
    compile_package()
    started = time.perf_counter()
    info = machine()
    sections: dict[str, Any] = {}
    for name in args.sections:
        sections[name] = {**SECTIONS[name].run(ctx), "recorded_at": datetime.now(UTC).isoformat(timespec="seconds")}
    info["loadavg_at_end"] = list(os.getloadavg())
    out = Path(args.out)
    kept = _previous_sections(out, args.sections)
    document = {
        "benchmark": "chargeback run against the queries a user would write (bench/README.md)",
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started),
        "machine": info,
        "config": {"sizes": args.sizes, "forms": args.forms, "contenders": args.contenders,
                   "repeat": args.repeat, "chargeback": ctx.chargeback},
        "sections": {name: sections[name] if name in sections else kept[name]
                     for name in SECTIONS if name in sections or name in kept},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print("\n".join(report.render(document)))
    print(f"results: {out}")
    if args.readme:
        report.update_readme(Path(args.readme), document)
        print(f"updated the generated block of {args.readme}")
    problems = [p for name, s in sections.items() for p in SECTIONS[name].problems(s)]
    missed = [t for name, s in sections.items() for t in SECTIONS[name].failed_targets(s)]
    for problem in problems:
        print(f"PROBLEM: {problem}")
    for target in missed:
        print(f"target missed: {target}")
    return 1 if problems or (args.require_targets and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
