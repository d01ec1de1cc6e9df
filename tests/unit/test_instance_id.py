from chargeback.bills.instance_id import UsageKind, classify_channel, classify_usage_type, parse_instance_id


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
    def kind(usage_type: str) -> tuple[str, str]:
        found = classify_usage_type(usage_type)
        return found.io_type, found.context_tier

    assert kind("images") == ("unit", "")
    assert kind("times") == ("unit", "")
    assert kind("1080P") == ("unit", "")
    assert kind("720P") == ("unit", "")
    assert kind("input_token_cache") == ("cached_input", "")
    assert kind("context_0-128k_input_token") == ("input", "0-128k")
    assert kind("something_new") == ("other", "")


def test_cache_batch_and_thinking_kinds():
    implicit, explicit = classify_usage_type("text_input_token_cache"), classify_usage_type("input_token_cache_read")
    assert (implicit.io_type, implicit.cache, implicit.modality) == ("cached_input", "implicit", "text")
    assert (explicit.io_type, explicit.cache) == ("cached_input", "explicit")
    write = classify_usage_type("context_32k-128k_input_token_cache_creation_5m")
    assert (write.io_type, write.cache, write.context_tier, write.name) == (
        "cache_write", "explicit", "32k-128k", "input_token_cache_creation_5m")
    assert classify_usage_type("output_token_batch") == UsageKind("output", batch=True, name="output_token_batch")
    assert classify_usage_type("thinking_output_token") == UsageKind("output", thinking=True,
                                                                     name="thinking_output_token")
    assert classify_usage_type("purein_text_output_token").modality == "purein_text"


def test_unknown_shapes_are_not_guessed():
    # a cache of output, thinking input, a glued modality: no such usage type is known; kept as 'other'
    for usage_type in ("output_token_cache", "thinking_input_token", "textinput_token", "input_token_cached",
                       "embedding_token", "context_0-128k_foo"):
        kind = classify_usage_type(usage_type)
        assert (kind.io_type, kind.known) == ("other", False), usage_type
    assert classify_usage_type("context_0-128k_foo").context_tier == "0-128k"


def test_channels_unknown_values_kept_raw():
    assert classify_channel("assistant-api", "1") == "assistant_api"
    assert classify_channel("batch-x", "1") == "batch-x"
    assert classify_channel("", "") == "console"


def test_ids_without_five_parts_are_invalid():
    assert not parse_instance_id("i-bp1234567890").valid
    assert not parse_instance_id("a;b;c").valid
    assert not parse_instance_id("1;;m;input_token;;0").valid  # no workspace
