"""Who pays beyond keys and workspaces: the ``rules`` and ``usage_splits`` sections of the configuration file.

    rules:                                   # ordered: the first rule that matches a line decides
      - {match: {model: "qwen-max*", workspace: llm-abcd1234efgh5678}, cost_center: research}
      - {match: {call_source: console}, cost_center: platform, from: 2026-06-01, name: console-to-platform}
      - {match: {tag.team: search}, cost_center: search}
    usage_splits:                            # an API key shared behind a gateway, split by its usage log
      - {api_key: "2100001", source: usage/gateway.csv, consumers: {team-a: search, team-b: labs}}

A match holds when every one of its keys holds. A value is the exact text, or a pattern in which ``*`` stands
for any run of characters; a pattern never matches an empty value (``api_key: "*"`` is every line with an API
key); ``""`` matches lines without a value. Each match key reads one column of the normalized lines
(``MATCH_COLUMNS``); ``tag.<key>`` reads the value of that tag in ``tags`` (``key=value`` pairs joined by ``;``).

The checks that need the whole file (the cost centers a rule or a consumer names exist) run in
``chargeback.config.file``; ``check_rules`` finds what is wrong within the rules themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from chargeback.config.cost_centers import Dated
from chargeback.config.fields import Identifier, Section
from chargeback.config.problems import suggestion

MATCH_COLUMNS: dict[str, str] = {
    "account": "account_id",
    "workspace": "workspace_id",
    "api_key": "api_key_id",
    "model": "model",
    "usage_type": "usage_type",
    "io_type": "io_type",
    "call_source": "call_source",
    "channel": "channel",
    "region": "region",
    "resource_group": "resource_group",
    "cost_unit": "cost_unit",
}
"""Match key -> the normalized line column it reads."""
TAG_PREFIX = "tag."
TAGS_COLUMN = "tags"
MATCH_KEYS: tuple[str, ...] = (*MATCH_COLUMNS, "tag.<key>")
WILDCARD = "*"
_NOT_WILDCARDS = ("?", "[", "]", "{", "}")  # glob syntax of other tools: written here it would be taken literally


def _text(value: Any) -> Any:
    """A number YAML read (an account UID written without quotes) is the text it was written as."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


MatchValue = Annotated[str, BeforeValidator(_text)]


class Rule(Dated):
    """Lines that match go to ``cost_center``, between two dates (inclusive) when given."""

    match: dict[str, MatchValue] = Field(min_length=1)
    cost_center: Identifier
    name: Identifier | None = None  # names the rule in ``allocation_rule`` (rule:<name>), else its position

    def covers_all_of(self, other: Rule) -> bool:
        """Whether this rule holds on every day ``other`` holds."""
        return (self.valid_from is None or (other.valid_from is not None and self.valid_from <= other.valid_from)) \
            and (self.valid_until is None or (other.valid_until is not None and other.valid_until <= self.valid_until))

    def label(self, position: int) -> str:
        """The rule as ``allocation_rule`` names it: ``rule:<name>``, or ``rule:<position>`` (1-based)."""
        return f"rule:{self.name or position}"



class UsageSplit(Section):
    """An API key whose cost is split among its consumers by a usage file (date, consumer, tokens[, model])."""

    api_key: Identifier
    source: str = Field(min_length=1)  # relative to the configuration file, or a file://, s3:// or oss:// URL
    consumers: dict[str, Identifier] = Field(default_factory=dict)  # consumer -> cost center

    def cost_center_of(self, consumer: str, known: Callable[[str], bool]) -> str | None:
        """The cost center a consumer's share goes to: its mapping, else itself if it is a cost center."""
        if consumer in self.consumers:
            return self.consumers[consumer]
        return consumer if known(consumer) else None


_REGEX_METACHARACTERS = frozenset(".^$*+?()[]{}|\\")


def pattern_regex(pattern: str) -> str:
    """The anchored regular expression (RE2 and Python syntax alike) of a pattern with ``*`` wildcards.

    Matching it says whether a non-empty value matches; an exact value (no ``*``) is compared as text instead.
    """
    parts = ("".join("\\" + c if c in _REGEX_METACHARACTERS else c for c in part) for part in pattern.split(WILDCARD))
    return "(?s)^" + ".*".join(parts) + "$"


def tag_value(tags: str, key: str) -> str:
    """The value of tag ``key`` in ``tags`` ('team=search;env=prod'), '' when the line has no such tag."""
    for pair in tags.split(";") if tags else ():
        name, _, value = pair.partition("=")
        if name.strip() == key:
            return value.strip()
    return ""


def line_column(key: str) -> str:
    """The column of the normalized lines a match key reads."""
    return TAGS_COLUMN if key.startswith(TAG_PREFIX) else MATCH_COLUMNS[key]


def check_rules(rules: list[Rule], report: Callable[[tuple[Any, ...], str], None],
                positions: list[int] | None = None) -> None:
    """Report each unknown match key, pattern other tools' syntax would mislead, repeated name and dead rule.

    ``positions`` are the rules' places in the file when only some of its rules are given (the valid ones).
    """
    names: dict[str, int] = {}
    places = positions if positions is not None else list(range(len(rules)))
    for order, (index, rule) in enumerate(zip(places, rules, strict=True)):
        for key, pattern in rule.match.items():
            where = ("rules", index, "match", key)
            if key.startswith(TAG_PREFIX):
                if not key[len(TAG_PREFIX):].strip():
                    report(where, "a tag match names its tag: tag.<key>, e.g. tag.team")
            elif key not in MATCH_COLUMNS:
                report(where, f"unknown match key {key!r}" + (suggestion(key, [*MATCH_COLUMNS, "tag.team"])
                                                              or f" (known: {', '.join(MATCH_KEYS)})"))
            bad = [c for c in _NOT_WILDCARDS if c in pattern]
            if bad:
                report(where, f"{pattern!r}: only '*' is a wildcard here ({' '.join(bad)} would be matched "
                              "literally): use '*'")
        if rule.name is not None:
            if rule.name in names:
                report(("rules", index, "name"), f"rule name {rule.name!r} is used by rule {names[rule.name] + 1} "
                                                 "too: names must be unique")
            names.setdefault(rule.name, index)
        for earlier, before in zip(places[:order], rules[:order], strict=True):
            if before.match == rule.match and before.covers_all_of(rule):
                report(("rules", index), f"this rule never applies: rule {earlier + 1} matches the same lines on "
                                         "every day it covers, and the first match wins")
                break


__all__ = ["MATCH_COLUMNS", "MATCH_KEYS", "Rule", "UsageSplit", "check_rules", "line_column", "pattern_regex",
           "tag_value"]
