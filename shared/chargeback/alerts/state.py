"""Alert state in the warehouse: what fired, with which numbers, and every delivery attempt.

One JSON document per month, ``state/alerts/YYYY-MM.json``, keyed by alert id; an alert lives in the month its
period starts in (a budget alert of 2026-05, an anomaly of 2026-05-14, a quota window from 2026-04-02). So a
new month re-arms budgets by itself, while a quota window or a stale episode keeps one alert across months.

``plan`` is pure: given what the rules found and what the state says, it decides per alert whether to send it
(new), send it again (restated), retry failed channels, stay quiet, or clear it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chargeback.alerts.channels import DeliveryResult
from chargeback.alerts.model import REFIRES_ON_CHANGE, Action, Alert, Evaluation, Route
from chargeback.errors import NotFoundError, StorageError
from chargeback.months import check_month
from chargeback.redact import redact
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout

STATE_VERSION = 1

def state_document_key(month: str) -> str:
    return layout.state_key(f"alerts/{check_month(month)}.json")


@dataclass(frozen=True)
class Decision:
    """What to do with one alert this run; ``pending`` are the channels to deliver to now."""

    alert_id: str
    action: Action
    alert: Alert | None  # None when a fired alert is cleared
    sequence: int
    pending: tuple[Route, ...] = ()
    previous_value: Decimal | None = None
    title: str = ""


def _changed(old: Decimal, new: Decimal, tolerance_percent: Decimal) -> bool:
    if old == 0:
        return new != 0
    return abs(new - old) * 100 > abs(old) * tolerance_percent


def _failed_runs(record: dict[str, Any], sequence: int, channel: str) -> int:
    return sum(1 for d in record.get("deliveries", [])
               if d["sequence"] == sequence and d["channel"] == channel and d["status"] == "failed")


def _delivered(record: dict[str, Any], sequence: int, channel: str) -> bool:
    return any(d["sequence"] == sequence and d["channel"] == channel and d["status"] == "sent"
               for d in record.get("deliveries", []))


def plan(evaluation: Evaluation, records: dict[str, dict[str, Any]], *, max_runs: int,
         tolerance_percent: Decimal) -> list[Decision]:
    """One decision per alert found, plus a 'cleared' decision per fired alert that was restated away."""
    decisions: list[Decision] = []
    found: set[str] = set()
    for alert in evaluation.alerts:
        alert_id = alert.alert_id
        found.add(alert_id)
        record = records.get(alert_id)
        if record is None:
            decisions.append(Decision(alert_id, "new", alert, 1, alert.routes, title=alert.title))
            continue
        sequence = int(record["sequence"])
        previous = Decimal(record["value"])
        if record["status"] == "cleared" or (
                alert.rule in REFIRES_ON_CHANGE and _changed(previous, alert.value, tolerance_percent)):
            decisions.append(Decision(alert_id, "restated", alert, sequence + 1, alert.routes, previous,
                                      alert.title))
            continue
        pending = tuple(r for r in alert.routes if not _delivered(record, sequence, r.channel)
                        and _failed_runs(record, sequence, r.channel) < max_runs)
        decisions.append(Decision(alert_id, "retry" if pending else "quiet", alert, sequence, pending,
                                  previous, alert.title))
    for alert_id, record in sorted(records.items()):
        if (alert_id not in found and record["status"] == "firing"
                and (record["rule"], record["period"]) in evaluation.evaluated):
            decisions.append(Decision(alert_id, "cleared", None, int(record["sequence"]),
                                      previous_value=Decimal(record["value"]), title=record["title"]))
    return decisions


class AlertLedger:
    """The state documents of some months, read once; each change is written back at once (publish-safe:
    the store replaces a document whole)."""

    def __init__(self, store: ObjectStore, documents: dict[str, dict[str, Any]]) -> None:
        self._store = store
        self._documents = documents

    @classmethod
    def load(cls, store: ObjectStore, months: Iterable[str]) -> AlertLedger:
        documents: dict[str, dict[str, Any]] = {}
        for month in sorted(set(months)):
            key = state_document_key(month)
            try:
                document = json.loads(store.read_bytes(key))
            except NotFoundError:
                document = {"version": STATE_VERSION, "month": month, "alerts": {}}
            except ValueError as exc:
                raise StorageError(f"{store.url}/{key} is not valid JSON: {exc}") from None
            documents[month] = document
        return cls(store, documents)

    def records(self) -> dict[str, dict[str, Any]]:
        """Every alert record of the loaded months, by alert id."""
        merged: dict[str, dict[str, Any]] = {}
        for document in self._documents.values():
            merged.update(document["alerts"])
        return merged

    def _month_of(self, alert_id: str) -> str:
        for month, document in self._documents.items():
            if alert_id in document["alerts"]:
                return month
        raise KeyError(alert_id)

    def record_send(self, decision: Decision, results: Iterable[DeliveryResult], *, now: datetime,
                    day: str) -> dict[str, Any]:
        """Store a sent (new, restated or retried) alert and its delivery attempts; returns the record."""
        alert = decision.alert
        assert alert is not None
        document = self._documents.setdefault(
            alert.state_month, {"version": STATE_VERSION, "month": alert.state_month, "alerts": {}})
        at = now.isoformat()
        record = document["alerts"].setdefault(decision.alert_id, {
            "rule": alert.rule, "subject": alert.subject.ref, "subject_label": alert.subject.label,
            "currency": alert.currency, "threshold": alert.threshold, "period": alert.period,
            "first_fired_at": at, "deliveries": [], "history": [],
        })
        if decision.action in ("new", "restated"):
            record.update(status="firing", value=str(alert.value), sequence=decision.sequence,
                          title=alert.title, last_fired_at=at, evaluated_for=day)
            record["history"].append({"at": at, "event": decision.action, "value": str(alert.value),
                                      "evaluated_for": day})
        for result in results:
            record["deliveries"].append({
                "sequence": decision.sequence, "reason": decision.action, "channel": result.channel,
                "kind": result.kind, "recipients": list(result.recipients), "status": result.status,
                "attempts": result.attempts, "errors": [redact(error) for error in result.errors], "at": at,
            })
        self._save(alert.state_month)
        return dict(record)

    def record_cleared(self, decision: Decision, *, now: datetime, day: str) -> None:
        month = self._month_of(decision.alert_id)
        record = self._documents[month]["alerts"][decision.alert_id]
        record["status"] = "cleared"
        record["history"].append({"at": now.isoformat(), "event": "cleared", "evaluated_for": day})
        self._save(month)

    def _save(self, month: str) -> None:
        document = self._documents[month]
        data = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
        self._store.write_bytes(state_document_key(month), data, content_type="application/json")
