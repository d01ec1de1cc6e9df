"""The configuration file (``--mapping``, ``CHARGEBACK_MAPPING_URL``): read once into one typed ``ConfigFile``.

    cost_centers / shared_costs / workspace_labels   who pays           chargeback.config.cost_centers
    rules / usage_splits                             who pays, by rule  chargeback.config.rules
    api_keys_file                                    an inventory CSV   chargeback.config.tables
    reporting                                        one more currency  chargeback.config.reporting
    workspace_owners                                 workspace statements' readers
    alerts                                           alert rules        chargeback.config.alerts
    statements                                       monthly statements chargeback.config.statements
    delivery                                         how mail leaves    chargeback.config.delivery
    prices / pricing                                 price overrides    chargeback.config.prices
    focus                                            the FOCUS export   chargeback.config.focus
    prepaid                                          prepaid plans      chargeback.config.prepaid

Each section is validated, then the files it names (the inventory and the rates, relative to the file or
storage URLs) and the references between sections (channels named by cost centers and budgets exist, fixed
shares, budgets, parents, rules and consumers name known cost centers, no cycle of parents, budget currencies
are bill currencies, no API key or workspace is owned by two cost centers on the same day), so a bad file fails
before any bill is read, with every problem, its YAML path (or CSV file) and its line listed at once. Usage
files change every day and are read when a month is allocated (``read_file``). Without a file every workspace
is its own cost center.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pydantic import Field, PrivateAttr

from chargeback.columns import UNALLOCATED
from chargeback.config.alerts import OWNERS, AlertSettings, EmailChannelSettings
from chargeback.config.cost_centers import Assignment, CostCenter, FixedShares, SharedCosts
from chargeback.config.delivery import DeliverySettings
from chargeback.config.fields import EmailAddresses, Identifier, Section
from chargeback.config.focus import FocusSettings
from chargeback.config.prepaid import PrepaidSettings
from chargeback.config.prices import BILL_CURRENCIES, EntrySpec, PricingSettings
from chargeback.config.problems import Problem, dotted, raise_problems, suggestion, validate
from chargeback.config.reporting import ReportingSettings
from chargeback.config.rules import Rule, UsageSplit, check_rules
from chargeback.config.statements import StatementSettings
from chargeback.config.tables import ExchangeRates, InventoryKey, read_inventory, read_rates
from chargeback.config.yaml_source import YamlDocument, read_yaml
from chargeback.errors import ConfigError, InputError, NotFoundError

if TYPE_CHECKING:
    from chargeback.storage import ObjectStore

FileReader = Callable[[str], bytes]
"""Reads a file the configuration names, by its location: a path, or a file://, s3:// or oss:// URL."""

NO_FILE = "none"
"""The version of the configuration when there is no file."""

_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")


class ConfigFile(Section):
    """The validated configuration file. ``version`` is a hash of its bytes ('none' without a file)."""

    cost_centers: dict[str, CostCenter] = Field(default_factory=dict)
    api_keys_file: str | None = Field(default=None, min_length=1)
    rules: list[Rule] = Field(default_factory=list)
    usage_splits: list[UsageSplit] = Field(default_factory=list)
    shared_costs: SharedCosts = Field(default_factory=SharedCosts)
    workspace_labels: dict[str, str] = Field(default_factory=dict)
    workspace_owners: dict[Identifier, EmailAddresses] = Field(default_factory=dict)
    reporting: ReportingSettings | None = None
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    statements: StatementSettings = Field(default_factory=StatementSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    prices: list[EntrySpec] = Field(default_factory=list)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    focus: FocusSettings = Field(default_factory=FocusSettings)
    prepaid: PrepaidSettings = Field(default_factory=PrepaidSettings)
    version: str = Field(default=NO_FILE, exclude=True)
    source: str = Field(default="", exclude=True)
    _reader: FileReader | None = PrivateAttr(default=None)
    _rates: ExchangeRates = PrivateAttr(default_factory=ExchangeRates)
    _owner_indexes: dict[str, dict[str, list[tuple[str, Assignment]]]] = PrivateAttr(default_factory=dict)
    _inventory: tuple[Assignment, ...] = PrivateAttr(default=())

    @property
    def is_default(self) -> bool:
        """True when there was no file: every workspace is its own cost center."""
        return self.version == NO_FILE

    def cost_center_name(self, center_id: str) -> str:
        center = self.cost_centers.get(center_id)
        if center and center.name:
            return center.name
        return self.workspace_labels.get(center_id, center_id)

    def ancestors(self, center_id: str) -> list[str]:
        """The cost center's parent, its parent's parent, ... (the file has no cycles)."""
        chain: list[str] = []
        center = self.cost_centers.get(center_id)
        while center is not None and center.parent is not None and center.parent not in chain:
            chain.append(center.parent)
            center = self.cost_centers.get(center.parent)
        return chain

    def cost_center_path(self, center_id: str) -> str:
        """The cost center under its parents, 'company/platform/search'; a cost center without parent is itself."""
        return "/".join([*reversed(self.ancestors(center_id)), center_id])

    def subtree(self, center_id: str) -> frozenset[str]:
        """The cost center and every cost center below it: whose spend its roll-up and budget count."""
        return frozenset({center_id, *(c for c in self.cost_centers if center_id in self.ancestors(c))})

    def parents(self) -> list[str]:
        """The cost centers that have cost centers below them (they get roll-up statements), in file order."""
        named = {center.parent for center in self.cost_centers.values() if center.parent}
        return [c for c in self.cost_centers if c in named]

    def key_owner(self, api_key_id: str, day: date, workspace: str = "") -> str | None:
        """The cost center of an API key for a line of ``workspace`` on ``day``, or None."""
        return owner_in(self.owner_index("api_keys"), api_key_id, day, workspace) if api_key_id else None

    def owner_index(self, kind: str) -> Mapping[str, list[tuple[str, Assignment]]]:
        """API key (``kind='api_keys'``) or workspace (``'workspaces'``) ID -> (cost center, assignment)s, in file
        order: what ``owner_in`` looks owners up in (built once)."""
        if kind not in self._owner_indexes:
            index: dict[str, list[tuple[str, Assignment]]] = {}
            for center_id, item in self.assignments(kind):
                index.setdefault(item.id, []).append((center_id, item))
            self._owner_indexes[kind] = index
        return self._owner_indexes[kind]

    def from_inventory(self, assignment: Assignment) -> bool:
        """Whether an API key's assignment came from ``api_keys_file`` rather than the YAML."""
        return assignment in self._inventory

    def usage_split(self, api_key_id: str) -> UsageSplit | None:
        """The usage split of an API key, if it is shared by usage."""
        return next((split for split in self.usage_splits if split.api_key == api_key_id), None)

    @property
    def exchange_rates(self) -> ExchangeRates:
        """The rates of ``reporting.rates`` (none without them)."""
        return self._rates

    def read_file(self, reference: str) -> tuple[str, bytes]:
        """(location, bytes) of a file the configuration names (a usage file), found as the file's own are.

        InputError naming the file when it cannot be read; StorageError when the store fails.
        """
        location = locate(self.source, reference)
        return location, (self._reader or read_location)(location)

    def workspace_owner(self, workspace_id: str, day: date) -> str | None:
        """The cost center of a workspace on ``day``; without a file, the workspace itself."""
        if self.is_default:
            return workspace_id or None
        return owner_in(self.owner_index("workspaces"), workspace_id, day)

    def knows_api_key(self, api_key_id: str) -> bool:
        """Whether ``api_keys`` (or the inventory) assigns the key, on any day, or a usage split shares it."""
        return any(a.id == api_key_id for c in self.cost_centers.values() for a in c.api_keys) or \
            self.usage_split(api_key_id) is not None

    def knows_workspace(self, workspace_id: str) -> bool:
        return self.is_default or any(
            a.id == workspace_id for c in self.cost_centers.values() for a in c.workspaces
        )

    def assignments(self, kind: str) -> Iterable[tuple[str, Assignment]]:
        """(cost center, assignment) of every API key (``kind='api_keys'``) or workspace (``'workspaces'``)."""
        for center_id, center in self.cost_centers.items():
            for item in getattr(center, kind):
                yield center_id, item


def owner_in(index: Mapping[str, list[tuple[str, Assignment]]], item_id: str, day: date,
             workspace: str = "") -> str | None:
    """The cost center whose assignment of ``item_id`` holds for a line of ``workspace`` on ``day``, or None."""
    for center_id, item in index.get(item_id, ()):
        if item.applies(day, workspace):
            return center_id
    return None


DEFAULT_CONFIG = ConfigFile()
SECTIONS: tuple[str, ...] = tuple(name for name, info in ConfigFile.model_fields.items() if not info.exclude)


def parse_config_file(text: str | bytes, source: str = "mapping", *, read: FileReader | None = None) -> ConfigFile:
    """Validate configuration YAML; a ConfigError lists every problem with its path (or file) and line.

    ``read`` reads the files the configuration names (default: local paths and storage URLs with the default
    credentials); relative names are found beside ``source``.
    """
    raw = text.encode() if isinstance(text, str) else text
    document = read_yaml(raw, source, keep_problems=True)
    if not isinstance(document.data, dict):
        raise ConfigError("the file must be a YAML mapping of sections (cost_centers:, alerts:, ...)",
                          source=source, line=document.line_of(()))
    reader = read or read_location
    sections, problems = _validated_sections(document)
    digest = hashlib.sha256(raw)
    named = set(document.data.get("cost_centers") or {}) if isinstance(document.data.get("cost_centers"), dict) \
        else set()
    inventory: list[InventoryKey] = []
    if "api_keys_file" in sections:
        found = _named_file(sections["api_keys_file"], ("api_keys_file",), source, reader, document, problems)
        if found is not None:
            location, data = found
            digest.update(b"\0" + data)
            inventory, bad = read_inventory(data, location, named)
            problems += bad
    rates = ExchangeRates()
    reporting: ReportingSettings | None = sections.get("reporting")
    if reporting is not None and reporting.rates:
        found = _named_file(reporting.rates, ("reporting", "rates"), source, reader, document, problems)
        if found is not None:
            location, data = found
            digest.update(b"\0" + data)
            rates, bad = read_rates(data, location)
            problems += bad
    problems = [*document.problems, *problems, *_references(sections, document, inventory)]
    if problems:
        raise_problems(problems, source)
    if inventory:
        sections["cost_centers"] = _with_inventory(sections["cost_centers"], inventory)
    config = ConfigFile(**sections, version=digest.hexdigest()[:16], source=source)
    config._reader = reader
    config._rates = rates
    config._inventory = tuple(key.assignment for key in inventory)
    return config


def load_config_file(path: str | Path | None, *, read: FileReader | None = None) -> ConfigFile:
    """The configuration file at ``path``, or the default (every workspace its own cost center) when None."""
    if path is None:
        return DEFAULT_CONFIG
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the mapping file: {exc.strerror}", source=str(file)) from None
    return parse_config_file(text, source=str(file), read=read)


def locate(base: str, reference: str) -> str:
    """Where a file named in the configuration at ``base`` is: a URL as given, else beside ``base``."""
    if urlparse(reference).scheme.lower() in ("file", "s3", "oss"):
        return reference
    if urlparse(base).scheme.lower() in ("file", "s3", "oss"):
        folder, _, _ = base.rpartition("/")
        return f"{folder}/{posixpath.normpath(reference.lstrip('/'))}"
    return str(Path(base).parent / reference)


def read_location(location: str, open_store: Callable[[str], ObjectStore] | None = None) -> bytes:
    """The bytes at a path or a file://, s3:// or oss:// URL; InputError if there is none.

    ``open_store`` opens the URL's folder as a store (default: ``chargeback.storage.open_store``, with the
    default credentials and time limits).
    """
    try:
        if urlparse(location).scheme.lower() in ("file", "s3", "oss"):
            folder, _, key = location.rpartition("/")
            if open_store is None:
                from chargeback.storage import open_store as default_open

                open_store = default_open
            return open_store(folder).read_bytes(key)
        return Path(location).read_bytes()
    except NotFoundError:
        raise InputError("no such file", source=location) from None
    except OSError as exc:
        raise InputError(f"cannot read it: {exc.strerror or exc}", source=location) from None


def _named_file(reference: str, path: tuple[Any, ...], source: str, reader: FileReader, document: YamlDocument,
                problems: list[Problem]) -> tuple[str, bytes] | None:
    """(location, bytes) of a file the configuration names; a problem at ``path`` when it cannot be read."""
    location = locate(source, reference)
    try:
        return location, reader(location)
    except InputError as exc:
        problems.append(Problem(dotted(path), f"cannot read {location}: {exc}", document.line_of(path)))
        return None


def _with_inventory(centers: dict[str, CostCenter], inventory: list[InventoryKey]) -> dict[str, CostCenter]:
    """The cost centers with the inventory's keys after their own."""
    added: dict[str, list[Assignment]] = {}
    for key in inventory:
        added.setdefault(key.cost_center, []).append(key.assignment)
    return {center_id: center.model_copy(update={"api_keys": [*center.api_keys, *added.get(center_id, [])]})
            if center_id in added else center for center_id, center in centers.items()}


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


def _references(sections: dict[str, Any], document: YamlDocument, inventory: list[InventoryKey]) -> list[Problem]:
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
    _overlaps(centers, inventory, problem, problems)
    _hierarchy(centers, named, problem)
    targets = [*named, UNALLOCATED]

    def known_target(path: tuple[Any, ...], center_id: str) -> None:
        if center_id not in targets:
            problem(path, f"unknown cost center {center_id!r}" + suggestion(center_id, targets))

    rules = _valid_items(sections, document, "rules", Rule)
    check_rules([rule for _, rule in rules], problem, [index for index, _ in rules])
    for index, each in rules:
        known_target(("rules", index, "cost_center"), each.cost_center)
    split_keys: dict[str, int] = {}
    for index, split in _valid_items(sections, document, "usage_splits", UsageSplit):
        if split.api_key in split_keys:
            problem(("usage_splits", index, "api_key"), f"API key {split.api_key!r} is split by usage_splits"
                                                        f"[{split_keys[split.api_key]}] already: keep one")
        split_keys.setdefault(split.api_key, index)
        for consumer, center_id in split.consumers.items():
            known_target(("usage_splits", index, "consumers", consumer), center_id)
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


def _valid_items(sections: dict[str, Any], document: YamlDocument, name: str, kind: Any) -> list[tuple[int, Any]]:
    """(position, item) of a list section's valid items: all of them, or when some are invalid the others."""
    if name in sections:
        return list(enumerate(sections[name]))
    raw = document.data.get(name)
    if not isinstance(raw, list):
        return []
    valid = []
    for index, value in enumerate(raw):
        item, found = validate(kind, value, document, (name, index))
        if not found:
            valid.append((index, item))
    return valid


Report = Callable[[tuple[Any, ...], str], None]
_LABELS = {"api_keys": "API key", "workspaces": "workspace"}


def _overlaps(centers: dict[str, CostCenter], inventory: list[InventoryKey], problem: Report,
              problems: list[Problem]) -> None:
    """No API key or workspace assigned twice for the same line (YAML and inventory together)."""
    for kind in ("api_keys", "workspaces"):
        claims: dict[str, list[tuple[str, Callable[[str], None], Assignment]]] = {}
        for center_id, center in centers.items():
            for index, item in enumerate(getattr(center, kind)):
                claims.setdefault(item.id, []).append(
                    (center_id, _at_path(problem, ("cost_centers", center_id, kind, index)), item))
        for key in inventory if kind == "api_keys" else ():
            claims.setdefault(key.assignment.id, []).append((key.cost_center, _at_line(problems, key), key.assignment))
        for item_id, owners in claims.items():
            for i, (first, _, a1) in enumerate(owners):
                for second, report, a2 in owners[i + 1:]:
                    if a1.overlaps(a2):
                        both = f"both {first!r} and {second!r}" if first != second else f"{first!r} twice"
                        report(f"{_LABELS[kind]} {item_id!r} is assigned to {both} for overlapping dates")


def _at_path(problem: Report, path: tuple[Any, ...]) -> Callable[[str], None]:
    return lambda message: problem(path, message)


def _at_line(problems: list[Problem], key: InventoryKey) -> Callable[[str], None]:
    return lambda message: problems.append(Problem("api_key_id", message, key.line, key.source))


def _hierarchy(centers: dict[str, CostCenter], named: set[str], problem: Report) -> None:
    """Parents are known cost centers, and no cost center is its own ancestor."""
    reported: set[str] = set()
    for center_id, center in centers.items():
        if center.parent is None:
            continue
        if center.parent not in named:
            problem(("cost_centers", center_id, "parent"),
                    f"unknown cost center {center.parent!r}" + suggestion(center.parent, named))
            continue
        chain = [center_id]
        current: str | None = center.parent
        while current is not None and current in centers and current not in chain:
            chain.append(current)
            current = centers[current].parent
        if current == center_id and center_id not in reported:
            reported.update(chain)
            problem(("cost_centers", center_id, "parent"),
                    f"a cycle of parents: {' -> '.join([*chain, center_id])}: one of them needs no parent")


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
