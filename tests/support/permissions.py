"""What each function may write in the warehouse: the one list the IAM, RAM and behaviour tests check.

A new prefix that a job writes is added here, and the tests then demand it in template.yml and in the RAM
policy of that function (and refuse it anywhere else).
"""

from __future__ import annotations

TABLES = ("lines/", "allocations/", "focus/", "costs/", "exports/", "manifests/")  # the daily job's tables
LEDGERS = ("state/", "outbox/")  # statements ledger, alert state, the outbox of both jobs
PAGES = ("dashboard/",)  # the daily job's dashboard
WAREHOUSE_WRITES: dict[str, tuple[str, ...]] = {"daily": TABLES + LEDGERS + PAGES, "monthly": LEDGERS}
NEVER_WRITTEN = ("config/",)  # the mapping: people change it, no function
