"""YAML for configuration: plain data with the line of every value, and YAML's traps refused with a clear word.

``read_yaml(text, source)`` composes PyYAML's node tree (safe tags only) and builds the data from it itself,
recording the line of each value by its path, e.g. ``("cost_centers", "search", "owners", 0)``, so that every
problem found later can name its line. Refused on load, each with its line and all at once:

- a key written twice in one mapping (YAML would silently keep the second);
- numbers YAML 1.1 reads in a surprising way: ``0123456`` (octal: 42798), ``0x1A``, ``1_000``, ``+5``,
  ``1:30`` (base 60). In quotes they stay text, as API key IDs must;
- dates that do not exist (``2026-13-45``) and tags PyYAML's safe loader does not know;
- nesting deeper than ``MAX_DEPTH`` levels, and documents that expand past ``MAX_VALUES`` values through
  anchors and aliases (the "billion laughs").

Floats keep the text they were written with (``YamlFloat.text``), so a decimal read from one stays exact.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from chargeback.config.problems import Path, Problem, dotted, raise_problems
from chargeback.errors import ConfigError

MAX_DEPTH = 50
# libyaml's parser where PyYAML was built with it: the same events and nodes (with their lines), about ten
# times faster than the pure-Python one (the shipped price catalog alone took about 0.4 s to compose)
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_VALUES = 100_000

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
_PLAIN_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")


class YamlFloat(float):
    """A float that remembers how it was written (``0.1`` stays ``'0.1'`` for a Decimal)."""

    text: str | None

    def __new__(cls, value: float, text: str | None = None) -> YamlFloat:
        number = super().__new__(cls, value)
        number.text = text
        return number


@dataclass(frozen=True)
class YamlDocument:
    """Data read from YAML, with the line (1-based) of every value by its path."""

    data: Any
    source: str
    lines: Mapping[Path, int] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    """What the loader refused (with ``keep_problems``); the data holds the first of duplicate keys and the
    text of numbers YAML would misread."""

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest parent that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None


def read_yaml(text: str | bytes, source: str, *, keep_problems: bool = False) -> YamlDocument:
    """Parse one YAML document; a ConfigError names every problem with its line. Empty text is ``{}``.

    With ``keep_problems`` the problems the loader can read past (duplicate keys, misread numbers, bad dates)
    are returned in ``problems`` instead, so that the caller can list them with its own.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"not UTF-8 text (byte {exc.start} cannot be read)", source=source) from None
    _check_nesting(text, source)
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        error = exc
        try:  # PyYAML's own words for the error, as for a parse error
            yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as own:
            error = own
        raise _syntax_error(error, source) from None
    if root is None:
        return YamlDocument({}, source)
    builder = _Builder()
    try:
        data = builder.build(root, (), 0)
    except _TooLarge as exc:
        raise ConfigError(str(exc), source=source, line=exc.line) from None
    if builder.problems and not keep_problems:
        raise_problems(builder.problems, source)
    return YamlDocument(data, source, builder.lines, tuple(builder.problems))


def _syntax_error(exc: yaml.YAMLError, source: str) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    return ConfigError(message, source=source, line=mark.line + 1 if mark is not None else None)


def _check_nesting(text: str, source: str, loader: type[yaml.SafeLoader] = _LOADER) -> None:
    """Refuse deep nesting before composing: PyYAML composes recursively and would exhaust the stack.

    A document libyaml refuses is parsed again by PyYAML's own parser, so that the error says what it always
    said (only bad input pays for that)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise ConfigError(f"the YAML is nested more than {MAX_DEPTH} levels deep",
                                      source=source, line=mark.line + 1 if mark is not None else None)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        if loader is not yaml.SafeLoader:
            _check_nesting(text, source, yaml.SafeLoader)
        raise _syntax_error(exc, source) from None


class _TooLarge(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class _Builder:
    """Builds Python data from a node tree, recording lines and collecting problems."""

    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}
        self.problems: list[Problem] = []
        self.count = 0
        self.scalars = SafeConstructor()

    def problem(self, path: Path, node: Node, message: str) -> None:
        self.problems.append(Problem(dotted(path), message, node.start_mark.line + 1))

    def build(self, node: Node, path: Path, depth: int) -> Any:
        self.count += 1
        line = node.start_mark.line + 1
        if self.count > MAX_VALUES:
            raise _TooLarge(f"the YAML expands to more than {MAX_VALUES:,} values (anchors and aliases repeat "
                            "what they name): write the values out", line)
        if depth > MAX_DEPTH:
            raise _TooLarge(f"the YAML is nested more than {MAX_DEPTH} levels deep (through aliases)", line)
        self.lines.setdefault(path, line)
        if isinstance(node, MappingNode | SequenceNode) and node.tag not in _COLLECTION_TAGS:
            self.problem(path, node, f"the tag {node.tag!r} is not supported here: write plain YAML")
            return None
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, index), depth + 1) for index, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self.scalar(node, path)

    def mapping(self, node: MappingNode, path: Path, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged = {**self.merge_sources(value_node, path, depth), **merged}
                continue
            if not isinstance(key_node, ScalarNode):
                self.problem(path, key_node, "a key must be a plain value, not a list or a mapping")
                continue
            key = self.scalar(key_node, path)
            line = key_node.start_mark.line + 1
            if key in seen:
                self.problem((*path, key), key_node, f"{key!r} is defined twice (lines {seen[key]} and {line}): "
                                                     "keep one")
                continue
            seen[key] = line
            self.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key), depth + 1)
        for key, value in merged.items():  # explicit keys win over merged ones (YAML's merge key)
            result.setdefault(key, value)
        return result

    def merge_sources(self, node: Node, path: Path, depth: int) -> dict[Any, Any]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        merged: dict[Any, Any] = {}
        for source in sources:
            if not isinstance(source, MappingNode):
                self.problem(path, source, "'<<' merges mappings only")
                continue
            for key, value in self.mapping(source, path, depth + 1).items():
                merged.setdefault(key, value)  # the first source that names a key wins
        return merged

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        try:
            value = self.scalars.construct_object(node)
        except ConstructorError as exc:
            self.problem(path, node, f"cannot read {node.value!r}: {exc.problem}")
            return None
        except ValueError:  # the timestamp constructor on a date that does not exist
            self.problem(path, node, f"{node.value!r} is not a real date (write YYYY-MM-DD)")
            return None
        if node.tag == _INT_TAG and not _PLAIN_INT.match(node.value):
            self.problem(path, node, f"YAML reads {node.value} as the number {value}: write it in quotes "
                                     f"(\"{node.value}\") if it is an ID, or as {value} if it is a number")
            return node.value
        if node.tag == _FLOAT_TAG:
            return YamlFloat(value, node.value)
        return value
