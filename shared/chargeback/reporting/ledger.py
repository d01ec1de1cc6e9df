"""The delivery ledger: which statement version went to whom, so each one is sent exactly once.

One JSON document per month at ``state/statements/billing_month=YYYY-MM/ledger.json``:

    {"month": "2026-05", "entries": [{"cost_center": "search", "channel": "mail", "version": 1,
      "content_hash": "…", "totals": {"CNY": "12.50"}, "by_model": {"CNY": {"qwen-plus": "12.50"}},
      "status": "final", "to": [...], "cc": [...], "message_id": "<…>", "delivery_id": "…",
      "sent_at": "2026-06-05T02:00:00+00:00", "kind": "cost_center", "mapping_version": "…",
      "sources": {"bills/…csv": "<sha256>"}, "content_key": "state/statements/…/content/…json.gz"}, …]}

``kind`` says what the statement covered (a cost center, a workspace, a roll-up or the finance statement);
``mapping_version``, ``sources`` and ``content_key`` (the rows the statement showed,
``chargeback.reporting.content``) let a corrected statement compute what changed: the bill, the mapping or
the prices. Entries written before these fields read with them empty.

Entries are only appended. The newest entry per (cost center, channel) says what was last sent there;
'outbox' entries (preview files) and 'mail' entries (a mail server took it) are counted apart, so writing
previews never stops the real statement from going out. The document is rewritten after every send.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from chargeback.errors import InputError
from chargeback.months import check_month
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout


def ledger_key(month: str) -> str:
    return layout.state_key(f"statements/billing_month={check_month(month)}/ledger.json")


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
    """The month's ledger, loaded from and saved to the warehouse."""

    month: str
    entries: list[LedgerEntry] = field(default_factory=list)

    def latest(self, cost_center: str, channel: str, kind: str = "cost_center") -> LedgerEntry | None:
        """The newest entry of ``cost_center`` (a statement of ``kind``) on ``channel``, or None if nothing
        was sent there."""
        found = [e for e in self.entries
                 if e.cost_center == cost_center and e.channel == channel and e.kind == kind]
        return max(found, key=lambda e: e.version) if found else None

    def cost_centers(self, channel: str, kind: str = "cost_center") -> set[str]:
        return {e.cost_center for e in self.entries if e.channel == channel and e.kind == kind}

    def to_bytes(self) -> bytes:
        document = {"month": self.month, "entries": [e.to_json() for e in self.entries]}
        return (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def load_ledger(store: ObjectStore, month: str) -> Ledger:
    """The month's ledger; an empty one when nothing was sent yet."""
    key = ledger_key(month)
    if not store.exists(key):
        return Ledger(month)
    try:
        document = json.loads(store.read_bytes(key))
        entries = [LedgerEntry.from_json(item) for item in document["entries"]]
    except (ValueError, KeyError, TypeError) as exc:
        # A damaged ledger must stop the run: guessing would send statements twice.
        raise InputError(f"the statement ledger is damaged: {exc}", source=f"{store.url}/{key}") from None
    return Ledger(month, entries)


def save_ledger(store: ObjectStore, ledger: Ledger) -> None:
    store.write_bytes(ledger_key(ledger.month), ledger.to_bytes(), "application/json")
