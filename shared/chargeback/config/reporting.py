"""The ``reporting:`` section: one currency every allocation is also stated in.

    reporting: {currency: CNY, rates: rates.csv}    # rates: date,from,to,rate (chargeback.config.tables)

Each allocation row then carries ``reporting_billed_cost``: its billed cost times the rate from its currency on
or before its billing date, rounded half to even at the warehouse's 12 decimals. Rows already in the reporting
currency keep their amount. The bill's own columns never change.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from chargeback.config.fields import Section
from chargeback.config.tables import CURRENCY_CODE


class ReportingSettings(Section):
    currency: str
    rates: str | None = Field(default=None, min_length=1)  # relative to the configuration file, or a URL

    @field_validator("currency")
    @classmethod
    def _code(cls, value: str) -> str:
        if not CURRENCY_CODE.match(value):
            raise ValueError(f"{value!r} is not a currency code (three capital letters, e.g. CNY)")
        return value
