"""Alert state in the warehouse: what fired, with which numbers, and every delivery attempt.

Each alert is a done-once record (``chargeback.once.records``) under
``state/alerts/billing_month=YYYY-MM/records/<alert id>/``, changed by compare-and-swap; an alert lives in the
month its period starts in (a budget alert of 2026-05, an anomaly of 2026-05-14, a quota window from
2026-04-02). So a new month re-arms budgets by itself, while a quota window or a stale episode keeps one alert
across months. Each delivery of an alert (its id, sequence and channel) is claimed as a record of its own
under ``.../deliveries/`` before it goes (``delivery_records``), so two runs never deliver it twice. The
documents earlier versions kept, ``state/alerts/YYYY-MM.json``, still read (and are never written again).

``plan`` is pure: given what the rules found and what the state says, it decides per alert whether to send it
(new), send it again (restated), retry failed channels, stay quiet, or clear it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from chargeback.alerts.channels import DeliveryResult
from chargeback.alerts.model import REFIRES_ON_CHANGE, Action, Alert, Evaluation, Route
from chargeback.errors import NotFoundError, StorageError
from chargeback.months import check_month
from chargeback.once import Record, RecordStore, record_key
from chargeback.once.records import Clock, system_clock
from chargeback.redact import redact
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout

STATE_VERSION = 1


def state_document_key(month: str) -> str:
    """The alert state document of earlier versions (read, never written)."""
    return layout.state_key(f"alerts/{check_month(month)}.json")


def _folder(month: str, kind: str) -> str:
    return layout.state_key(f"alerts/billing_month={check_month(month)}/{kind}")


def alert_records(store: ObjectStore, month: str, *, clock: Clock = system_clock) -> RecordStore:
    """The alert records (one per alert id) of alerts whose period starts in ``month``."""
    return RecordStore(store, _folder(month, "records"), clock=clock)


def delivery_records(store: ObjectStore, month: str, *, clock: Clock = system_clock) -> RecordStore:
    """The done-once records of the deliveries of ``month``'s alerts (``delivery_key``)."""
    return RecordStore(store, _folder(month, "deliveries"), clock=clock)


def delivery_key(alert_id: str, sequence: int, channel: str) -> str:
    return record_key(alert_id, str(sequence), channel)


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
    """The alert records of some months, read once; each change is written at once, as a compare-and-swap of the
    alert's record (a change made meanwhile by another run is kept: the change is made again on top of it)."""

    def __init__(self, store: ObjectStore, documents: dict[str, dict[str, Any]], *,
                 clock: Clock = system_clock) -> None:
        self._store = store
        self._documents = documents  # month -> {"alerts": {alert id: record}}
        self._clock = clock

    @classmethod
    def load(cls, store: ObjectStore, months: Iterable[str], *, clock: Clock = system_clock) -> AlertLedger:
        documents: dict[str, dict[str, Any]] = {}
        for month in sorted(set(months)):
            alerts = _earlier_document(store, month)["alerts"]
            for key, record in alert_records(store, month, clock=clock).all().items():
                alerts[_alert_id(key)] = dict(record.data)
            documents[month] = {"version": STATE_VERSION, "month": month, "alerts": alerts}
        return cls(store, documents, clock=clock)

    def records(self) -> dict[str, dict[str, Any]]:
        """Every alert record of the loaded months, by alert id."""
        merged: dict[str, dict[str, Any]] = {}
        for document in self._documents.values():
            merged.update(document["alerts"])
        return merged

    def deliveries(self, month: str) -> RecordStore:
        """The done-once records of the deliveries of ``month``'s alerts."""
        return delivery_records(self._store, month, clock=self._clock)

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
        at = now.isoformat()
        results = tuple(results)

        def sent(record: dict[str, Any] | None) -> dict[str, Any]:
            record = record or _new_record(decision, at)
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
            return record

        return self._change(alert.state_month, decision.alert_id, sent)

    def record_superseded(self, decision: Decision, *, now: datetime, day: str) -> None:
        """Store an alert that a higher threshold of its rule and subject replaced: never sent, never retried."""
        alert = decision.alert
        assert alert is not None
        at = now.isoformat()

        def superseded(record: dict[str, Any] | None) -> dict[str, Any]:
            record = record or _new_record(decision, at)
            record.update(status="superseded", value=str(alert.value), sequence=decision.sequence,
                          title=alert.title, last_fired_at=at, evaluated_for=day)
            record["history"].append({"at": at, "event": "superseded", "value": str(alert.value),
                                      "evaluated_for": day})
            return record

        self._change(alert.state_month, decision.alert_id, superseded)

    def record_cleared(self, decision: Decision, *, now: datetime, day: str) -> None:
        def cleared(record: dict[str, Any] | None) -> dict[str, Any]:
            assert record is not None
            record["status"] = "cleared"
            record["history"].append({"at": now.isoformat(), "event": "cleared", "evaluated_for": day})
            return record

        self._change(self._month_of(decision.alert_id), decision.alert_id, cleared)

    def _change(self, month: str, alert_id: str,
                change: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
        """Apply ``change`` to the alert's stored record (a copy of it: the change may be made again on a newer
        one) and keep the result."""
        document = self._documents.setdefault(month, {"version": STATE_VERSION, "month": month, "alerts": {}})
        earlier = document["alerts"].get(alert_id)

        def on(current: Record | None) -> dict[str, Any]:
            base = dict(current.data) if current is not None else earlier
            return change(copy.deepcopy(base) if base is not None else None)

        written = alert_records(self._store, month, clock=self._clock).update(record_key(alert_id), on)
        document["alerts"][alert_id] = dict(written.data)
        return dict(written.data)


def _new_record(decision: Decision, at: str) -> dict[str, Any]:
    """The record of an alert stored for the first time."""
    alert = decision.alert
    assert alert is not None
    return {"rule": alert.rule, "subject": alert.subject.ref, "subject_label": alert.subject.label,
            "currency": alert.currency, "threshold": alert.threshold, "period": alert.period,
            "first_fired_at": at, "deliveries": [], "history": []}


def alert_state(store: ObjectStore, month: str) -> dict[str, dict[str, Any]]:
    """The records of the alerts whose period starts in ``month``, by alert id (for people and tests)."""
    return AlertLedger.load(store, [month]).records()


def _alert_id(key: str) -> str:
    return unquote(key)  # record_key's encoding undone


def _earlier_document(store: ObjectStore, month: str) -> dict[str, Any]:
    key = state_document_key(month)
    try:
        document = json.loads(store.read_bytes(key))
    except NotFoundError:
        return {"version": STATE_VERSION, "month": month, "alerts": {}}
    except ValueError as exc:
        raise StorageError(f"{store.url}/{key} is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("alerts"), dict):
        raise StorageError(f"{store.url}/{key} is not an alert state document")
    return document
