"""The benchmark's results as Markdown: printed after a run, and the generated block of the README.

The README's Scale section holds a block between ``<!-- bench:begin -->`` and ``<!-- bench:end -->`` that is
rewritten from ``bench/results.json`` (never by hand), so new measurements replace every figure at once:

    python bench/report.py                      # print the block for bench/results.json
    python bench/report.py --readme README.md   # rewrite the README's block
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

BEGIN = "<!-- bench:begin (generated from bench/results.json by bench/report.py; do not edit) -->"
END = "<!-- bench:end -->"


def _loads(value: Any) -> list[float]:
    """Every load average recorded anywhere in the results."""
    found: list[float] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("load_before", "load_after") and isinstance(item, (int, float)) and item >= 0:
                found.append(float(item))
            else:
                found += _loads(item)
    elif isinstance(value, list):
        for item in value:
            found += _loads(item)
    return found


def render(document: dict[str, Any]) -> list[str]:
    from run_bench import SECTIONS

    m = document["machine"]
    loads = _loads(document["sections"])
    load = f"{min(loads):.1f} to {max(loads):.1f}" if loads else "not recorded"
    versions = ", ".join(f"{name} {m[name]}" for name in ("duckdb", "polars", "pyarrow") if m.get(name))
    lines = [
        f"Measured {document['recorded_at'][:10]} by `make bench` on {m.get('cpu', 'an unnamed CPU')}, "
        f"{m['cpus']} cores, {m.get('mem_total_mb', 0) / 1024:.0f} GiB, shared with other work (1-minute load "
        f"average {load} across the runs; wall times move with it, CPU times less). Python {m['python']}, "
        f"{versions}; `chargeback` at {m['chargeback_commit']}.",
        "",
    ]
    for name, section in document["sections"].items():
        if name in SECTIONS:
            lines += [*SECTIONS[name].render(section), ""]
    return lines[:-1] if lines and lines[-1] == "" else lines


def update_readme(path: Path, document: dict[str, Any]) -> None:
    """Replace the generated block of ``path`` (it must have the markers) with the rendered results."""
    text = path.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{path} has no generated bench block ({BEGIN} ... {END})")
    block = "\n".join([BEGIN, *render(document), END])
    path.write_text(text[:start] + block + text[end + len(END):], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(HERE / "results.json"))
    parser.add_argument("--readme", help="rewrite the generated block of this file")
    args = parser.parse_args(argv)
    document = json.loads(Path(args.results).read_text(encoding="utf-8"))
    if args.readme:
        update_readme(Path(args.readme), document)
    else:
        print("\n".join(render(document)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
