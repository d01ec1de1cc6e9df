"""Asking the warehouse: the month's cost summary, verified reads of many months, the costs query and the
Python API for analysts (``chargeback.open_warehouse``)."""
