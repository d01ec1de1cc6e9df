"""Each alert rule on hand-made daily series: fires when it should, stays quiet when it should not."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chargeback.alerts.data import load_alert_data
from chargeback.alerts.model import Evaluation
from chargeback.alerts.rules import evaluate
from chargeback.alerts.rules.common import Coverage, median
from chargeback.config.file import DEFAULT_CONFIG, ConfigFile, parse_config_file
from chargeback.errors import ConfigError
from chargeback.forecast import forecast_month
from chargeback.storage import LocalObjectStore
from tests.support.alert_tables import row, series
from tests.support.warehouse import Grant, publish_month, publish_months

MAPPING = """
cost_centers:
  search:
    name: Search team
    owners: [lead@example.com]
    workspaces: [llm-search]
    api_keys: ["2100001"]
    budget: {monthly: 500}
  research:
    owners: [r@example.com]
    workspaces: [llm-research]
    api_keys: ["2300002"]
alerts:
  default_channels: [platform]
  channels:
    platform: {type: webhook, url_env: PLATFORM_HOOK_URL}
"""
NOW = datetime(2026, 5, 15, 9, 0, tzinfo=UTC)


def mapping(extra: str = "", text: str = MAPPING) -> ConfigFile:
    return parse_config_file(text + extra)


def run(store: LocalObjectStore, day: date, the_mapping: ConfigFile | None = None,
        now: datetime = NOW) -> Evaluation:
    the_mapping = the_mapping or mapping()
    settings = the_mapping.alerts
    data = load_alert_data(store, day, settings)
    return evaluate(data, day=day, now=now, mapping=the_mapping, settings=settings)


def fired(evaluation: Evaluation, rule: str) -> list[tuple[str, str, str]]:
    return sorted((a.subject.ref, a.threshold, a.period) for a in evaluation.alerts if a.rule == rule)


@pytest.fixture
def store(tmp_path):
    return LocalObjectStore(tmp_path / "warehouse")


# ---------------------------------------------------------------- budgets


def test_budget_fires_each_crossed_threshold_on_actual_spend(store):
    # 14 days x 20 + a partial 15th day of 120 = 400 = 80% of 500
    rows = series(date(2026, 5, 1), ["20"] * 14 + ["120"])
    publish_month(store, "2026-05", rows)
    evaluation = run(store, date(2026, 5, 16))
    assert fired(evaluation, "budget_actual") == [
        ("cost_center:search", "50", "2026-05"), ("cost_center:search", "80", "2026-05")]
    alert = next(a for a in evaluation.alerts if a.rule == "budget_actual" and a.threshold == "80")
    assert alert.value == Decimal("400")
    assert alert.currency == "CNY"
    assert "CNY 400.00 = 80% of the monthly budget CNY 500.00" in alert.reasons[0]
    assert "Data through 2026-05-15" in alert.reasons[1]
    assert [r.channel for r in alert.routes] == ["owners"]
    assert alert.routes[0].recipients == ("lead@example.com",)


def test_a_parent_budget_counts_the_spend_of_every_cost_center_below_it(store):
    tree = """
cost_centers:
  company: {owners: [cfo@example.com], budget: {monthly: 1000}}
  platform: {parent: company, budget: {monthly: 300}}
  search: {parent: platform, owners: [lead@example.com], workspaces: [llm-search]}
  research: {parent: company, workspaces: [llm-research]}
"""
    rows = [*series(date(2026, 5, 1), ["25"] * 10, cost_center="search"),  # 250: search, under platform
            *series(date(2026, 5, 1), ["30"] * 10, cost_center="research", workspace_id="llm-research"),
            *series(date(2026, 5, 1), ["5"] * 10, cost_center="company")]  # 50 on the parent itself
    publish_month(store, "2026-05", rows)
    evaluation = run(store, date(2026, 5, 12), mapping("alerts: {forecast: {enabled: false}}\n", text=tree))
    assert fired(evaluation, "budget_actual") == [
        ("cost_center:company", "50", "2026-05"),  # 250 + 300 + 50 = 600 of 1000
        ("cost_center:platform", "50", "2026-05"), ("cost_center:platform", "80", "2026-05")]  # 250 of 300
    company = next(a for a in evaluation.alerts if a.subject.ref == "cost_center:company")
    assert company.value == Decimal("600")
    assert company.routes[0].recipients == ("cfo@example.com",)


def test_budget_just_below_threshold_stays_quiet(store):
    rows = series(date(2026, 5, 1), ["20"] * 14 + ["119.99"])  # 399.99 < 400
    publish_month(store, "2026-05", rows)
    evaluation = run(store, date(2026, 5, 16), mapping("  forecast: {enabled: false}\n"))
    assert fired(evaluation, "budget_actual") == [("cost_center:search", "50", "2026-05")]


def test_forecast_fires_before_actual_and_states_method_and_completeness(store):
    # 10 complete days of 20/day plus a partial 11th: run rate 20 x 21 days left + 200 = 620 > 500
    rows = series(date(2026, 5, 1), ["20"] * 10 + ["5"])
    publish_month(store, "2026-05", rows)
    evaluation = run(store, date(2026, 5, 13))
    assert fired(evaluation, "budget_actual") == []
    assert fired(evaluation, "budget_forecast") == [
        ("cost_center:search", "100", "2026-05"), ("cost_center:search", "50", "2026-05"),
        ("cost_center:search", "80", "2026-05")]
    alert = next(a for a in evaluation.alerts if a.rule == "budget_forecast" and a.threshold == "100")
    assert alert.value == Decimal("620")
    assert alert.reasons[1] == ("Method: run rate CNY 20.00/day over the 7 complete days "
                                "2026-05-04..2026-05-10, times 21 days left, plus CNY 200.00 spent through "
                                "2026-05-10.")
    assert alert.reasons[2] == ("Data through 2026-05-11 (newest billing date; 2 days behind 2026-05-13); "
                                "complete through 2026-05-10.")


def test_forecast_skips_thresholds_the_actual_spend_already_crossed(store):
    rows = series(date(2026, 5, 1), ["30"] * 10 + ["1"])  # actual 301 (60%), forecast 300 + 30 x 21 = 930
    publish_month(store, "2026-05", rows)
    evaluation = run(store, date(2026, 5, 12))
    assert fired(evaluation, "budget_actual") == [("cost_center:search", "50", "2026-05")]
    assert [t for _, t, _ in fired(evaluation, "budget_forecast")] == ["100", "80"]


def test_forecast_needs_enough_complete_days(store):
    rows = series(date(2026, 5, 1), ["100", "100", "1"])  # two complete days < min_complete_days 3
    publish_month(store, "2026-05", rows)
    evaluation = run(store, date(2026, 5, 4))
    assert fired(evaluation, "budget_forecast") == []
    assert fired(evaluation, "budget_actual") == []


def test_forecast_early_in_a_month_uses_the_previous_months_complete_days():
    by_day = {date(2026, 4, d): Decimal(10) for d in range(24, 31)}
    coverage = Coverage(date(2026, 4, 1), date(2026, 5, 1), date(2026, 4, 30))
    forecast = forecast_month(by_day, "2026-05", coverage.complete_through, coverage.first, 7, 3)
    assert forecast is not None
    assert (forecast.value, forecast.days_left, forecast.to_date) == (Decimal(310), 31, Decimal(0))
    # a complete month has no forecast: the actual spend is the number
    assert forecast_month(by_day, "2026-04", date(2026, 4, 30), date(2026, 4, 1), 7, 3) is None


def test_budget_currency_defaults_to_the_data_and_never_mixes(store):
    rows = series(date(2026, 5, 1), ["300"], currency="USD") + series(date(2026, 5, 1), ["300"])
    publish_month(store, "2026-05", rows)
    evaluation = run(store, date(2026, 5, 3), mapping("  forecast: {enabled: false}\n"))
    assert fired(evaluation, "budget_actual") == []  # two currencies and no budget.currency: not evaluated
    assert any("several currencies ['CNY', 'USD']; set budget.currency" in n for n in evaluation.notes)
    text = MAPPING.replace("budget: {monthly: 500}", "budget: {monthly: 500, currency: USD}")
    evaluation = run(store, date(2026, 5, 3), mapping("  forecast: {enabled: false}\n", text=text))
    assert [(a.currency, a.value, a.threshold) for a in evaluation.alerts if a.rule == "budget_actual"] == [
        ("USD", Decimal(300), "50")]


def test_budgets_per_workspace_and_api_key_from_the_alerts_section(store):
    rows = (series(date(2026, 5, 1), ["60"], workspace_id="llm-research", api_key_id="2300002",
                   cost_center="research")
            + series(date(2026, 5, 1), ["10"]))
    publish_month(store, "2026-05", rows)
    extra = """  forecast: {enabled: false}
  budgets:
    - {workspace: llm-research, monthly: 100, thresholds: [50]}
    - {api_key: 2100001, monthly: 100, thresholds: [50], channels: [platform]}
"""
    evaluation = run(store, date(2026, 5, 3), mapping(extra))
    assert fired(evaluation, "budget_actual") == [("workspace:llm-research", "50", "2026-05")]
    alert = evaluation.alerts[0]
    assert alert.routes[0].recipients == ("r@example.com",)  # the workspace's cost center owners


def test_previous_month_is_closed_after_the_grace_days_once_final(store):
    may = series(date(2026, 5, 1), ["20"] * 31)  # 620 > 500
    publish_month(store, "2026-05", may, status="final")
    publish_month(store, "2026-06", series(date(2026, 6, 1), ["1"]))
    early = run(store, date(2026, 6, 2), now=datetime(2026, 6, 2, tzinfo=UTC))
    assert ("cost_center:search", "100", "2026-05") in fired(early, "budget_actual")
    late = run(store, date(2026, 6, 10), now=datetime(2026, 6, 2, tzinfo=UTC))
    assert fired(late, "budget_actual") == []


# ---------------------------------------------------------------- anomalies


def _steady(start: date, days: int, cost: str = "10", **fields):
    return series(start, [cost] * days, **fields)


def test_anomaly_fires_against_median_and_mad_naming_top_contributors(store):
    baseline = series(date(2026, 5, 1), ["10", "11", "9", "10", "12", "10", "9", "11", "10", "10", "11", "9",
                                         "10", "10"])
    spike_day = date(2026, 5, 15)
    spike = [row(spike_day, "12"),
             row(spike_day, "150", model="qwen-max", io_type="output", api_key_id="2100001"),
             row(spike_day, "30", model="qwen-plus", io_type="output")]
    partial = [row(date(2026, 5, 16), "1")]
    publish_month(store, "2026-05", baseline + spike + partial)
    evaluation = run(store, date(2026, 5, 17), mapping("  forecast: {enabled: false}\n"))
    refs = fired(evaluation, "anomaly")
    assert ("cost_center:search", "", "2026-05-15") in refs
    assert ("workspace:llm-search", "", "2026-05-15") in refs
    assert ("api_key:2100001", "", "2026-05-15") in refs
    assert ("model:qwen-max", "", "2026-05-15") in refs  # usually nothing, now 150
    alert = next(a for a in evaluation.alerts if a.rule == "anomaly" and a.subject.kind == "cost_center")
    assert alert.value == Decimal(192)
    assert alert.reasons[0] == ("2026-05-15: CNY 192.00 against a median of CNY 10.00/day over the 14 days "
                                "before (MAD CNY 0.50); 19.2x the usual.")
    assert alert.reasons[2] == (
        "Top contributors: qwen-max · key 2100001 · output · api: CNY 150.00 (usual CNY 0.00); "
        "qwen-plus · key 2100001 · output · api: CNY 30.00 (usual CNY 0.00); "
        "qwen-plus · key 2100001 · input · api: CNY 12.00 (usual CNY 10.00).")
    assert alert.routes[0].channel == "owners"
    model_alert = next(a for a in evaluation.alerts if a.rule == "anomaly" and a.subject.kind == "model")
    assert [r.channel for r in model_alert.routes] == ["platform"]
    assert ("anomaly", "2026-05-16") not in evaluation.evaluated  # the newest day is partial: not judged


def test_anomaly_below_the_minimum_amount_stays_quiet(store):
    # pennies: 0.01/day then 5.00 is 500x the usual, but only 4.99 above it (min_amount 10)
    rows = series(date(2026, 5, 1), ["0.01"] * 14 + ["5", "0.01"])
    publish_month(store, "2026-05", rows)
    evaluation = run(store, date(2026, 5, 17))
    assert fired(evaluation, "anomaly") == []
    assert ("anomaly", "2026-05-15") in evaluation.evaluated


def test_anomaly_within_normal_spread_stays_quiet(store):
    noisy = ["10", "40", "12", "45", "8", "50", "15", "38", "11", "42", "9", "47", "13", "41"]
    rows = series(date(2026, 5, 1), [*noisy, "55", "1"])  # 55 is within median + 4 x 1.4826 x MAD
    publish_month(store, "2026-05", rows)
    evaluation = run(store, date(2026, 5, 17))
    assert fired(evaluation, "anomaly") == []


def test_anomaly_needs_a_baseline_and_crosses_month_boundaries(store):
    april = series(date(2026, 4, 20), ["10"] * 11)  # 04-20..04-30
    may = series(date(2026, 5, 1), ["10", "80", "1"])
    publish_months(store, april + may)
    evaluation = run(store, date(2026, 5, 4), mapping("  forecast: {enabled: false}\n"))
    assert ("cost_center:search", "", "2026-05-02") in fired(evaluation, "anomaly")
    # with data starting on 05-01 there is no baseline: nothing is judged
    fresh = LocalObjectStore(store.root.parent / "fresh")
    publish_month(fresh, "2026-05", may)
    evaluation = run(fresh, date(2026, 5, 4))
    assert fired(evaluation, "anomaly") == []
    assert evaluation.evaluated == frozenset()


def test_median_is_exact():
    assert median([Decimal("1"), Decimal("2")]) == Decimal("1.5")
    assert median([Decimal("3"), Decimal("1"), Decimal("2")]) == Decimal(2)


# ---------------------------------------------------------------- new keys and workspaces


def test_unknown_api_key_and_workspace_fire_known_ones_do_not(store):
    rows = (series(date(2026, 5, 1), ["5"])
            + series(date(2026, 5, 2), ["7"], api_key_id="9999999", cost_center="search",
                     allocation_rule="workspace")
            + series(date(2026, 5, 2), ["3"], workspace_id="llm-new", api_key_id="",
                     cost_center="unallocated", allocation_rule="unallocated")
            # a workspace the mapping does not name, used only through a mapped key: nothing to do
            + series(date(2026, 5, 2), ["4"], workspace_id="llm-keys-only", api_key_id="2300002",
                     cost_center="research", allocation_rule="api_key"))
    publish_month(store, "2026-05", rows)
    evaluation = run(store, date(2026, 5, 4))
    assert fired(evaluation, "new_api_key") == [("api_key:9999999", "", "2026-05")]
    assert fired(evaluation, "new_workspace") == [("workspace:llm-new", "", "2026-05")]
    key = next(a for a in evaluation.alerts if a.rule == "new_api_key")
    assert key.reasons == ("First seen 2026-05-02; CNY 7.00 in 2026-05 so far.", "Workspace: llm-search.",
                           "Allocated now: CNY 7.00 to search by workspace. Add it to the mapping to decide "
                           "who pays.")
    # the key's workspace belongs to search: its owners hear about it, and so does the platform channel
    assert [r.channel for r in key.routes] == ["owners", "platform"]
    workspace = next(a for a in evaluation.alerts if a.rule == "new_workspace")
    assert workspace.reasons[-1] == ("Allocated now: CNY 3.00 in 'unallocated'. Add it to the mapping to decide "
                                     "who pays.")


def test_keys_and_workspaces_that_rules_or_usage_splits_decide_are_not_new(store):
    rows = (series(date(2026, 5, 2), ["7"], api_key_id="9999999", workspace_id="llm-ruled", cost_center="research",
                   allocation_rule="rule:partner")
            + series(date(2026, 5, 2), ["2"], api_key_id="2100001", workspace_id="llm-split", cost_center="search",
                     allocation_rule="usage_split")
            + series(date(2026, 5, 3), ["1"], api_key_id="9999998", cost_center="search",
                     allocation_rule="workspace"))
    publish_month(store, "2026-05", rows)
    rules = mapping("rules:\n  - {match: {api_key: \"99999*\"}, cost_center: research, name: partner}\n")
    evaluation = run(store, date(2026, 5, 4), rules)
    assert fired(evaluation, "new_workspace") == []  # rules and the split decided all of their cost
    assert fired(evaluation, "new_api_key") == [("api_key:9999998", "", "2026-05")]  # the workspace's fallback


def test_without_a_mapping_file_new_keys_are_not_flagged(store):
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["5", "5"], api_key_id="9999999"))
    evaluation = run(store, date(2026, 5, 3), DEFAULT_CONFIG)
    assert fired(evaluation, "new_api_key") == []
    assert fired(evaluation, "new_workspace") == []


# ---------------------------------------------------------------- free quota


QUOTA = [Grant("qwen3.6-plus", total="1000000 ", unit="tokens", valid_from="2026-04-02 00:00:00",
               valid_until="2026-07-02 00:00:00")]


def _free(day: date, kilo_tokens: str):
    return row(day, "0", model="qwen3.6-plus", fee_type="free_quota", deducted_usage=kilo_tokens)


def test_free_quota_nearly_used_fires_per_threshold_across_months(store):
    april = [_free(date(2026, 4, 10), "500")]
    may = [_free(date(2026, 5, 10), "300"), row(date(2026, 5, 10), "1")]
    publish_month(store, "2026-04", april, status="final", grants=QUOTA)
    publish_month(store, "2026-05", may, grants=QUOTA)
    evaluation = run(store, date(2026, 5, 11))
    assert fired(evaluation, "free_quota_used") == [("model:qwen3.6-plus", "80", "2026-04-02..2026-07-02")]
    alert = next(a for a in evaluation.alerts if a.rule == "free_quota_used")
    assert alert.value == Decimal(80)
    assert alert.reasons[0].startswith("800000 of 1000000 tokens used (80%), valid 2026-04-02 00:00 until")
    assert fired(evaluation, "free_quota_expiring") == []


def test_free_quota_just_below_threshold_and_without_totals_stays_quiet(store):
    publish_month(store, "2026-05", [_free(date(2026, 5, 10), "799.999")], grants=QUOTA)
    assert fired(run(store, date(2026, 5, 11)), "free_quota_used") == []
    bare = LocalObjectStore(store.root.parent / "bare")
    publish_month(bare, "2026-05", [_free(date(2026, 5, 10), "999")])  # no free_quota list in the manifest
    evaluation = run(bare, date(2026, 5, 11))
    assert [a for a in evaluation.alerts if a.rule.startswith("free_quota")] == []


def test_free_quota_expiring_fires_inside_the_window(store):
    publish_month(store, "2026-06", [_free(date(2026, 6, 10), "100")], grants=QUOTA)
    now = datetime(2026, 6, 18, 9, tzinfo=UTC)
    evaluation = run(store, date(2026, 6, 18), now=now)
    assert fired(evaluation, "free_quota_expiring") == [
        ("model:qwen3.6-plus", "14", "2026-04-02..2026-07-02")]
    alert = next(a for a in evaluation.alerts if a.rule == "free_quota_expiring")
    assert alert.title == "Free quota of qwen3.6-plus expires 2026-07-02 00:00 (in 14 days) with 90% unused"
    assert fired(run(store, date(2026, 6, 17), now=now), "free_quota_expiring") == []


def test_free_quota_quotas_can_come_from_settings(store):
    publish_month(store, "2026-05", [_free(date(2026, 5, 10), "960")])
    extra = """  free_quota:
    quotas:
      - {model: qwen3.6-plus, total: 1000, unit: 千tokens, valid_from: 2026-04-02, valid_until: 2026-07-02}
"""
    evaluation = run(store, date(2026, 5, 11), mapping(extra))
    assert [t for _, t, _ in fired(evaluation, "free_quota_used")] == ["80", "95"]


# ---------------------------------------------------------------- damaged data


def test_a_month_with_a_damaged_manifest_is_left_out_with_a_note_and_the_rest_still_runs(store):
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["20"] * 14 + ["120"]))
    publish_month(store, "2026-04", series(date(2026, 4, 1), ["1"]), status="final")
    store.write_bytes("manifests/billing_month=2026-04/manifest.json", b'{"schema_version": 2, "month": ')
    evaluation = run(store, date(2026, 5, 16))
    assert [n for n in evaluation.notes if "2026-04" in n] == [
        f"{store.url.rstrip('/')}/manifests/billing_month=2026-04/manifest.json: not a readable JSON document "
        "(Expecting value: line 1 column 32 (char 31)); rebuild the month with 'chargeback run --force'; "
        "month 2026-04 left out."]
    assert fired(evaluation, "budget_actual") == [
        ("cost_center:search", "50", "2026-05"), ("cost_center:search", "80", "2026-05")]


# ---------------------------------------------------------------- stale data


def test_stale_data_fires_after_the_limit_once_per_newest_file(store):
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["1"]),
                newest_source_time="2026-05-13T00:00:00+00:00")
    quiet = run(store, date(2026, 5, 14), now=datetime(2026, 5, 14, 11, 54, tzinfo=UTC))  # 35.9 h
    assert fired(quiet, "stale_data") == []
    loud = run(store, date(2026, 5, 14), now=datetime(2026, 5, 14, 12, 6, tzinfo=UTC))  # 36.1 h
    assert fired(loud, "stale_data") == [("warehouse:bills", "36", "2026-05-13T00:00:00+00:00")]
    assert loud.alerts[-1].value == Decimal("36.1")


def test_a_bill_time_without_offset_is_read_as_china_time(store):
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["1"]), newest_source_time="2026-05-13T08:00:00")
    now = datetime(2026, 5, 14, 12, 6, tzinfo=UTC)  # 36.1 h after 2026-05-13T08:00+08:00 (28.1 h if UTC)
    assert fired(run(store, date(2026, 5, 14), now=now), "stale_data") == [
        ("warehouse:bills", "36", "2026-05-13T00:00:00+00:00")]


def test_staleness_of_a_past_date_is_judged_at_the_end_of_that_date(store):
    publish_month(store, "2026-05", series(date(2026, 5, 1), ["1"]), newest_source_time="2026-05-13T00:00:00+00:00")
    much_later = datetime(2026, 11, 29, tzinfo=UTC)
    # end of 2026-05-13 in China time is 16:00 UTC: 16 h old then
    assert fired(run(store, date(2026, 5, 13), now=much_later), "stale_data") == []
    # end of 2026-05-14: 40 h old
    assert fired(run(store, date(2026, 5, 14), now=much_later), "stale_data") == [
        ("warehouse:bills", "36", "2026-05-13T00:00:00+00:00")]


def test_an_empty_warehouse_is_stale(store):
    evaluation = run(store, date(2026, 5, 14))
    assert fired(evaluation, "stale_data") == [("warehouse:bills", "36", "2026-05")]
    assert evaluation.notes[0] == "No billing data on or before 2026-05-14."


# ---------------------------------------------------------------- settings


def test_settings_list_every_bad_field_and_refuse_literal_urls():
    bad = MAPPING.replace("platform: {type: webhook, url_env: PLATFORM_HOOK_URL}",
                          "platform: {type: webhook, url: 'https://hooks.example.com/x'}")
    bad += """  default_channels: [platform, nowhere]
  anomaly: {k: -1}
"""
    with pytest.raises(ConfigError) as error:
        parse_config_file(bad.replace("alerts:\n  default_channels: [platform]\n", "alerts:\n"))
    message = str(error.value)
    assert "line 15, alerts.channels.platform: url must not be written in the file" in message
    assert "line 17, alerts.anomaly.k: must be more than 0, not -1" in message
    with pytest.raises(ConfigError, match=r"alerts.default_channels\[1\]: unknown channel 'nowhere' \(define it"):
        mapping("  budgets: []\n", text=MAPPING.replace("[platform]", "[platform, nowhere]"))
