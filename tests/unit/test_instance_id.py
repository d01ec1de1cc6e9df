from chargeback.bills.instance_id import classify_channel, classify_usage_type, parse_instance_id


def test_api_key_call_with_empty_channel_is_api():
    parsed = parse_instance_id("1234567;llm-a8knu8zo5mnb4832;qwen3.6-plus;context_0-256k_input_token;;0")
    assert parsed.valid
    assert (parsed.api_key_id, parsed.workspace_id, parsed.model) == ("1234567", "llm-a8knu8zo5mnb4832", "qwen3.6-plus")
    assert (parsed.io_type, parsed.context_tier, parsed.call_source) == ("input", "0-256k", "api")
    assert parsed.free_quota_stop == "0"


def test_console_call_has_empty_key_and_bmp_channel():
    parsed = parse_instance_id(";llm-a8knu8zo5mnb4832;qwen3-omni-flash;purein_text_output_token;bmp;0")
    assert parsed.api_key_id == ""
    assert parsed.call_source == "console"
    assert parsed.io_type == "output"
    assert parsed.context_tier == ""


def test_five_part_id_from_older_bills():
    parsed = parse_instance_id("12345;llm-xxx;qwen-max;output_token;app")
    assert parsed.valid
    assert parsed.channel == "app"
    assert parsed.call_source == "api"
    assert parsed.free_quota_stop == ""


def test_non_token_units_and_cache():
    assert classify_usage_type("images") == ("unit", "")
    assert classify_usage_type("times") == ("unit", "")
    assert classify_usage_type("1080P") == ("unit", "")
    assert classify_usage_type("720P") == ("unit", "")
    assert classify_usage_type("input_token_cache") == ("cached_input", "")
    assert classify_usage_type("context_0-128k_input_token") == ("input", "0-128k")
    assert classify_usage_type("something_new") == ("other", "")


def test_channels_unknown_values_kept_raw():
    assert classify_channel("assistant-api", "1") == "assistant_api"
    assert classify_channel("batch-x", "1") == "batch-x"
    assert classify_channel("", "") == "console"


def test_ids_without_five_parts_are_invalid():
    assert not parse_instance_id("i-bp1234567890").valid
    assert not parse_instance_id("a;b;c").valid
    assert not parse_instance_id("1;;m;input_token;;0").valid  # no workspace
