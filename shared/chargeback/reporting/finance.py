"""The finance statement: one company-wide view of the month that adds up to the bill.

Per currency: every cost center's total, the shared pools and how they were split, what is ``unallocated``
with its top API keys and workspaces; then a reconciliation line per account and currency whose allocated
amount must equal the bill's payable total for that account (``Manifest.accounts``) to the last decimal, and
the other products the bill holds, which are never allocated. ``build_finance_statement`` is pure, like the
team statements' ``build_statement``; the whole month's allocation rows go out as its CSV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from chargeback.columns import UNALLOCATED
from chargeback.config.file import ConfigFile
from chargeback.display import shares_of, shown_parts
from chargeback.money import ZERO
from chargeback.reporting import i18n, sums
from chargeback.reporting.ledger import LedgerEntry
from chargeback.reporting.restatement import Restatement, explain_restatement, source_digests
from chargeback.reporting.view import DIRECT_RULES, Line, allocation_hash, frame_rows, with_shown
from chargeback.warehouse.manifest import Manifest

FINANCE = "finance"
"""The finance statement's subject in the ledger and the outbox."""
TOP_UNALLOCATED = 5


@dataclass(frozen=True)
class PoolSplit:
    """One shared pool (a sharing rule in one workspace) and the part each cost center received."""

    rule: str
    description: str
    workspace: str
    workspace_label: str
    total: Decimal
    parts: tuple[Line, ...]


@dataclass(frozen=True)
class Reconciliation:
    """One account's bill in one currency against what was allocated from it."""

    account: str
    currency: str
    bill: Decimal  # the bill's payable total of Model Studio for the account
    allocated: Decimal  # the allocation rows of the account (payer_account_id)

    @property
    def equal(self) -> bool:
        return self.bill == self.allocated

    @property
    def difference(self) -> Decimal:
        return self.allocated - self.bill


@dataclass(frozen=True)
class ExcludedLine:
    product: str
    currency: str
    rows: int
    amount: Decimal


@dataclass(frozen=True)
class FinanceSection:
    currency: str
    total: Decimal
    by_cost_center: tuple[Line, ...]
    pools: tuple[PoolSplit, ...]
    unallocated: Decimal
    unallocated_keys: tuple[Line, ...]
    unallocated_workspaces: tuple[Line, ...]
    excluded: Decimal  # other products in this currency
    bill_total: Decimal  # Model Studio + other products


@dataclass(frozen=True)
class FinanceView:
    month: str
    period: str
    previous_period: str
    locale: str
    status: str
    version: int
    content_hash: str
    mapping_version: str
    rows: int
    sections: tuple[FinanceSection, ...]
    reconciliation: tuple[Reconciliation, ...]
    excluded: tuple[ExcludedLine, ...]
    restatement: Restatement | None
    recipients: tuple[str, ...] = ()
    help_line: str = ""
    sources: dict[str, str] = field(default_factory=dict)
    cost_center: str = FINANCE
    kind: str = FINANCE
    name: str = ""

    @property
    def totals(self) -> dict[str, Decimal]:
        return {s.currency: s.total for s in self.sections}

    @property
    def reconciled(self) -> bool:
        return all(r.equal for r in self.reconciliation)


def _top(amounts: Mapping[str, Decimal], currency: str, label: Any, words: Mapping[str, str]) -> tuple[Line, ...]:
    items = sorted(amounts.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = [Line(k, label(k), v, None) for k, v in items[:TOP_UNALLOCATED]]
    rest = items[TOP_UNALLOCATED:]
    if rest:
        lines.append(Line("", words["others"].format(count=len(rest)), sum((v for _, v in rest), ZERO), None))
    return with_shown(lines, currency)


def _section(currency: str, rows: list[dict[str, Any]], mapping: ConfigFile, manifest: Manifest,
             locale: str) -> FinanceSection:
    words = i18n.strings(locale)
    centers = sums.grouped_by(rows, "cost_center")
    order = sorted(centers, key=lambda k: (k[0] == UNALLOCATED, -centers[k], k[0]))
    by_center = with_shown([Line(k[0], mapping.cost_center_name(k[0]) if k[0] != UNALLOCATED
                                 else words["unallocated"], centers[k], None) for k in order], currency)
    pools = []
    pooled = sums.grouped_by([r for r in rows if r["allocation_rule"] not in DIRECT_RULES],
                      "allocation_rule", "workspace_id", "cost_center")
    for rule, workspace in sorted({(k[0], k[1]) for k in pooled}):
        parts = {k[2]: v for k, v in pooled.items() if (k[0], k[1]) == (rule, workspace)}
        total = sum(parts.values(), ZERO)
        names = sorted(parts, key=lambda c: (-parts[c], c))
        shown = shown_parts([parts[c] for c in names], currency)
        shares = shares_of([parts[c] for c in names])
        lines = tuple(Line(c, mapping.cost_center_name(c), parts[c], share, value)
                      for c, value, share in zip(names, shown, shares, strict=True))
        pools.append(PoolSplit(rule, i18n.sharing_rule_label(rule, locale), workspace,
                               mapping.workspace_labels.get(workspace, workspace), total, lines))
    unallocated_rows = [r for r in rows if r["cost_center"] == UNALLOCATED]
    keys = {k[0]: v for k, v in sums.grouped_by(unallocated_rows, "api_key_id").items()}
    workspaces = {k[0]: v for k, v in sums.grouped_by(unallocated_rows, "workspace_id").items()}
    excluded = sum((p.billed_cost for p in manifest.excluded_products if p.currency == currency), ZERO)
    total = sums.total(rows)
    return FinanceSection(
        currency=currency, total=total, by_cost_center=by_center, pools=tuple(pools),
        unallocated=sums.total(unallocated_rows),
        unallocated_keys=_top(keys, currency, lambda k: k or words["console_key"], words),
        unallocated_workspaces=_top(workspaces, currency,
                                    lambda w: mapping.workspace_labels.get(w, w) or words["none"], words),
        excluded=excluded, bill_total=total + excluded)


def reconcile(rows: Sequence[Mapping[str, Any]], manifest: Manifest) -> tuple[Reconciliation, ...]:
    """Per account and currency: the bill's payable Model Studio total against the rows allocated from it.

    Rows are the account's by ``payer_account_id`` (the UID in the bill's name where the bill has none). A
    month without accounts (schema 1) is reconciled per currency against the month's totals.
    """
    allocated = sums.grouped_by(rows, "payer_account_id", "currency")
    lines = []
    if manifest.accounts:
        seen = set()
        for account in sorted(manifest.accounts, key=lambda a: (a.account, a.scope)):
            for currency in sorted(account.totals):
                key = (account.account, currency)
                if key in seen:  # one UID on two sites: one reconciliation line
                    continue
                seen.add(key)
                bill = sum((a.totals.get(currency, ZERO) for a in manifest.accounts if a.account == account.account),
                           ZERO)
                lines.append(Reconciliation(account.account, currency, bill, allocated.get(key, ZERO)))
        for (payer, currency), amount in sorted(allocated.items()):
            if (payer, currency) not in seen:  # rows of an account the bill does not name: never hidden
                lines.append(Reconciliation(payer, currency, ZERO, amount))
        return tuple(lines)
    by_currency = sums.grouped_by(rows, "currency")
    return tuple(Reconciliation("", currency, amount, by_currency.get((currency,), ZERO))
                 for currency, amount in sorted(manifest.totals.items()))


def build_finance_statement(allocations_month: pd.DataFrame | None, manifest: Manifest, mapping: ConfigFile, *,
                            locale: str = "en", ledger_entry: LedgerEntry | None = None,
                            previous_rows: Sequence[Mapping[str, Any]] | None = None,
                            recipients: tuple[str, ...] = (), help_line: str = "") -> FinanceView:
    """The finance statement of the manifest's month; ``ledger_entry`` is what finance last received."""
    lang = "zh" if locale == "zh" else "en"
    rows = frame_rows(allocations_month)
    content_hash = allocation_hash(rows)
    sections = tuple(_section(currency, [r for r in rows if r["currency"] == currency], mapping, manifest, lang)
                     for currency in sorted({r["currency"] for r in rows} | set(manifest.totals)))
    version, restatement = 1, None
    if ledger_entry is not None:
        if ledger_entry.content_hash == content_hash:
            version = ledger_entry.version
        else:
            version = ledger_entry.version + 1
            restatement = explain_restatement(ledger_entry, previous_rows, rows, rows, manifest, mapping, lang)
    return FinanceView(
        month=manifest.month,
        period=i18n.period_label(manifest.month, lang),
        previous_period="",
        locale=lang,
        status="final" if manifest.is_final else "provisional",
        version=version,
        content_hash=content_hash,
        mapping_version=manifest.mapping_version or mapping.version,
        rows=len(rows),
        sections=sections,
        reconciliation=reconcile(rows, manifest),
        excluded=tuple(ExcludedLine(p.product_code, p.currency, p.rows, p.billed_cost)
                       for p in manifest.excluded_products),
        restatement=restatement,
        recipients=recipients,
        help_line=help_line,
        sources=source_digests(manifest),
        name=i18n.strings(lang)["title_finance"],
    )
