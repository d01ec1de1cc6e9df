"""New-subject alerts: API keys and workspaces in the bill that the mapping does not know."""

from __future__ import annotations

from datetime import date

import pandas as pd

from chargeback.alerts.data import AlertData
from chargeback.alerts.model import Alert, Subject
from chargeback.alerts.rules.common import ZERO, evaluated_months, routes_for, subject_name, sums
from chargeback.alerts.words import Phrase, phrase
from chargeback.columns import RULE_PREFIX, UNALLOCATED, is_attributed
from chargeback.config.alerts import AlertSettings
from chargeback.config.file import ConfigFile as Mapping
from chargeback.display import money


def new_subject_alerts(frame: pd.DataFrame, data: AlertData, day: date, mapping: Mapping,
                       settings: AlertSettings) -> list[Alert]:
    """API keys and workspaces in the month's bill that the mapping does not know.

    Every unknown API key is flagged (a new key is worth knowing even when its workspace's team pays for it),
    unless rules decided all its cost. An unknown workspace is flagged only when some of its cost is not paid by
    a mapped key, a rule or a usage split (console calls or unmapped keys: 'unallocated' or a shared pool); a
    workspace used only through those needs no action.
    Without a mapping file every workspace is its own cost center and no key is mapped by design, so nothing
    is flagged then.
    """
    s = settings.new_subjects
    if not s.enabled or frame.empty:
        return []
    alerts: list[Alert] = []
    kinds: list[tuple[str, str]] = []
    if s.api_keys and not mapping.is_default:
        kinds.append(("api_key", "api_key_id"))
    if s.workspaces and not mapping.is_default:
        kinds.append(("workspace", "workspace_id"))
    for month in evaluated_months(data, day, settings):
        in_month = frame.loc[frame["billing_date"].astype(str).str.startswith(month)]
        for kind, column in kinds:
            knows = mapping.knows_api_key if kind == "api_key" else mapping.knows_workspace
            unknown = sorted({str(v) for v in in_month[column].tolist() if v} - {""})
            for subject_id in unknown:
                if knows(subject_id):
                    continue
                rows = in_month.loc[in_month[column] == subject_id]
                decided = all(is_attributed(str(rule)) for rule in rows["allocation_rule"].tolist())
                if decided and (kind == "workspace" or mapping.rules):  # a rule may decide a key it does not list
                    continue
                by_currency = {str(k[0]): v for k, v in sums(rows, ["currency"]).items()}
                if max(by_currency.values(), default=ZERO) < s.min_amount:
                    continue
                currency, spent = max(by_currency.items(), key=lambda item: (item[1], item[0]))
                first_seen = min(rows["day"].tolist())
                spent_text = ", ".join(money(v, c) for c, v in sorted(by_currency.items()))
                reasons = [phrase("new.first_seen", first=first_seen, spent=spent_text, month=month)]
                owner = None
                if kind == "api_key":
                    workspaces = sorted({str(w) for w in rows["workspace_id"].tolist()})
                    reasons.append(phrase("new.workspaces" if len(workspaces) > 1 else "new.workspace",
                                          workspaces=", ".join(workspaces)))
                    owners = {mapping.workspace_owner(w, first_seen) for w in workspaces} - {None}
                    owner = next(iter(owners)) if len(owners) == 1 else None
                reasons.append(_allocated_now(rows.loc[rows["currency"] == currency], currency))
                alerts.append(Alert(
                    rule="new_api_key" if kind == "api_key" else "new_workspace",
                    subject=Subject(kind, subject_id, subject_name(kind, subject_id, mapping)),
                    period=month, value=spent, severity="warning",
                    title=phrase("new_key.title" if kind == "api_key" else "new_workspace.title", id=subject_id,
                                 spent=money(spent, currency), month=month),
                    reasons=tuple(reasons),
                    routes=routes_for(owner, mapping, settings, also_default=True),
                    details={"first_seen": first_seen.isoformat(), "currency": currency},
                ))
    return alerts


def _allocated_now(rows: pd.DataFrame, currency: str) -> Phrase:
    """Where the rows' cost goes today: 'CNY 7.00 to search by workspace; CNY 3.00 in unallocated'."""
    parts = []
    for (center, rule), cost in sorted(sums(rows, ["cost_center", "allocation_rule"]).items(),
                                       key=lambda item: (str(item[0][0]), str(item[0][1]))):
        amount = money(cost, currency)
        if center == UNALLOCATED:
            parts.append(phrase("new.part_unallocated", amount=amount))
        elif rule in ("api_key", "workspace"):
            parts.append(phrase("new.part_direct", amount=amount, center=center, rule=str(rule).replace("_", " ")))
        elif str(rule).startswith(RULE_PREFIX):
            parts.append(phrase("new.part_direct", amount=amount, center=center, rule=str(rule).replace(":", " ", 1)))
        else:
            parts.append(phrase("new.part_shared", amount=amount, center=center, rule=rule))
    return phrase("new.allocated", parts=parts)
