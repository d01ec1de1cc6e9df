"""A corpus of malformed bills and configuration files, made from the real export and hand-made rows.

Every case is what a user's bucket may hold next to (or instead of) the real export of
``tests/data/real-bills``; it either must be refused with exit 2 and a message naming the file, the line and
the field (``Case.error``), or must be read with exact totals (``Case.totals``). Nothing is stored: the bytes
are made here, from the real export's 156 rows, so each case says what it changed.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from tests.support.bills import legacy_csv, legacy_row, v2_csv, v2_row

REAL = Path(__file__).resolve().parents[1] / "data" / "real-bills"
FULL = "1000000000000001-20260516105620_consumedetailbillv2.csv"  # 156 rows, 57.477867 CNY
EARLY = "1000000000000001-20260516104506_consumedetailbillv2.csv"  # 14 of them again
REAL_TOTAL = Decimal("57.477867")
NEWER = "1000000000000001-20260517090000_consumedetailbillv2.csv"  # a later console export of the same account
PUSH = "bills/202605/20260520120000/1000000000000001_2688801000001_consumeDetailBillV2_202605"
PAYABLE, DATE, MONTH, CURRENCY = "应付信息/应付金额（含税）", "账单信息/账单日期", "账单信息/账单月份", "定价信息/定价币种"
INSTANCE, PRICE, USAGE, DISCOUNT = "资源信息/实例ID（出账粒度）", "定价信息/官网目录价", "用量信息/用量", "优惠信息/优惠金额"
FACTOR = "定价信息/目录价因子"
PAID = 110  # a paid row (a 6.4 CNY video call with a 20% promotion)


def _real() -> tuple[list[str], list[list[str]]]:
    with (REAL / FULL).open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.reader(stream))
    return rows[0], rows[1:]


HEADER, ROWS = _real()
assert ROWS[PAID][HEADER.index(PAYABLE)] == "6.4", "the real export changed: pick another paid row"


def encode(header: list[str], rows: list[list[str]], *, bom: bool = True, newline: str = "\n",
           encoding: str = "utf-8") -> bytes:
    """A CSV as the console writes it (csv-module quoting, BOM, LF)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    data = text.getvalue().encode(encoding)
    return (codecs.BOM_UTF8 if bom and encoding == "utf-8" else b"") + data


def real_with(row: int, column: str, value: str) -> bytes:
    """The real export with one cell changed (row 0-based: it is on line ``row + 2``)."""
    rows = [list(r) for r in ROWS]
    rows[row][HEADER.index(column)] = value
    return encode(HEADER, rows)


def real_lines() -> list[bytes]:
    return (REAL / FULL).read_bytes().split(b"\n")


def replace_line(index: int, text: bytes) -> bytes:
    """The real export's bytes with physical line ``index + 1`` replaced (index 0 is the header)."""
    lines = real_lines()
    lines[index] = text
    return b"\n".join(lines)


def zipped(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def total_without(*rows: int) -> Decimal:
    column = HEADER.index(PAYABLE)
    return REAL_TOTAL - sum((Decimal(ROWS[r][column]) for r in rows), Decimal(0))


@dataclass(frozen=True)
class Case:
    """One input: the files it adds to (or puts instead of) the real export, and what must come out."""

    name: str
    files: dict[str, bytes]
    error: tuple[str, ...] = ()  # every part the message names (file, 'line N', "field 'x'", the reason)
    totals: dict[str, Decimal] | None = None  # for an accepted input: the month's exact totals
    alone: bool = False  # the files replace the real export instead of joining it
    args: tuple[str, ...] = ()  # more command-line arguments
    counts: dict[str, int] = field(default_factory=dict)  # for accepted inputs: manifest counts to check

    def __post_init__(self) -> None:
        assert bool(self.error) != (self.totals is not None), self.name


def _bill_cases() -> Iterator[Case]:
    yield from _header_cases()
    yield from _structure_cases()
    yield from _value_cases()
    yield from _amount_cases()
    yield from _duplicate_cases()
    yield from _zip_cases()
    yield from _other_format_cases()


def _header_cases() -> Iterator[Case]:
    doubled = [HEADER[HEADER.index(PAYABLE)], *HEADER]  # the case: a second payable column first
    rows = [[r[HEADER.index(PAYABLE)].replace("6.4", "999"), *r] for r in ROWS]
    yield Case("duplicated payable column placed first", {NEWER: encode(doubled, rows)},
               error=(NEWER, "line 1", "ambiguous header", "billed_cost", "column 1", "column 62"))
    yield Case("duplicated payable column placed last", {NEWER: encode([*HEADER, PAYABLE], [[*r, "1"] for r in ROWS])},
               error=(NEWER, "line 1", "ambiguous header", "billed_cost"))
    ascii_parens = [*HEADER, "应付信息/应付金额(含税)"]
    yield Case("the payable with ASCII and full-width parentheses", {NEWER: encode(ascii_parens,
                                                                                    [[*r, "0"] for r in ROWS])},
               error=(NEWER, "line 1", "ambiguous header", "应付金额(含税)"))
    yield Case("a date column in Chinese and in English", {NEWER: encode([*HEADER, "BillingDetails/BillingDate"],
                                                                         [[*r, r[HEADER.index(DATE)]] for r in ROWS])},
               error=(NEWER, "line 1", "ambiguous header", "billing_date"))
    yield Case("an instance column twice, with different case and spaces",
               {NEWER: encode([*HEADER, " 资源信息/实例id（出账粒度） "], [[*r, ";x;y;z;bmp;0"] for r in ROWS])},
               error=(NEWER, "line 1", "ambiguous header", "instance_id"))
    no_payable = [h for h in HEADER if h != PAYABLE]
    cut = HEADER.index(PAYABLE)
    yield Case("no payable column", {NEWER: encode(no_payable, [r[:cut] + r[cut + 1:] for r in ROWS])},
               error=(NEWER, "line 1", "missing column(s): billed_cost"))
    cut = HEADER.index(INSTANCE)
    yield Case("no instance column", {NEWER: encode([h for h in HEADER if h != INSTANCE],
                                                    [r[:cut] + r[cut + 1:] for r in ROWS])},
               error=(NEWER, "line 1", "missing column(s): instance_id"))
    yield Case("the header row alone", {NEWER: encode(HEADER, [])}, totals={"CNY": REAL_TOTAL})
    yield Case("an empty file", {NEWER: b""}, error=(NEWER, "the file is empty"))
    yield Case("a byte-order mark and nothing else", {NEWER: codecs.BOM_UTF8}, error=(NEWER, "line 1", "empty"))
    yield Case("a CSV that is not a bill", {NEWER: b"name,amount\nlunch,12.5\n"},
               error=(NEWER, "line 1", "not a Model Studio bill header"))
    yield Case("binary bytes", {NEWER: bytes(range(256)) * 8}, error=(NEWER, "line 1"))
    yield Case("a duplicated column nothing reads", {NEWER: encode([*HEADER, "资源信息/资源名称"],
                                                                   [[*r, "x"] for r in ROWS])},
               totals={"CNY": REAL_TOTAL})
    yield Case("header names with other case and spaces", {NEWER: encode([f" {h.upper()} " for h in HEADER], ROWS)},
               totals={"CNY": REAL_TOTAL})


def _structure_cases() -> Iterator[Case]:
    line = real_lines()[PAID + 1]  # physical line PAID + 2: a paid row
    yield Case("a stray comma shifts a row's fields", {NEWER: replace_line(PAID + 1, line.replace(
        b",sfm,", b",sfm,,", 1))}, error=(NEWER, f"line {PAID + 2}", "62 fields where the header has 61"))
    yield Case("a payable written 6,4 without quotes", {NEWER: replace_line(PAID + 1, line.rsplit(b",", 1)[0] + b",6,4")},
               error=(NEWER, f"line {PAID + 2}", "62 fields where the header has 61"))
    surplus = [list(r) for r in ROWS]
    surplus[155].append("extra")
    for encoding in ("utf-8", "gbk"):  # refused alike whichever reader takes it (UTF-8: the fast path declines)
        yield Case(f"a surplus field after the last column, at line 157 ({encoding})",
                   {NEWER: encode(HEADER, surplus, encoding=encoding)},
                   error=(NEWER, "line 157", "62 fields where the header has 61"))
    yield Case("a row with a field too few, at line 100",
               {NEWER: replace_line(99, real_lines()[99].rsplit(b",", 1)[0])},
               error=(NEWER, "line 100", "60 fields where the header has 61"))
    yield Case("a quote that is never closed, at line 50",
               {NEWER: replace_line(49, real_lines()[49].replace(b",sfm,", b',"sfm,', 1))},
               error=(NEWER, "line 50"))
    yield Case("a stray quote inside a field nothing reads",
               {NEWER: replace_line(20, real_lines()[20].replace("通义云启".encode(), '通义"云启'.encode(), 1))},
               totals={"CNY": REAL_TOTAL})
    yield Case("blank lines between rows", {NEWER: b"\n\n".join(real_lines()[:80]) + b"\n\n"
                                            + b"\n".join(real_lines()[80:])}, totals={"CNY": REAL_TOTAL})
    yield Case("CRLF line ends", {NEWER: encode(HEADER, ROWS, newline="\r\n")}, totals={"CNY": REAL_TOTAL})
    yield Case("no newline after the last row", {NEWER: (REAL / FULL).read_bytes().rstrip(b"\n")},
               totals={"CNY": REAL_TOTAL})
    rows = [list(r) for r in ROWS]
    rows[5][HEADER.index(FACTOR)] = "line one\nline two"
    rows[PAID][HEADER.index(DATE)] = "20261345"
    yield Case("a quoted newline earlier does not shift the line of a later error",
               {NEWER: encode(HEADER, rows)}, error=(NEWER, f"line {PAID + 3}", f"field '{DATE}'", "20261345"))
    rows = [list(r) for r in ROWS]
    rows[3][HEADER.index("资源信息/资源名称")] = "x" * (3 << 20)
    yield Case("a 3 MiB cell nothing reads", {NEWER: encode(HEADER, rows)}, totals={"CNY": REAL_TOTAL})
    rows = [list(r) for r in ROWS]
    rows[7][HEADER.index(FACTOR)] = "z" * (3 << 20)
    rows[PAID][HEADER.index(PAYABLE)] = "6,4"
    yield Case("a bad amount after a 3 MiB cell", {NEWER: encode(HEADER, rows)},
               error=(NEWER, f"line {PAID + 2}", f"field '{PAYABLE}'", "'6,4'"))
    yield Case("a row of commas only", {NEWER: replace_line(30, b"," * 60)},
               error=(NEWER, "line 31", f"field '{MONTH}'", "not a billing month"))
    yield Case("a NUL byte in a field nothing reads",
               {NEWER: replace_line(40, real_lines()[40].replace("通义".encode(), "通\x00义".encode(), 1))},
               totals={"CNY": REAL_TOTAL})
    bad = real_lines()[60].replace(b",20260", b",\xff\xfe0260", 1)
    yield Case("bytes that are not UTF-8 in the date", {NEWER: replace_line(60, bad)}, error=(NEWER, "line 61"))


def _value_cases() -> Iterator[Case]:
    for value, reason in (("abc", "not a billing month"), ("202613", "not a billing month"), ("", "not a billing month"),
                          ("2026-5", "not a billing month")):
        yield Case(f"billing month {value!r}", {NEWER: real_with(PAID, MONTH, value)},
                   error=(NEWER, f"line {PAID + 2}", f"field '{MONTH}'", reason))
    for value in ("20261345", "abc", "", "20260230", "2026-05-32"):
        yield Case(f"billing date {value!r}", {NEWER: real_with(PAID, DATE, value)},
                   error=(NEWER, f"line {PAID + 2}", f"field '{DATE}'", "not a date"))
    for value in ("<b>X</b>", "cny", "XYZ", "CNY "):
        yield Case(f"currency {value!r}", {NEWER: real_with(PAID, CURRENCY, value)},
                   error=(NEWER, f"line {PAID + 2}", f"field '{CURRENCY}'", "ISO 4217"))
    yield Case("an empty currency takes the default", {NEWER: real_with(0, CURRENCY, "")}, totals={"CNY": REAL_TOTAL})
    instance = ROWS[PAID][HEADER.index(INSTANCE)]
    for what, value in (("a NUL byte", instance.replace(";", "\x00;", 1)),
                        ("a byte-order mark", "\ufeff" + instance),
                        ("a byte-order mark in the workspace", instance.replace("llm-", "\ufeffllm-")),
                        ("a control character", instance.replace(";", "\x01;", 1)),
                        ("a zero-width space", instance.replace("llm-", "llm-\u200b")),
                        ("a tab", instance.replace(";", "\t;", 1)),
                        ("a newline", instance.replace(";", "\n;", 1))):
        yield Case(f"{what} in an instance ID", {NEWER: real_with(PAID, INSTANCE, value)},
                   error=(NEWER, f"line {PAID + 2}", f"field '{INSTANCE}'", "invisible character"))
    yield Case("a list price that is not a number", {NEWER: real_with(PAID, PRICE, "n/a")},
               error=(NEWER, f"line {PAID + 2}", f"field '{PRICE}'", "not a price"))


def _amount_cases() -> Iterator[Case]:
    def paid(value: str, column: str = PAYABLE) -> dict[str, bytes]:
        return {NEWER: real_with(PAID, column, value)}

    for value in ("12,5x", "6,4", " 6.4", "6.4 ", "NaN", "inf", "0x10", "--1", "1_000", "６.４",
                  "0.0000000000001", "1.5e-13", "99999999999999999999999999999", "1e40"):
        yield Case(f"payable {value!r}", paid(value), error=(NEWER, f"line {PAID + 2}", f"field '{PAYABLE}'"))
    yield Case("usage '1,000'", paid("1,000", USAGE), error=(NEWER, f"line {PAID + 2}", f"field '{USAGE}'"))
    yield Case("discount 'x'", paid("x", DISCOUNT), error=(NEWER, f"line {PAID + 2}", f"field '{DISCOUNT}'"))
    yield Case("a subscription deduction that is not a number", paid("?", "订阅抵扣信息/订阅抵扣金额"),
               error=(NEWER, f"line {PAID + 2}", "field '订阅抵扣信息/订阅抵扣金额'"))
    delta = Decimal("100000") - Decimal("6.4")
    yield Case("payable '1e5' (an exponent, exact)", paid("1e5"), totals={"CNY": REAL_TOTAL + delta})
    yield Case("a refund (a negative payable)", paid("-6.4"), totals={"CNY": REAL_TOTAL - Decimal("12.8")})
    yield Case("12 decimals", paid("6.400000000001"), totals={"CNY": REAL_TOTAL + Decimal("0.000000000001")})
    yield Case("an empty payable counts 0", paid(""), totals={"CNY": total_without(PAID)})


def _duplicate_cases() -> Iterator[Case]:
    full = (REAL / FULL).read_bytes()
    yield Case("the same rows as two members of one zip", {PUSH + ".zip": zipped({"a.csv": full, "b.csv": full})},
               alone=True, totals={"CNY": REAL_TOTAL}, counts={"duplicate_rows": 156, "restated_lines": 0})
    yield Case("the same rows in two CSVs of one push", {PUSH + ".csv": full, PUSH + "_1.csv": full},
               alone=True, totals={"CNY": REAL_TOTAL}, counts={"duplicate_rows": 156})
    yield Case("a third, identical console export", {NEWER: full}, totals={"CNY": REAL_TOTAL},
               counts={"duplicate_rows": 156 + 14, "restated_lines": 0})
    yield Case("a newer export restates a line: 6.4 -> 7.63", {NEWER: real_with(PAID, PAYABLE, "7.63")},
               totals={"CNY": REAL_TOTAL + Decimal("1.23")}, counts={"restated_lines": 1})
    older = "1000000000000001-20260515000000_consumedetailbillv2.csv"
    yield Case("an older export's other amount loses to the newer one", {older: real_with(PAID, PAYABLE, "7.63")},
               totals={"CNY": REAL_TOTAL}, counts={"restated_lines": 1})
    rows = [list(r) for r in ROWS[:10]]
    yield Case("a newer export of a part only", {NEWER: encode(HEADER, rows)}, totals={"CNY": REAL_TOTAL})


def _zip_cases() -> Iterator[Case]:
    full = (REAL / FULL).read_bytes()
    good = zipped({"a.csv": full})
    yield Case("a truncated zip", {PUSH + ".zip": good[: len(good) // 2]}, alone=True,
               error=(PUSH + ".zip", "not a readable zip archive"))
    damaged = bytearray(good)
    start = damaged.index(b"PK\x03\x04") + 30 + len("a.csv") + 200
    damaged[start: start + 8] = b"\x00" * 8
    yield Case("a damaged member", {PUSH + ".zip": bytes(damaged)}, alone=True, error=(PUSH + ".zip!a.csv", "damaged"))
    encrypted = bytearray(good)
    for marker in (b"PK\x03\x04", b"PK\x01\x02"):  # set the encryption flag in the local and central headers
        at = encrypted.index(marker)
        offset = at + (6 if marker == b"PK\x03\x04" else 8)
        encrypted[offset] |= 1
    yield Case("an encrypted member", {PUSH + ".zip": bytes(encrypted)}, alone=True,
               error=(PUSH + ".zip!a.csv", "encrypted"))
    yield Case("a member compressed with bzip2", {PUSH + ".zip": zipped({"a.csv": full}, compression=zipfile.ZIP_BZIP2)},
               alone=True, error=(PUSH + ".zip!a.csv", "compression method 12"))
    yield Case("an empty zip", {PUSH + ".zip": zipped({})}, alone=True, error=(PUSH + ".zip", "holds no bill file"))
    yield Case("a zip of hidden files only", {PUSH + ".zip": zipped({".DS_Store": b"x", "__x/": b""})}, alone=True,
               error=(PUSH + ".zip", "holds no bill file"))
    yield Case("a zip inside the zip", {PUSH + ".zip": zipped({"inner.zip": good})}, alone=True,
               error=(PUSH + ".zip!inner.zip", "line 1"))
    bomb = zipped({"a.csv": full + b"0" * (8 << 20)})
    yield Case("a member that inflates past the limit", {PUSH + ".zip": bomb}, alone=True,
               args=("--max-uncompressed-gib", "0.004"), error=(PUSH + ".zip", "limit"))
    rows = [list(r) for r in ROWS]
    members = {f"part-{i:04d}.csv": encode(HEADER, [rows[i % len(rows)]]) for i in range(2000)}
    yield Case("2,000 members, each a row (the rows repeat)", {PUSH + ".zip": zipped(members)}, alone=True,
               totals={"CNY": REAL_TOTAL}, counts={"duplicate_rows": 2000 - len(rows)})
    yield Case("a zip holding a member in GBK", {PUSH + ".zip": zipped({"a.csv": encode(
        HEADER, ROWS, encoding="gbk")})}, alone=True, totals={"CNY": REAL_TOTAL})
    rows = [list(r) for r in ROWS]
    rows[PAID][HEADER.index(DATE)] = "abc"
    yield Case("a bad date inside a zip member", {PUSH + ".zip": zipped({"a.csv": encode(HEADER, rows)})}, alone=True,
               error=(PUSH + ".zip!a.csv", f"line {PAID + 2}", f"field '{DATE}'"))


def _other_format_cases() -> Iterator[Case]:
    legacy = "bills/1000000000000001_BillingItemDetail_202605"
    yield Case("a legacy month file in GBK with a bad date", {legacy: legacy_csv(
        [legacy_row(), legacy_row(date="2026-05-99 00:00:00")], encoding="gbk")}, alone=True,
        error=(legacy, "line 3", "field '账单开始时间'", "not a date"))
    yield Case("a legacy month file with a bad billing cycle", {legacy: legacy_csv(
        [legacy_row(month="2026-13")])}, alone=True, error=(legacy, "line 2", "field '账期'"))
    yield Case("legacy tags in their own form", {legacy: legacy_csv(
        [legacy_row(payable="2.5", tags="team:search;env:prod")])}, alone=True, totals={"CNY": Decimal("2.5")})
    english = v2_csv([v2_row(payable="1.5"), v2_row(payable="2", currency="<b>X</b>")], english=True)
    yield Case("an English v2 bill with a bad currency", {PUSH + ".csv": english}, alone=True,
               error=(PUSH + ".csv", "line 3", "field 'PricingDetails/Currency'", "ISO 4217"))
    yield Case("only rows of another product", {NEWER: v2_csv([v2_row(product="oss", payable="3")])},
               totals={"CNY": REAL_TOTAL})


def _config_cases() -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(name, mapping YAML, what the message names): through `chargeback run --mapping`, each exit 2."""
    yield "a cost center defined twice", "cost_centers:\n  a: {}\n  b: {}\n  a: {}\n", ("line 4", "defined twice")
    yield "an ID YAML reads as octal", "cost_centers:\n  a: {api_keys: [0123456]}\n", ("line 2", "42798")
    yield "a mapping date that does not exist", 'cost_centers:\n  a: {api_keys: [{id: "1", from: 2026-13-45}]}\n', \
        ("line 2", "2026-13-45")
    yield "YAML nested 10,000 levels", "x: " + "[" * 10_000 + "]" * 10_000 + "\n", ("line 1", "nested more than 50")
    yield "an alias bomb", "a: &a [1,2,3,4,5,6,7,8,9]\n" + "".join(
        f"{n}: &{n} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)), \
        ("expands to more than 100,000 values",)
    yield "a python tag", "cost_centers: !!python/object:os.system {}\n", ("line 1", "not supported")
    yield "broken YAML", "cost_centers:\n  a: {owners: [x@example.com]\n", ("line 3", "not valid YAML")
    yield "a list at the top", "- a\n- b\n", ("line 1", "must be a YAML mapping")
    yield "an unknown key", "cost_centers:\n  a: {owner: [x@example.com]}\n", ("line 2", "did you mean 'owners'")
    yield "a bad e-mail address", "cost_centers:\n  a: {owners: [nope]}\n", ("line 2", "not an email address")
    yield "an unknown channel", "cost_centers:\n  a: {channels: [nowhere]}\n", ("line 2", "unknown channel")
    yield "a password in the file", "delivery: {smtp: {host: h.example.com, password: hunter2}}\n", \
        ("line 1", "never put the password in the file")
    yield "fixed shares of an unknown cost center", \
        "cost_centers: {a: {}}\nshared_costs: {console: {fixed: {a: 50, b: 50}}}\n", ("line 2", "unknown cost center")
    yield "an API key of two cost centers on one day", \
        'cost_centers:\n  a: {api_keys: ["1"]}\n  b: {api_keys: ["1"]}\n', ("line 3", "assigned to both")
    yield "a budget in a currency Model Studio does not bill", \
        "cost_centers:\n  a: {budget: {monthly: 5, currency: EUR}}\n", ("line 2", "not a currency Model Studio bills")
    yield "not UTF-8", "cost_centers:\n  \udcff: {}\n", ("not UTF-8",)


BILL_CASES: tuple[Case, ...] = tuple(_bill_cases())
CONFIG_CASES: tuple[tuple[str, str, tuple[str, ...]], ...] = tuple(_config_cases())
assert len({c.name for c in BILL_CASES}) == len(BILL_CASES)


def config_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


__all__ = ["BILL_CASES", "CONFIG_CASES", "EARLY", "FULL", "REAL", "REAL_TOTAL", "Case", "config_bytes"]
