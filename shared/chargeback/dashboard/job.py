"""Publishing the dashboard in the warehouse, as the daily job does: ``dashboard/index.html`` and the month's
copy under ``dashboard/billing_month=YYYY-MM/`` (the last one written in a month stays as that month's)."""

from __future__ import annotations

from datetime import datetime

from chargeback.config.file import ConfigFile
from chargeback.dashboard.render import render_dashboard
from chargeback.dashboard.view import DEFAULT_MONTHS, load_dashboard, newest_month
from chargeback.storage import ObjectStore
from chargeback.warehouse import layout
from chargeback.warehouse.publish import publish_document

HTML = "text/html; charset=utf-8"


def publish_dashboard(store: ObjectStore, mapping: ConfigFile, *, month: str, now: datetime,
                      months: int = DEFAULT_MONTHS) -> list[str]:
    """Build the dashboard of the ``months`` months up to ``month`` (or the newest published month before it)
    in the mapping's statements locale and publish it; returns the keys written (none when the warehouse holds
    no month yet)."""
    newest = newest_month(store)
    if newest is None:
        return []
    last = min(newest, month)
    view = load_dashboard(store, mapping, month=last, months=months, locale=mapping.statements.locale, now=now)
    if view is None:  # pragma: no cover - newest_month found a month
        return []
    page = render_dashboard(view).encode("utf-8")
    written = []
    for key in (layout.dashboard_key(view.latest), layout.dashboard_key()):  # the month's copy, then the index
        if publish_document(store, key, page, HTML):
            written.append(key)
    return written


__all__ = ["publish_dashboard"]
