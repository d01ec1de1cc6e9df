"""The ``focus:`` section of the configuration file: which FOCUS version the month's FOCUS export follows.

    focus:
      version: "1.2"        # 1.2 (default) | 1.0, for tools that read only FOCUS 1.0
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import field_validator

from chargeback.config.fields import Section
from chargeback.config.yaml_source import YamlFloat


class FocusSettings(Section):
    """``focus: {version: "1.0"}``: the FOCUS version of ``focus/`` and ``exports/.../focus.csv`` (default 1.2)."""

    version: Literal["1.2", "1.0"] = "1.2"

    @field_validator("version", mode="before")
    @classmethod
    def _as_written(cls, value: Any) -> Any:
        """YAML reads ``version: 1.0`` as a number; the version is the text it was written as."""
        if isinstance(value, YamlFloat) and value.text is not None:
            return value.text.strip()
        if isinstance(value, float | int) and not isinstance(value, bool):
            return f"{float(value):.1f}"
        return value
