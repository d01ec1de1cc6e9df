"""Which bill files are authoritative for a month (bill-formats.md sections 1 and 3).

Three families are recognised by name:
- v2 subscription pushes ``{dir}/{YYYYMM}/{YYYYMMDDHHMMSS}/{UID}_{SiteID}_consumeDetailBillV2_{YYYYMM}[.zip]``:
  each push is a month-to-date snapshot; the newest snapshot folder of a month supersedes all older ones.
- legacy ``{UID}[_{scope}]_BillingItemDetail_{YYYYMMDD|YYYYMM}``: the month file, once present, supersedes the
  month's dailies; without it the month's dailies and the next month's (late records) are read.
- console exports ``{UID}-{YYYYMMDDhhmmss}_consumedetailbillv2.csv``: all are read; rows are kept by their
  billing month and bill lines seen twice count once.

Several accounts (a Resource Directory's members, subsidiaries) often push into one bucket and prefix, each on
its own schedule. Authority is therefore decided for each account (the UID in the file name) on its own, never
across accounts: the highest family the account has for the month (v2, then legacy, then console) is used and
its other files are superseded; within it, the newest snapshot (per v2 site) or the month file wins. One
account's later push never hides another account's bill, and the month is final when every account's part is.
Every object under the source is reported as used, superseded or ignored.
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
    account: str = ""  # the UID the name starts with: whose bill it is
    scope: str = ""  # the site ID of a v2 name, or the optional scope of a legacy one (e.g. ACE1)

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
class AccountSelection:
    """One account's authoritative files for the month (for one site, with v2 bills)."""

    account: str
    scope: str
    family: str
    files: list[BillFile]
    final: bool


@dataclass
class Selection:
    """The month's authoritative files, account by account, and what happened to every other object."""

    month: str
    family: str | None  # the family every account used, or e.g. 'v2+legacy' when they differ
    files: list[BillFile] = field(default_factory=list)
    superseded: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    final: bool = False
    accounts: list[AccountSelection] = field(default_factory=list)

    def newest_source_time(self) -> datetime | None:
        times = [t for t in (f.pushed_at() for f in self.files) if t is not None]
        return max(times) if times else None


def classify(info: ObjectInfo) -> BillFile | str:
    """A BillFile for a recognised consumption bill, else the reason the object is ignored."""
    if info.unreadable:  # a FIFO, a device, a link out of the folder: never opened
        return info.unreadable
    name = info.key.rsplit("/", 1)[-1]
    match = _CONSOLE.match(name)
    if match:
        return BillFile(info, "console", "", snapshot=match.group("ts"), account=match.group("uid"))
    match = _LEGACY.match(name)
    if match:
        if match.group("type") != "BillingItemDetail":
            return f"legacy {match.group('type')} file (only BillingItemDetail carries Model Studio usage)"
        period = match.group("period")
        day = f"{period[:4]}-{period[4:6]}-{period[6:]}" if len(period) == 8 else ""
        return BillFile(info, "legacy", from_compact(period), day=day, account=match.group("uid"),
                        scope=match.group("scope") or "")
    match = _V2.match(name)
    if match:
        if match.group("type").lower() != "consumedetailbillv2":
            return f"v2 {match.group('type')} file (only consumeDetailBillV2 is read, to avoid double counting)"
        folder = _SNAPSHOT_DIR.search(info.key)
        if folder is None:
            return "v2 bill outside a {YYYYMM}/{YYYYMMDDHHMMSS}/ push folder"
        return BillFile(info, "v2", from_compact(folder.group("month")), snapshot=folder.group("ts"),
                        account=match.group("uid"), scope=match.group("site"))
    return "not a bill file name this tool knows"


def select_month(objects: list[ObjectInfo], month: str) -> Selection:
    """Pick the files that are authoritative for ``month`` (YYYY-MM), for each account on its own."""
    by_account: dict[str, dict[str, list[BillFile]]] = {}
    selection = Selection(month, None)
    following = next_month(month)
    for info in objects:
        found = classify(info)
        if isinstance(found, str):
            selection.ignored.append((info.key, found))
        elif (found.family == "console" or found.period == month
              or (found.family == "legacy" and found.period == following and found.day)):  # late records
            by_account.setdefault(found.account, {}).setdefault(found.family, []).append(found)
        else:
            selection.ignored.append((info.key, f"bill for {found.period or 'another month'}"))
    for account in sorted(by_account):
        families = by_account[account]
        family = min(families, key=FAMILY_RANK.__getitem__)
        for other, files in families.items():
            if other != family:
                reason = "a v2 push covers this month" if family == "v2" else \
                    f"a {family} subscription file covers this month"
                selection.superseded += [(f.key, reason) for f in files]
        scopes: dict[str, list[BillFile]] = {}
        for bill in families[family]:  # a v2 site is its own bill; a legacy scope is a variant of one account's
            scopes.setdefault(bill.scope if family == "v2" else "", []).append(bill)
        for scope in sorted(scopes):
            chosen = _CHOOSE[family](scopes[scope], following, selection.superseded)
            selection.accounts.append(chosen)
            selection.files += chosen.files
    used = sorted({a.family for a in selection.accounts}, key=FAMILY_RANK.__getitem__)
    selection.family = "+".join(used) or None
    selection.final = bool(selection.accounts) and all(a.final for a in selection.accounts)
    return selection


def _choose_v2(files: list[BillFile], following: str, superseded: list[tuple[str, str]]) -> AccountSelection:
    """The newest snapshot folder of one account and site; final once pushed on the 2nd, 14:00, or later."""
    newest = max(f.snapshot for f in files)
    superseded += [(f.key, f"older v2 snapshot {f.snapshot}") for f in files if f.snapshot != newest]
    return AccountSelection(files[0].account, files[0].scope, "v2", [f for f in files if f.snapshot == newest],
                            final=newest >= f"{compact(following)}02140000")


def _choose_legacy(files: list[BillFile], following: str, superseded: list[tuple[str, str]]) -> AccountSelection:
    """The month file of one account, once present (final); until then every daily, in order."""
    month_files = [f for f in files if f.is_month_file]
    if month_files:
        superseded += [(f.key, "the month file supersedes dailies") for f in files if not f.is_month_file]
        return AccountSelection(files[0].account, "", "legacy", month_files, final=True)
    return AccountSelection(files[0].account, "", "legacy", sorted(files, key=lambda f: f.day), final=False)


def _choose_console(files: list[BillFile], following: str, superseded: list[tuple[str, str]]
                    ) -> AccountSelection:
    """Every console export of one account (rows are kept by their own month); final once one is from the
    4th of the next month or later."""
    ordered = sorted(files, key=lambda f: f.snapshot)
    return AccountSelection(files[0].account, "", "console", ordered,
                            final=ordered[-1].snapshot >= f"{compact(following)}04000000")


_CHOOSE = {"v2": _choose_v2, "legacy": _choose_legacy, "console": _choose_console}
