"""The month's manifest: a typed, frozen record of what was read, what it totals and what was published.

This module is the only one that writes or reads ``manifests/billing_month=YYYY-MM/manifest.json``. The
document is JSON with exact decimals as text and times as ISO 8601 with their offset. A reader gets a
:class:`Manifest` or a :class:`ManifestError` that names the object and the field; documents of older schema
versions still read: version 2 (a SHA-256 of each source, before content-addressed outputs, tags, resource groups,
cost units and the subscription-deduction amounts) and version 1 (before accounts and payer columns: their naive
times are China time, from push folder names, their accounts unknown). Neither names ``objects``, so its tables
are read at their table keys (``chargeback.warehouse.read``).

The manifest is the commit point of a publish (``chargeback.warehouse.publish``): it names, for every output,
the content-addressed object that holds its bytes, and it is written after all of them.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from chargeback.billtime import in_bill_time
from chargeback.errors import InputError, NotFoundError
from chargeback.money import format_decimal
from chargeback.months import MONTH_PATTERN
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout

SCHEMA_VERSION = 3
"""3: ``objects``, the content-addressed copy of every output; each source's ``content_hash`` (xxh3-128 of the
bytes as fetched), restated lines; usage types not recognised and what prepaid plans covered per cost center; in
the tables ``tags``, ``resource_group``, ``cost_unit``, the ``batch`` and ``thinking`` marks (and ``cache_write``),
account names, region and prepaid plans' amounts. 2: accounts, each source's account and scope,
``payer_account_id`` in the tables. 1: the first."""
READABLE_VERSIONS = (1, 2, SCHEMA_VERSION)

Status = Literal["open", "final"]
Totals = Mapping[str, Decimal]  # currency -> exact amount, never mixed


class ManifestError(InputError):
    """A manifest that is damaged, or of a schema this version does not know."""


@dataclass(frozen=True)
class MemberCounts:
    """What one CSV of a source (the file itself, or a member of its zip) held."""

    member: str = ""  # '' for a plain CSV
    dialect: str = ""  # v2 | legacy
    language: str = ""  # zh | en
    encoding: str = ""
    rows: int = 0
    model_studio_rows: int = 0
    other_product_rows: int = 0
    other_month_rows: int = 0
    duplicate_rows: int = 0


@dataclass(frozen=True)
class Source:
    """One bill object that was read."""

    key: str
    size: int  # as the store listed it
    etag: str  # as the store listed it
    content_hash: str  # '<algorithm>:<hex>' of the bytes as fetched: 'xxh3-128:...' ('sha256:...' before schema 3)
    family: str  # v2 | legacy | console
    snapshot: str = ""  # the push folder (v2) or export time (console), YYYYMMDDHHMMSS
    account: str = ""  # the UID in the file name: whose bill it is ('' in schema 1)
    scope: str = ""  # the site ID (v2) or multi-account scope (legacy) in the file name
    members: tuple[MemberCounts, ...] = ()


@dataclass(frozen=True)
class AccountBill:
    """One account's part of the month: its authoritative files, chosen for it alone, and what they total."""

    account: str  # the UID in the file names
    scope: str  # site ID (v2) or legacy scope; '' when the names carry none
    family: str
    status: Status
    sources: tuple[str, ...]  # object keys
    totals: Totals = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedObject:
    """An object under the source that was not read, and why (superseded by a newer file, or not a bill)."""

    key: str
    reason: str


@dataclass(frozen=True)
class Counts:
    rows_read: int = 0
    model_studio_rows: int = 0
    other_product_rows: int = 0
    other_month_rows: int = 0
    duplicate_rows: int = 0  # copies of a bill line another input (a newer export, another member) holds
    restated_lines: int = 0  # lines whose dropped copy said something else (a restatement: the newest counts)
    lines: int = 0
    allocation_rows: int = 0


@dataclass(frozen=True)
class ExcludedProduct:
    """Rows of another product (not Model Studio): counted and totalled, never allocated."""

    product_code: str
    currency: str
    rows: int
    billed_cost: Decimal


@dataclass(frozen=True)
class FreeQuotaUse:
    """One free-quota grant (as the rows' usage-detail JSON names it) and what this month's rows used of it."""

    model: str
    unit: str
    total: Decimal
    used: Decimal
    valid_from: datetime | None = None
    valid_until: datetime | None = None


@dataclass(frozen=True)
class StoredObject:
    """Where one output's bytes are kept: an object under ``objects/``, named by their SHA-256, written once."""

    key: str
    sha256: str
    size: int


@dataclass(frozen=True)
class UnknownUsageType:
    """A usage type (the instance ID's 4th segment) the classifier does not know: its lines are kept with the raw
    usage type and ``io_type`` 'other', never guessed, and listed here with what they add up to."""

    usage_type: str
    rows: int  # source bill rows
    billed_cost: Totals = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    """Everything a reader needs to trust a published month; written after every table it names."""

    month: str
    status: Status
    fingerprint: str  # of the inputs: sources as listed, mapping, schema; equal means nothing to redo
    ingested_at: datetime
    schema_version: int = SCHEMA_VERSION
    tool_version: str = ""
    family: str | None = None  # v2 | legacy | console, or e.g. 'v2+legacy' when accounts differ
    newest_source_time: datetime | None = None  # the newest push among the sources, by their names
    mapping_version: str | None = None
    allocated: bool = False
    allocated_at: datetime | None = None  # set when the month was re-allocated from its published lines
    accounts: tuple[AccountBill, ...] = ()
    sources: tuple[Source, ...] = ()
    superseded: tuple[SkippedObject, ...] = ()
    ignored: tuple[SkippedObject, ...] = ()
    counts: Counts = field(default_factory=Counts)
    totals: Totals = field(default_factory=dict)
    totals_by_cost_center: Mapping[str, Totals] = field(default_factory=dict)
    covered_by_cost_center: Mapping[str, Totals] = field(default_factory=dict)  # list value prepaid plans covered
    excluded_products: tuple[ExcludedProduct, ...] = ()
    free_quota: tuple[FreeQuotaUse, ...] = ()
    unknown_usage_types: tuple[UnknownUsageType, ...] = ()
    unmapped_api_keys: tuple[str, ...] = ()
    unmapped_workspaces: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # likely mistakes in the mapping, seen against this month's bill
    outputs: Mapping[str, str] = field(default_factory=dict)  # table key -> SHA-256 of its bytes
    # table key -> the object holding those bytes, which readers read ({} before schema 3: read the table key)
    objects: Mapping[str, StoredObject] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not MONTH_PATTERN.match(self.month):
            raise ValueError(f"month {self.month!r} is not YYYY-MM")
        for name in ("ingested_at", "newest_source_time", "allocated_at"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"manifest {name} must carry its offset")

    @property
    def is_final(self) -> bool:
        return self.status == "final"

    def replace(self, **changes: Any) -> Manifest:
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------------------------------------
# JSON


def _dump(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_dump(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _dump(v) for k, v in value.items()}
    return value


def manifest_to_bytes(manifest: Manifest) -> bytes:
    """The manifest as UTF-8 JSON (keys sorted, so equal manifests are equal bytes)."""
    return (json.dumps(_dump(manifest), ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


class _Invalid(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


def _load(kind: Any, value: Any, path: str) -> Any:
    """``value`` (parsed JSON) as ``kind`` (a type hint of the manifest's dataclasses)."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if value is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return _load(inner, value, path)
    if origin is Literal:
        if value not in get_args(kind):
            raise _Invalid(path, f"{value!r} is not one of {', '.join(map(repr, get_args(kind)))}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise _Invalid(path, "expected a list")
        return tuple(_load(get_args(kind)[0], v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is Mapping:
        if not isinstance(value, dict):
            raise _Invalid(path, "expected an object")
        return {str(k): _load(get_args(kind)[1], v, f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(kind):
        return _load_dataclass(kind, value, path)
    if kind is Decimal:
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise _Invalid(path, f"{value!r} is not an exact amount (a decimal written as text)")
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            raise _Invalid(path, f"{value!r} is not an exact amount") from None
    if kind is datetime:
        try:
            return in_bill_time(datetime.fromisoformat(str(value).strip().replace("Z", "+00:00")))
        except ValueError:
            raise _Invalid(path, f"{value!r} is not an ISO 8601 time") from None
    if kind is bool or kind is int:
        if type(value) is not kind:
            raise _Invalid(path, f"{value!r} is not {'true or false' if kind is bool else 'a whole number'}")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise _Invalid(path, f"{value!r} is not text")
        return value
    raise TypeError(f"no reader for {kind!r}")  # pragma: no cover - a programming error


def _load_dataclass(kind: Any, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise _Invalid(path, "expected an object")
    hints = get_type_hints(kind)
    known = {f.name: f for f in dataclasses.fields(kind)}
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise _Invalid(f"{path}.{unknown[0]}" if path else unknown[0], "unknown field")
    arguments = {}
    for name, spec in known.items():
        where = f"{path}.{name}" if path else name
        if name in value:
            arguments[name] = _load(hints[name], value[name], where)
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise _Invalid(where, "missing")
    try:
        return kind(**arguments)
    except ValueError as exc:
        raise _Invalid(path, str(exc)) from None


def _from_version_2(document: dict[str, Any]) -> dict[str, Any]:
    """A schema-2 document in the shape of schema 3: each source's SHA-256 as its content hash."""
    upgraded = dict(document)
    upgraded["schema_version"] = SCHEMA_VERSION
    sources = upgraded.get("sources")
    if isinstance(sources, list):
        upgraded["sources"] = [
            {**{k: v for k, v in s.items() if k != "sha256"}, "content_hash": f"sha256:{s['sha256']}"}
            if isinstance(s, dict) and isinstance(s.get("sha256"), str) else s for s in sources]
    return upgraded


def _from_version_1(document: dict[str, Any]) -> dict[str, Any]:
    """A schema-1 document in the shape of schema 3: the same fields, accounts unknown."""
    upgraded = _from_version_2(document)
    for name in ("totals_by_cost_center", "unmapped_api_keys", "unmapped_workspaces", "warnings"):
        if upgraded.get(name) is None:
            upgraded.pop(name, None)
    grants = upgraded.get("free_quota")
    if isinstance(grants, list):  # schema 1 wrote '' for a grant without a validity window
        upgraded["free_quota"] = [{k: (None if k.startswith("valid_") and v == "" else v) for k, v in g.items()}
                                  if isinstance(g, dict) else g for g in grants]
    return upgraded


def manifest_from_bytes(data: bytes, *, source: str = "manifest.json") -> Manifest:
    """The manifest in ``data``; ManifestError naming ``source`` and the field when it is damaged or unknown."""
    hint = "rebuild the month with 'chargeback run --force'"
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"not a readable JSON document ({exc}); {hint}", source=source) from None
    if not isinstance(document, dict):
        raise ManifestError(f"not a manifest (expected a JSON object); {hint}", source=source)
    version = document.get("schema_version")
    if version == 1:
        document = _from_version_1(document)
    elif version == 2:
        document = _from_version_2(document)
    elif version != SCHEMA_VERSION or isinstance(version, bool):
        raise ManifestError(
            f"schema version {version!r} is not one this version of chargeback reads "
            f"({', '.join(map(str, READABLE_VERSIONS))}); a newer version wrote it, or it is not a manifest",
            source=source, field="schema_version")
    try:
        manifest: Manifest = _load_dataclass(Manifest, document, "")
    except _Invalid as exc:
        raise ManifestError(f"{exc}; {hint}", source=source, field=exc.path) from None
    return manifest


# ---------------------------------------------------------------------------------------------------------
# storage


def read_manifest(store: ObjectStore, month: str) -> Manifest | None:
    """The month's published manifest, or None when the month was never published."""
    key = layout.manifest_key(month)
    try:
        data = store.read_bytes(key)
    except NotFoundError:
        return None
    return manifest_from_bytes(data, source=f"{store.url.rstrip('/')}/{key}")


def write_manifest(store: ObjectStore, manifest: Manifest) -> str:
    """Write the manifest where its month's readers look for it; returns the key."""
    key = layout.manifest_key(manifest.month)
    store.write_bytes(key, manifest_to_bytes(manifest), content_type="application/json")
    return key


__all__ = ["READABLE_VERSIONS", "SCHEMA_VERSION", "AccountBill", "Counts", "ExcludedProduct", "FreeQuotaUse",
           "Manifest", "ManifestError", "MemberCounts", "SkippedObject", "Source", "StoredObject",
           "UnknownUsageType", "manifest_from_bytes", "manifest_to_bytes", "read_manifest", "write_manifest"]
