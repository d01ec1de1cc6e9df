"""Scheduled alerts: budgets (actual and forecast), cost anomalies, unmapped API keys and workspaces, free quota
nearly used or expiring, and stale bills, each sent once to the channels its cost center watches. The
``alerts:`` section they read is validated in ``chargeback.config.alerts``.

    data.py      reads what the rules need from the warehouse (allocations, manifests, free-quota lines)
    rules.py     pure evaluation for a date: ``evaluate(data, day=, now=, mapping=, settings=)``
    state.py     ``state/alerts/YYYY-MM.json``: what fired with which numbers, every delivery attempt
    channels.py  e-mail (``delivery.Mailer``), DingTalk, Slack and JSON webhooks behind one interface
    render.py    the notification text and the terminal table
    job.py       ``run_alerts(warehouse, day, mapping, channels, *, now, dry_run=False) -> AlertRun``
"""
