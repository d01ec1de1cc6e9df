"""Cells parsed once, where the bill enters, and the reader's aggregates turned into normalized lines.

The reader calls the column parsers on every block it reads, so a bad cell fails naming its file, line and
column, and everything after the reader receives clean values:

- billing dates: ``20260514``, ``2026-05-14`` or ``2026/05/14`` (a time may follow) become ISO ``2026-05-14``;
  a value that is no day of the calendar is an error;
- fee types: the bill's 费用类型 in the warehouse's words (:mod:`chargeback.fee_types`);
- accounts: the resource owner's account and the payer's (:func:`accounts`), and their names;
- list prices: kept as the text the bill writes (trimmed), but checked to be a number or empty;
- tags: one text form, ``key=value`` pairs sorted and joined by ``;`` (:func:`normalize_tags`);
- amounts: exact ``decimal128(38, 12)``, an empty cell being 0.

:func:`normalize_table` then splits the instance IDs (:mod:`chargeback.bills.instance_id`: the usage type's
``io_type``, context tier and ``batch``/``thinking`` marks, classified once per distinct ID) and merges the
aggregates to the line grain of ``LINE_SCHEMA``: the table ``allocation`` receives.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal, InvalidOperation

import pyarrow as pa
import pyarrow.compute as pc

from chargeback.bills.instance_id import parse_instance_id
from chargeback.columns import LINE_AMOUNTS, LINE_COLUMNS, LINE_DIMENSIONS, LINE_FLAGS, MODEL_STUDIO_PRODUCT
from chargeback.errors import InputError
from chargeback.fee_types import fee_type
from chargeback.money import MONEY_TYPE, money_zeros
from chargeback.vectors import map_distinct, map_distinct_fields, sum_by

LINE_SCHEMA = pa.schema(
    [pa.field(c, pa.string()) for c in LINE_DIMENSIONS]
    + [pa.field(f, pa.bool_()) for f in LINE_FLAGS]
    + [pa.field(a, MONEY_TYPE) for a in LINE_AMOUNTS]
    + [pa.field("line_count", pa.int64())]
)


def _first_line_of(column: pa.Array, value: str, first_line: int) -> int:
    return first_line + int(pc.index(column, value).as_py())


def _iso_date(text: str) -> str | None:
    digits = text.replace("-", "").replace("/", "")
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:])).isoformat()
    except ValueError:
        return None


def amounts(column: pa.Array, header: str, source: str, first_line: int) -> pa.Array:
    """A block's amount cells as exact decimals (empty is 0); InputError for the first that is not a number."""
    cleaned = pc.if_else(pc.equal(column, ""), "0", column)
    try:
        return pc.cast(cleaned, MONEY_TYPE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        index = next(i for i, value in enumerate(cleaned.to_pylist()) if not _is_money(value))
        raise InputError(f"{cleaned[index].as_py()!r} is not a number with at most 12 decimals", source=source,
                         line=first_line + index, field=header) from None


def iso_dates(column: pa.Array, header: str, source: str, first_line: int) -> pa.Array:
    """The billing dates of a block as ISO text; InputError for the first cell that is not a date."""
    days = pc.utf8_slice_codeunits(column, 0, 10)
    parsed = map_distinct(days, _iso_date)
    if parsed.null_count:
        bad = pc.filter(days, pc.is_null(parsed))[0].as_py()
        raise InputError(f"{bad!r} is not a date", source=source, line=_first_line_of(days, bad, first_line),
                         field=header)
    return parsed


def accounts(payer: pa.Array, owner: pa.Array, bill_account: str) -> tuple[pa.Array, pa.Array]:
    """(payer, resource owner) account IDs of a block.

    The payer is the bill's purchase account (v2 资源购买账号ID, legacy 账号ID); where a bill has no such
    column or cell, the UID in the file name, whose bill it is. The owner is the resource owner account (v2
    资源归属账号ID, legacy Owner账号); where that is missing or not a UID (some legacy exports write the owner's
    login name), the payer: a bill without an owner column is one account's own bill.
    """
    payer = pc.if_else(pc.equal(payer, ""), bill_account, payer)
    is_uid = pc.match_substring_regex(owner, r"^\d+$")
    return payer, pc.if_else(is_uid, owner, payer)


def owner_name(owner_name: pa.Array, payer_name: pa.Array, owner: pa.Array) -> pa.Array:
    """The resource owner's account name (v2 资源归属账号): the payer's (资源购买账号, legacy 账号) where the bill
    names no owner, or no owner UID (then :func:`accounts` makes the payer the owner)."""
    named = pc.and_(pc.match_substring_regex(owner, r"^\d+$"), pc.not_equal(owner_name, ""))
    return pc.if_else(named, owner_name, payer_name)


def fee_types(column: pa.Array) -> pa.Array:
    """The fee types of a block in the warehouse's words (``pay_as_you_go``, ``free_quota``, else as written)."""
    return map_distinct(column, fee_type)


def list_prices(column: pa.Array, header: str, source: str, first_line: int) -> pa.Array:
    """The list prices of a block, trimmed; InputError for the first one that is neither empty nor a number.

    The text is what the tables publish (``list_unit_price`` is a string column of the public contract).
    """
    prices = pc.utf8_trim_whitespace(column)
    distinct = pc.unique(prices)
    try:
        pc.cast(pc.if_else(pc.equal(distinct, ""), None, distinct), MONEY_TYPE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        bad = next((v for v in distinct.to_pylist() if v and not _is_money(v)), distinct[0].as_py())
        raise InputError(f"{bad!r} is not a price", source=source, line=_first_line_of(prices, bad, first_line),
                         field=header) from None
    return prices


_SPLIT_TAG = re.compile(r"key:(?P<key>.*?)\s+value:(?P<value>.*)$", re.DOTALL)


def _tag_pairs(text: str) -> list[tuple[str, str]]:
    """The (key, value) pairs of a tag cell in any of the bills' forms."""
    text = text.strip()
    if text[:1] in "[{":
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return [(str(k), "" if v is None else str(v)) for k, v in parsed.items()]
        if isinstance(parsed, list) and all(isinstance(item, dict) for item in parsed):
            return [(str(item.get("Key", item.get("key", item.get("TagKey", ""))) or ""),
                     str(item.get("Value", item.get("value", item.get("TagValue", ""))) or "")) for item in parsed]
    pairs = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        split = _SPLIT_TAG.match(part)  # split bills: 'key:cost value:search'
        if split:
            pairs.append((split.group("key"), split.group("value")))
        else:  # legacy bills: 'cost:search'
            key, _, value = part.partition(":")
            pairs.append((key, value))
    return pairs


def normalize_tag(text: str) -> str:
    """A tag cell in one text form: ``key=value`` pairs, trimmed, sorted, joined by ``;`` ('' for none).

    Legacy ``key1:value1;key2:value2``, split-bill ``key:k1 value:v1; key:k2 value:v2`` and JSON
    (``{"k1": "v1"}`` or ``[{"Key": "k1", "Value": "v1"}]``) all give ``k1=v1;k2=v2``.
    """
    pairs = {(k.strip(), v.strip()) for k, v in _tag_pairs(text) if k.strip()}
    return ";".join(f"{k}={v}" for k, v in sorted(pairs))


def normalize_tags(column: pa.Array) -> pa.Array:
    """The tags of a block in one text form (:func:`normalize_tag`)."""
    return map_distinct(column, normalize_tag)


def _is_money(text: str) -> bool:
    """Whether ``text`` is a number the money type holds (at most 12 decimals)."""
    try:
        pc.cast(pa.array([text]), MONEY_TYPE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def list_price(text: str, *, source: str = "") -> Decimal | None:
    """A published ``list_unit_price`` as a Decimal, None when the bill gives none.

    The reader has checked the text already; a value that is still not a number (a hand-edited table) is an
    InputError naming ``source``.
    """
    if text is None or not str(text).strip():
        return None
    try:
        return Decimal(str(text).strip())
    except InvalidOperation:
        raise InputError(f"{text!r} is not a price", source=source, field="list_unit_price") from None


def _instance_parts(raw: str) -> dict[str, str | bool]:
    parsed = parse_instance_id(raw)
    return {
        "workspace_id": parsed.workspace_id, "api_key_id": parsed.api_key_id, "model": parsed.model,
        "usage_type": parsed.usage_type, "io_type": parsed.io_type, "context_tier": parsed.context_tier,
        "batch": parsed.kind.batch, "thinking": parsed.kind.thinking,
        "channel": parsed.channel, "call_source": parsed.call_source if parsed.valid else "unattributed",
        "free_quota_stop": parsed.free_quota_stop,
    }


def normalize_table(aggregates: pa.Table, month: str) -> pa.Table:
    """Normalized lines (``LINE_SCHEMA``) from the reader's aggregates, merged on the normalized keys, sorted.

    The aggregates carry parsed dates and fee types already; here the instance IDs are split.
    """
    n = aggregates.num_rows
    parts = {part: pa.bool_() if part in LINE_FLAGS else pa.string() for part in _instance_parts("")}
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "billing_month": pa.array([month] * n, pa.string()),
        "product_code": pa.array([MODEL_STUDIO_PRODUCT] * n, pa.string()),
        **map_distinct_fields(aggregates["instance_id"], _instance_parts, parts),
    }
    for name in LINE_DIMENSIONS:
        if name not in columns:
            columns[name] = aggregates[name]
    keys = [*LINE_DIMENSIONS, *LINE_FLAGS]  # the flags follow from the usage type: they split nothing
    zero = money_zeros(n)  # an amount a bill does not have, e.g. no plan columns
    table = pa.table({**{k: columns[k] for k in keys},
                      **{a: aggregates[a] if a in aggregates.column_names else zero for a in LINE_AMOUNTS},
                      "line_count": aggregates["line_count"]})
    grouped = sum_by(table, keys, (*LINE_AMOUNTS, "line_count"))
    return grouped.select(list(LINE_COLUMNS)).cast(LINE_SCHEMA).sort_by([(d, "ascending") for d in LINE_DIMENSIONS])


__all__ = ["LINE_SCHEMA", "accounts", "amounts", "fee_types", "iso_dates", "list_price", "list_prices",
           "normalize_table", "normalize_tag", "normalize_tags", "owner_name"]
