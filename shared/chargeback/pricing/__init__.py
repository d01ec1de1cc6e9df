"""Prices and what follows from them: the catalog, reconciliation, free quota, estimates, the FOCUS export."""
