"""The configuration file (``--mapping``, ``CHARGEBACK_MAPPING_URL``): read once into one typed ``ConfigFile``.

    cost_centers / shared_costs / workspace_labels   who pays           chargeback.config.cost_centers
    alerts                                           alert rules        chargeback.config.alerts
    statements                                       monthly statements chargeback.config.statements
    delivery                                         how mail leaves    chargeback.config.delivery
    prices / pricing                                 price overrides    chargeback.config.prices

Each section is validated, then the references between sections (channels named by cost centers and budgets
exist, fixed shares and budgets name known cost centers, budget currencies are bill currencies, no API key or
workspace is owned by two cost centers on the same day), so a bad file fails before any bill is read, with
every problem, its YAML path and its line listed at once. Without a file every workspace is its own cost center.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import Field

from chargeback.columns import UNALLOCATED
from chargeback.config.alerts import OWNERS, AlertSettings, EmailChannelSettings
from chargeback.config.cost_centers import Assignment, CostCenter, FixedShares, SharedCosts
from chargeback.config.delivery import DeliverySettings
from chargeback.config.fields import Section
from chargeback.config.prices import BILL_CURRENCIES, EntrySpec, PricingSettings
from chargeback.config.problems import Problem, dotted, raise_problems, suggestion, validate
from chargeback.config.statements import StatementSettings
from chargeback.config.yaml_source import YamlDocument, read_yaml
from chargeback.errors import ConfigError

NO_FILE = "none"
"""The version of the configuration when there is no file."""

_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")


class ConfigFile(Section):
    """The validated configuration file. ``version`` is a hash of its bytes ('none' without a file)."""

    cost_centers: dict[str, CostCenter] = Field(default_factory=dict)
    shared_costs: SharedCosts = Field(default_factory=SharedCosts)
    workspace_labels: dict[str, str] = Field(default_factory=dict)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    statements: StatementSettings = Field(default_factory=StatementSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    prices: list[EntrySpec] = Field(default_factory=list)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    version: str = Field(default=NO_FILE, exclude=True)
    source: str = Field(default="", exclude=True)

    @property
    def is_default(self) -> bool:
        """True when there was no file: every workspace is its own cost center."""
        return self.version == NO_FILE

    def cost_center_name(self, center_id: str) -> str:
        center = self.cost_centers.get(center_id)
        if center and center.name:
            return center.name
        return self.workspace_labels.get(center_id, center_id)

    def cost_center_path(self, center_id: str) -> str:
        """The cost center under its parents, 'company/platform/search'; a cost center without parent is itself."""
        return center_id

    def key_owner(self, api_key_id: str, day: date) -> str | None:
        """The cost center of an API key on ``day``, or None."""
        if not api_key_id:
            return None
        for center_id, center in self.cost_centers.items():
            if any(a.id == api_key_id and a.covers(day) for a in center.api_keys):
                return center_id
        return None

    def workspace_owner(self, workspace_id: str, day: date) -> str | None:
        """The cost center of a workspace on ``day``; without a file, the workspace itself."""
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

    def assignments(self, kind: str) -> Iterable[tuple[str, Assignment]]:
        """(cost center, assignment) of every API key (``kind='api_keys'``) or workspace (``'workspaces'``)."""
        for center_id, center in self.cost_centers.items():
            for item in getattr(center, kind):
                yield center_id, item


DEFAULT_CONFIG = ConfigFile()
SECTIONS: tuple[str, ...] = tuple(name for name, info in ConfigFile.model_fields.items() if not info.exclude)


def parse_config_file(text: str | bytes, source: str = "mapping") -> ConfigFile:
    """Validate configuration YAML; a ConfigError lists every problem with its path and line."""
    raw = text.encode() if isinstance(text, str) else text
    document = read_yaml(raw, source, keep_problems=True)
    if not isinstance(document.data, dict):
        raise ConfigError("the file must be a YAML mapping of sections (cost_centers:, alerts:, ...)",
                          source=source, line=document.line_of(()))
    sections, problems = _validated_sections(document)
    problems = [*document.problems, *problems, *_references(sections, document)]
    if problems:
        raise_problems(problems, source)
    version = hashlib.sha256(raw).hexdigest()[:16]
    return ConfigFile(**sections, version=version, source=source)


def load_config_file(path: str | Path | None) -> ConfigFile:
    """The configuration file at ``path``, or the default (every workspace its own cost center) when None."""
    if path is None:
        return DEFAULT_CONFIG
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the mapping file: {exc.strerror}", source=str(file)) from None
    return parse_config_file(text, source=str(file))


def _validated_sections(document: YamlDocument) -> tuple[dict[str, Any], list[Problem]]:
    """Each top-level section validated on its own, so one bad section does not hide the others' problems.

    Returns the valid sections (a section left out or left empty is absent: its defaults apply).
    """
    data: dict[Any, Any] = document.data
    problems = [Problem(dotted((key,)), f"unknown section {key!r}" + (suggestion(str(key), SECTIONS)
                                                                     or f" (known: {', '.join(SECTIONS)})"),
                        document.line_of((key,)))
                for key in data if key not in SECTIONS]
    sections: dict[str, Any] = {}
    for name in SECTIONS:
        if data.get(name) is None:  # left out, or `alerts:` with nothing under it
            continue
        valid, found = validate(ConfigFile.model_fields[name].annotation, data[name], document, (name,))
        problems += found
        if not found:
            sections[name] = valid
    return sections, problems


def _section(sections: dict[str, Any], document: YamlDocument, name: str) -> Any:
    """The valid section ``name``, its default when the file leaves it out, or None when it is invalid."""
    if name in sections:
        return sections[name]
    if document.data.get(name) is None:
        return ConfigFile.model_fields[name].get_default(call_default_factory=True)
    return None


def _references(sections: dict[str, Any], document: YamlDocument) -> list[Problem]:
    """Rules between sections, checked on the sections that are valid themselves."""
    problems: list[Problem] = []

    def problem(path: tuple[Any, ...], message: str) -> None:
        problems.append(Problem(dotted(path), message, document.line_of(path)))

    centers = _section(sections, document, "cost_centers")
    if centers is None:  # some cost centers are invalid: check the references of the valid ones
        raw = document.data["cost_centers"]
        if not isinstance(raw, dict):
            return problems
        centers = {}
        for center_id, value in raw.items():
            valid, found = validate(CostCenter, value, document, ("cost_centers", center_id))
            if not found:
                centers[center_id] = valid
        named = set(raw)
    else:
        named = set(centers)
    shared: SharedCosts | None = _section(sections, document, "shared_costs")
    alerts: AlertSettings | None = _section(sections, document, "alerts")
    for center_id, center in centers.items():
        if not set(center_id) <= _ID_CHARACTERS or center_id == UNALLOCATED:
            problem(("cost_centers", center_id), "a cost center ID is letters, digits, '_', '.', ':' or '-' "
                                                 f"and not '{UNALLOCATED}'")
        if center.budget is not None and center.budget.currency is not None:
            _currency(("cost_centers", center_id, "budget", "currency"), center.budget.currency, problem)
    _overlaps(centers, problem)
    for pool in ("console", "unmapped"):
        rule = getattr(shared, pool, None)
        if isinstance(rule, FixedShares):
            for name in rule.fixed:
                if name not in named:
                    problem(("shared_costs", pool, "fixed", name),
                            f"unknown cost center {name!r}" + suggestion(name, named))
    if alerts is not None:
        _channel_references(alerts, centers, named, problem)
    return problems


Report = Callable[[tuple[Any, ...], str], None]
_LABELS = {"api_keys": "API key", "workspaces": "workspace"}


def _overlaps(centers: dict[str, CostCenter], problem: Report) -> None:
    for kind in ("api_keys", "workspaces"):
        claims: dict[str, list[tuple[str, int, Assignment]]] = {}
        for center_id, center in centers.items():
            for index, item in enumerate(getattr(center, kind)):
                claims.setdefault(item.id, []).append((center_id, index, item))
        for item_id, owners in claims.items():
            for i, (first, _, a1) in enumerate(owners):
                for second, index, a2 in owners[i + 1:]:
                    if a1.overlaps(a2):
                        both = f"both {first!r} and {second!r}" if first != second else f"{first!r} twice"
                        problem(("cost_centers", second, kind, index),
                                f"{_LABELS[kind]} {item_id!r} is assigned to {both} for overlapping dates")


def _currency(path: tuple[Any, ...], currency: str, problem: Report) -> None:
    if currency not in BILL_CURRENCIES:
        problem(path, f"{currency!r} is not a currency Model Studio bills in ({', '.join(BILL_CURRENCIES)})"
                + suggestion(currency.upper(), BILL_CURRENCIES))


def _channel_references(alerts: AlertSettings, centers: dict[str, CostCenter], named: set[str],
                        problem: Report) -> None:
    known = [*alerts.channels, OWNERS]
    references: list[tuple[tuple[Any, ...], list[str]]] = [(("alerts", "default_channels"),
                                                             alerts.default_channels)]
    for center_id, center in centers.items():
        if center.channels is not None:
            references.append((("cost_centers", center_id, "channels"), center.channels))
    for index, budget in enumerate(alerts.budgets):
        if budget.channels is not None:
            references.append((("alerts", "budgets", index, "channels"), budget.channels))
        if budget.cost_center and budget.cost_center not in named:
            problem(("alerts", "budgets", index, "cost_center"),
                    f"unknown cost center {budget.cost_center!r}" + suggestion(budget.cost_center, named))
        if budget.currency is not None:
            _currency(("alerts", "budgets", index, "currency"), budget.currency, problem)
    for path, names in references:
        for index, name in enumerate(names):
            if name not in known:
                problem((*path, index), f"unknown channel {name!r} (define it under alerts.channels)"
                        + suggestion(name, known))
    for name, channel in alerts.channels.items():
        if isinstance(channel, EmailChannelSettings) and not channel.to and name in alerts.default_channels:
            problem(("alerts", "channels", name), "an e-mail channel in default_channels needs 'to'")
