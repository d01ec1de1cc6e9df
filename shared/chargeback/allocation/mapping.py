"""The team mapping: which cost center pays for which API key and workspace, and how shared pools split.

A YAML file validated into typed objects, so changing who pays is a config change:

    cost_centers:
      search:   {name: Search team, owners: [lead@example.com], workspaces: [llm-...], api_keys: ["2100001"]}
      research: {api_keys: [{id: "2300002", from: 2026-05-10}]}
    shared_costs:
      console: proportional     # keep | even | proportional | {fixed: {search: 60, research: 40}}
      unmapped: keep

Sections that other parts own (``alerts``, ``statements``, ``prices``, ``delivery``) are kept as raw data here
and validated by their owners.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chargeback.errors import ConfigError

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_ID = re.compile(r"^[A-Za-z0-9_.:-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Assignment(_Strict):
    """An API key or workspace assigned to a cost center, optionally only between two dates (inclusive)."""

    id: str
    valid_from: date | None = Field(default=None, alias="from")
    valid_until: date | None = Field(default=None, alias="until")

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @model_validator(mode="after")
    def _ordered(self) -> Assignment:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError(f"'until' {self.valid_until} is before 'from' {self.valid_from}")
        return self

    def covers(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


def _assignments(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    return [{"id": item} if isinstance(item, str | int) else item for item in value]


class Budget(_Strict):
    """A monthly budget in the bill's currency, with alert thresholds in percent."""

    monthly: Decimal = Field(gt=0)
    thresholds: list[Decimal] = Field(default_factory=lambda: [Decimal(50), Decimal(80), Decimal(100)])
    currency: str | None = None

    @field_validator("monthly", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        return str(value) if isinstance(value, float) else value

    @field_validator("thresholds", mode="before")
    @classmethod
    def _thresholds_no_float(cls, value: Any) -> Any:
        return [str(v) if isinstance(v, float) else v for v in value] if isinstance(value, list) else value


class CostCenter(_Strict):
    """Who pays: a team with owners who receive its statements and alerts."""

    name: str | None = None
    owners: list[str] = Field(default_factory=list)
    workspaces: list[Assignment] = Field(default_factory=list)
    api_keys: list[Assignment] = Field(default_factory=list)
    budget: Budget | None = None
    channels: list[str] | None = None  # alert channel names (see the alerts section); None = email owners
    locale: Literal["en", "zh"] | None = None

    _split_assignments = field_validator("workspaces", "api_keys", mode="before")(
        classmethod(lambda cls, v: _assignments(v))
    )

    @field_validator("owners")
    @classmethod
    def _emails(cls, owners: list[str]) -> list[str]:
        bad = [o for o in owners if not _EMAIL.match(o)]
        if bad:
            raise ValueError(f"not an email address: {', '.join(repr(b) for b in bad)}")
        return owners


class FixedShares(_Strict):
    """Percentages per cost center, summing to 100."""

    fixed: dict[str, Decimal]

    @model_validator(mode="after")
    def _sum_100(self) -> FixedShares:
        if not self.fixed:
            raise ValueError("fixed shares need at least one cost center")
        if any(v < 0 for v in self.fixed.values()):
            raise ValueError("fixed shares must not be negative")
        total = sum(self.fixed.values(), Decimal(0))
        if total != 100:
            raise ValueError(f"fixed shares must sum to 100, not {total}")
        return self


ShareRule = Literal["keep", "even", "proportional"] | FixedShares


class SharedCosts(_Strict):
    """How the pools that no API key pays for are shared."""

    console: ShareRule = "keep"
    unmapped: ShareRule = "keep"


class Mapping(_Strict):
    """The validated mapping file."""

    cost_centers: dict[str, CostCenter] = Field(default_factory=dict)
    shared_costs: SharedCosts = Field(default_factory=SharedCosts)
    workspace_labels: dict[str, str] = Field(default_factory=dict)
    alerts: dict[str, Any] | None = None
    statements: dict[str, Any] | None = None
    delivery: dict[str, Any] | None = None
    prices: list[dict[str, Any]] | None = None
    version: str = "none"  # content hash of the file; 'none' without a mapping file

    @field_validator("cost_centers")
    @classmethod
    def _ids(cls, centers: dict[str, CostCenter]) -> dict[str, CostCenter]:
        bad = [c for c in centers if not _ID.match(c) or c == "unallocated"]
        if bad:
            raise ValueError(f"cost center ids must be [A-Za-z0-9_.:-] and not 'unallocated': {bad}")
        return centers

    @model_validator(mode="after")
    def _consistent(self) -> Mapping:
        problems: list[str] = []
        for pool in ("console", "unmapped"):
            rule = getattr(self.shared_costs, pool)
            if isinstance(rule, FixedShares):
                unknown = sorted(set(rule.fixed) - set(self.cost_centers))
                if unknown:
                    problems.append(f"shared_costs.{pool}.fixed names unknown cost centers {unknown}")
        for kind in ("api_keys", "workspaces"):
            seen: dict[str, list[tuple[str, Assignment]]] = {}
            for center_id, center in self.cost_centers.items():
                for item in getattr(center, kind):
                    seen.setdefault(item.id, []).append((center_id, item))
            for item_id, owners in seen.items():
                for i, (c1, a1) in enumerate(owners):
                    for c2, a2 in owners[i + 1 :]:
                        if _overlap(a1, a2):
                            problems.append(f"{kind} {item_id!r} is assigned to both {c1!r} and {c2!r} "
                                            "for overlapping dates")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def is_default(self) -> bool:
        """True when there was no mapping file: every workspace is its own cost center."""
        return self.version == "none"

    def cost_center_name(self, center_id: str) -> str:
        center = self.cost_centers.get(center_id)
        if center and center.name:
            return center.name
        return self.workspace_labels.get(center_id, center_id)

    def key_owner(self, api_key_id: str, day: date) -> str | None:
        """The cost center of an API key on ``day``, or None."""
        if not api_key_id:
            return None
        for center_id, center in self.cost_centers.items():
            if any(a.id == api_key_id and a.covers(day) for a in center.api_keys):
                return center_id
        return None

    def workspace_owner(self, workspace_id: str, day: date) -> str | None:
        """The cost center of a workspace on ``day``; without a mapping file, the workspace itself."""
        if self.is_default:
            return workspace_id or None
        for center_id, center in self.cost_centers.items():
            if any(a.id == workspace_id and a.covers(day) for a in center.workspaces):
                return center_id
        return None

    def knows_api_key(self, api_key_id: str) -> bool:
        return any(a.id == api_key_id for c in self.cost_centers.values() for a in c.api_keys)

    def knows_workspace(self, workspace_id: str) -> bool:
        return self.is_default or any(
            a.id == workspace_id for c in self.cost_centers.values() for a in c.workspaces
        )


def _overlap(a: Assignment, b: Assignment) -> bool:
    start = max(a.valid_from or date.min, b.valid_from or date.min)
    end = min(a.valid_until or date.max, b.valid_until or date.max)
    return start <= end


DEFAULT_MAPPING = Mapping()


def parse_mapping(text: str | bytes, source: str = "mapping") -> Mapping:
    """Validate mapping YAML; a ConfigError lists every bad field with its path."""
    raw_bytes = text.encode() if isinstance(text, str) else text
    try:
        data = yaml.safe_load(raw_bytes) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"not valid YAML: {getattr(exc, 'problem', exc)}", source=source, line=line) from None
    if not isinstance(data, dict):
        raise ConfigError("the mapping must be a YAML mapping with 'cost_centers'", source=source)
    data["version"] = hashlib.sha256(raw_bytes).hexdigest()[:16]
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            path = ".".join(str(p) for p in error["loc"] if not str(p).startswith(("function-", "literal[")))
            problems.append(f"{path or '(top)'}: {error['msg']}")
        raise ConfigError("invalid mapping: " + "; ".join(problems), source=source) from None


def load_mapping(path: str | Path | None) -> Mapping:
    """The mapping in ``path``, or the default (every workspace its own cost center) when None."""
    if path is None:
        return DEFAULT_MAPPING
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the mapping file: {exc.strerror}", source=str(file)) from None
    return parse_mapping(text, source=str(file))
