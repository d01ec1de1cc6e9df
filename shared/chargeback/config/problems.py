"""Configuration problems in words a person can act on: where (YAML path and line, or variable), and what.

Every check of the configuration (the YAML loader, the section models, the cross-section references, the
environment and the resolution of the two) reports ``Problem``s; ``raise_problems`` turns them into one
``ConfigError`` that lists them all. ``validate`` runs a section model and translates the validator's
errors: plain words instead of its jargon, the line from the YAML, and "did you mean" for a mistyped key or
choice.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn, Union, get_args, get_origin

from pydantic import BaseModel, Tag, TypeAdapter, ValidationError

from chargeback.errors import ConfigError, located

if TYPE_CHECKING:
    from chargeback.config.yaml_source import YamlDocument

Path = tuple[Any, ...]
"""Keys and list indexes from the document's top: ("cost_centers", "search", "owners", 0)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong: ``where`` is a YAML path (``cost_centers.search.owners[0]``) or a variable name; in a
    file the configuration names (``source``: an inventory or rates CSV), the column."""

    where: str
    message: str
    line: int | None = None
    source: str = ""  # '' for the configuration file itself

    def __str__(self) -> str:
        if self.source:
            return located(self.message, source=self.source, line=self.line, field=self.where)
        place = f"line {self.line}, " if self.line is not None else ""
        return f"{place}{self.where}: {self.message}" if self.where else f"{place}{self.message}"


def dotted(path: Path) -> str:
    """('cost_centers', 'search', 'owners', 0) -> 'cost_centers.search.owners[0]'."""
    text = ""
    for element in path:
        if isinstance(element, int) and not isinstance(element, bool):
            text += f"[{element}]"
        else:
            text += f".{element}" if text else str(element)
    return text


def raise_problems(problems: Sequence[Problem], source: str) -> NoReturn:
    """One ConfigError listing every problem (in line order), each with its place."""
    ordered = sorted(problems, key=lambda p: (p.source, p.line or 0))
    if len(ordered) == 1:
        [problem] = ordered
        if problem.source:
            raise ConfigError(problem.message, source=problem.source, line=problem.line, field=problem.where)
        message = f"{problem.where}: {problem.message}" if problem.where else problem.message
        raise ConfigError(message, source=source, line=problem.line)
    listed = "\n".join(f"  {problem}" for problem in ordered)
    raise ConfigError(f"{len(ordered)} problems:\n{listed}", source=source)


# validating a section


@cache
def _cached_adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def _adapter(kind: Any) -> TypeAdapter[Any]:
    try:
        return _cached_adapter(kind)
    except TypeError:  # an unhashable type expression: build it each time
        return TypeAdapter(kind)


def validate(kind: Any, value: Any, document: YamlDocument, path: Path = ()) -> tuple[Any, list[Problem]]:
    """``value`` (found at ``path`` in ``document``) validated as ``kind``: (result, []) or (None, problems)."""
    try:
        return _adapter(kind).validate_python(value), []
    except ValidationError as exc:
        return None, [_problem(error, kind, value, document, path) for error in exc.errors()]


def _problem(error: Any, kind: Any, value: Any, document: YamlDocument, path: Path) -> Problem:
    loc = tuple(error["loc"])
    real = _data_path(loc, value, missing=error["type"] == "missing")
    line = document.line_of((*path, *real)) if real or path else document.line_of(())
    return Problem(dotted((*path, *real)), _plain(error, kind, loc), line)


def _data_path(loc: Path, value: Any, *, missing: bool) -> Path:
    """The part of a validator's location that names data: union tags and validator names are left out."""
    real: list[Any] = []
    current = value
    for index, element in enumerate(loc):
        in_data = (isinstance(current, dict) and element in current) or (
            isinstance(current, list) and isinstance(element, int) and 0 <= element < len(current))
        if in_data:
            current = current[element]
        elif not (missing and index == len(loc) - 1):
            continue
        real.append(element)
    return tuple(real)


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _plain(error: Any, kind: Any, loc: Path) -> str:
    kind_name = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    if kind_name == "missing":
        return "required"
    if kind_name == "extra_forbidden":
        return _unknown_key(loc[-1] if loc else "", _keys_at(kind, loc[:-1]))
    if kind_name in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind_name == "literal_error":
        expected = str(ctx.get("expected", ""))
        return f"must be {expected}, not {_kind_of(given)}" + suggestion(given, _literal_choices(expected))
    if kind_name == "union_tag_invalid":
        tags = str(ctx.get("expected_tags", ""))
        return f"type {ctx.get('tag')!r} is not one of {tags}" + suggestion(ctx.get("tag"), _literal_choices(tags))
    if kind_name == "union_tag_not_found":
        return f"needs {ctx.get('discriminator', 'a type')}"
    simple = {
        "string_type": "must be text", "int_type": "must be a whole number", "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number", "float_type": "must be a number",
        "float_parsing": "must be a number", "decimal_type": "must be a number",
        "decimal_parsing": "must be a number", "finite_number": "must be a finite number",
        "bool_type": "must be true or false", "bool_parsing": "must be true or false",
        "dict_type": "must be a mapping (key: value)", "model_type": "must be a mapping (key: value)",
        "model_attributes_type": "must be a mapping (key: value)", "list_type": "must be a list",
        "tuple_type": "must be a list", "date_type": "must be a date (YYYY-MM-DD)",
        "date_parsing": "must be a date (YYYY-MM-DD)", "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
        "date_from_datetime_inexact": "must be a date without a time (YYYY-MM-DD)",
        "datetime_type": "must be a date or a time (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss)",
        "datetime_parsing": "must be a date or a time (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss)",
        "datetime_from_date_parsing": "must be a date or a time (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss)",
    }
    if kind_name in simple:
        return f"{simple[kind_name]}, not {_kind_of(given)}"
    bounds = {"greater_than": ("more than", "gt"), "greater_than_equal": ("at least", "ge"),
              "less_than": ("less than", "lt"), "less_than_equal": ("at most", "le")}
    if kind_name in bounds:
        words, key = bounds[kind_name]
        return f"must be {words} {ctx.get(key)}, not {given}"
    if kind_name in ("too_short", "string_too_short"):
        return "must not be empty" if ctx.get("min_length") == 1 else f"needs at least {ctx.get('min_length')}"
    if kind_name in ("too_long", "string_too_long"):
        return f"must have at most {ctx.get('max_length')}"
    return str(error.get("msg", "is not valid")).removeprefix("Value error, ")


def _literal_choices(expected: str) -> list[str]:
    return [part.strip().strip("'\"") for part in expected.replace(" or ", ",").split(",") if part.strip()]


def suggestion(given: Any, choices: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the choice closest to ``given``, or ''."""
    if not isinstance(given, str):
        return ""
    close = difflib.get_close_matches(given, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _unknown_key(key: Any, known: list[str] | None) -> str:
    message = f"unknown key {key!r}"
    if not known:
        return message
    hint = suggestion(str(key), known)
    return message + hint if hint else f"{message} (known keys: {', '.join(known)})"


# the model behind a location, for the keys it knows


def _keys_at(kind: Any, loc: Path) -> list[str] | None:
    current: Any = kind
    for element in loc:
        current = _step(current, element)
        if current is None:
            return None
    current = _strip(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items() if not info.exclude]
    return None


def _strip(kind: Any) -> Any:
    while True:
        origin = get_origin(kind)
        if origin is Annotated:
            kind = get_args(kind)[0]
        elif origin in (Union, types.UnionType):
            members = [m for m in get_args(kind) if m is not type(None)]
            if len(members) != 1:
                return kind
            kind = members[0]
        else:
            return kind


def _step(kind: Any, element: Any) -> Any:
    kind = _strip(kind)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        for name, info in kind.model_fields.items():
            if element in (name, info.alias):
                return info.annotation
        return None
    origin = get_origin(kind)
    if origin is dict:
        return get_args(kind)[1]
    if origin in (list, tuple):
        return get_args(kind)[0]
    if origin in (Union, types.UnionType):
        for member in get_args(kind):
            if _is_member(member, element):
                return member
    return None


def _is_member(member: Any, element: Any) -> bool:
    """Whether ``element`` (a union tag in a location) names ``member`` of the union."""
    if get_origin(member) is Annotated and any(isinstance(m, Tag) and m.tag == element
                                               for m in get_args(member)[1:]):
        return True
    model = _strip(member)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return False
    if model.__name__ == element:
        return True
    type_field = model.model_fields.get("type")
    return type_field is not None and get_origin(type_field.annotation) is Literal and element in get_args(
        type_field.annotation)
