"""The ``statements:`` section of the configuration file.

    statements:
      locale: en                 # en | zh; a cost center's own `locale` wins
      top_n: 5                   # API keys listed by name before 'others'
      group_thousands: true      # 1,234.50 rather than 1234.50
      per: [cost_center, workspace]   # who gets a statement; default: cost centers only
      help_line: "Questions? #finops on Slack or finops@example.com"   # printed under the owners
      finance_copy: false        # also copy finance on every team statement (they get one finance statement)
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from chargeback.config.fields import Section

StatementSubject = Literal["cost_center", "workspace"]
DEFAULT_PER: tuple[StatementSubject, ...] = ("cost_center",)


class StatementSettings(Section):
    locale: Literal["en", "zh"] = "en"
    top_n: int = Field(default=5, ge=1, le=100)
    group_thousands: bool = True
    per: list[StatementSubject] = Field(default_factory=lambda: list(DEFAULT_PER))
    help_line: str = Field(default="", max_length=300)
    finance_copy: bool = False

    @field_validator("per")
    @classmethod
    def _some(cls, value: list[StatementSubject]) -> list[StatementSubject]:
        if not value:
            raise ValueError("name at least one of cost_center, workspace")
        return list(dict.fromkeys(value))

    @field_validator("help_line")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value.strip() or "\r" in value:
            raise ValueError("the help line is one line of text")
        return value.strip()
