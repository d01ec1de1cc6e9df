"""Which setting wins: every row of the README's table, checked against ``chargeback.config.resolve``.

For each field the table names its command-line option, environment variable, file key and default; each
row is tried with every source present and each one taken away in turn, and the winner must be the one the
table puts first. The test reads the table itself, so the README and the code cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from chargeback.config.environment import DeliveryEnvironment, Settings
from chargeback.config.file import parse_config_file
from chargeback.config.resolve import (
    DEFAULT_SENDER,
    CommandLine,
    DeliveryPlan,
    PasswordSource,
    resolve_delivery,
    resolve_site,
    resolve_time_zone,
)
from chargeback.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"
BASE_ENV = {"CHARGEBACK_SOURCE_URL": "/bills", "CHARGEBACK_WAREHOUSE_URL": "/warehouse"}


def readme_table() -> dict[str, tuple[str, str, str, str]]:
    """setting -> (command line, environment, file, default), as written in the README."""
    section = README.read_text().split("### Which setting wins", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| setting")]
    table = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        table[cells[0]] = (cells[1], cells[2], cells[3], cells[4])
    return table


@dataclass(frozen=True)
class Row:
    """One row of the table: the names it must show, how to set each source, and what each one yields."""

    names: tuple[str, str, str]  # what the command line, environment and file cells must name ('' = nothing)
    command: dict[str, Any] | None  # CommandLine keywords
    env: dict[str, str] | None
    file: dict[str, Any] | None  # YAML laid over ``base``
    read: Callable[[DeliveryPlan], Any]
    values: tuple[Any, Any, Any, Any]  # the winner when the command line, environment, file, nothing sets it
    base: dict[str, Any] = dataclass_field(default_factory=dict)  # what the file needs anyway


def merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overlay.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def plan_of(file: dict[str, Any], env: dict[str, str], command: dict[str, Any]) -> DeliveryPlan:
    config = parse_config_file(yaml.safe_dump(file) if file else "", source="test.yaml")
    return resolve_delivery(config, DeliveryEnvironment.from_env(env), CommandLine(**command))


SMTP = {"delivery": {"backend": "smtp", "sender": "file@example.com", "smtp": {"host": "base.example.com"}}}
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:env-AbCdEf"
ROWS = {
    "mail backend": Row(("--outbox DIR", "CHARGEBACK_DELIVERY", "delivery.backend"), {"outbox": "/out"},
                        {"CHARGEBACK_DELIVERY": "ses", "CHARGEBACK_SENDER": "env@example.com"}, SMTP,
                        lambda p: p.backend, ("outbox", "ses", "smtp", "outbox")),
    "outbox folder": Row(("--outbox DIR", "", "delivery.outbox"), {"outbox": "/cli-out"}, None,
                         {"delivery": {"outbox": "/file-out"}}, lambda p: p.outbox, ("/cli-out", None, "/file-out",
                                                                                      None)),
    "statement sender": Row(("", "CHARGEBACK_SENDER", "delivery.sender"), None, {"CHARGEBACK_SENDER": "env@example.com"},
                            {"delivery": {"sender": "file@example.com"}}, lambda p: p.sender,
                            (None, "env@example.com", "file@example.com", DEFAULT_SENDER)),
    "alert sender": Row(("", "CHARGEBACK_SENDER", "alerts.sender"), None, {"CHARGEBACK_SENDER": "env@example.com"},
                        {"alerts": {"sender": "alerts@example.com"}}, lambda p: p.alert_sender,
                        (None, "env@example.com", "alerts@example.com", "file@example.com"),
                        base={"delivery": {"sender": "file@example.com"}}),  # else delivery.sender
    "finance cc": Row(("", "CHARGEBACK_FINANCE_CC", "delivery.finance_cc"), None,
                      {"CHARGEBACK_FINANCE_CC": "env@example.com"}, {"delivery": {"finance_cc": ["file@example.com"]}},
                      lambda p: p.finance_cc, (None, ("env@example.com",), ("file@example.com",), ())),
    "SMTP host": Row(("", "CHARGEBACK_SMTP_HOST", "delivery.smtp.host"), None,
                     {"CHARGEBACK_SMTP_HOST": "env.example.com"}, {"delivery": {"smtp": {"host": "file.example.com"}}},
                     lambda p: p.smtp.host, (None, "env.example.com", "file.example.com", ConfigError),
                     base={"delivery": {"backend": "smtp", "sender": "file@example.com"}}),
    "SMTP port": Row(("", "CHARGEBACK_SMTP_PORT", "delivery.smtp.port"), None, {"CHARGEBACK_SMTP_PORT": "2525"},
                     {"delivery": {"smtp": {"port": 587}}}, lambda p: p.smtp.port, (None, 2525, 587, 465), base=SMTP),
    "SMTP security": Row(("", "", "delivery.smtp.security"), None, None, {"delivery": {"smtp": {"security": "ssl"}}},
                         lambda p: p.smtp.security, (None, None, "ssl", "starttls"),
                         base=merged(SMTP, {"delivery": {"smtp": {"port": 25}}})),
    "SMTP user": Row(("", "CHARGEBACK_SMTP_USER", "delivery.smtp.username"), None,
                     {"CHARGEBACK_SMTP_USER": "env-user", "SMTP_PASSWORD": "pw"},
                     {"delivery": {"smtp": {"username": "file-user", "password_env": "PW"}}},
                     lambda p: p.smtp.username, (None, "env-user", "file-user", None), base=SMTP),
    "SMTP password": Row(("", "CHARGEBACK_SMTP_SECRET_ARN", "delivery.smtp.password_secret_arn"), None,
                         {"CHARGEBACK_SMTP_SECRET_ARN": ARN}, {"delivery": {"smtp": {"password_env": "FILE_PW"}}},
                         lambda p: p.smtp.password,
                         (None, PasswordSource(secret_arn=ARN), PasswordSource(env="FILE_PW"), None), base=SMTP),
}


def test_every_row_of_the_table_is_checked() -> None:
    assert set(readme_table()) == {*ROWS, "time zone of \"today\"", "price site of `estimate`"}


@pytest.mark.parametrize("setting", sorted(ROWS))
def test_the_table_s_sources_win_in_its_order(setting: str) -> None:
    row = ROWS[setting]
    cells = readme_table()[setting]
    for name, cell in zip(row.names, cells[:3], strict=True):
        assert (f"`{name}`" in cell) if name else cell == "", (setting, name, cell)
    sources = [("command", row.command), ("env", row.env), ("file", row.file)]
    present = [index for index, (_, value) in enumerate(sources) if value is not None]
    # with every source set the first one wins; take them away from the front, one at a time
    for start in range(len(present) + 1):
        kept = present[start:]
        command = row.command if 0 in kept else None
        env = row.env if 1 in kept else None
        file = merged(row.base, row.file) if 2 in kept and row.file else row.base
        expected = row.values[kept[0]] if kept else row.values[3]
        if expected is ConfigError:
            with pytest.raises(ConfigError):
                plan_of(file, env or {}, command or {})
            continue
        assert row.read(plan_of(file, env or {}, command or {})) == expected, (setting, kept)


def test_the_default_statement_sender_is_the_table_s() -> None:
    assert readme_table()["statement sender"][3].startswith("`chargeback@localhost.localdomain`")
    assert DEFAULT_SENDER.endswith("<chargeback@localhost.localdomain>")


def test_time_zone_and_price_site() -> None:
    row = readme_table()["time zone of \"today\""]
    assert (row[1], row[3]) == ("`CHARGEBACK_TIMEZONE`", "`Asia/Shanghai`")
    assert resolve_time_zone(Settings.from_env(BASE_ENV)) == ZoneInfo("Asia/Shanghai")
    assert resolve_time_zone(Settings.from_env({**BASE_ENV, "CHARGEBACK_TIMEZONE": "UTC"})) == ZoneInfo("UTC")
    row = readme_table()["price site of `estimate`"]
    assert (row[0], row[2], row[3]) == ("`--site`", "`pricing.site`", "`intl`")
    cn = parse_config_file("pricing: {site: cn}\n")
    assert resolve_site(cn, CommandLine(site="intl")) == "intl"
    assert resolve_site(cn, CommandLine()) == "cn"
    assert resolve_site(None, CommandLine()) == "intl"


def test_only_the_sender_the_mail_needs_must_be_real() -> None:
    file = {"alerts": {"sender": "alerts@example.com"}, "delivery": {"backend": "ses"}}
    config = parse_config_file(yaml.safe_dump(file))
    assert resolve_delivery(config, DeliveryEnvironment(), purpose="alerts").alert_sender == "alerts@example.com"
    with pytest.raises(ConfigError, match=re.escape("sender: required for ses delivery")):
        resolve_delivery(config, DeliveryEnvironment(), purpose="statements")
