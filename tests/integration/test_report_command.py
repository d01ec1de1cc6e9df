"""``chargeback report`` end to end on a local warehouse: outbox folder, default mapping, dry run, errors."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path

import pytest

from chargeback import cli
from chargeback.commands import report
from chargeback.storage import LocalObjectStore
from tests.support.allocations import MAPPING_YAML, MONTH, publish_sample, row
from tests.support.mail import parse_message
from tests.support.smtp import HOST, RecordingHandler, smtp_server
from tests.support.statements import check_statement, expected_totals
from tests.support.warehouse import publish_month


def report_main(argv: list[str]) -> int:
    """``chargeback report ...`` through the real cli.main, with only this subcommand registered."""
    return cli.main(["--log-format", "text", "report", *argv])


@pytest.fixture(autouse=True)
def only_the_report_command(monkeypatch):
    # The other subcommands live in modules of other work in progress; this test needs only `report`.
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("chargeback.commands.report",))


@pytest.fixture
def warehouse(tmp_path):
    store = LocalObjectStore(tmp_path / "warehouse")
    publish_sample(store)
    return store


@pytest.fixture
def mapping_file(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text(MAPPING_YAML, encoding="utf-8")
    return path


def test_outbox_folder_wins_and_the_paths_are_printed(warehouse, mapping_file, tmp_path, capsys):
    outbox = tmp_path / "outbox"
    code = report_main(["--warehouse", str(warehouse.root), "--month", MONTH, "--mapping", str(mapping_file),
                        "--outbox", str(outbox)])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    paths = [line.split("\t")[-1] for line in lines]
    names = ("ops", "research", "search", "unallocated", "finance")
    assert paths == [str(outbox / f"statement_2026-05_{c}_v1.eml") for c in names]
    totals = expected_totals()
    for path, center in zip(paths, names[:-1], strict=False):
        check_statement(Path(path).read_bytes(), center, totals[center])
        assert (outbox / f"statement_2026-05_{center}_v1.html").exists()
    search = parse_message((outbox / "statement_2026-05_search_v1.eml").read_bytes())
    assert search["To"] == "lead@search.example.com" and search["Cc"] is None
    assert parse_message((outbox / "statement_2026-05_finance_v1.eml").read_bytes())["To"] == "finance@example.com"

    assert report_main(["--warehouse", str(warehouse.root), "--month", MONTH, "--mapping", str(mapping_file),
                        "--outbox", str(outbox)]) == 0
    again = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0].strip() for line in again] == ["unchanged"] * 5
    assert [line.split("\t")[-1] for line in again] == paths


def test_without_a_mapping_every_workspace_is_a_cost_center_in_the_warehouse_outbox(tmp_path, capsys):
    store = LocalObjectStore(tmp_path / "warehouse")
    publish_month(store, MONTH, [
        row("2026-05-01", "1.5", workspace_id="llm-aaa", cost_center="llm-aaa", allocation_rule="workspace"),
        row("2026-05-02", "2.25", workspace_id="llm-bbb", cost_center="llm-bbb", allocation_rule="workspace"),
    ], status="final")
    assert report_main(["--warehouse", store.url, "--month", MONTH]) == 0
    captured = capsys.readouterr()
    assert "no mapping file" in captured.err and "outbox only" in captured.err
    assert sorted(info.key for info in store.list("outbox/")) == [
        "outbox/statement_2026-05_finance_v1.eml", "outbox/statement_2026-05_finance_v1.html",
        "outbox/statement_2026-05_llm-aaa_v1.eml", "outbox/statement_2026-05_llm-aaa_v1.html",
        "outbox/statement_2026-05_llm-bbb_v1.eml", "outbox/statement_2026-05_llm-bbb_v1.html"]
    message = parse_message(store.read_bytes("outbox/statement_2026-05_llm-aaa_v1.eml"))
    assert message["To"] is None  # no owners without a mapping
    check_statement(store.read_bytes("outbox/statement_2026-05_llm-bbb_v1.eml"), "llm-bbb",
                    {"CNY": Decimal("2.25")})


def test_dry_run_writes_nothing(warehouse, mapping_file, tmp_path, capsys):
    outbox = tmp_path / "outbox"
    assert report_main(["--warehouse", str(warehouse.root), "--month", MONTH, "--mapping", str(mapping_file),
                        "--outbox", str(outbox), "--dry-run", "--only", "search"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("would_send") and "search" in line and "CNY 17.40, USD 1.25" in line
    assert not outbox.exists()
    assert not any(warehouse.list("state/"))


def test_a_failed_statement_makes_the_exit_code_1(warehouse, tmp_path, capsys):
    handler = RecordingHandler(refuse={"lead@search.example.com", "finance@example.com"})
    with smtp_server(handler) as server:
        mapping = tmp_path / "smtp.yaml"
        mapping.write_text(MAPPING_YAML.replace(
            '  sender: "Chargeback <chargeback@example.com>"\n',
            f'  sender: "Chargeback <chargeback@example.com>"\n  backend: smtp\n'
            f"  smtp: {{host: {HOST}, port: {server.port}, security: none}}\n"), encoding="utf-8")
        code = report_main(["--warehouse", str(warehouse.root), "--month", MONTH, "--mapping", str(mapping)])
    captured = capsys.readouterr()
    assert code == 1
    # search went to its lead, unallocated and the finance statement to finance: all refused; the others went.
    assert "3 statement(s) not sent: search, unallocated, finance" in captured.err
    assert "lead@search.example.com: 550" in captured.out
    assert len(handler.messages) == 2


def test_a_malformed_month_is_refused_by_the_parser(warehouse, capsys):
    with pytest.raises(SystemExit) as caught:
        report_main(["--warehouse", str(warehouse.root), "--month", "2026-13"])
    assert caught.value.code == 2
    assert "month '2026-13' is not YYYY-MM" in capsys.readouterr().err


def test_an_unpublished_month_exits_2_and_says_why(warehouse, capsys):
    assert report_main(["--warehouse", str(warehouse.root), "--month", "2026-07"]) == 2
    assert "2026-07 is not published" in capsys.readouterr().err


def test_a_bad_mapping_delivery_section_lists_every_field(warehouse, tmp_path, capsys):
    mapping = tmp_path / "bad.yaml"
    mapping.write_text("cost_centers: {a: {}}\ndelivery: {backend: pigeon, finance_cc: [nope]}\n")
    assert report_main(["--warehouse", str(warehouse.root), "--month", MONTH, "--mapping", str(mapping)]) == 2
    err = capsys.readouterr().err
    assert "delivery.backend" in err and "delivery.finance_cc" in err


def test_register_adds_the_subcommand():
    parser = argparse.ArgumentParser()
    report.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", "--warehouse", "w", "--month", "2026-05", "--only", "search"])
    assert (args.handler, args.only, args.dry_run, args.outbox) == (report.run, "search", False, None)
