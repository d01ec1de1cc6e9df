"""The allocation parts of the configuration: rules, hierarchy, usage splits, the key inventory and the
reporting currency, each checked with its YAML line or CSV line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from chargeback.config.file import parse_config_file
from chargeback.errors import ConfigError

CENTERS = """cost_centers:
  company: {}
  platform: {parent: company}
  search: {parent: platform, api_keys: ["2100001"]}
  labs: {parent: company}
"""


def problems(text: str, files: dict[str, bytes] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text, files)
    assert caught.value.exit_code == 2
    return str(caught.value)


def parse(text: str, files: dict[str, bytes] | None = None):
    files = files or {}

    def read(location: str) -> bytes:
        from chargeback.errors import InputError

        name = Path(location).name
        if name not in files:
            raise InputError("no such file", source=location)
        return files[name]

    return parse_config_file(text, source="/etc/chargeback/teams.yaml", read=read)


def test_hierarchy_paths_and_subtrees() -> None:
    config = parse(CENTERS)
    assert config.cost_center_path("search") == "company/platform/search"
    assert config.cost_center_path("company") == "company"
    assert config.cost_center_path("unallocated") == "unallocated"
    assert config.subtree("company") == {"company", "platform", "search", "labs"}
    assert config.subtree("platform") == {"platform", "search"}
    assert config.parents() == ["company", "platform"]


def test_unknown_parents_and_cycles_are_errors() -> None:
    message = problems("cost_centers:\n  a: {parent: b}\n  b: {parent: c}\n  c: {parent: a}\n"
                       "  d: {parent: compnay}\n  company: {}\n")
    assert "line 2, cost_centers.a.parent: a cycle of parents: a -> b -> c -> a: one of them needs no parent" \
        in message
    assert "line 5, cost_centers.d.parent: unknown cost center 'compnay'; did you mean 'company'?" in message
    assert message.count("cycle") == 1
    assert "cost_centers.s.parent: a cycle of parents: s -> s" in problems("cost_centers:\n  s: {parent: s}\n")


def test_rules_are_checked_with_their_lines() -> None:
    message = problems(CENTERS + """rules:
  - {match: {modle: qwen-max}, cost_center: search}
  - {match: {model: "qwen-max?"}, cost_center: serch}
  - {match: {tag.: x}, cost_center: labs}
  - {match: {call_source: console}, cost_center: labs, name: console}
  - {match: {call_source: console}, cost_center: search, from: 2026-06-01, name: console}
  - {match: {}, cost_center: labs}
  - {match: {model: m}, cost_center: labs, from: 2026-06-02, until: 2026-06-01}
""")
    assert "line 7, rules[0].match.modle: unknown match key 'modle'; did you mean 'model'?" in message
    assert ("line 8, rules[1].match.model: 'qwen-max?': only '*' is a wildcard here (? would be matched "
            "literally): use '*'") in message
    assert "line 8, rules[1].cost_center: unknown cost center 'serch'; did you mean 'search'?" in message
    assert "line 9, rules[2].match.tag.: a tag match names its tag: tag.<key>, e.g. tag.team" in message
    assert "line 11, rules[4].name: rule name 'console' is used by rule 4 too: names must be unique" in message
    assert ("line 11, rules[4]: this rule never applies: rule 4 matches the same lines on every day it covers, "
            "and the first match wins") in message
    assert "line 12, rules[5].match: must not be empty" in message
    assert "line 13, rules[6]: 'until' 2026-06-01 is before 'from' 2026-06-02" in message


def test_a_later_rule_for_other_days_or_a_narrower_match_is_fine() -> None:
    config = parse(CENTERS + """rules:
  - {match: {call_source: console}, cost_center: labs, until: 2026-05-31}
  - {match: {call_source: console}, cost_center: search}
  - {match: {call_source: console, model: qwen-max}, cost_center: company}
  - {match: {account: 1555666677778888, tag.team: search}, cost_center: search, name: partner}
""")
    assert [r.label(i + 1) for i, r in enumerate(config.rules)] == ["rule:1", "rule:2", "rule:3", "rule:partner"]
    assert config.rules[3].match == {"account": "1555666677778888", "tag.team": "search"}


def test_usage_splits_name_known_cost_centers_once_per_key() -> None:
    message = problems(CENTERS + """usage_splits:
  - {api_key: "2100001", source: usage.csv, consumers: {team-a: serch, team-b: labs}}
  - {api_key: "2100001", source: other.csv}
  - {api_key: "2100002"}
""")
    assert ("line 7, usage_splits[0].consumers.team-a: unknown cost center 'serch'; did you mean 'search'?"
            in message)
    assert "line 8, usage_splits[1].api_key: API key '2100001' is split by usage_splits[0] already: keep one" \
        in message
    assert "line 9, usage_splits[2].source: required" in message
    config = parse(CENTERS + "usage_splits:\n  - {api_key: 2100009, source: u.csv, consumers: {a: unallocated}}\n")
    assert config.usage_split("2100009") is not None and config.knows_api_key("2100009")


INVENTORY = b"""api_key_id,cost_center,from,until,workspace_id,owner_note
2200001,search,2026-01-01,,,kept by the key manager
2200002,labs,,2026-05-31,llm-ws0000000000000a,
2200002,platform,2026-06-01,,,
"""


def test_the_inventory_is_merged_with_the_yaml() -> None:
    config = parse(CENTERS + "api_keys_file: keys.csv\n", {"keys.csv": INVENTORY})
    assert [a.id for a in config.cost_centers["search"].api_keys] == ["2100001", "2200001"]
    ws = "llm-ws0000000000000a"
    assert config.key_owner("2200002", date(2026, 5, 31), ws) == "labs"
    assert config.key_owner("2200002", date(2026, 5, 31), "llm-other") is None
    assert config.key_owner("2200002", date(2026, 6, 1), "llm-other") == "platform"
    assert config.key_owner("2200001", date(2025, 12, 31)) is None
    changed = parse(CENTERS + "api_keys_file: keys.csv\n", {"keys.csv": INVENTORY.replace(b"2026-01-01", b"")})
    assert changed.version != config.version  # the inventory is part of the configuration's version


def test_inventory_problems_name_the_csv_line_and_column() -> None:
    bad = b"""api_key_id,cost_center,from,until
2200001,serch,2026-01-01,
,labs,,
2200003,labs,2026-13-01,2026-01-01
2100001,labs,,
"""
    message = problems(CENTERS + "api_keys_file: inventory/keys.csv\n", {"keys.csv": bad})
    where = "/etc/chargeback/inventory/keys.csv"
    assert f"{where}, line 2, field 'cost_center': unknown cost center 'serch'; did you mean 'search'?" in message
    assert f"{where}, line 3, field 'api_key_id': required" in message
    assert f"{where}, line 4, field 'from': '2026-13-01' is not a date (YYYY-MM-DD)" in message
    assert (f"{where}, line 5, field 'api_key_id': API key '2100001' is assigned to both 'search' and 'labs' for "
            "overlapping dates") in message
    missing = problems(CENTERS + "api_keys_file: keys.csv\n", {"keys.csv": b"api_key,cost_center,from,until\n"})
    assert missing.endswith("keys.csv, line 1, field 'api_key_id': missing column; did you mean 'api_key'?")
    absent = problems(CENTERS + "api_keys_file: nowhere.csv\n")
    assert absent == ("/etc/chargeback/teams.yaml, line 6: api_keys_file: cannot read "
                      "/etc/chargeback/nowhere.csv: /etc/chargeback/nowhere.csv: no such file")


RATES = b"""date,from,to,rate
2026-05-01,USD,CNY,7.1234
2026-05-15,USD,CNY,7.2
"""


def test_reporting_rates_on_or_before_the_day() -> None:
    config = parse(CENTERS + "reporting: {currency: CNY, rates: rates.csv}\n", {"rates.csv": RATES})
    rates = config.exchange_rates
    assert rates.rate_on(date(2026, 5, 14), "USD", "CNY") == Decimal("7.1234")
    assert rates.rate_on(date(2026, 5, 15), "USD", "CNY") == Decimal("7.2")
    assert rates.rate_on(date(2026, 4, 30), "USD", "CNY") is None
    assert rates.rate_on(date(2026, 4, 30), "CNY", "CNY") == 1
    assert rates.rate_on(date(2026, 5, 20), "CNY", "USD") is None  # never inverted


def test_reporting_problems() -> None:
    assert problems(CENTERS + "reporting: {currency: cny}\n") == (
        "/etc/chargeback/teams.yaml, line 6: reporting.currency: 'cny' is not a currency code (three capital "
        "letters, e.g. CNY)")
    bad = b"date,from,to,rate\n2026-05-01,USD,CNY,0\n2026-05-02,usd,CNY,7\n,USD,CNY,7\n2026-05-03,USD,CNY,7\n" \
          b"2026-05-03,USD,CNY,7.1\n"
    message = problems(CENTERS + "reporting: {currency: CNY, rates: rates.csv}\n", {"rates.csv": bad})
    assert "rates.csv, line 2, field 'rate': '0' is not a rate (a number above 0)" in message
    assert "rates.csv, line 3, field 'from': 'usd' is not a currency code (three capital letters, e.g. CNY)" \
        in message
    assert "rates.csv, line 4, field 'date': required" in message
    assert "rates.csv, line 6, field 'rate': USD to CNY on 2026-05-03 is 7 on line 5: give one rate per day" \
        in message
