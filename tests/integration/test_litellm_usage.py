"""The README's LiteLLM conversion, run as written on a LiteLLM-shaped spend-log export, then allocated."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import duckdb

from chargeback.allocation.allocate import allocate
from chargeback.allocation.usage import UsageData, read_usage
from chargeback.config.file import parse_config_file
from tests.unit.test_allocation_rules import line

README = Path(__file__).resolve().parents[2] / "README.md"
KEY = "2100009"

# the columns psql's \copy "LiteLLM_SpendLogs" writes (a subset; the command reads them by name), times in UTC
EXPORT = """request_id,call_type,api_key,spend,total_tokens,prompt_tokens,completion_tokens,startTime,endTime,model,model_group,custom_llm_provider,user,team_id,end_user,status
r1,acompletion,88ab,0.001,300,200,100,2026-05-01 03:00:00.120,2026-05-01 03:00:01.500,qwen-plus,qwen-plus,dashscope,u1,team-a,,success
r2,acompletion,88ab,0.001,100,60,40,2026-05-01 15:59:59.000,2026-05-01 16:00:02.000,dashscope/qwen-plus,qwen-plus,dashscope,u2,team-b,,success
r3,acompletion,88ab,0.002,500,400,100,2026-05-01 16:00:00.000,2026-05-01 16:00:03.000,qwen-plus,qwen-plus,dashscope,u2,team-b,,success
r4,acompletion,91cd,0.009,7000,5000,2000,2026-05-01 05:00:00.000,2026-05-01 05:00:09.000,gpt-4o,gpt-4o,openai,u3,team-a,,success
r5,acompletion,88ab,0.001,100,50,50,2026-05-02 01:00:00.000,2026-05-02 01:00:01.000,qwen-plus,qwen-plus,dashscope,u4,,,success
"""


def test_the_readme_command_turns_a_litellm_export_into_a_usage_file(tmp_path: Path) -> None:
    [command] = [c for c in re.findall(r"```sql\n(.*?)```", README.read_text(), re.DOTALL) if "spend_logs" in c]
    (tmp_path / "spend_logs.csv").write_text(EXPORT)
    (tmp_path / "usage").mkdir()
    here = os.getcwd()
    os.chdir(tmp_path)  # the command's paths are relative, as a person runs it
    try:
        duckdb.connect().execute(command)
    finally:
        os.chdir(here)
    data = (tmp_path / "usage/gateway.csv").read_bytes()
    usage = read_usage(data, "usage/gateway.csv", KEY)
    # 15:59:59 UTC is still the 1st in China, 16:00:00 UTC is the 2nd; the OpenAI row is not DashScope's
    assert dict(usage.tokens) == {("2026-05-01", "qwen-plus", "team-a"): 300,
                                  ("2026-05-01", "qwen-plus", "team-b"): 100,
                                  ("2026-05-02", "qwen-plus", "team-b"): 500,
                                  ("2026-05-02", "qwen-plus", "no-team"): 100}
    config = parse_config_file(f"""cost_centers:
  search: {{api_keys: ["{KEY}"]}}
  labs: {{}}
usage_splits:
  - {{api_key: "{KEY}", source: usage/gateway.csv, consumers: {{team-a: search, team-b: labs}}}}
""")
    rows = allocate([line("0.80", key=KEY, day="2026-05-01"), line("1.20", key=KEY, day="2026-05-02")], config,
                    UsageData({KEY: usage}, "x"))
    assert [(r["billing_date"], r["cost_center"], r["allocation_rule"], r["billed_cost"]) for r in rows] == [
        ("2026-05-01", "labs", "usage_split", Decimal("0.20")),
        ("2026-05-01", "search", "usage_split", Decimal("0.60")),
        ("2026-05-02", "labs", "usage_split", Decimal("1.00")),
        ("2026-05-02", "search", "usage_split:unknown", Decimal("0.20")),  # no-team: the key's own cost center
    ]
