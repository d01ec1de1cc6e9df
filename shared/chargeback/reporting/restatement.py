"""Why a corrected statement is sent: what changed since the version the ledger recorded, computed, never assumed.

Three causes are told apart by comparing what the previous version recorded with what the month holds now:

- the bill was restated: the bill files' SHA-256 differ (``Manifest.sources`` against ``LedgerEntry.sources``);
  the lines whose amount changed are listed;
- the mapping changed: its version differs; the API keys and workspaces that moved out of (or into) this
  statement are named, with the cost center that pays for them now;
- list prices changed: a model's usage type carries other list prices than before.

The previous version's rows come from ``chargeback.reporting.content``. An entry written before rows were kept
can only be compared by its totals and models, and the statement says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from chargeback.config.file import ConfigFile
from chargeback.display import format_unit_price
from chargeback.fee_types import FREE_QUOTA
from chargeback.labels import usage_type_label
from chargeback.money import ZERO
from chargeback.reporting import i18n, sums
from chargeback.reporting.ledger import LedgerEntry
from chargeback.warehouse.manifest import Manifest

LINES_SHOWN = 10
LINE_IDENTITY: tuple[str, ...] = ("billing_date", "account_id", "workspace_id", "api_key_id", "model", "usage_type",
                                  "channel", "fee_type", "billing_item", "currency")
"""What makes a bill line the same line in two versions (the amounts and the list price may differ)."""

Row = Mapping[str, Any]


@dataclass(frozen=True)
class TotalChange:
    """An amount (a total, a model's cost, a bill line) in the previous version and now."""

    label: str
    old: Decimal
    new: Decimal
    currency: str = ""

    @property
    def difference(self) -> Decimal:
        return self.new - self.old


@dataclass(frozen=True)
class Move:
    """An API key or workspace whose cost moved out of (or into) this statement with the mapping."""

    kind: Literal["api_key", "workspace"]
    id: str
    direction: Literal["out", "in"]
    text: str  # the sentence that says it
    currency: str
    amount: Decimal


@dataclass(frozen=True)
class PriceChange:
    label: str
    currency: str
    old: tuple[Decimal, ...]
    new: tuple[Decimal, ...]


@dataclass(frozen=True)
class Restatement:
    """What the previous version said, why this one replaces it, and what changed."""

    previous_version: int
    previous_sent_at: str
    previous_status: str
    reasons: tuple[str, ...]  # computed sentences, in the statement's language
    totals: tuple[TotalChange, ...]
    models: tuple[TotalChange, ...]  # only the models whose amount changed
    lines: tuple[TotalChange, ...] = ()  # the changed bill lines, largest first (at most LINES_SHOWN)
    more_lines: int = 0  # changed lines beyond those listed
    moves: tuple[Move, ...] = ()
    prices: tuple[PriceChange, ...] = ()
    bill_restated: bool = False
    mapping_changed: bool = False
    traced: bool = True  # False when the previous version's rows were not kept


def source_digests(manifest: Manifest) -> dict[str, str]:
    """Bill object key -> content hash (``xxh3-128:…``; ``sha256:…`` before schema 3), as the ledger records them."""
    return {s.key: s.content_hash for s in manifest.sources}


def _amounts(rows: Iterable[Row]) -> dict[tuple[str, ...], Decimal]:
    return sums.grouped_by(rows, *LINE_IDENTITY)


def _line_label(identity: tuple[str, ...], locale: str) -> str:
    values = dict(zip(LINE_IDENTITY, identity, strict=True))
    words = i18n.strings(locale)
    key = words["driver_key"].format(key=values["api_key_id"]) if values["api_key_id"] else words["driver_console"]
    usage = usage_type_label(values["usage_type"], locale, billing_item=values["billing_item"])
    parts = [values["billing_date"], values["model"] or words["none"], usage, key]
    if values["fee_type"] == FREE_QUOTA:
        parts.append(words["free_quota"])
    return " · ".join(parts)


def _by(rows: Iterable[Row], column: str, *, rule: str) -> dict[tuple[str, ...], Decimal]:
    """(value of ``column``, currency) -> cost, over the rows allocated by ``rule``."""
    return sums.grouped_by([r for r in rows if r[column] and r["allocation_rule"] == rule], column, "currency")


def _payers(frame_rows: Sequence[Row], column: str, value: str) -> list[str]:
    return sorted({str(r["cost_center"]) for r in frame_rows if r[column] == value})


def _moves(before: Sequence[Row], now: Sequence[Row], month_rows: Sequence[Row], mapping: ConfigFile,
           locale: str) -> list[Move]:
    """Keys and workspaces paid for here before and not now (out), or now and not before (in)."""
    words = i18n.strings(locale)
    moves: list[Move] = []
    for kind, column, rule in (("api_key", "api_key_id", "api_key"), ("workspace", "workspace_id", "workspace")):
        old, new = _by(before, column, rule=rule), _by(now, column, rule=rule)
        old_ids, new_ids = {k for k, _ in old}, {k for k, _ in new}
        for (item, currency), amount in sorted(old.items()):
            if item in new_ids:
                continue
            payers = [mapping.cost_center_name(c) for c in _payers(month_rows, column, item)]
            if not payers:
                continue  # gone from the whole month: the bill changed, not the mapping
            name = item if kind == "api_key" else mapping.workspace_labels.get(item, item)
            text = words[f"moved_out_{kind}"].format(id=name, to=words["list_separator"].join(payers))
            moves.append(Move(kind, item, "out", text, currency, amount))  # type: ignore[arg-type]
        for (item, currency), amount in sorted(new.items()):
            if item in old_ids:
                was = {str(r["cost_center"]) for r in before if r[column] == item and r["allocation_rule"] == rule}
                now_paid = {str(r["cost_center"]) for r in now if r[column] == item and r["allocation_rule"] == rule}
                if was and now_paid and was != now_paid:  # a statement over several cost centers (finance)
                    name = item if kind == "api_key" else mapping.workspace_labels.get(item, item)
                    text = words[f"moved_between_{kind}"].format(
                        id=name, **{"from": words["list_separator"].join(mapping.cost_center_name(c)
                                                                         for c in sorted(was))},
                        to=words["list_separator"].join(mapping.cost_center_name(c) for c in sorted(now_paid)))
                    moves.append(Move(kind, item, "in", text, currency, amount))  # type: ignore[arg-type]
                continue
            name = item if kind == "api_key" else mapping.workspace_labels.get(item, item)
            moves.append(Move(kind, item, "in", words[f"moved_in_{kind}"].format(id=name),  # type: ignore[arg-type]
                              currency, amount))
    return moves


def _prices(rows: Iterable[Row]) -> dict[tuple[str, str, str, str], frozenset[Decimal]]:
    found: dict[tuple[str, str, str, str], set[Decimal]] = defaultdict(set)
    for row in rows:
        text = str(row.get("list_unit_price") or "").strip()
        if row["fee_type"] == FREE_QUOTA or not text:
            continue
        try:
            price = Decimal(text)
        except ArithmeticError:
            continue
        found[(str(row["currency"]), str(row["model"]), str(row["usage_type"]), str(row["billing_item"]))].add(price)
    return {k: frozenset(v) for k, v in found.items()}


def _price_changes(before: Sequence[Row], now: Sequence[Row], locale: str) -> list[PriceChange]:
    old, new = _prices(before), _prices(now)
    changes = []
    for key in sorted(set(old) & set(new)):
        if old[key] != new[key]:
            currency, model, usage_type, item = key
            label = f"{model} · {usage_type_label(usage_type, locale, billing_item=item)}"
            changes.append(PriceChange(label, currency, tuple(sorted(old[key])), tuple(sorted(new[key]))))
    return changes


def _model_totals(rows: Iterable[Row]) -> dict[str, dict[str, Decimal]]:
    found: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for row in rows:
        found[str(row["currency"])][str(row["model"])] += row["billed_cost"]
    return {c: dict(m) for c, m in found.items()}


def explain_restatement(entry: LedgerEntry, previous_rows: Sequence[Row] | None, rows: Sequence[Row],
                        month_rows: Sequence[Row], manifest: Manifest, mapping: ConfigFile,
                        locale: str) -> Restatement:
    """Why the statement of ``rows`` replaces the version ``entry`` recorded.

    ``previous_rows`` are the rows that version showed (None when they were not kept); ``month_rows`` are every
    allocation row of the month now, to name who pays for a key that moved out.
    """
    words = i18n.strings(locale)
    new_totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        new_totals[str(row["currency"])] += row["billed_cost"]
    old_totals = {c: Decimal(v) for c, v in entry.totals.items()}
    totals = tuple(TotalChange(words["restated_total"].format(currency=c), old_totals.get(c, ZERO),
                               new_totals.get(c, ZERO))
                   for c in sorted(set(old_totals) | set(new_totals)))
    new_models = _model_totals(rows)
    old_models = {c: {m: Decimal(v) for m, v in models.items()} for c, models in entry.by_model.items()}
    models = []
    for currency in sorted(set(old_models) | set(new_models)):
        before, after = old_models.get(currency, {}), new_models.get(currency, {})
        for model in sorted(set(before) | set(after)):
            old, new = before.get(model, ZERO), after.get(model, ZERO)
            if old != new:
                label = words["restated_model"].format(model=model or words["none"], currency=currency)
                models.append(TotalChange(label, old, new))

    sources_now = source_digests(manifest)
    bill_restated = bool(entry.sources) and entry.sources != sources_now
    mapping_changed = bool(entry.mapping_version) and entry.mapping_version != (manifest.mapping_version or "")
    reasons: list[str] = []
    if bill_restated:
        replaced = sorted(set(entry.sources.items()) ^ set(sources_now.items()))
        files = len({key for key, _ in replaced})
        reasons.append(words["reason_bill"].format(files=files, version=entry.version))
    if entry.status == "provisional" and manifest.is_final:
        reasons.append(words["reason_final"])
    if previous_rows is None:
        if mapping_changed:
            reasons.append(words["reason_mapping_version"].format(old=entry.mapping_version,
                                                                  new=manifest.mapping_version or ""))
        reasons.append(words["reason_untraced"])
        return Restatement(entry.version, entry.sent_at, entry.status, tuple(reasons), totals, tuple(models),
                           bill_restated=bill_restated, mapping_changed=mapping_changed, traced=False)

    moves = _moves(previous_rows, rows, month_rows, mapping, locale)
    moved = {(m.kind, m.id) for m in moves}
    old_lines, new_lines = _amounts(previous_rows), _amounts(rows)
    changed = []
    for identity in set(old_lines) | set(new_lines):
        values = dict(zip(LINE_IDENTITY, identity, strict=True))
        if ("api_key", values["api_key_id"]) in moved or ("workspace", values["workspace_id"]) in moved:
            continue
        old, new = old_lines.get(identity, ZERO), new_lines.get(identity, ZERO)
        if old != new:
            changed.append(TotalChange(_line_label(identity, locale), old, new, values["currency"]))
    changed.sort(key=lambda c: (-abs(c.difference), c.label))
    prices = _price_changes(previous_rows, rows, locale)
    if moves:
        reasons.append(words["reason_mapping"].format(
            moves=words["list_separator"].join(m.text for m in moves)))
    elif mapping_changed:
        reasons.append(words["reason_mapping_nothing_moved"].format(old=entry.mapping_version,
                                                                    new=manifest.mapping_version or ""))
    if prices:
        reasons.append(words["reason_prices"].format(prices=words["list_separator"].join(
            f"{p.label} {'/'.join(map(format_unit_price, p.old))} → {'/'.join(map(format_unit_price, p.new))} "
            f"{p.currency}" for p in prices)))
    if changed and bill_restated:
        reasons.append(words["reason_lines"].format(count=len(changed)))
    elif changed and not (moves or mapping_changed or prices):
        reasons.append(words["reason_rows_only"].format(count=len(changed)))
    return Restatement(entry.version, entry.sent_at, entry.status, tuple(reasons), totals, tuple(models),
                       lines=tuple(changed[:LINES_SHOWN]), more_lines=max(len(changed) - LINES_SHOWN, 0),
                       moves=tuple(moves), prices=tuple(prices), bill_restated=bill_restated,
                       mapping_changed=mapping_changed)
