"""Monthly chargeback statements: one per cost center and month, built from the warehouse, sent once.

``view`` builds the statement as plain values, ``render`` turns it into text, HTML and a chart, ``csvfile`` the
attachment, ``mail`` the message, ``ledger`` remembers what was sent and ``job.send_statements`` composes them.
"""
