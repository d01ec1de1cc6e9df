"""Which bill files are authoritative for a month (bill-formats.md sections 1 and 3).

Three families are recognised by name:
- v2 subscription pushes ``{dir}/{YYYYMM}/{YYYYMMDDHHMMSS}/{UID}_{SiteID}_consumeDetailBillV2_{YYYYMM}[.zip]``:
  each push is a month-to-date snapshot; the newest snapshot folder of a month supersedes all older ones.
- legacy ``{UID}[_{scope}]_BillingItemDetail_{YYYYMMDD|YYYYMM}``: the month file, once present, supersedes the
  month's dailies; without it the month's dailies and the next month's (late records) are read.
- console exports ``{UID}-{YYYYMMDDhhmmss}_consumedetailbillv2.csv``: all are read; rows are kept by their
  billing month and bill lines seen twice count once.
When several families hold the same month the highest one (v2, then legacy, then console) is used and the others
are reported as superseded. Every object under the source is reported as used, superseded or ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from chargeback.billtime import parse_bill_time
from chargeback.months import compact, from_compact, next_month
from chargeback.storage import ObjectInfo

_V2 = re.compile(
    r"^(?P<uid>\d+)_(?P<site>\d+)_(?P<type>[A-Za-z0-9]+)_(?P<period>\d{6}|\d{8})(?:[_-]\d+)?(?:\.(?:csv|zip))?$",
    re.IGNORECASE,
)
_LEGACY = re.compile(
    r"^(?P<uid>\d+)_(?:(?P<scope>[A-Za-z0-9]+)_)?(?P<type>BillingItemDetail|InstanceDetail|BillingItemDetailMonthly|"
    r"InstanceDetailMonthly|SplitItemDetailDaily|MonthBill)_(?P<period>\d{6}|\d{8})(?:[_-]\d+)?"
    r"(?:\.(?:csv|zip|pdf))?$"
)
_CONSOLE = re.compile(r"^(?P<uid>\d+)-(?P<ts>\d{14})_consumedetailbillv2(?:\.(?:csv|zip))?$", re.IGNORECASE)
_SNAPSHOT_DIR = re.compile(r"(?:^|/)(?P<month>\d{6})/(?P<ts>\d{14})/[^/]+$")

FAMILY_RANK = {"v2": 0, "legacy": 1, "console": 2}


@dataclass(frozen=True)
class BillFile:
    """A recognised bill object."""

    info: ObjectInfo
    family: str  # v2 | legacy | console
    period: str  # YYYY-MM the file is for ('' for console exports: decided by content)
    day: str = ""  # YYYY-MM-DD for legacy dailies
    snapshot: str = ""  # YYYYMMDDHHMMSS of a v2 push folder or a console export

    @property
    def key(self) -> str:
        return self.info.key

    @property
    def is_month_file(self) -> bool:
        return self.family == "legacy" and not self.day

    def pushed_at(self) -> datetime | None:
        """When the file was produced, as far as its name tells (the names are in China time)."""
        if self.snapshot:
            return parse_bill_time(self.snapshot, "%Y%m%d%H%M%S")
        if self.day:
            return parse_bill_time(self.day, "%Y-%m-%d")
        return None


@dataclass
class Selection:
    """The month's authoritative files, and what happened to every other object."""

    month: str
    family: str | None
    files: list[BillFile] = field(default_factory=list)
    superseded: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    final: bool = False

    def newest_source_time(self) -> datetime | None:
        times = [t for t in (f.pushed_at() for f in self.files) if t is not None]
        return max(times) if times else None


def classify(info: ObjectInfo) -> BillFile | str:
    """A BillFile for a recognised consumption bill, else the reason the object is ignored."""
    name = info.key.rsplit("/", 1)[-1]
    match = _CONSOLE.match(name)
    if match:
        return BillFile(info, "console", "", snapshot=match.group("ts"))
    match = _LEGACY.match(name)
    if match:
        if match.group("type") != "BillingItemDetail":
            return f"legacy {match.group('type')} file (only BillingItemDetail carries Model Studio usage)"
        period = match.group("period")
        day = f"{period[:4]}-{period[4:6]}-{period[6:]}" if len(period) == 8 else ""
        return BillFile(info, "legacy", from_compact(period), day=day)
    match = _V2.match(name)
    if match:
        if match.group("type").lower() != "consumedetailbillv2":
            return f"v2 {match.group('type')} file (only consumeDetailBillV2 is read, to avoid double counting)"
        folder = _SNAPSHOT_DIR.search(info.key)
        if folder is None:
            return "v2 bill outside a {YYYYMM}/{YYYYMMDDHHMMSS}/ push folder"
        return BillFile(info, "v2", from_compact(folder.group("month")), snapshot=folder.group("ts"))
    return "not a bill file name this tool knows"


def select_month(objects: list[ObjectInfo], month: str) -> Selection:
    """Pick the files that are authoritative for ``month`` (YYYY-MM)."""
    candidates: dict[str, list[BillFile]] = {"v2": [], "legacy": [], "console": []}
    selection = Selection(month, None)
    following = next_month(month)
    for info in objects:
        found = classify(info)
        if isinstance(found, str):
            selection.ignored.append((info.key, found))
            continue
        if found.family == "console" or found.period == month:
            candidates[found.family].append(found)
        elif found.family == "legacy" and found.period == following and found.day:
            candidates["legacy"].append(found)  # may carry late records of `month`
        else:
            selection.ignored.append((info.key, f"bill for {found.period or 'another month'}"))

    v2 = candidates["v2"]
    if v2:
        newest = max(f.snapshot for f in v2)
        selection.files = [f for f in v2 if f.snapshot == newest]
        selection.superseded += [(f.key, f"older v2 snapshot {f.snapshot}") for f in v2 if f.snapshot != newest]
        selection.family = "v2"
        selection.final = newest >= f"{compact(following)}02140000"
    legacy = candidates["legacy"]
    if legacy:
        month_files = [f for f in legacy if f.is_month_file]
        if selection.family:
            selection.superseded += [(f.key, "a v2 push covers this month") for f in legacy]
        elif month_files:
            selection.files = month_files
            selection.family = "legacy"
            selection.final = True
            selection.superseded += [(f.key, "the month file supersedes dailies") for f in legacy
                                     if not f.is_month_file]
        else:
            selection.files = sorted(legacy, key=lambda f: f.day)
            selection.family = "legacy"
    console = candidates["console"]
    if console:
        if selection.family:
            selection.superseded += [(f.key, f"a {selection.family} subscription file covers this month")
                                     for f in console]
        else:
            selection.files = sorted(console, key=lambda f: f.snapshot)
            selection.family = "console"
            newest = max(f.snapshot for f in console)
            selection.final = newest >= f"{compact(following)}04000000"
    return selection
