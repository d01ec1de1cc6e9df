"""What each function may write and delete in the warehouse: the one list the IAM, RAM and behaviour tests check.

A new prefix that a job writes is added here, and the tests then demand it in template.yml and in the RAM
policy of that function (and refuse it anywhere else).
"""

from __future__ import annotations

# the daily job's tables; objects/ holds their content-addressed versions, which the manifests name
TABLES = ("lines/", "allocations/", "focus/", "costs/", "exports/", "manifests/", "objects/")
LEDGERS = ("state/", "outbox/")  # done-once records of statements and alerts, leases, the outbox of both jobs
PAGES = ("dashboard/",)  # the daily job's dashboard
WAREHOUSE_WRITES: dict[str, tuple[str, ...]] = {"daily": TABLES + LEDGERS + PAGES, "monthly": LEDGERS}
# the only deletes: the daily job sweeps objects no manifest names (chargeback.warehouse.publish.collect_garbage)
WAREHOUSE_DELETES: dict[str, tuple[str, ...]] = {"daily": ("objects/",), "monthly": ()}
DELETING_MODULES = ("warehouse/publish.py",)  # the only code (outside the storage adapters) that deletes
NEVER_WRITTEN = ("config/",)  # the mapping: people change it, no function
EXPIRING = ("state/leases/",)  # removed by a lifecycle rule a day after they were written, never by code
