"""The configuration file: YAML's traps refused with their lines, plain messages, references between sections."""

from __future__ import annotations

import re
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from chargeback.config.file import ConfigFile, parse_config_file
from chargeback.config.prices import parse_price_list
from chargeback.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config_file(text, source="teams.yaml")
    assert caught.value.exit_code == 2
    return str(caught.value)


def test_the_readme_example_and_the_demo_mapping_load() -> None:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    example = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)[0]  # the one with every section
    config = parse_config_file(example, source="README")
    assert set(config.cost_centers) == {"search", "research"}
    assert config.delivery.backend == "smtp" and config.delivery.finance_cc == ["finance@example.com"]
    assert set(config.alerts.channels) == {"finops-ding", "search-slack", "siem", "finance"}
    assert config.prices[0].model == "qwen-max" and config.pricing.site == "cn"
    readme = README.read_text()
    files = dict(re.findall(r"`([\w.-]+\.csv)`:\n\n```csv\n(.*?)```", readme, re.DOTALL))  # the files it shows
    assert set(files) == {"keys.csv", "rates.csv"}

    def shown(location: str) -> bytes:
        return files[Path(location).name].encode()

    for block in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL):  # every YAML the README shows
        parse_config_file(block, source="README", read=shown)
    demo = resources.files("chargeback.demo").joinpath("mapping.yaml").read_bytes()
    assert set(parse_config_file(demo).cost_centers) == {"search", "research", "assistants"}


def test_a_key_defined_twice_names_both_lines() -> None:
    message = problems("cost_centers:\n  search: {owners: [a@example.com]}\n  research: {}\n"
                       "  search: {owners: [b@example.com]}\n")
    assert message == ("teams.yaml, line 4: cost_centers.search: 'search' is defined twice (lines 2 and 4): "
                       "keep one")
    assert "defined twice (lines 2 and 3)" in problems("alerts:\n  stale_after_hours: 10\n  stale_after_hours: 20\n")


@pytest.mark.parametrize(("written", "read_as"), [
    ("0123456", 42798), ("0o17", None), ("0x1A", 26), ("1_000", 1000), ("1:30", 90), ("+5", 5)])
def test_numbers_yaml_would_misread_must_be_quoted(written: str, read_as: int | None) -> None:
    text = f"cost_centers:\n  search:\n    api_keys: [{written}]\n"
    if read_as is None:  # YAML 1.1 has no 0o: it stays the text, an ID like any other
        assert parse_config_file(text).cost_centers["search"].api_keys[0].id == written
        return
    assert problems(text) == (f"teams.yaml, line 3: cost_centers.search.api_keys[0]: YAML reads {written} as the "
                              f"number {read_as}: write it in quotes (\"{written}\") if it is an ID, or as "
                              f"{read_as} if it is a number")
    quoted = parse_config_file(f"cost_centers:\n  search:\n    api_keys: [\"{written}\"]\n")
    assert quoted.cost_centers["search"].api_keys[0].id == written


def test_a_plain_number_id_is_its_text() -> None:
    assert parse_config_file("cost_centers: {a: {api_keys: [2100001]}}").knows_api_key("2100001")


def test_a_date_that_does_not_exist_is_named() -> None:
    message = problems('cost_centers:\n  a: {api_keys: [{id: "1", from: 2026-13-45}]}\n')
    assert message == ("teams.yaml, line 2: cost_centers.a.api_keys[0].from: '2026-13-45' is not a real date "
                       "(write YYYY-MM-DD)")


def test_deep_nesting_and_alias_bombs_are_refused_quickly() -> None:
    assert problems("x: " + "[" * 10_000 + "]" * 10_000) == "teams.yaml, line 1: the YAML is nested more than 50 " \
                                                            "levels deep"
    laughs = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for level in range(8):
        name, previous = "bcdefghij"[level], "abcdefghij"[level]
        laughs += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    assert "the YAML expands to more than 100,000 values" in problems(laughs)
    assert "nested more than 50 levels deep (through aliases)" in problems("a: &a [*a]\n")


def test_unsafe_tags_and_syntax_errors() -> None:
    assert problems("cost_centers: !!python/object:os.system {}\n") == (
        "teams.yaml, line 1: cost_centers: the tag 'tag:yaml.org,2002:python/object:os.system' is not supported "
        "here: write plain YAML")
    assert problems("cost_centers:\n  a: {owners: [x@example.com]\n").startswith(
        "teams.yaml, line 3: not valid YAML: expected ',' or '}'")
    assert problems("- a\n- b\n") == ("teams.yaml, line 1: the file must be a YAML mapping of sections "
                                      "(cost_centers:, alerts:, ...)")
    assert problems(b"\xff\xfe") == "teams.yaml: not UTF-8 text (byte 0 cannot be read)"  # type: ignore[arg-type]


def test_unknown_keys_get_the_closest_known_one() -> None:
    message = problems("cost_centers:\n  a: {owner: [x@example.com], colour: red}\nstatments: {top_n: 3}\n"
                       "shared_costs: {console: proportionel}\nstatements: {locale: enn}\n")
    assert message.startswith("teams.yaml: 5 problems:\n")
    for line in (
        "line 2, cost_centers.a.owner: unknown key 'owner'; did you mean 'owners'?",
        "line 2, cost_centers.a.colour: unknown key 'colour' (known keys: name, parent, owners, workspaces, api_keys, "
        "budget, channels, locale)",
        "line 3, statments: unknown section 'statments'; did you mean 'statements'?",
        "line 4, shared_costs.console: 'proportionel' is not a rule: write keep, even, proportional or "
        "{fixed: {center: percent}}",
        "line 5, statements.locale: must be 'en' or 'zh', not the text 'enn'; did you mean 'en'?",
    ):
        assert f"  {line}\n" in message + "\n"


def test_plain_words_for_types_and_ranges() -> None:
    message = problems("statements: {top_n: many, group_thousands: maybe}\nalerts:\n  anomaly: {k: 0}\n"
                       "  channels: {hook: {type: pager}}\n")
    for line in ("statements.top_n: must be a whole number, not the text 'many'",
                 "statements.group_thousands: must be true or false, not the text 'maybe'",
                 "alerts.anomaly.k: must be more than 0, not 0",
                 "alerts.channels.hook: type 'pager' is not one of 'email', 'dingtalk', 'slack', 'webhook'"):
        assert line in message
    assert "Input should be" not in message and "type=" not in message  # no validator jargon


def test_references_between_sections_are_checked_at_load() -> None:
    message = problems("""\
cost_centers:
  search:
    owners: [lead@example.com]
    budget: {monthly: 10, currency: cny}
    channels: [search-slak]
  research: {}
shared_costs: {console: {fixed: {search: 50, reseach: 50}}}
alerts:
  channels: {search-slack: {type: slack, url_env: SLACK_URL}, mail: {type: email}}
  default_channels: [mail]
  budgets:
    - {cost_center: serch, monthly: 5, currency: EUR}
""")
    for line in (
        "line 4, cost_centers.search.budget.currency: 'cny' is not a currency Model Studio bills in (CNY, USD); "
        "did you mean 'CNY'?",
        "line 5, cost_centers.search.channels[0]: unknown channel 'search-slak' (define it under alerts.channels); "
        "did you mean 'search-slack'?",
        "line 7, shared_costs.console.fixed.reseach: unknown cost center 'reseach'; did you mean 'research'?",
        "line 9, alerts.channels.mail: an e-mail channel in default_channels needs 'to'",
        "line 12, alerts.budgets[0].cost_center: unknown cost center 'serch'; did you mean 'search'?",
        "line 12, alerts.budgets[0].currency: 'EUR' is not a currency Model Studio bills in (CNY, USD)",
    ):
        assert line in message


def test_the_valid_cost_centers_are_still_checked_when_one_is_bad() -> None:
    message = problems("cost_centers:\n  a: {owners: [nope]}\n  b: {channels: [nowhere]}\n")
    assert "cost_centers.a.owners[0]: 'nope' is not an email address" in message
    assert "cost_centers.b.channels[0]: unknown channel 'nowhere'" in message


def test_an_api_key_of_two_cost_centers_on_one_day() -> None:
    message = problems('cost_centers:\n  a: {api_keys: ["1"]}\n  b:\n    workspaces: [llm-x]\n'
                       '    api_keys: [{id: "1", from: 2026-05-01}]\n')
    assert message == ("teams.yaml, line 5: cost_centers.b.api_keys[0]: API key '1' is assigned to both 'a' and "
                       "'b' for overlapping dates")


def test_decimals_keep_the_text_they_were_written_with() -> None:
    config = parse_config_file("cost_centers:\n  a: {budget: {monthly: 0.1234567890123456789, thresholds: [33.3]}}\n")
    budget = config.cost_centers["a"].budget
    assert budget is not None
    assert budget.monthly == Decimal("0.1234567890123456789") and budget.thresholds == [Decimal("33.3")]


def test_secrets_are_refused_in_the_file() -> None:
    message = problems("delivery: {smtp: {host: h.example.com, password: hunter2}}\n"
                       "alerts: {channels: {hook: {type: webhook, url: 'https://x.example/?token=abc'}}}\n")
    assert "delivery.smtp.password: never put the password in the file" in message
    assert "alerts.channels.hook: url must not be written in the file" in message
    assert "hunter2" not in message and "token=abc" not in message


def test_the_file_is_frozen_and_has_no_raw_sections() -> None:
    config = parse_config_file("alerts: {stale_after_hours: 12}\npricing: {site: cn}\n")
    with pytest.raises(ValueError, match="frozen"):
        config.alerts = config.alerts
    for name, info in ConfigFile.model_fields.items():
        assert "dict[str, Any]" not in str(info.annotation), name
    assert config.alerts.stale_after_hours == 12 and config.pricing.site == "cn"
    assert problems("version: 1\n").startswith("teams.yaml, line 1: version: unknown section 'version'")


def test_merge_keys_work_and_explicit_keys_win() -> None:
    config = parse_config_file("cost_centers:\n  a: &base {owners: [x@example.com], api_keys: [\"1\"]}\n"
                               "  b: {<<: *base, api_keys: [\"2\"]}\n")
    assert config.cost_centers["b"].owners == ["x@example.com"]
    assert [a.id for a in config.cost_centers["b"].api_keys] == ["2"]


def test_a_price_list_names_each_bad_entry() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_price_list([{"model": "m", "site": "mars"}], "prices.yaml")
    message = str(caught.value)
    assert "prices[0].site: must be 'intl' or 'cn', not the text 'mars'" in message
    assert "prices[0].effective_from: required" in message


def test_statement_subjects_help_line_and_workspace_owners_are_checked() -> None:
    config = parse_config_file("statements: {per: [cost_center, workspace], help_line: 'Ask #finops'}\n"
                               "workspace_owners: {llm-a: lead@example.com}\n")
    assert (config.statements.per, config.statements.help_line, config.statements.finance_copy) == (
        ["cost_center", "workspace"], "Ask #finops", False)
    assert config.workspace_owners == {"llm-a": ["lead@example.com"]}
    found = problems("statements: {per: [team]}\nworkspace_owners: {llm-a: [not-an-address]}\n"
                     "alerts: {digest: maybe, channels: {x: {type: slack, url_env: X, locale: fr}}}\n")
    assert "line 1, statements.per[0]: must be 'cost_center' or 'workspace', not the text 'team'" in found
    assert "line 2, workspace_owners.llm-a[0]: 'not-an-address' is not an email address" in found
    assert "line 3, alerts.channels.x.locale: must be 'en' or 'zh', not the text 'fr'" in found
    assert "line 3, alerts.digest: must be true or false, not the text 'maybe'" in found
