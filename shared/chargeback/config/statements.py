"""The ``statements:`` section of the configuration file.

    statements:
      locale: en            # en | zh; a cost center's own `locale` wins
      top_n: 5              # API keys listed by name before 'others'
      group_thousands: true # 1,234.5 rather than 1234.5
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chargeback.config.fields import Section


class StatementSettings(Section):
    locale: Literal["en", "zh"] = "en"
    top_n: int = Field(default=5, ge=1, le=100)
    group_thousands: bool = True
