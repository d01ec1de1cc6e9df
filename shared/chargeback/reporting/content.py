"""The rows a sent statement showed, kept beside the ledger so that a correction can say what changed.

One gzip-compressed JSON document per statement version, at
``state/statements/billing_month=YYYY-MM/content/<subject>_v<version>.json.gz``: the allocation rows exactly
(decimals as text). The ledger entry names it (``LedgerEntry.content_key``). Written before the statement is
sent, under a key fixed by the subject and version, so writing it again replaces it with the same bytes.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from chargeback.columns import ALLOCATION_AMOUNTS, ALLOCATION_COLUMNS
from chargeback.errors import NotFoundError
from chargeback.money import format_decimal, to_decimal
from chargeback.months import check_month
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_AMOUNTS = frozenset(ALLOCATION_AMOUNTS)


def content_key(month: str, subject: str, version: int) -> str:
    name = _SAFE.sub("_", subject).strip("._") or "x"
    return layout.state_key(f"statements/billing_month={check_month(month)}/content/{name}_v{version}.json.gz")


def content_bytes(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The rows as gzip-compressed JSON, the same bytes for the same rows."""
    document = [{c: format_decimal(r[c]) if c in _AMOUNTS else r[c] for c in ALLOCATION_COLUMNS} for r in rows]
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), mtime=0)


def save_content(store: ObjectStore, key: str, rows: Iterable[Mapping[str, Any]]) -> None:
    store.write_bytes(key, content_bytes(rows), "application/gzip")


def load_content(store: ObjectStore, key: str) -> list[dict[str, Any]] | None:
    """The rows kept under ``key`` (amounts as Decimal), or None when they are missing or unreadable."""
    if not key:
        return None
    try:
        document = json.loads(gzip.decompress(store.read_bytes(key)))
    except (NotFoundError, OSError, ValueError):
        return None
    rows = []
    for item in document:
        rows.append({c: to_decimal(item.get(c)) if c in _AMOUNTS else item.get(c, "") for c in ALLOCATION_COLUMNS})
    return rows
