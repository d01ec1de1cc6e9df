"""Doing things once in a shared warehouse, whatever dies and whatever runs twice.

- ``chain``: a document that changes by whole new generations, each created exclusively (the one conditional
  write S3, OSS and a local disk all have): two writers that read the same generation cannot both write the
  next one. Leases and records are chains.
- ``lease``: one writer per month and job (``run``, ``report``, ``alert``), with an expiry and a heartbeat, so a
  crashed holder blocks the next run for two minutes at most (at once when it died on the same machine).
- ``records``: done-once records (Powertools-idempotency style: a key, ``in_progress`` with an expiry, then
  ``completed`` with its result or ``failed``): the statements ledger and the alert state live on them.
"""

from chargeback.once.lease import (
    DEFAULT_LEASES,
    Lease,
    LeaseBusyError,
    LeaseLostError,
    LeasePolicy,
    LeaseWhenNeeded,
    hold_lease,
)
from chargeback.once.records import Claim, Record, RecordStore, record_key

__all__ = ["DEFAULT_LEASES", "Claim", "Lease", "LeaseBusyError", "LeaseLostError", "LeasePolicy",
           "LeaseWhenNeeded", "Record", "RecordStore", "hold_lease", "record_key"]
