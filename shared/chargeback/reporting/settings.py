"""The ``statements:`` section of the mapping file, validated.

    statements:
      locale: en            # en | zh; a cost center's own `locale` wins
      top_n: 5              # API keys listed by name before 'others'
      group_thousands: true # 1,234.5 rather than 1234.5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chargeback.errors import ConfigError


class StatementSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    locale: Literal["en", "zh"] = "en"
    top_n: int = Field(default=5, ge=1, le=100)
    group_thousands: bool = True


def parse_statement_settings(raw: Mapping[str, Any] | None, source: str = "mapping") -> StatementSettings:
    """The validated ``statements:`` section; a ConfigError lists every bad field."""
    try:
        return StatementSettings.model_validate(dict(raw or {}))
    except ValidationError as exc:
        problems = [f"statements.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid statement settings: " + "; ".join(problems), source=source) from None
