import re
from datetime import date

import pytest

from chargeback.config.cost_centers import FixedShares
from chargeback.config.file import load_config_file, parse_config_file
from chargeback.errors import ConfigError

ISSUE_FORM = """
cost_centers:
  search:   {name: Search team, owners: [lead@example.com], workspaces: [llm-ws0000000000000a], api_keys: ["2100001"]}
  research: {api_keys: [{id: "2300002", from: 2026-05-10}]}   # entries may carry from/until dates
shared_costs:
  console: proportional     # keep | even | proportional | {fixed: {search: 60, research: 40}}
  unmapped: keep
"""


def test_the_documented_form_is_accepted():
    mapping = parse_config_file(ISSUE_FORM)
    assert mapping.cost_centers["search"].owners == ["lead@example.com"]
    assert mapping.shared_costs.console == "proportional"
    assert mapping.key_owner("2100001", date(2026, 5, 1)) == "search"
    assert mapping.key_owner("2300002", date(2026, 5, 9)) is None
    assert mapping.key_owner("2300002", date(2026, 5, 10)) == "research"
    assert mapping.workspace_owner("llm-ws0000000000000a", date(2026, 5, 1)) == "search"
    assert len(mapping.version) == 16
    assert not mapping.is_default


def test_fixed_shares_and_integer_keys():
    mapping = parse_config_file("cost_centers: {a: {api_keys: [2100001]}, b: {}}\n"
                            "shared_costs: {console: {fixed: {a: 60, b: 40}}}")
    assert mapping.knows_api_key("2100001")
    assert isinstance(mapping.shared_costs.console, FixedShares)


def test_every_bad_field_is_listed():
    text = ("cost_centers:\n  a: {owners: [not-an-email], api_keys: [\"1\"], colour: red}\n"
            "  b: {api_keys: [\"1\"]}\nshared_costs: {console: {fixed: {a: 50}}, unmapped: sometimes}\n")
    with pytest.raises(ConfigError) as caught:
        parse_config_file(text, source="teams.yaml")
    message = str(caught.value)
    assert message.startswith("teams.yaml: 4 problems:\n")
    assert "line 2, cost_centers.a.owners[0]: 'not-an-email' is not an email address" in message
    assert "line 2, cost_centers.a.colour: unknown key 'colour' (known keys: name, parent, owners," in message
    assert "line 4, shared_costs.unmapped: 'sometimes' is not a rule" in message
    assert caught.value.exit_code == 2


def test_overlapping_assignments_are_rejected():
    text = ('cost_centers:\n  a: {api_keys: [{id: "1", until: 2026-05-10}]}\n'
            '  b: {api_keys: [{id: "1", from: 2026-05-10}]}\n')
    with pytest.raises(ConfigError, match="assigned to both 'a' and 'b'"):
        parse_config_file(text)
    ok = text.replace("from: 2026-05-10", "from: 2026-05-11")
    assert parse_config_file(ok).key_owner("1", date(2026, 5, 11)) == "b"


def test_fixed_shares_must_sum_to_100_and_name_known_centers():
    with pytest.raises(ConfigError, match="sum to 100"):
        parse_config_file("cost_centers: {a: {}}\nshared_costs: {console: {fixed: {a: 99}}}")
    with pytest.raises(ConfigError, match=re.escape("shared_costs.console.fixed.zz: unknown cost center 'zz'")):
        parse_config_file("cost_centers: {a: {}}\nshared_costs: {console: {fixed: {a: 50, zz: 50}}}")


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("cost_centers:\n  a: {owners: [x@example.com]\n")
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert str(path) in str(caught.value)
    assert caught.value.line is not None


def test_missing_file_and_default():
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file("/nonexistent/mapping.yaml")
    default = load_config_file(None)
    assert default.is_default
    assert default.workspace_owner("llm-x", date(2026, 1, 1)) == "llm-x"
