"""template.yml, infra/aliyun/s.yaml, the RAM policy, the Dockerfile and the handlers, checked offline.

cfn-lint validates the SAM template; these tests add what it does not check: schedule expressions parse, every
function's command resolves to an importable callable, the environment the descriptors set is exactly what
``Settings`` reads, and the roles stay least-privilege (the Glue tables: ``test_athena_tables``).
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from cfnlint.decode import cfn_yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from chargeback.config.environment import Settings
from chargeback.runtime.events import parse_fc_event, parse_scheduler_event
from tests.support.permissions import (
    DELETING_MODULES,
    EXPIRING,
    NEVER_WRITTEN,
    WAREHOUSE_DELETES,
    WAREHOUSE_WRITES,
)
from tests.support.schedules import check_aws_expression, check_fc_cron

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yml"
S_YAML = ROOT / "infra" / "aliyun" / "s.yaml"
RAM_POLICIES = {job: ROOT / "infra" / "aliyun" / f"ram-policy-{job}.json" for job in ("daily", "monthly")}
BUCKET_POLICY = ROOT / "infra" / "aliyun" / "oss-bucket-policy-tls-only.json"
DOCKERFILE = ROOT / "infra" / "Dockerfile"
LOCK = ROOT / "infra" / "requirements.lock"
JOBS = ("daily", "monthly")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.load(str(TEMPLATE))
    return loaded


@pytest.fixture(scope="module")
def s_yaml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(S_YAML.read_text())
    return loaded


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def resolve(template: dict[str, Any], value: Any) -> Any:
    """A literal, or a Ref to a parameter resolved to its default."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return template["Parameters"][value["Ref"]]["Default"]
    return value


def resolves_to_callable(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    function = getattr(importlib.import_module(module), name)
    assert callable(function), dotted
    return function


# ---------------------------------------------------------------------------------------------- template.yml


def test_cfn_lint_passes_offline() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=300,
                          check=False, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_one_image_function_per_job_with_an_importable_command(template: dict[str, Any]) -> None:
    functions = resources(template, "AWS::Serverless::Function")
    assert set(functions) == {"DailyFunction", "MonthlyFunction"}
    for job in JOBS:
        function = functions[f"{job.capitalize()}Function"]
        props = function["Properties"]
        assert props["PackageType"] == "Image"
        [command] = props["ImageConfig"]["Command"]
        assert command == f"functions.{job}.handler.lambda_handler"
        resolves_to_callable(command)
        metadata = function["Metadata"]
        assert (ROOT / metadata["DockerContext"] / metadata["Dockerfile"]).resolve() == DOCKERFILE
        # retries, then the failed event goes to the failure queue
        invoke = props["EventInvokeConfig"]
        assert 0 < invoke["MaximumRetryAttempts"] <= 2
        queue = {"Fn::GetAtt": ["FailureQueue", "Arn"]}
        assert invoke["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": queue}


def test_environment_is_exactly_what_settings_read(template: dict[str, Any]) -> None:
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    for function in resources(template, "AWS::Serverless::Function").values():
        variables.update(function["Properties"].get("Environment", {}).get("Variables", {}))
    assert set(variables) == Settings.env_names("aws")
    assert "CHARGEBACK_ALLOW_INSECURE" not in variables  # plain http is for local tests only
    assert Settings.required_env_names() <= set(variables)
    # literal values would be secrets or environment-specific: every value is a parameter or a reference
    for name, value in variables.items():
        assert isinstance(value, dict), f"{name} is set to a literal"


def test_schedules_parse_and_run_in_the_bills_time_zone(template: dict[str, Any]) -> None:
    schedules = resources(template, "AWS::Scheduler::Schedule")
    assert set(schedules) == {"DailySchedule", "MonthlySchedule"}
    for job in JOBS:
        props = schedules[f"{job.capitalize()}Schedule"]["Properties"]
        check_aws_expression(resolve(template, props["ScheduleExpression"]))
        zone = resolve(template, props["ScheduleExpressionTimezone"])
        assert zone == "Asia/Shanghai" and ZoneInfo(zone)
        target = props["Target"]
        assert target["Arn"] == {"Fn::GetAtt": [f"{job.capitalize()}Function", "Arn"]}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["FailureQueue", "Arn"]}}
        # the Input is what the function receives, with the context attribute filled in by the scheduler
        event = json.loads(target["Input"].replace("<aws.scheduler.scheduled-time>", "2026-06-05T02:30:00Z"))
        invocation = parse_scheduler_event(event)
        invocation.check_job(job)
        assert invocation.job == job
        assert invocation.scheduled_at == datetime(2026, 6, 5, 2, 30, tzinfo=UTC)
    # any other schedule a later change adds is checked too (rules, SAM events)
    for rule in resources(template, "AWS::Events::Rule").values():
        check_aws_expression(resolve(template, rule["Properties"]["ScheduleExpression"]))
    for function in resources(template, "AWS::Serverless::Function").values():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] in ("Schedule", "ScheduleV2"):
                check_aws_expression(resolve(template, event["Properties"]["Schedule"
                                              if event["Type"] == "Schedule" else "ScheduleExpression"]))


def test_schedule_parameter_patterns_accept_their_defaults(template: dict[str, Any]) -> None:
    for name in ("DailyScheduleExpression", "MonthlyScheduleExpression"):
        parameter = template["Parameters"][name]
        assert re.fullmatch(parameter["AllowedPattern"], parameter["Default"])


def test_warehouse_bucket_is_versioned_encrypted_private_and_tls_only(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["WarehouseBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    [statement] = template["Resources"]["WarehouseBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_oss_secret_holds_no_value(template: dict[str, Any]) -> None:
    [secret] = resources(template, "AWS::SecretsManager::Secret").values()
    assert "SecretString" not in secret["Properties"]
    assert json.loads(secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"]) == {
        "access_key_id": "REPLACE_ME"}


def test_alarms_on_errors_of_each_function(template: dict[str, Any]) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    watched = {a["Properties"]["Dimensions"][0]["Value"]["Ref"] for a in alarms
               if a["Properties"]["MetricName"] == "Errors"}
    assert watched == {"DailyFunction", "MonthlyFunction"}
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms)


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            found.append(statement)
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _resources(statement: dict[str, Any]) -> list[Any]:
    resources = statement["Resource"]
    return resources if isinstance(resources, list) else [resources]


def _warehouse_prefix(resource: Any) -> str:
    """'lines/' for {"Fn::Sub": "${WarehouseBucket.Arn}/lines/*"}; '' for the whole bucket."""
    text = resource["Fn::Sub"] if isinstance(resource, dict) and "Fn::Sub" in resource else str(resource)
    assert text.startswith("${WarehouseBucket.Arn}/") and text.endswith("*"), text
    return text.removeprefix("${WarehouseBucket.Arn}/").removesuffix("*")


def _modules_that_delete() -> set[str]:
    """The modules outside the storage adapters that call ``.delete(`` on a store."""
    code = ROOT / "shared" / "chargeback"
    return {path.relative_to(code).as_posix() for path in code.rglob("*.py")
            if path.parent.name != "storage" and ".delete(" in path.read_text()}


def _roles(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: role for name, role in resources(template, "AWS::IAM::Role").items()
            if name in ("DailyRole", "MonthlyRole")}


def test_roles_are_least_privilege_one_per_function(template: dict[str, Any]) -> None:
    roles = _roles(template)
    functions = resources(template, "AWS::Serverless::Function")
    assert {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()} == set(roles)
    for name, role in roles.items():
        assert "ManagedPolicyArns" not in role["Properties"]
        for statement in _statements(role):
            assert statement["Effect"] in ("Allow", "Deny")
            assert statement["Resource"] != "*", f"{name}: {statement['Sid']} on every resource"
            if statement["Effect"] == "Allow":
                assert not any(a.endswith("*") for a in _actions(statement)), f"{name}: wildcard action"
    daily = {s["Sid"]: s for s in _statements(roles["DailyRole"])}
    monthly = {s["Sid"]: s for s in _statements(roles["MonthlyRole"])}
    # only the daily job reads the bills (and the OSS keys)
    assert {"ListBills", "ReadBills", "ReadOssKeys"} <= set(daily)
    assert not {"ListBills", "ReadBills", "ReadOssKeys"} & set(monthly)
    assert _actions(daily["ReadBills"]) == ["s3:GetObject"]
    assert daily["ReadBills"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${BillBucketName}/${BillPrefix}/*"}
    for statements in (daily, monthly):
        mail = statements["SendMailAsSender"]
        assert sorted(_actions(mail)) == ["ses:SendEmail", "ses:SendRawEmail"]
        assert mail["Resource"]["Fn::Sub"].endswith(":identity/${SesIdentity}")
        assert mail["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "SenderAddress"}}}
        assert _actions(statements["ReadWarehouse"]) == ["s3:GetObject"]


@pytest.mark.parametrize("job", JOBS)
def test_each_role_writes_only_its_prefixes_never_config_and_deletes_only_garbage(template: dict[str, Any],
                                                                                 job: str) -> None:
    role = _roles(template)[f"{job.capitalize()}Role"]
    statements = _statements(role)
    written: set[str] = set()
    deleted: set[str] = set()
    for statement in statements:
        writes = [a for a in _actions(statement) if a.startswith("s3:Put") or a.startswith("s3:Delete")]
        if statement["Effect"] == "Allow" and writes:
            assert writes in (["s3:PutObject"], ["s3:DeleteObject"]), f"{statement['Sid']}: {writes}"
            prefixes = {_warehouse_prefix(r) for r in _resources(statement)}
            if writes == ["s3:PutObject"]:
                written |= prefixes
            else:
                deleted |= prefixes
    assert sorted(written) == sorted(WAREHOUSE_WRITES[job])
    # an explicit deny, so that no later Allow (or a wildcard) can open config/ to a function
    [deny] = [s for s in statements if s["Effect"] == "Deny"]
    assert sorted(_actions(deny)) == ["s3:DeleteObject", "s3:PutObject"]
    assert [_warehouse_prefix(r) for r in _resources(deny)] == list(NEVER_WRITTEN)
    # deletes: only the sweep of unnamed objects, in the one module that sweeps
    assert sorted(deleted) == sorted(WAREHOUSE_DELETES[job])
    assert _modules_that_delete() == set(DELETING_MODULES)


def test_leases_expire_by_a_lifecycle_rule(template: dict[str, Any]) -> None:
    rules = template["Resources"]["WarehouseBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {r["Prefix"]: r for r in rules if "Prefix" in r}
    assert sorted(expiring) == sorted(EXPIRING)
    for rule in expiring.values():
        assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] == 1
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}


def test_the_alarm_topic_uses_a_customer_key_that_cloudwatch_alarms_may_use(template: dict[str, Any]) -> None:
    topic = template["Resources"]["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}  # not alias/aws/sns: CloudWatch cannot use that
    key = template["Resources"]["AlarmTopicKey"]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    statements = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    cloudwatch = statements["CloudWatchAlarmsPublish"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(cloudwatch["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert statements["AccountAdministersTheKey"]["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    [publish] = template["Resources"]["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (publish["Principal"], publish["Action"]) == ({"Service": "cloudwatch.amazonaws.com"}, "sns:Publish")
    assert template["Resources"]["AlarmTopicPolicy"]["Properties"]["Topics"] == [{"Ref": "AlarmTopic"}]


# ---------------------------------------------------------------------------------------------------- s.yaml


def test_s_yaml_functions_and_commands(s_yaml: dict[str, Any]) -> None:
    assert s_yaml["edition"] == "3.0.0"
    assert set(s_yaml["resources"]) == set(JOBS)
    for job in JOBS:
        resource = s_yaml["resources"][job]
        assert resource["component"] == "fc3"
        props = resource["props"]
        assert props["runtime"] == "custom-container"
        container = props["customContainerConfig"]
        assert container["entrypoint"] == ["python3", "-m", "chargeback.runtime.fc_server"]
        importlib.import_module("chargeback.runtime.fc_server")
        [command] = container["command"]
        assert command == f"functions.{job}.handler.handler"
        resolves_to_callable(command)
        assert container["port"] == 9000
        assert props["asyncInvokeConfig"]["maxAsyncRetryAttempts"] > 0
        on_failure = props["asyncInvokeConfig"]["destinationConfig"]["onFailure"]
        assert on_failure["destination"].startswith("acs:mns:")


def test_s_yaml_environment_is_exactly_what_settings_read(s_yaml: dict[str, Any]) -> None:
    for job in JOBS:
        variables = s_yaml["resources"][job]["props"]["environmentVariables"]
        assert set(variables) == Settings.env_names("fc")
        assert "CHARGEBACK_ALLOW_INSECURE" not in variables
        assert variables["CHARGEBACK_DELIVERY"] == "smtp"
        smtp = (variables["CHARGEBACK_SMTP_HOST"], variables["CHARGEBACK_SMTP_PORT"])
        assert smtp == ("smtpdm.aliyun.com", "465")
        # the SMTP password is a KMS secret the function's role reads; neither its value nor a plain variable
        assert "SMTP_PASSWORD" not in variables
        assert variables["CHARGEBACK_SMTP_SECRET_NAME"] == "${env('SMTP_SECRET_NAME')}"
        assert variables["CHARGEBACK_KMS_ENDPOINT"].startswith("https://kms.")
        assert variables["CHARGEBACK_SOURCE_URL"].startswith("oss://")
        assert variables["CHARGEBACK_WAREHOUSE_URL"].startswith("oss://")
        # what Settings makes of it once Serverless Devs has filled the ${env(...)} references in
        filled = {name: re.sub(r"\$\{env\('(\w+)'\)\}", _deployer_value, str(value))
                  for name, value in variables.items()}
        settings = Settings.from_env(filled)
        assert settings.oss_endpoint == "https://oss-cn-hangzhou-internal.aliyuncs.com"
        assert settings.final_day == 6


def _deployer_value(match: re.Match[str]) -> str:
    """What `make deploy-aliyun`'s environment would put in for ${env('NAME')}."""
    deployer = {"FINANCE_CC": "", "MAIL_SENDER": "billing@example.com", "ALIYUN_REGION": "cn-hangzhou"}
    return deployer.get(match.group(1), match.group(1).lower())


def test_fc_timers_parse_and_match_the_aws_schedules(s_yaml: dict[str, Any],
                                                     template: dict[str, Any]) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    for job in JOBS:
        [trigger] = s_yaml["resources"][job]["props"]["triggers"]
        assert trigger["triggerType"] == "timer"
        config = trigger["triggerConfig"]
        check_fc_cron(config["cronExpression"])
        event = json.dumps({"triggerTime": "2026-06-05T02:30:00Z", "triggerName": trigger["triggerName"],
                            "payload": config["payload"]}).encode()
        invocation = parse_fc_event(event)
        assert invocation.job == job
        # FC cron is UTC: it must fire at the same Shanghai wall time as the AWS schedule
        seconds, minute, hour, fc_days = config["cronExpression"].split()[:4]
        aws = resolve(template, template["Resources"][f"{job.capitalize()}Schedule"]["Properties"][
            "ScheduleExpression"])
        aws_minute, aws_hour, aws_days = aws[len("cron("):-1].split()[:3]
        utc = datetime(2026, 6, 5, int(hour), int(minute), tzinfo=UTC)
        local = utc.astimezone(shanghai)
        assert (seconds, local.minute, local.hour) == ("0", int(aws_minute), int(aws_hour))
        assert local.date() == utc.date() and fc_days == aws_days


# ------------------------------------------------------------------------------------------------ RAM policy


def _ram(job: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(RAM_POLICIES[job].read_text())
    return loaded


def _ram_grants(policy: dict[str, Any], effect: str = "Allow") -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        if statement["Effect"] == effect:
            for action in statement["Action"]:
                granted.setdefault(action, set()).update(statement["Resource"])
    return granted


WAREHOUSE_OBJECTS = "acs:oss:*:*:${WAREHOUSE_BUCKET}/${WAREHOUSE_PREFIX}/"


def test_s_yaml_gives_each_function_its_own_role(s_yaml: dict[str, Any]) -> None:
    roles = {job: s_yaml["resources"][job]["props"]["role"] for job in JOBS}
    assert roles == {"daily": "${vars.dailyRole}", "monthly": "${vars.monthlyRole}"}
    assert s_yaml["vars"]["dailyRole"] != s_yaml["vars"]["monthlyRole"]
    assert set(RAM_POLICIES) == set(JOBS)


@pytest.mark.parametrize("job", JOBS)
def test_ram_policy_of_each_function_is_least_privilege(job: str) -> None:
    policy = _ram(job)
    assert policy["Version"] == "1"
    for statement in policy["Statement"]:
        assert statement["Effect"] in ("Allow", "Deny")
        for action in statement["Action"]:
            assert statement["Effect"] == "Deny" or "*" not in action
            for resource in statement["Resource"]:
                assert resource not in ("*", "acs:oss:*:*:*")
    allowed = _ram_grants(policy)
    # writes: exactly the function's prefixes under the warehouse prefix; deletes: only the sweep's
    assert allowed["oss:PutObject"] == {f"{WAREHOUSE_OBJECTS}{prefix}*" for prefix in WAREHOUSE_WRITES[job]}
    assert allowed.get("oss:DeleteObject", set()) == {f"{WAREHOUSE_OBJECTS}{p}*" for p in WAREHOUSE_DELETES[job]}
    assert _modules_that_delete() == set(DELETING_MODULES)
    denied = _ram_grants(policy, "Deny")
    assert denied == {"oss:PutObject": {f"{WAREHOUSE_OBJECTS}{p}*" for p in NEVER_WRITTEN},
                      "oss:DeleteObject": {f"{WAREHOUSE_OBJECTS}{p}*" for p in NEVER_WRITTEN}}
    # reads: the warehouse, and only the daily job the bills
    bills = {"acs:oss:*:*:${BILL_BUCKET}/${BILL_PREFIX}/*"} if job == "daily" else set()
    assert allowed["oss:GetObject"] == {f"{WAREHOUSE_OBJECTS}*"} | bills
    assert allowed["oss:ListObjects"] == {"acs:oss:*:*:${WAREHOUSE_BUCKET}"} | (
        {"acs:oss:*:*:${BILL_BUCKET}"} if job == "daily" else set())
    listing = [s for s in policy["Statement"] if s["Action"] == ["oss:ListObjects"]]
    assert all(s["Condition"]["StringLike"]["oss:Prefix"] for s in listing)
    # the SMTP password: this one secret, and the key it is encrypted with
    assert allowed["kms:GetSecretValue"] == {"acs:kms:${ALIYUN_REGION}:${ALIYUN_ACCOUNT_ID}:secret/${SMTP_SECRET_NAME}"}
    assert allowed["kms:Decrypt"] == {"acs:kms:${ALIYUN_REGION}:${ALIYUN_ACCOUNT_ID}:key/${SMTP_SECRET_KEY_ID}"}
    assert set(allowed) == {"oss:ListObjects", "oss:GetObject", "oss:PutObject", "kms:GetSecretValue",
                            "kms:Decrypt", "mns:SendMessage", "log:PostLogStoreLogs"} | (
                                {"oss:DeleteObject"} if WAREHOUSE_DELETES[job] else set())


def test_the_ram_policies_name_only_variables_the_deployment_sets() -> None:
    deploy_mk = (ROOT / "infra" / "deploy.mk").read_text()
    documented = (ROOT / "infra" / "aliyun" / "README.md").read_text()
    for path in [*RAM_POLICIES.values(), BUCKET_POLICY]:
        for name in set(re.findall(r"\$\{(\w+)\}", path.read_text())):
            assert name in deploy_mk and name in documented, f"{path.name}: ${{{name}}} is set nowhere"


def test_the_warehouse_bucket_policy_refuses_every_request_without_tls() -> None:
    [statement] = json.loads(BUCKET_POLICY.read_text())["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == ("Deny", ["*"], ["oss:*"])
    assert statement["Resource"] == ["acs:oss:*:*:${WAREHOUSE_BUCKET}", "acs:oss:*:*:${WAREHOUSE_BUCKET}/*"]
    assert statement["Condition"] == {"Bool": {"acs:SecureTransport": ["false"]}}
    # and the functions reach OSS over https
    environment = yaml.safe_load(S_YAML.read_text())["vars"]["environment"]
    assert environment["CHARGEBACK_OSS_ENDPOINT"].startswith("https://")


# ------------------------------------------------------------------------------------------------ Dockerfile


def _dockerfile_lines() -> list[str]:
    return [line.strip() for line in DOCKERFILE.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_builds_the_package_on_a_lambda_base_image_pinned_by_digest() -> None:
    lines = _dockerfile_lines()
    instructions = [line.split()[0] for line in lines]
    [base] = [line for line in lines if line.startswith("FROM ")]
    match = re.fullmatch(r"FROM public\.ecr\.aws/lambda/python:3\.(\d+)@sha256:[0-9a-f]{64}", base)
    assert match, f"the base image must be pinned by digest: {base}"
    assert int(match.group(1)) in (11, 12)
    requires = re.search(r'requires-python = ">=3\.(\d+)"', (ROOT / "pyproject.toml").read_text())
    assert requires and int(match.group(1)) >= int(requires.group(1))
    for line in lines:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"COPY source {source} is missing"
    cmd = json.loads(lines[-1].removeprefix("CMD "))
    assert instructions[-1] == "CMD" and len(cmd) == 1
    resolves_to_callable(cmd[0])


def test_dockerfile_installs_only_hashed_locked_files_and_runs_as_a_user() -> None:
    lines = _dockerfile_lines()
    installs = [line for line in lines if line.startswith("RUN pip install")]
    assert installs[0].startswith("RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock")
    assert "COPY infra/requirements.lock /tmp/requirements.lock" in lines
    # the package itself resolves nothing more: its dependencies are the locked ones
    assert all("--no-deps" in line and "--no-build-isolation" in line for line in installs[1:])
    [user] = [line for line in lines if line.startswith("USER ")]
    uid = user.split()[1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000
    assert lines.index(user) > max(lines.index(line) for line in installs)  # root only to install


def _locked() -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) from infra/requirements.lock."""
    locked: dict[str, tuple[str, int]] = {}
    name = ""
    for line in LOCK.read_text().splitlines():
        pinned = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", line)
        if pinned:
            name = canonicalize_name(pinned.group(1))
            locked[name] = (pinned.group(2), 0)
        elif "--hash=sha256:" in line and name:
            version, hashes = locked[name]
            locked[name] = (version, hashes + 1)
    return locked


def test_the_lock_covers_every_runtime_dependency_and_the_build_backend() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    locked = _locked()
    assert all(hashes > 0 for _, hashes in locked.values()), "every locked file has a hash"
    required = [Requirement(text) for text in [*project["project"]["dependencies"],
                                               *project["build-system"]["requires"]]]
    for requirement in required:
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in {LOCK.name}: run 'make lock'"
        assert requirement.specifier.contains(locked[name][0], prereleases=True), (
            f"{LOCK.name} has {name}=={locked[name][0]}, pyproject.toml wants {requirement}: run 'make lock'")
    # and nothing of the dev tools ships in the image
    assert not {"pytest", "moto", "ruff", "mypy", "uv"} & set(locked)


def test_the_installed_package_holds_every_module() -> None:
    """The image installs the package (not editable): a folder without __init__.py would be left out."""
    from setuptools import find_packages

    packaged = set(find_packages(str(ROOT / "shared")))
    folders = {".".join(path.parent.relative_to(ROOT / "shared").parts)
               for path in (ROOT / "shared" / "chargeback").rglob("*.py")}
    assert folders <= packaged, sorted(folders - packaged)


def test_dockerignore_keeps_what_the_image_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    for needed in ("infra/requirements.lock", "pyproject.toml", "README.md", "shared/", "functions/"):
        assert f"!{needed}" in ignore


# -------------------------------------------------------------------------------------------------- handlers


@pytest.mark.parametrize("job", JOBS)
def test_handlers_only_compose(job: str) -> None:
    path = ROOT / "functions" / job / "handler.py"
    source = path.read_text()
    code_lines = [line for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert len(code_lines) <= 15
    tree = ast.parse(source)
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"pandas", "pyarrow", "numpy", "boto3", "botocore", "oss2", "smtplib"}
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.Try)]
    module = importlib.import_module(f"functions.{job}.handler")
    assert callable(module.lambda_handler) and callable(module.handler)


# ---------------------------------------------------------------------------------------------- make targets


def test_deploy_targets_dry_run_and_are_not_run_by_ci() -> None:
    deploy_mk = ROOT / "infra" / "deploy.mk"
    make = ["make", "-n", "-f", str(deploy_mk)]
    done = subprocess.run([*make, "PYTHON=python3", "deploy-aws", "BILL_BUCKET=bills"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "-m venv .venv-sam" in done.stdout
    assert ".venv-sam/bin/sam deploy" in done.stdout and "BillBucketName=bills" in done.stdout
    done = subprocess.run([*make, "deploy-aliyun"], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          check=False)
    assert "@serverless-devs/s" in done.stdout and "infra/aliyun/s.yaml" in done.stdout
    ci = (ROOT / ".ci" / "run").read_text()
    assert "deploy" not in ci


def _days(field: str) -> set[int]:
    days: set[int] = set()
    for item in field.split(","):
        first, _, last = item.partition("-")
        days.update(range(int(first), int(last or first) + 1))
    return days


def test_monthly_schedules_reach_past_the_final_day(template: dict[str, Any], s_yaml: dict[str, Any]) -> None:
    """The monthly job must run on a day after the final day, or provisional statements never go out."""
    aws = resolve(template, template["Resources"]["MonthlySchedule"]["Properties"]["ScheduleExpression"])
    aws_final_day = int(template["Parameters"]["FinalDay"]["Default"])
    assert max(_days(aws[len("cron("):-1].split()[2])) > aws_final_day
    props = s_yaml["resources"]["monthly"]["props"]
    fc_final_day = int(props["environmentVariables"]["CHARGEBACK_FINAL_DAY"])
    assert max(_days(props["triggers"][0]["triggerConfig"]["cronExpression"].split()[3])) > fc_final_day


def test_the_image_sets_the_allocators_as_the_command_line_does() -> None:
    """The functions never pass through ``chargeback.cli``: the image's ENV carries the same allocator settings."""
    from chargeback.memory import ALLOCATOR_SETTINGS

    text = DOCKERFILE.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip().startswith("ENV "):
            env.update(pair.split("=", 1) for pair in line.split()[1:])
    assert {name: env.get(name) for name in ALLOCATOR_SETTINGS} == ALLOCATOR_SETTINGS
