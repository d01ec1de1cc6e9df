"""The month's free-quota grants (the manifest's ``free_quota``) do not depend on where in a CSV the free-quota
rows are, nor on which reader read it: the fast path samples one usage detail an instance in a second pass over
the CSV's first rows (of a zip member cut into pieces, once: no later piece samples an instance again), the exact
reader reads every row's."""

from __future__ import annotations

import functools
import json
import zipfile
from pathlib import Path

from chargeback.bills import reader, scan
from chargeback.bills.sources import split_pieces
from chargeback.cli import main

REAL = Path(__file__).resolve().parents[1] / "data" / "real-bills" / \
    "1000000000000001-20260516105620_consumedetailbillv2.csv"
FREE = "免费额度".encode()


def _grants(tmp_path: Path, name: str, data: bytes, *, encoding: str = "utf-8",
            zipped: bool = False) -> tuple[list[dict], dict]:
    source = tmp_path / name
    source.mkdir()
    if zipped:
        with zipfile.ZipFile(source / REAL.with_suffix(".zip").name, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(REAL.name, data)
    else:
        text = data.decode("utf-8-sig")
        (source / REAL.name).write_bytes(text.encode(encoding) if encoding != "utf-8" else data)
    warehouse = tmp_path / f"{name}-warehouse"
    assert main(["run", "--source", str(source), "--warehouse", str(warehouse), "--month", "2026-05"]) == 0
    manifest = json.loads((warehouse / "manifests/billing_month=2026-05/manifest.json").read_text())
    return manifest["free_quota"], manifest["totals"]


def test_free_quota_grants_whatever_the_row_order_and_reader(tmp_path):
    header, *rows = REAL.read_bytes().splitlines(keepends=True)
    free = [r for r in rows if FREE in r]
    paid = [r for r in rows if FREE not in r]
    assert free and paid
    as_exported = _grants(tmp_path, "exported", REAL.read_bytes())
    free_last = _grants(tmp_path, "free-last", header + b"".join(paid + free[::-1]))
    exact_reader = _grants(tmp_path, "gbk", header + b"".join(paid + free[::-1]), encoding="gbk")  # not UTF-8
    assert as_exported[1] == {"CNY": "57.477867"}
    assert len(as_exported[0]) >= 5 and all(g["model"] and g["total"] for g in as_exported[0])
    assert free_last == as_exported
    assert exact_reader == as_exported


def test_a_zip_member_in_pieces_samples_each_instance_once(tmp_path, monkeypatch):
    header, *rows = REAL.read_bytes().splitlines(keepends=True)
    free = [r for r in rows if FREE in r]
    paid = [r for r in rows if FREE not in r]
    data = header + b"".join(free[:3] + paid + free[3:])  # free quota in the first piece and the last ones
    as_plain = _grants(tmp_path, "plain", data)
    passes: list[int] = []
    second_pass = scan._scan

    def counted(part, header_map, rows=None):
        if rows is not None:
            passes.append(rows)
        return second_pass(part, header_map, rows)

    monkeypatch.setattr(scan, "_scan", counted)
    pieces: list[object] = []
    small = functools.partial(split_pieces, piece_bytes=len(data) // 6, chunk_bytes=len(data) // 24)

    def counted_pieces(*args, **kwargs):
        for piece in small(*args, **kwargs):
            pieces.append(piece)
            yield piece

    monkeypatch.setattr(reader, "split_pieces", counted_pieces)
    in_pieces = _grants(tmp_path, "pieces", data, zipped=True)
    assert in_pieces == as_plain
    assert len(pieces) >= 6
    assert 1 <= len(passes) < len(pieces)  # a piece whose free-quota instances an earlier one sampled reads none
