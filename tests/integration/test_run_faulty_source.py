"""``chargeback run`` over an S3 source behind the fault proxy: exact totals, or exit 1 with the warehouse untouched.

The bills are the real anonymised export, on moto's S3 server; boto3 reaches it through the fault proxy
(``AWS_ENDPOINT_URL``), as a deployment behind a flaky network would.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from chargeback.cli import main
from tests.support.fault_proxy import Fault, FaultProxy, listings, object_reads

REAL = Path(__file__).resolve().parents[1] / "data" / "real-bills"
EXPORTS = sorted(REAL.glob("*.csv"))
BUCKET = "faulty-bills"
REGION = "us-east-1"


@pytest.fixture
def proxy(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    for old in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=old["Key"])
    with FaultProxy(moto_server) as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL", running.endpoint)
        monkeypatch.setenv("CHARGEBACK_ALLOW_INSECURE", "true")  # the proxy speaks http on 127.0.0.1
        yield running


def upload(moto_server: str, *paths: Path) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name=REGION)
    for path in paths:
        s3.put_object(Bucket=BUCKET, Key=f"bills/{path.name}", Body=path.read_bytes())


def run(warehouse: Path, *extra: str) -> int:
    return main(["run", "--source", f"s3://{BUCKET}/bills", "--warehouse", str(warehouse), "--month", "2026-05",
                 *extra])


def snapshot(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def manifest(warehouse: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(
        (warehouse / "manifests/billing_month=2026-05/manifest.json").read_text())
    return loaded


def test_a_run_through_passing_faults_gives_the_exact_totals(proxy: FaultProxy, moto_server: str,
                                                             tmp_path: Path) -> None:
    upload(moto_server, *EXPORTS)
    proxy.inject(Fault.error(503), times=2, match=listings)
    proxy.inject(Fault.truncate(0.3), times=2, match=object_reads)
    proxy.inject(Fault.drop(), times=1, match=object_reads)
    proxy.inject(Fault.trickle(interval=0.05, size=16), times=1, match=object_reads)
    warehouse = tmp_path / "warehouse"
    assert run(warehouse, "--storage-deadline", "10") == 0
    published = manifest(warehouse)
    assert published["totals"] == {"CNY": "57.477867"}
    assert published["counts"]["model_studio_rows"] == 156  # type: ignore[index]
    outcomes = proxy.outcomes()
    assert outcomes.count("error 503") == 2 and outcomes.count("truncate") == 2
    assert outcomes.count("drop") == 1 and outcomes.count("trickle") == 1
    # what was read is what is stored: the manifest's hashes are the files' own
    for source in published["sources"]:  # type: ignore[attr-defined]
        assert source["sha256"] == hashlib.sha256((REAL / Path(source["key"]).name).read_bytes()).hexdigest()


@pytest.mark.parametrize("fault", ["5xx", "trickle", "outage"])
def test_a_run_that_cannot_read_its_source_fails_with_exit_1_and_leaves_the_warehouse_as_it_was(
    proxy: FaultProxy, moto_server: str, tmp_path: Path, fault: str, capsys: pytest.CaptureFixture[str]
) -> None:
    older, newer = EXPORTS
    upload(moto_server, older)
    warehouse = tmp_path / "warehouse"
    assert run(warehouse) == 0
    before = snapshot(warehouse)
    first_totals = manifest(warehouse)["totals"]
    capsys.readouterr()
    upload(moto_server, newer)  # the month changed: a rerun must read and publish again
    if fault == "5xx":
        proxy.inject(Fault.error(503), times=None, match=lambda r: r.method == "GET" and newer.name in r.path)
    elif fault == "trickle":
        proxy.inject(Fault.trickle(interval=0.2, size=1), times=None,
                     match=lambda r: r.method == "GET" and newer.name in r.path)
    else:
        proxy.outage(30)
    assert run(warehouse, "--storage-deadline", "1.5") == 1
    error = capsys.readouterr().err
    assert "error: S3 " in error and f"s3://{BUCKET}/bills/" in error
    assert "Traceback" not in error
    assert snapshot(warehouse) == before
    assert manifest(warehouse)["totals"] == first_totals
