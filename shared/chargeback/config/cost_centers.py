"""Who pays: the ``cost_centers``, ``shared_costs`` and ``workspace_labels`` sections of the configuration file.

    cost_centers:
      search:   {name: Search team, owners: [lead@example.com], workspaces: [llm-...], api_keys: ["2100001"]}
      research: {parent: search, api_keys: [{id: "2300002", from: 2026-05-10}]}
    shared_costs:
      console: proportional     # keep | even | proportional | {fixed: {search: 60, research: 40}}
      unmapped: keep
    workspace_labels: {llm-...: Production}

Rules between sections (fixed shares and parents naming known cost centers, no cycle of parents, an API key
owned twice on overlapping dates) are checked in ``chargeback.config.file``, where the whole file is known.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator, model_validator

from chargeback.config.fields import EmailAddresses, Exact, ExactList, Identifier, Section


class Dated(Section):
    """Something that holds only between two dates (inclusive), ``from`` and ``until`` in the file."""

    valid_from: date | None = Field(default=None, alias="from")
    valid_until: date | None = Field(default=None, alias="until")

    @model_validator(mode="after")
    def _ordered(self) -> Dated:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError(f"'until' {self.valid_until} is before 'from' {self.valid_from}")
        return self

    def covers(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )

    def covers_some_day(self, first: date, last: date) -> bool:
        """Whether it holds on any day from ``first`` to ``last`` (inclusive)."""
        return max(self.valid_from or date.min, first) <= min(self.valid_until or date.max, last)


class Assignment(Dated):
    """An API key or workspace assigned to a cost center, optionally only between two dates (inclusive) and,
    for an API key, only for its lines in one workspace."""

    id: Identifier
    workspace: Identifier | None = None

    def applies(self, day: date, workspace: str) -> bool:
        """Whether the assignment holds for a line of ``workspace`` on ``day``."""
        return self.covers(day) and (self.workspace is None or self.workspace == workspace)

    def overlaps(self, other: Assignment) -> bool:
        """Whether both hold for some line: a day in common, and the same workspace or either without one."""
        if self.workspace is not None and other.workspace is not None and self.workspace != other.workspace:
            return False
        return self.covers_some_day(other.valid_from or date.min, other.valid_until or date.max)


def _assignments(value: Any) -> Any:
    """``["2100001", {id: "2300002", from: ...}]``: a bare ID is an assignment without dates."""
    if not isinstance(value, list):
        return value
    return [{"id": item} if isinstance(item, str | int) and not isinstance(item, bool) else item for item in value]


Assignments = Annotated[list[Assignment], BeforeValidator(_assignments)]
DEFAULT_THRESHOLDS = (50, 80, 100)


class Budget(Section):
    """A monthly budget in the bill's currency, with alert thresholds in percent."""

    monthly: Exact = Field(gt=0)
    thresholds: ExactList = Field(default_factory=lambda: [Decimal(t) for t in DEFAULT_THRESHOLDS])
    currency: str | None = None

    @field_validator("thresholds")
    @classmethod
    def _positive(cls, values: list[Any]) -> list[Any]:
        if any(v <= 0 for v in values):
            raise ValueError("thresholds are percentages above 0")
        return values


class CostCenter(Section):
    """Who pays: a team with owners who receive its statements and alerts."""

    name: str | None = None
    parent: Identifier | None = None  # the cost center above this one: its statements and budget include ours
    owners: EmailAddresses = Field(default_factory=list)
    workspaces: Assignments = Field(default_factory=list)
    api_keys: Assignments = Field(default_factory=list)
    budget: Budget | None = None
    channels: list[str] | None = None  # alert channel names (the alerts section); None = e-mail the owners
    locale: Literal["en", "zh"] | None = None


class FixedShares(Section):
    """Percentages per cost center, summing to 100."""

    fixed: dict[str, Exact]

    @model_validator(mode="after")
    def _sum_100(self) -> FixedShares:
        if not self.fixed:
            raise ValueError("fixed shares need at least one cost center")
        if any(v < 0 for v in self.fixed.values()):
            raise ValueError("fixed shares must not be negative")
        total = sum(self.fixed.values())
        if total != 100:
            raise ValueError(f"fixed shares must sum to 100, not {total}")
        return self


RULES = ("keep", "even", "proportional")


def _known_rule(value: Any) -> Any:
    if isinstance(value, str) and value not in RULES:
        raise ValueError(f"{value!r} is not a rule: write keep, even, proportional or {{fixed: {{center: percent}}}}")
    return value


def _rule_kind(value: Any) -> str:
    return "rule" if isinstance(value, str) else "fixed-shares"


ShareRule = Annotated[
    Annotated[Literal["keep", "even", "proportional"], BeforeValidator(_known_rule), Tag("rule")]
    | Annotated[FixedShares, Tag("fixed-shares")],
    Discriminator(_rule_kind),
]


class SharedCosts(Section):
    """How the pools that no API key pays for are shared."""

    console: ShareRule = "keep"
    unmapped: ShareRule = "keep"
