"""`chargeback estimate` end to end through chargeback.cli.main: output, JSON and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chargeback.cli import main
from tests.support.conversations import CHAT


@pytest.fixture
def chat_file(tmp_path: Path) -> Path:
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(CHAT), encoding="utf-8")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["--log-format", "text", "estimate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_conversation_json(capsys, chat_file):
    code, out, _ = run(capsys, "--model", "qwen-plus", "--conversation", str(chat_file), "--output-tokens",
                       "20", "--on", "2025-06-01", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["model"], data["currency"], data["input_tokens"], data["output_tokens"], data["cost"]) == (
        "qwen-plus", "USD", 84, 40, "0.0000816")
    assert [(r["input_tokens"], r["output_tokens"], r["cost"]) for r in data["rounds"]] == [
        (11, 13, "0.00002"), (31, 7, "0.0000208"), (42, 20, "0.0000408")]
    assert {a["model"]: a["cost"] for a in data["alternatives"]} == {"qwen-max": "0.0003904",
                                                                      "qwen-turbo": "0.0000122"}


def test_text_table(capsys):
    code, out, _ = run(capsys, "--model", "qwen-max", "--text", "Nice to meet you.", "--output-tokens", "100",
                       "--on", "2025-01-10")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "qwen-max on intl, list prices of 2025-01-10, USD per 1,000 tokens"
    assert lines[2].split() == ["1", "5", "100", "-", "0.01", "0.03", "0.00305"]
    assert any(line.split()[:2] == ["qwen-turbo", "0.000122"] for line in lines)


def test_china_qwen_max(capsys):
    code, out, err = run(capsys, "--site", "cn", "--model", "qwen-max", "--text", "Nice to meet you.",
                         "--output-tokens", "100", "--on", "2026-05-14")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "qwen-max on cn, list prices of 2026-05-14, CNY per 1,000 tokens"
    # 5 x 0.0024 + 100 x 0.0096 = 0.972 per 1,000 tokens
    assert lines[2].split() == ["1", "5", "100", "-", "0.0024", "0.0096", "0.000972"]
    assert "The same prompt billed another way (CNY):" in lines
    batch = next(line for line in lines if line.startswith("  as batch calls"))
    assert batch.split()[-1] == "0.000486"  # 5 x 0.0012 + 100 x 0.0048, half price [INFERRED]
    explicit = next(line for line in lines if line.startswith("  with an explicit cache"))
    assert explicit.endswith("cannot price: round 1: no cache write price")


@pytest.mark.parametrize(("model", "cost", "batch"), [
    ("qwen3-max", "0.0010125", "0.00050625"),  # 5 x 0.0025 + 100 x 0.01; batch 0.00125 / 0.005
    ("qwen3.6-plus", "0.00121", None),  # 5 x 0.002 + 100 x 0.012; batch price unknown
])
def test_china_qwen3_models_json(capsys, model, cost, batch):
    code, out, _ = run(capsys, "--site", "cn", "--model", model, "--text", "Nice to meet you.",
                       "--output-tokens", "100", "--on", "2026-05-14", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["currency"], data["cost"], data["variants"]["batch"]["cost"]) == ("CNY", cost, batch)
    assert data["rounds"][0]["context_tier"] in {"0-32k", "0-256k"}
    assert data["variants"]["implicit_cache"]["cost"] == cost  # no history to hit in a single prompt


def test_a_prompt_crossing_a_context_tier(capsys, tmp_path):
    prompt = tmp_path / "long.txt"
    prompt.write_text(" a" * 40_000, encoding="utf-8")  # 40,000 tokens with the Qwen tokenizer
    code, out, _ = run(capsys, "--site", "cn", "--model", "qwen3-max", "--file", str(prompt),
                       "--output-tokens", "1000", "--on", "2026-05-14", "--json")
    assert code == 0
    data = json.loads(out)
    [priced] = data["rounds"]
    assert (priced["input_tokens"], priced["context_tier"], priced["input_price"], priced["output_price"]) == (
        40_000, "32k-128k", "0.004", "0.016")
    # the whole request at the 32K-128K tier: 40,000 x 0.004 + 1,000 x 0.016 = 176 per 1,000 tokens
    assert data["cost"] == "0.176"
    assert {name: v["cost"] for name, v in data["variants"].items()} == {
        "implicit_cache": "0.176", "explicit_cache": "0.216", "batch": "0.088"}  # 200 + 16; 80 + 8


def test_prompt_file_on_the_china_site(capsys, tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("通义千问具有强大的能力。", encoding="utf-8")
    code, out, _ = run(capsys, "--model", "qwen-plus", "--file", str(prompt), "--site", "cn", "--on",
                       "2026-05-14", "--output-tokens", "1000", "--json")
    assert code == 0
    data = json.loads(out)
    # 8 x 0.0008 / 1000 + 1000 x 0.002 / 1000
    assert (data["input_tokens"], data["cost"], data["currency"]) == (8, "0.0020064", "CNY")
    assert data["rounds"][0]["context_tier"] == "0-128k"


def test_mapping_prices_override_the_catalog(capsys, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "cost_centers: {}\n"
        "prices:\n"
        "  - model: qwen3.6-plus\n"
        "    site: cn\n"
        "    effective_from: 2026-05-01\n"
        "    source: our contract\n"
        "    prices: {input: \"0.002\", output: \"0.012\"}\n", encoding="utf-8")
    code, out, _ = run(capsys, "--model", "qwen3.6-plus", "--text", "Nice to meet you.", "--site", "cn",
                       "--on", "2026-05-14", "--mapping", str(mapping), "--json")
    assert code == 0
    assert json.loads(out)["cost"] == "0.00001"  # 5 x 0.002 / 1000


@pytest.mark.parametrize(("setup", "args", "expected"), [
    (None, ["--conversation", "{tmp}/missing.json"], "{tmp}/missing.json: no such file"),
    (None, ["--file", "{tmp}/missing.txt"], "{tmp}/missing.txt: no such file"),
    ("[{\"role\": \"user\",", ["--conversation", "{tmp}/bad.json"], "{tmp}/bad.json, line 1: not valid JSON"),
    ('[{"role": "user", "content": "hi"}, {"role": "bot", "content": "x"}]',
     ["--conversation", "{tmp}/bad.json"], "{tmp}/bad.json, field '[1].role'"),
    (None, ["--text", "hi", "--model", "qwen-mega"], "field 'model': no intl input price for 'qwen-mega'"),
    (None, ["--text", "hi", "--model", "qwen-mega"], "(known intl models: qwen-max, qwen-plus, qwen-turbo)"),
    (None, ["--text", "hi", "--output-tokens", "-1"], "field '--output-tokens'"),
    (None, ["--text", "hi", "--mapping", "{tmp}/nope.yaml"], "{tmp}/nope.yaml: cannot read the mapping file"),
])
def test_bad_input_exits_2_naming_file_and_field(capsys, tmp_path, setup, args, expected):
    if setup is not None:
        (tmp_path / "bad.json").write_text(setup, encoding="utf-8")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--model" not in argv:
        argv += ["--model", "qwen-plus"]
    code, out, err = run(capsys, *argv, "--on", "2025-06-01")
    assert code == 2
    assert out == ""
    assert expected.replace("{tmp}", str(tmp_path)) in err


def test_thinking_output(capsys):
    code, out, _ = run(capsys, "--site", "cn", "--model", "qwen-plus", "--thinking", "--text", "Nice to meet you.",
                       "--output-tokens", "100", "--on", "2026-05-14")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].endswith("CNY per 1,000 tokens, output in thinking mode")
    # 5 x 0.0008 + 100 x 0.008 (thinking output) = 0.804 per 1,000 tokens
    assert lines[2].split() == ["1", "5", "100", "0-128k", "0.0008", "0.008", "0.000804"]


def test_a_model_priced_on_the_other_site_only_says_so(capsys):
    code, out, err = run(capsys, "--model", "qwen3-max", "--text", "hi", "--on", "2026-05-20")
    assert (code, out) == (2, "")
    assert "no intl input price for 'qwen3-max' on 2026-05-20" in err
    assert "qwen3-max has prices on the cn site" in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["estimate", "--model", "qwen-plus", "--text", "a", "--file", "b.txt"])
    assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["estimate", "--model", "qwen-plus", "--text", "a", "--on", "2025-13-01"])
    assert "is not a date YYYY-MM-DD" in capsys.readouterr().err


def test_the_tokenizer_is_imported_only_when_counting():
    code = ("import sys, chargeback.cli as c; c.build_parser(); "
            "print('dashscope' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_a_byte_order_mark_is_not_counted(capsys, tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_bytes("\ufeffNice to meet you.".encode())
    chat = tmp_path / "chat.json"
    chat.write_bytes(("\ufeff" + json.dumps([{"role": "user", "content": "Nice to meet you."}])).encode())
    for option, path in (("--file", prompt), ("--conversation", chat)):
        code, out, _ = run(capsys, "--model", "qwen-max", option, str(path), "--on", "2025-06-01", "--json")
        assert code == 0
        assert json.loads(out)["input_tokens"] == 5
