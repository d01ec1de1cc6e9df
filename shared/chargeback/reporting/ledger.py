"""The delivery ledger: which statement version went to whom, so each one is sent exactly once.

Each statement version sent on a channel is a done-once record (``chargeback.once.records``) under
``state/statements/billing_month=YYYY-MM/records/<kind>/<subject>/<channel>/v<version>/``: claimed
(``in_progress``, with the Message-ID about to go out) right before the send, ``completed`` with its
:class:`LedgerEntry` once the mail server or the outbox took it, ``failed`` when it refused. The ledger of a
month is the entries of its completed records, plus those of the single document earlier versions kept
(``ledger.json`` beside the records, read only).

An entry (``LedgerEntry.to_json``) looks like:

    {"cost_center": "search", "channel": "mail", "version": 1, "content_hash": "…", "totals": {"CNY": "12.50"},
     "by_model": {"CNY": {"qwen-plus": "12.50"}}, "status": "final", "to": [...], "cc": [...],
     "message_id": "<…>", "delivery_id": "…", "sent_at": "2026-06-05T02:00:00+00:00", "kind": "cost_center",
     "mapping_version": "…", "sources": {"bills/…csv": "<hash>"}, "content_key": "state/statements/…json.gz"}

``kind`` says what the statement covered (a cost center, a workspace, a roll-up or the finance statement);
``mapping_version``, ``sources`` and ``content_key`` (the rows the statement showed,
``chargeback.reporting.content``) let a corrected statement compute what changed: the bill, the mapping or
the prices. Entries written before these fields read with them empty.

The newest entry per (statement, channel) says what was last sent there; 'outbox' entries (preview files)
and 'mail' entries (a mail server took it) are counted apart, so writing previews never stops the real
statement from going out.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from chargeback.errors import ChargebackError, InputError
from chargeback.months import check_month
from chargeback.once import Record, RecordStore, record_key
from chargeback.once.records import Clock, system_clock
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout


def ledger_key(month: str) -> str:
    """The ledger document of earlier versions (read, never written)."""
    return layout.state_key(f"statements/billing_month={check_month(month)}/ledger.json")


def statement_records(store: ObjectStore, month: str, *, clock: Clock = system_clock) -> RecordStore:
    """The month's done-once records of statements."""
    return RecordStore(store, layout.state_key(f"statements/billing_month={check_month(month)}/records"),
                       clock=clock)


def statement_key(kind: str, subject: str, channel: str, version: int) -> str:
    """The record of one statement version (of a ``kind``: cost_center, workspace, finance) on one channel."""
    return record_key(kind, subject, channel, f"v{version}")


@dataclass(frozen=True)
class LedgerEntry:
    """One statement that was sent (or written to the outbox)."""

    month: str
    cost_center: str  # the statement's subject: a cost center, or the workspace, roll-up or "finance" of ``kind``
    channel: str  # 'mail' | 'outbox'
    version: int
    content_hash: str  # of the cost center's allocation rows (``allocation_hash``)
    totals: dict[str, str]  # currency -> exact decimal text
    by_model: dict[str, dict[str, str]]  # currency -> model -> exact decimal text
    status: str  # provisional | final
    to: tuple[str, ...]
    cc: tuple[str, ...]
    message_id: str
    delivery_id: str  # what the mailer returned: the SES/SMTP message id or the outbox path
    sent_at: str  # ISO 8601 with offset
    kind: str = "cost_center"  # cost_center | workspace | rollup | finance
    mapping_version: str = ""  # of the mapping the rows were allocated with ('' before it was recorded)
    sources: dict[str, str] = field(default_factory=dict)  # bill object key -> SHA-256 of the month's bill
    content_key: str = ""  # where the rows this version showed are kept ('' before they were kept)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["to"], data["cc"] = list(self.to), list(self.cc)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LedgerEntry:
        return cls(
            month=str(data["month"]),
            cost_center=str(data["cost_center"]),
            channel=str(data.get("channel", "mail")),
            version=int(data["version"]),
            content_hash=str(data["content_hash"]),
            totals={str(k): str(v) for k, v in dict(data.get("totals", {})).items()},
            by_model={str(c): {str(m): str(a) for m, a in dict(models).items()}
                      for c, models in dict(data.get("by_model", {})).items()},
            status=str(data.get("status", "")),
            to=tuple(data.get("to", ())),
            cc=tuple(data.get("cc", ())),
            message_id=str(data.get("message_id", "")),
            delivery_id=str(data.get("delivery_id", "")),
            sent_at=str(data.get("sent_at", "")),
            kind=str(data.get("kind", "cost_center")),
            mapping_version=str(data.get("mapping_version", "")),
            sources={str(k): str(v) for k, v in dict(data.get("sources", {})).items()},
            content_key=str(data.get("content_key", "")),
        )


@dataclass
class Ledger:
    """The month's ledger: every statement version sent, and the records it was read from."""

    month: str
    entries: list[LedgerEntry] = field(default_factory=list)
    records: RecordStore | None = None

    def latest(self, cost_center: str, channel: str, kind: str = "cost_center") -> LedgerEntry | None:
        """The newest entry of ``cost_center`` (a statement of ``kind``) on ``channel``, or None if nothing
        was sent there."""
        found = [e for e in self.entries
                 if e.cost_center == cost_center and e.channel == channel and e.kind == kind]
        return max(found, key=lambda e: e.version) if found else None

    def cost_centers(self, channel: str, kind: str = "cost_center") -> set[str]:
        return {e.cost_center for e in self.entries if e.channel == channel and e.kind == kind}

    def reload(self) -> None:
        """Read the entries again: another run may have sent statements since they were read."""
        if self.records is not None:
            self.entries[:] = load_ledger(self.records.store, self.month).entries

    def to_bytes(self) -> bytes:
        document = {"month": self.month, "entries": [e.to_json() for e in self.entries]}
        return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def entry_of(record: Record) -> LedgerEntry:
    """The ledger entry a completed statement record holds."""
    return LedgerEntry.from_json(dict(record.data["entry"]))


def load_ledger(store: ObjectStore, month: str, *, clock: Clock = system_clock) -> Ledger:
    """The month's ledger; an empty one when nothing was sent yet."""
    records = statement_records(store, month, clock=clock)
    entries = {(e.kind, e.cost_center, e.channel, e.version): e for e in _earlier_entries(store, month)}
    try:
        for record in records.all().values():
            if record.status == "completed":
                entry = entry_of(record)
                entries[(entry.kind, entry.cost_center, entry.channel, entry.version)] = entry
    except (ChargebackError, ValueError, KeyError, TypeError) as exc:
        # A damaged ledger must stop the run: guessing would send statements twice.
        raise InputError(f"the statement ledger is damaged: {exc}", source=f"{store.url}/{records.folder}") from None
    return Ledger(month, [entries[k] for k in sorted(entries)], records)


def _earlier_entries(store: ObjectStore, month: str) -> list[LedgerEntry]:
    key = ledger_key(month)
    if not store.exists(key):
        return []
    try:
        document = json.loads(store.read_bytes(key))
        return [LedgerEntry.from_json(item) for item in document["entries"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"the statement ledger is damaged: {exc}", source=f"{store.url}/{key}") from None


def record_entry(store: ObjectStore, entry: LedgerEntry) -> Record:
    """Record ``entry`` as sent without sending anything (an import, or a test's history)."""
    records = statement_records(store, entry.month)
    claim = records.begin(statement_key(entry.kind, entry.cost_center, entry.channel, entry.version))
    if not claim.taken:
        raise ValueError(f"{entry.cost_center} v{entry.version} on {entry.channel} is already recorded")
    return records.complete(claim, {"entry": entry.to_json()})
