"""Rules, hierarchy, usage splits and the reporting currency, on hand-made normalized lines, to the exact amount."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest

from chargeback.allocation.allocate import allocate, allocate_lines, to_table
from chargeback.allocation.usage import UsageData, read_usage
from chargeback.bills.normalize import LINE_SCHEMA
from chargeback.columns import LINE_AMOUNTS, LINE_DIMENSIONS, LINE_FLAGS
from chargeback.config.file import parse_config_file
from chargeback.errors import InputError

WS = "llm-ws0000000000000a"
WS2 = "llm-ws0000000000000b"
KEY = "2100001"

CENTERS = f"""cost_centers:
  company: {{}}
  platform: {{parent: company, workspaces: [{WS}]}}
  search: {{parent: platform, api_keys: ["{KEY}", "2100002"]}}
  labs: {{parent: company}}
"""


def line(cost: str, *, key: str = "2100002", ws: str = WS, day: str = "2026-05-14", model: str = "qwen-plus",
         currency: str = "CNY", count: int = 1, **columns: str) -> dict[str, object]:
    row: dict[str, object] = {d: "" for d in LINE_DIMENSIONS}
    row.update({f: False for f in LINE_FLAGS})
    row.update(billing_month="2026-05", billing_date=day, workspace_id=ws, api_key_id=key, model=model,
               currency=currency, fee_type="pay_as_you_go", account_id="1000000000000001",
               usage_type="input_token", io_type="input", call_source="api" if key else "console",
               channel="" if key else "bmp", region="cn-beijing")
    row.update({a: Decimal(0) for a in LINE_AMOUNTS})
    row.update(billed_cost=Decimal(cost), list_cost=Decimal(cost), usage=Decimal("3"), line_count=count)
    row.update(columns)
    return row


def mapping(extra: str, read=None):
    return parse_config_file(CENTERS + extra, source="/etc/chargeback/teams.yaml", read=read)


def who(rows) -> list[tuple[str, str, str]]:
    return [(str(r["billing_date"]), str(r["cost_center"]), str(r["allocation_rule"])) for r in rows]


def by_center(rows, column: str = "cost_center") -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[str(row[column])] += row["billed_cost"]
    return dict(totals)


MATCHES = [
    ("account", "account_id", "1555666677778888"),
    ("workspace", "workspace_id", WS2),
    ("api_key", "api_key_id", "2999999"),
    ("model", "model", "qwen-max"),
    ("usage_type", "usage_type", "context_0-256k_output_token"),
    ("io_type", "io_type", "output"),
    ("call_source", "call_source", "assistant_api"),
    ("channel", "channel", "app"),
    ("region", "region", "ap-southeast-1"),
    ("resource_group", "resource_group", "rg-search"),
    ("cost_unit", "cost_unit", "research-unit"),
    ("tag.team", "tags", "env=prod;team=search"),
]


@pytest.mark.parametrize(("key", "column", "value"), MATCHES, ids=[m[0] for m in MATCHES])
def test_each_match_key_reads_its_column(key: str, column: str, value: str) -> None:
    pattern = "search" if key == "tag.team" else value
    rules = mapping(f'rules:\n  - {{match: {{{key}: "{pattern}"}}, cost_center: labs}}\n')
    plain = line("1.25")
    marked = line("2.5", **{column: value})
    if column == "tags":
        plain["tags"] = "env=prod;team=ads"
    rows = allocate([plain, marked], rules)
    assert {(r["billed_cost"], r["cost_center"], r["allocation_rule"]) for r in rows} == {
        (Decimal("1.25"), "search", "api_key"), (Decimal("2.5"), "labs", "rule:1")}


def test_the_first_matching_rule_wins_and_all_keys_of_a_match_must_hold() -> None:
    rules = """rules:
  - {match: {model: qwen-max, io_type: output}, cost_center: company}
  - {match: {model: qwen-max}, cost_center: labs, name: max-to-labs}
  - {match: {io_type: output}, cost_center: platform}
"""
    lines = [line("1", model="qwen-max", io_type="output"), line("2", model="qwen-max"),
             line("4", io_type="output"), line("8")]
    rows = allocate(lines, mapping(rules))
    assert {r["billed_cost"]: (r["cost_center"], r["allocation_rule"]) for r in rows} == {
        Decimal(1): ("company", "rule:1"), Decimal(2): ("labs", "rule:max-to-labs"),
        Decimal(4): ("platform", "rule:3"), Decimal(8): ("search", "api_key")}
    reordered = "rules:\n" + "\n".join(reversed(rules.strip().splitlines()[1:])) + "\n"
    rows = allocate(lines, mapping(reordered))
    assert {r["billed_cost"]: r["cost_center"] for r in rows}[Decimal(1)] == "platform"


def test_rules_hold_from_and_until_inclusive() -> None:
    rules = mapping("rules:\n  - {match: {call_source: console}, cost_center: labs, from: 2026-05-10, "
                    "until: 2026-05-20}\n")
    lines = [line("1", key="", day=d) for d in ("2026-05-09", "2026-05-10", "2026-05-20", "2026-05-21")]
    assert who(allocate(lines, rules)) == [
        ("2026-05-09", "platform", "workspace"), ("2026-05-10", "labs", "rule:1"),
        ("2026-05-20", "labs", "rule:1"), ("2026-05-21", "platform", "workspace")]


@pytest.mark.parametrize(("pattern", "matched"), [
    ("qwen-max*", {"qwen-max", "qwen-max-latest"}),
    ("*-latest", {"qwen-max-latest"}),
    ("qwen*max*", {"qwen-max", "qwen-max-latest", "qwen3-max-preview"}),
    ("*", {"qwen-max", "qwen-max-latest", "qwen3-max-preview", "qwen-plus"}),  # never the empty model
    ("", {""}),
    ("qwen-max", {"qwen-max"}),
    ("QWEN-MAX", set()),  # exact text: case counts
])
def test_patterns(pattern: str, matched: set[str]) -> None:
    models = ["qwen-max", "qwen-max-latest", "qwen3-max-preview", "qwen-plus", ""]
    rows = allocate([line(str(i + 1), model=m) for i, m in enumerate(models)],
                    mapping(f'rules:\n  - {{match: {{model: "{pattern}"}}, cost_center: labs}}\n'))
    assert {r["model"] for r in rows if r["cost_center"] == "labs"} == matched


@pytest.mark.parametrize(("pattern", "matched"), [
    ("a.b(*", {"a.b(c)"}), ("a+*", {"a+b"}), ("搜*", {"搜索组"}), ("*(1)", {"x(1)"}), ("*|*", {"p|q"}),
    ("a.b(c)", {"a.b(c)"}),
])
def test_pattern_characters_other_than_the_star_are_literal(pattern: str, matched: set[str]) -> None:
    values = ["a.b(c)", "axb(c)", "搜索组", "a+b", "aab", "x(1)", "x1", "p|q"]
    rows = allocate([line(str(i + 1), tags=f"team={v}") for i, v in enumerate(values)],
                    mapping(f'rules:\n  - {{match: {{"tag.team": "{pattern}"}}, cost_center: labs}}\n'))
    assert {r["billed_cost"] for r in rows if r["cost_center"] == "labs"} == {
        Decimal(values.index(v) + 1) for v in matched}


def test_rules_decide_before_api_keys_and_pools_weigh_what_rules_attributed() -> None:
    config = mapping("rules:\n  - {match: {model: qwen-max}, cost_center: labs}\n"
                     "shared_costs: {console: proportional}\n")
    lines = [line("3", model="qwen-max"), line("1"), line("0.4", key="")]
    rows = allocate(lines, config)
    assert by_center(rows) == {"labs": Decimal("3.3"), "search": Decimal("1.1")}
    assert {(r["cost_center"], r["allocation_rule"], r["billed_cost"]) for r in rows if r["api_key_id"] == ""} == {
        ("labs", "console:proportional", Decimal("0.30")), ("search", "console:proportional", Decimal("0.10"))}


def test_the_cost_center_path_carries_the_hierarchy() -> None:
    config = mapping("rules:\n  - {match: {model: qwen-max}, cost_center: labs}\n")
    rows = allocate([line("1"), line("2", model="qwen-max"), line("4", key="", ws=WS2)], config)
    assert {r["cost_center"]: r["cost_center_path"] for r in rows} == {
        "search": "company/platform/search", "labs": "company/labs", "unallocated": "unallocated"}
    assert by_center(rows, "cost_center_path") == {
        "company/platform/search": Decimal(1), "company/labs": Decimal(2), "unallocated": Decimal(4)}


# ---------------------------------------------------------------------------------------------- usage splits

SPLIT = f"""usage_splits:
  - {{api_key: "{KEY}", source: usage/gateway.csv, consumers: {{team-a: labs, team-b: platform}}}}
"""
DAILY = b"""date,consumer,tokens
2026-05-01,team-a,100
2026-05-01,team-b,300
2026-05-02,team-a,50
2026-05-02,ghost,50
2026-04-30,team-b,999999
"""


def split_usage(config, data: bytes) -> UsageData:
    usage = read_usage(data, "/etc/chargeback/usage/gateway.csv", KEY)
    return UsageData({KEY: usage}, "test")


def test_a_shared_key_is_split_by_each_days_tokens_and_the_month_where_a_day_has_none() -> None:
    config = mapping(SPLIT)
    lines = [line("1.00", key=KEY, day="2026-05-01"), line("0.30", key=KEY, day="2026-05-02"),
             line("1.0000001", key=KEY, day="2026-05-03", count=3)]
    result = allocate_lines(to_table(lines, LINE_SCHEMA), config, split_usage(config, DAILY))
    rows = result.table.to_pylist()
    assert [(r["billing_date"], r["cost_center"], r["allocation_rule"], r["billed_cost"]) for r in rows] == [
        ("2026-05-01", "labs", "usage_split", Decimal("0.25")),
        ("2026-05-01", "platform", "usage_split", Decimal("0.75")),
        ("2026-05-02", "labs", "usage_split", Decimal("0.15")),
        ("2026-05-02", "search", "usage_split:unknown", Decimal("0.15")),  # ghost: the key's own cost center
        # the month's 150 : 300 : 50, at the bill's finest decimal, the remainder to the largest fraction
        ("2026-05-03", "labs", "usage_split", Decimal("0.3")),
        ("2026-05-03", "platform", "usage_split", Decimal("0.6000001")),
        ("2026-05-03", "search", "usage_split:unknown", Decimal("0.1")),
    ]
    assert sum(r["billed_cost"] for r in rows) == Decimal("2.3000001")  # the key's total, unchanged
    assert sum(r["line_count"] for r in rows if r["billing_date"] == "2026-05-03") == 3
    assert [r["share"] for r in rows[:2]] == [0.25, 0.75]
    assert result.warnings == (
        "usage split of API key '2100001': consumers neither in 'consumers' nor cost centers: ghost (50 tokens in 2026-05); "
        "their share went to the key's own cost center: 0.25 CNY to 'search'",
        "usage split of API key '2100001': no usage of the line's model and day in "
        "/etc/chargeback/usage/gateway.csv for 2026-05-03: split by the month's usage",
    )


def test_a_consumer_named_like_a_cost_center_maps_to_it_and_without_usage_the_key_falls_through() -> None:
    config = mapping(SPLIT)
    usage = split_usage(config, b"date,consumer,tokens\n2026-05-01,labs,1\n2026-05-01,team-b,3\n")
    rows = allocate([line("4", key=KEY, day="2026-05-01")], config, usage)
    assert by_center(rows) == {"labs": Decimal(1), "platform": Decimal(3)}
    june = allocate([line("4", key=KEY, day="2026-06-01", billing_month="2026-06")], config, usage)
    assert who(june) == [("2026-06-01", "search", "api_key")]  # no usage that month: the key's own mapping
    empty = split_usage(config, b"date,consumer,tokens\n")
    assert who(allocate([line("4", key=KEY, day="2026-05-01")], config, empty)) == [
        ("2026-05-01", "search", "api_key")]


MODELS = b"""date,consumer,tokens,model
2026-05-01,team-a,10,qwen-plus
2026-05-01,team-b,30,qwen-max
2026-05-02,team-a,1,qwen-max
"""


def test_a_model_level_file_splits_each_model_by_its_own_tokens() -> None:
    config = mapping(SPLIT)
    lines = [line("2.00", key=KEY, day="2026-05-01"), line("2.00", key=KEY, day="2026-05-01", model="qwen-max"),
             line("1.00", key=KEY, day="2026-05-02"), line("0.50", key=KEY, day="2026-05-02", model="qwen-max"),
             line("0.20", key=KEY, day="2026-05-02", model="qwen-turbo"),
             line("0.40", key=KEY, day="2026-05-03", model="qwen-turbo")]
    result = allocate_lines(to_table(lines, LINE_SCHEMA), config, split_usage(config, MODELS))
    got = [(r["billing_date"], r["model"], r["cost_center"], r["billed_cost"]) for r in result.table.to_pylist()]
    assert got == [
        ("2026-05-01", "qwen-max", "platform", Decimal("2.00")),
        ("2026-05-01", "qwen-plus", "labs", Decimal("2.00")),
        ("2026-05-02", "qwen-max", "labs", Decimal("0.50")),
        ("2026-05-02", "qwen-plus", "labs", Decimal("1.00")),  # the month's qwen-plus: team-a only
        ("2026-05-02", "qwen-turbo", "labs", Decimal("0.20")),  # that day's usage of all models
        ("2026-05-03", "qwen-turbo", "labs", Decimal("0.11")),  # the month of all models: 11 : 30
        ("2026-05-03", "qwen-turbo", "platform", Decimal("0.29")),
    ]
    assert [w.rpartition(" for ")[2] for w in result.warnings] == [
        "2026-05-02: split by that day's usage of all models", "2026-05-02: split by the month's usage",
        "2026-05-03: split by the month's usage of all models"]


def test_usage_split_decides_before_rules() -> None:
    config = mapping(SPLIT + "rules:\n  - {match: {api_key: \"*\"}, cost_center: company}\n")
    rows = allocate([line("1", key=KEY, day="2026-05-01"), line("1", day="2026-05-01")], config,
                    split_usage(config, DAILY))
    assert {(r["api_key_id"], r["cost_center"]) for r in rows} == {
        (KEY, "labs"), (KEY, "platform"), ("2100002", "company")}


@pytest.mark.parametrize(("data", "error"), [
    (b"date,user,tokens\n", "usage.csv, line 1, field 'consumer': missing column"),
    (b"date,consumer,tokens\n2026-05-01,a,12\n2026-05-32,a,1\n",
     "usage.csv, line 3, field 'date': '2026-05-32' is not a date (YYYY-MM-DD)"),
    (b"date,consumer,tokens\n2026-05-01,a,12\n2026-05-01,b,1.5\n",
     "usage.csv, line 3, field 'tokens': '1.5' is not a number of tokens (a whole number, at least 0)"),
    (b"date,consumer,tokens\n2026-05-01,a,-3\n",
     "usage.csv, line 2, field 'tokens': '-3' is not a number of tokens (a whole number, at least 0)"),
    (b"date,consumer,tokens\n2026-05-01,,3\n", "usage.csv, line 2, field 'consumer': required"),
])
def test_bad_usage_files_name_the_file_line_and_field(data: bytes, error: str) -> None:
    with pytest.raises(InputError) as caught:
        read_usage(data, "usage.csv")
    assert str(caught.value).startswith(error)
    assert caught.value.exit_code == 2


def test_a_parquet_usage_file_reads_like_the_csv() -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.table({"date": pa.array(["2026-05-01", "2026-05-01"]).cast(pa.date32()),
                             "consumer": ["team-a", "team-b"], "tokens": pa.array([1, 3], pa.int64())}), sink)
    usage = read_usage(sink.getvalue(), "usage.parquet", KEY)
    assert usage.weights("2026-05-01", "qwen-plus") == ({"team-a": 1, "team-b": 3}, "day")


# ---------------------------------------------------------------------------------------------- reporting currency

RATES = b"date,from,to,rate\n2026-05-01,USD,CNY,7.1234\n2026-05-15,USD,CNY,7.2\n"


def test_the_reporting_currency_converts_at_the_rate_on_or_before_the_billing_date() -> None:
    config = mapping("reporting: {currency: CNY, rates: rates.csv}\n", read=lambda location: RATES)
    rows = allocate([line("1.0000001", currency="USD", day="2026-05-14"),
                     line("2.5", currency="USD", day="2026-05-15"), line("3.3", day="2026-05-15")], config)
    assert [(r["currency"], r["billed_cost"], r["reporting_currency"], r["reporting_billed_cost"]) for r in rows] == [
        ("USD", Decimal("1.0000001"), "CNY", Decimal("7.12340071234")),  # exact: 1.0000001 x 7.1234
        ("CNY", Decimal("3.3"), "CNY", Decimal("3.3")),
        ("USD", Decimal("2.5"), "CNY", Decimal("18.0")),  # the rate of the 15th
    ]
    with pytest.raises(InputError) as caught:
        allocate([line("1", currency="USD", day="2026-04-30")], config)
    assert str(caught.value) == ("/etc/chargeback/rates.csv, field 'reporting.rates': no exchange rate from USD to "
                                 "CNY on or before 2026-04-30: add the rate to the rates file")


def test_reporting_amounts_round_half_to_even_at_twelve_decimals() -> None:
    rates = b"date,from,to,rate\n2026-05-01,USD,CNY,0.5\n"
    config = mapping("reporting: {currency: CNY, rates: rates.csv}\n", read=lambda location: rates)
    rows = allocate([line("0.000000000005", currency="USD"), line("0.000000000015", currency="USD")], config)
    assert sorted(r["reporting_billed_cost"] for r in rows) == [Decimal("0.000000000002"),
                                                               Decimal("0.000000000008")]


def test_warnings_name_rules_that_decided_nothing_and_absent_shared_keys() -> None:
    from chargeback.jobs.run_month import mapping_warnings

    config = mapping(SPLIT + "rules:\n  - {match: {model: qwen-max}, cost_center: labs}\n"
                             "  - {match: {model: qwen-mx}, cost_center: labs, name: typo}\n"
                             "  - {match: {model: qwen-turbo}, cost_center: labs, until: 2026-04-30}\n")
    warnings = mapping_warnings(config, "2026-05", {"2100002"}, {WS}, {"labs": {"CNY": Decimal(1)}}, {"rule:1"})
    assert "rule typo (labs) decided no line of 2026-05: check its match" in warnings
    assert not any("rule 3" in w for w in warnings)  # not in force in May
    assert "API key '2100001' of usage_splits does not appear in the 2026-05 bill: check the ID in the mapping" \
        in warnings
