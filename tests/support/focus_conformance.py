"""FOCUS 1.2 conformance rules, written from the specification's MUST and SHOULD statements.

Source: FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec, tag v1.2, ``specification/columns/*.md`` and
``specification/attributes/*.md``; the FOCUS 1.3 allocation columns (``allocatedmethodid.md``,
``allocatedmethoddetails.md``) for ``x_AllocatedMethodId`` / ``x_AllocatedMethodDetails``. Each :class:`Rule`
quotes (abridged) the requirement it checks; :func:`check` runs them all on a FOCUS table read back from its
Parquet file (types as written) and returns the failures, :func:`check_csv` the format rules on its CSV copy.
The README's table of checked rules is :func:`rules_markdown` (a test keeps the two equal).

Conditions that depend on what the provider supports are fixed to Alibaba Cloud Model Studio's facts in
:data:`PROVIDER`: it names billing accounts, has sub accounts (workspaces), regions, commitment discounts
(savings plans, resource packs), published list prices, usage measurement, resources and tags, and prices and
bills in one currency. Rules that need knowledge outside the file (an invoice's payable, a price list's unit,
uniqueness across a provider) are listed in :data:`NOT_CHECKED` with the reason.
"""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa

Row = dict[str, Any]

# --------------------------------------------------------------------------------------------- the facts

PROVIDER = {
    "names billing accounts": True,
    "sub accounts": True,
    "regions": True,
    "commitment discounts": True,
    "publishes list prices": True,
    "measures usage": True,
    "bills provisioned resources": True,
    "tags": True,
    "negotiated pricing": True,
    "pricing and billing currencies differ": False,
    "capacity reservations": False,
    "billing account types": 1,
    "sub account types": 1,
}

MANDATORY = ("BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
             "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
             "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost",
             "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName")
RECOMMENDED = ("ChargeFrequency", "InvoiceId", "ServiceSubcategory")
# conditional columns and the provider fact that makes them required
CONDITIONAL = {
    "AvailabilityZone": None,  # RECOMMENDED where resources deploy into zones; Model Studio does not
    "CommitmentDiscountCategory": "commitment discounts", "CommitmentDiscountId": "commitment discounts",
    "CommitmentDiscountName": "commitment discounts", "CommitmentDiscountQuantity": "commitment discounts",
    "CommitmentDiscountStatus": "commitment discounts", "CommitmentDiscountType": "commitment discounts",
    "CommitmentDiscountUnit": "commitment discounts",
    "ConsumedQuantity": "measures usage", "ConsumedUnit": "measures usage",
    "ContractedUnitPrice": "negotiated pricing", "ListUnitPrice": "publishes list prices",
    "PricingCategory": "publishes list prices",
    "RegionId": "regions", "RegionName": "regions",
    "ResourceId": "bills provisioned resources", "ResourceName": "bills provisioned resources",
    "ResourceType": "bills provisioned resources",
    "SkuId": "publishes list prices", "SkuMeter": "publishes list prices", "SkuPriceDetails": "publishes list prices",
    "SkuPriceId": "publishes list prices",
    "SubAccountId": "sub accounts", "SubAccountName": "sub accounts",
    "Tags": "tags",
}
NOT_REQUIRED = {  # FOCUS 1.2 columns whose conditions do not hold for Model Studio
    "BillingAccountType": "billing account types", "SubAccountType": "sub account types",
    "CapacityReservationId": "capacity reservations", "CapacityReservationStatus": "capacity reservations",
    "PricingCurrency": "pricing and billing currencies differ",
    "PricingCurrencyContractedUnitPrice": "pricing and billing currencies differ",
    "PricingCurrencyEffectiveCost": "pricing and billing currencies differ",
    "PricingCurrencyListUnitPrice": "pricing and billing currencies differ",
}
FOCUS_COLUMNS = frozenset({*MANDATORY, *RECOMMENDED, *CONDITIONAL, *NOT_REQUIRED})

DECIMAL = ("BilledCost", "CommitmentDiscountQuantity", "ConsumedQuantity", "ContractedCost", "ContractedUnitPrice",
           "EffectiveCost", "ListCost", "ListUnitPrice", "PricingQuantity")
DATETIME = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")
KEY_VALUE = ("SkuPriceDetails", "Tags")

CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
CHARGE_FREQUENCIES = ("One-Time", "Recurring", "Usage-Based")
PRICING_CATEGORIES = ("Standard", "Dynamic", "Committed", "Other")
COMMITMENT_CATEGORIES = ("Spend", "Usage")
COMMITMENT_STATUSES = ("Used", "Unused")
# ServiceCategory -> its ServiceSubcategory values (servicesubcategory.md, v1.2)
SERVICE_SUBCATEGORIES: dict[str, tuple[str, ...]] = {
    "AI and Machine Learning": ("AI Platforms", "Bots", "Generative AI", "Machine Learning",
                                "Natural Language Processing", "Other (AI and Machine Learning)"),
    "Analytics": ("Analytics Platforms", "Business Intelligence", "Data Processing", "Search", "Streaming Analytics",
                  "Other (Analytics)"),
    "Business Applications": ("Productivity and Collaboration", "Other (Business Applications)"),
    "Compute": ("Containers", "End User Computing", "Quantum Compute", "Serverless Compute", "Virtual Machines",
                "Other (Compute)"),
    "Databases": ("Caching", "Data Warehouses", "Ledger Databases", "NoSQL Databases", "Relational Databases",
                  "Time Series Databases", "Other (Databases)"),
    "Developer Tools": ("Developer Platforms", "Continuous Integration and Deployment", "Development Environments",
                        "Source Code Management", "Quality Assurance", "Other (Developer Tools)"),
    "Identity": ("Identity and Access Management", "Other (Identity)"),
    "Integration": ("API Management", "Messaging", "Workflow Orchestration", "Other (Integration)"),
    "Internet of Things": ("IoT Analytics", "IoT Platforms", "Other (Internet of Things)"),
    "Management and Governance": ("Architecture", "Compliance", "Cost Management", "Data Governance",
                                  "Disaster Recovery", "Endpoint Management", "Observability", "Support",
                                  "Other (Management and Governance)"),
    "Media": ("Content Creation", "Gaming", "Media Streaming", "Mixed Reality", "Other (Media)"),
    "Migration": ("Data Migration", "Resource Migration", "Other (Migration)"),
    "Mobile": ("Other (Mobile)",),
    "Multicloud": ("Multicloud Integration", "Other (Multicloud)"),
    "Networking": ("Application Networking", "Content Delivery", "Network Connectivity", "Network Infrastructure",
                   "Network Routing", "Network Security", "Other (Networking)"),
    "Security": ("Secret Management", "Security Posture Management", "Threat Detection and Response",
                 "Other (Security)"),
    "Storage": ("Backup Storage", "Block Storage", "File Storage", "Object Storage", "Storage Platforms",
                "Other (Storage)"),
    "Web": ("Application Platforms", "Other (Web)"),
    "Other": ("Other (Other)",),
}
# SkuPriceDetails properties FOCUS 1.2 defines, and their value types
SKU_PRICE_PROPERTIES = {"CoreCount": "number", "DiskMaxIops": "number", "DiskSpace": "number", "DiskType": "string",
                        "GpuCount": "number", "InstanceType": "string", "InstanceSeries": "string",
                        "MemorySize": "number", "NetworkMaxIops": "number", "NetworkMaxThroughput": "number",
                        "OperatingSystem": "string", "Redundancy": "string", "StorageClass": "string"}
# ISO 4217 codes of national currencies (the active list); Model Studio bills in CNY and USD
_ISO_4217_TEXT = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF
CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG
HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA
MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD
RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL"""
ISO_4217 = frozenset(_ISO_4217_TEXT.split())
# UnitFormat: "<plural units>", "<quantity> <plural units>", composites with '-' or '/'; capitalised words
UNIT = re.compile(r"^(\d+ )?[A-Z][A-Za-z]*(?:[-/](\d+ )?[A-Z][A-Za-z]*)*$")
PASCAL = re.compile(r"^[A-Z][a-z0-9]*(?:[A-Z][a-z0-9]*)*$")
NUMERIC_TEXT = re.compile(r"^-?(\d+)(\.\d+)?(E-?\d+)?$")
DATETIME_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MATCH_TOLERANCE = Decimal("0.000001")  # see rule ListCost.Product


@dataclass(frozen=True)
class Failure:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


Check = Callable[[list[Row], pa.Schema], Iterable[str]]


@dataclass(frozen=True)
class Rule:
    id: str
    column: str
    level: str  # MUST | SHOULD
    text: str  # the requirement, abridged from the spec
    check: Check


RULES: list[Rule] = []


def rule(rule_id: str, column: str, level: str, text: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        RULES.append(Rule(rule_id, column, level, text, check))
        return check
    return register


# --------------------------------------------------------------------------------------------- helpers


def _null(value: Any) -> bool:
    return value is None


def _bad(rows: list[Row], predicate: Callable[[Row], bool], what: str, limit: int = 3) -> Iterator[str]:
    """A message for the rows where ``predicate`` is True: how many, and the first few."""
    bad = [i for i, row in enumerate(rows) if predicate(row)]
    if bad:
        yield f"{len(bad)} row(s) {what} (rows {', '.join(map(str, bad[:limit]))}{', ...' if len(bad) > limit else ''})"


def _usage(row: Row) -> bool:
    return row.get("ChargeCategory") in ("Usage", "Purchase") and row.get("ChargeClass") != "Correction"


def _has(schema: pa.Schema, column: str) -> bool:
    return column in schema.names


def _json_object(text: str) -> tuple[dict[str, Any] | None, str]:
    """(object, '') or (None, why not) for a KeyValueFormat cell: a JSON object, unique keys."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        duplicates.extend(k for k in set(keys) if keys.count(k) > 1)
        return dict(items)

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_float=Decimal)
    except (json.JSONDecodeError, TypeError) as exc:
        return None, f"not JSON ({exc})"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    if duplicates:
        return None, f"duplicate keys {sorted(set(duplicates))}"
    return value, ""


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float | Decimal)


def _presence(column: str) -> Check:
    def check(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
        if not _has(schema, column):
            yield f"column {column} is missing"
    return check


def _type(column: str, kind: str) -> Check:
    def check(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
        if not _has(schema, column):
            return
        type_ = schema.field(column).type
        ok = {"Decimal": pa.types.is_decimal(type_),
              "String": pa.types.is_string(type_) or pa.types.is_large_string(type_),
              "Date/Time": pa.types.is_timestamp(type_) and str(type_.tz) in ("UTC", "+00:00"),
              "JSON": pa.types.is_string(type_)}[kind]
        if not ok:
            yield f"{column} is {type_}, not {kind}"
    return check


def _not_null(column: str) -> Check:
    def check(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
        if _has(schema, column):
            yield from _bad(rows, lambda r: _null(r[column]), f"with a null {column}")
    return check


# ------------------------------------------------------------------------------------- dataset-level rules


@rule("ColumnHandling.Names", "(all)", "MUST", "FOCUS column IDs use Pascal case, alphanumeric, no abbreviations "
      "but Id and Sku; custom columns are prefixed x_")
def _names(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    for name in schema.names:
        if name.startswith("x_"):
            continue
        if name not in FOCUS_COLUMNS:
            yield f"{name} is neither a FOCUS 1.2 column nor prefixed x_"
        elif not PASCAL.match(name):
            yield f"{name} is not Pascal case"


@rule("ColumnHandling.CustomNames", "(all)", "SHOULD", "custom columns follow the rules of FOCUS columns (Pascal "
      "case after the x_ prefix, alphanumeric) and IDs do not exceed 50 characters")
def _custom_names(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    for name in schema.names:
        if len(name) > 50:
            yield f"{name} is longer than 50 characters"
        if name.startswith("x_") and not PASCAL.match(name[2:]):
            yield f"{name} is not Pascal case after its prefix"


@rule("ColumnHandling.Order", "(all)", "SHOULD", "FOCUS columns first, custom columns after them and not "
      "intermixed")
def _order(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    custom = [n.startswith("x_") for n in schema.names]
    if True in custom and not all(custom[custom.index(True):]):
        yield "a FOCUS column follows a custom column"


@rule("NullHandling.NoEmptyStrings", "(all)", "MUST", "columns use NULL when there is no value, never empty strings "
      "or placeholders, in every column (custom columns SHOULD follow: checked as MUST here)")
def _no_empty(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    for field in schema:
        if pa.types.is_string(field.type):
            yield from _bad(rows, lambda r, n=field.name: r[n] is not None and r[n].strip() == "",
                            f"with an empty or blank string in {field.name}")


@rule("NullHandling.NoPlaceholders", "(all)", "MUST", "no placeholder values such as 'Not Applicable', 'N/A', "
      "'null' or 'None' for a missing value")
def _no_placeholders(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    placeholders = {"not applicable", "n/a", "na", "null", "none", "-", "unknown"}
    for field in schema:
        if pa.types.is_string(field.type):
            yield from _bad(rows, lambda r, n=field.name: r[n] is not None and r[n].strip().lower() in placeholders,
                            f"with a placeholder in {field.name}")


@rule("Presence.Mandatory", "(all)", "MUST", "every Mandatory column is present: " + ", ".join(MANDATORY))
def _mandatory(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    for column in MANDATORY:
        yield from _presence(column)(rows, schema)


@rule("Presence.Recommended", "(all)", "SHOULD", "every Recommended column is present: " + ", ".join(RECOMMENDED))
def _recommended(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    for column in RECOMMENDED:
        yield from _presence(column)(rows, schema)


@rule("Presence.Conditional", "(all)", "MUST", "every Conditional column whose condition holds for Model Studio is "
      "present (billing account names, sub accounts, regions, commitment discounts, list prices, usage "
      "measurement, resources, tags, negotiated pricing)")
def _conditional(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    for column, condition in CONDITIONAL.items():
        if condition is not None and PROVIDER[condition]:
            yield from _presence(column)(rows, schema)


# ---------------------------------------------------------------------------------------- column rules


NOT_NULL = ("BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
            "ChargeCategory", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
            "EffectiveCost", "InvoiceIssuerName", "ListCost", "ProviderName", "PublisherName", "ServiceCategory",
            "ServiceName", "ServiceSubcategory")
STRINGS = tuple(sorted(FOCUS_COLUMNS - set(DECIMAL) - set(DATETIME) - set(KEY_VALUE)))


def _types(kind: str, columns: tuple[str, ...], text: str) -> None:
    @rule(f"Types.{kind.replace('/', '')}", ", ".join(columns) if len(columns) < 5 else f"{len(columns)} columns",
          "MUST", text)
    def check(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
        for column in columns:
            yield from _type(column, kind)(rows, schema)


_types("Decimal", DECIMAL, "the metrics (" + ", ".join(DECIMAL) + ") are of type Decimal, conforming to "
       "NumericFormat")
_types("Date/Time", DATETIME, "the period bounds are of type Date/Time, in UTC")
_types("String", STRINGS, "every other FOCUS column is of type String")
_types("JSON", KEY_VALUE, "SkuPriceDetails and Tags hold a serialized JSON object")


@rule("NotNull", f"{len(NOT_NULL)} columns", "MUST", ", ".join(NOT_NULL) + " MUST NOT be null")
def _never_null(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    for column in NOT_NULL:
        yield from _not_null(column)(rows, schema)


def _allowed(column: str, values: tuple[str, ...], *, nullable: bool) -> None:
    @rule(f"{column}.Allowed", column, "MUST", f"{column} is one of the allowed values ({', '.join(values)})"
          + (" when not null" if nullable else ""))
    def check(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
        if _has(schema, column):
            yield from _bad(rows, lambda r: r[column] is not None and r[column] not in values,
                            f"with {column} not an allowed value")


_allowed("ChargeCategory", CHARGE_CATEGORIES, nullable=False)
_allowed("ChargeClass", ("Correction",), nullable=True)
_allowed("ChargeFrequency", CHARGE_FREQUENCIES, nullable=False)
_allowed("PricingCategory", PRICING_CATEGORIES, nullable=True)
_allowed("CommitmentDiscountCategory", COMMITMENT_CATEGORIES, nullable=True)
_allowed("CommitmentDiscountStatus", COMMITMENT_STATUSES, nullable=True)
_allowed("ServiceCategory", tuple(SERVICE_SUBCATEGORIES), nullable=False)
_allowed("ServiceSubcategory", tuple(v for vs in SERVICE_SUBCATEGORIES.values() for v in vs), nullable=False)


def _null_iff(column: str, other: str, text: str) -> None:
    @rule(f"{column}.NullWith{other}", column, "MUST", text)
    def check(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
        if _has(schema, column) and _has(schema, other):
            yield from _bad(rows, lambda r: _null(r[column]) != _null(r[other]),
                            f"where {column} and {other} are not null together")


_null_iff("BillingAccountName", "BillingAccountId", "BillingAccountName MUST NOT be null when the provider supports "
          "assigning a display name for the billing account (Alibaba Cloud accounts have names)")
_null_iff("CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountCategory is null when and only "
          "when CommitmentDiscountId is null")
_null_iff("CommitmentDiscountType", "CommitmentDiscountId", "CommitmentDiscountType is null when and only when "
          "CommitmentDiscountId is null")
_null_iff("CommitmentDiscountUnit", "CommitmentDiscountQuantity", "CommitmentDiscountUnit is null when and only "
          "when CommitmentDiscountQuantity is null")
_null_iff("ConsumedUnit", "ConsumedQuantity", "ConsumedUnit is null when and only when ConsumedQuantity is null")
_null_iff("PricingUnit", "PricingQuantity", "PricingUnit is null when and only when PricingQuantity is null")
_null_iff("RegionName", "RegionId", "RegionName is null when and only when RegionId is null")
_null_iff("ResourceType", "ResourceId", "ResourceType is null when and only when ResourceId is null")
_null_iff("SubAccountName", "SubAccountId", "SubAccountName is null when and only when SubAccountId is null")


PRICED = ("ContractedUnitPrice", "ListUnitPrice", "PricingCategory", "PricingQuantity", "SkuId", "SkuPriceId")


@rule("Priced.UsageNotNull", ", ".join(PRICED), "MUST", "each of these MUST NOT be null when ChargeCategory is Usage "
      "or Purchase and ChargeClass is not Correction, and MUST be null when ChargeCategory is Tax")
def _priced(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    for column in PRICED:
        if _has(schema, column):
            yield from _bad(rows, lambda r, c=column: _usage(r) and _null(r[c]),
                            f"of ChargeCategory Usage or Purchase with a null {column}")
            yield from _bad(rows, lambda r, c=column: r.get("ChargeCategory") == "Tax" and not _null(r[c]),
                            f"of ChargeCategory Tax with a {column}")


@rule("AvailabilityZone.NotApplicable", "AvailabilityZone", "MUST", "AvailabilityZone is null when a charge is not "
      "specific to an availability zone (Model Studio charges are not)")
def _zone(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    if _has(schema, "AvailabilityZone"):
        yield from _bad(rows, lambda r: r["AvailabilityZone"] is not None, "with an AvailabilityZone")


@rule("BillingCurrency.Iso4217", "BillingCurrency", "MUST", "BillingCurrency is a three-letter ISO 4217 code of a "
      "national currency")
def _currency(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: r["BillingCurrency"] not in ISO_4217, "whose BillingCurrency is no ISO 4217 code")


@rule("BillingPeriod.Bounds", "BillingPeriodStart", "MUST", "BillingPeriodStart is the inclusive start and "
      "BillingPeriodEnd the exclusive end of the billing period: start before end")
def _billing_period(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: not r["BillingPeriodStart"] < r["BillingPeriodEnd"],
                    "whose billing period does not end after it starts")


@rule("ChargePeriod.Bounds", "ChargePeriodStart", "MUST", "ChargePeriodStart is the inclusive start and "
      "ChargePeriodEnd the exclusive end of the charge's effective period: start before end")
def _charge_period(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: not r["ChargePeriodStart"] < r["ChargePeriodEnd"],
                    "whose charge period does not end after it starts")


@rule("ChargePeriod.WithinBillingPeriod", "ChargePeriodStart", "MUST", "a charge of a billing period lies within it "
      "(BillingPeriodStart <= ChargePeriodStart and ChargePeriodEnd <= BillingPeriodEnd, by the bounds' definitions)")
def _within(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: not (r["BillingPeriodStart"] <= r["ChargePeriodStart"]
                                         and r["ChargePeriodEnd"] <= r["BillingPeriodEnd"]),
                    "whose charge period is outside its billing period")


@rule("ChargeDescription.NotNull", "ChargeDescription", "SHOULD", "ChargeDescription SHOULD NOT be null")
def _description(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _not_null("ChargeDescription")(rows, schema)


@rule("ChargeFrequency.Purchase", "ChargeFrequency", "MUST", "ChargeFrequency is not Usage-Based when "
      "ChargeCategory is Purchase")
def _frequency(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: r["ChargeCategory"] == "Purchase" and r["ChargeFrequency"] == "Usage-Based",
                    "of a Usage-Based Purchase")


def _commitment_related(row: Row) -> bool:
    """Whether the row says a commitment (prepaid plan) covered it: x_CommitmentCoveredCost > 0."""
    covered = row.get("x_CommitmentCoveredCost")
    return covered is not None and covered > 0


def _set_exactly_when(column: str, related: Callable[[Row], bool], evidence: str, what: str) -> Check:
    """A check that ``column`` is not null on the rows ``related`` picks and null on all others (``evidence``
    is the column that tells; without it the rule has nothing to go by)."""
    def check(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
        if _has(schema, evidence):
            yield from _bad(rows, lambda r: related(r) == _null(r[column]), f"whose {column} does not follow {what}")
    return check


rule("CommitmentDiscountId.Related", "CommitmentDiscountId", "MUST", "CommitmentDiscountId is not null when a "
     "charge is related to a commitment discount (the bill's subscription deduction covered it) and null when not")(
    _set_exactly_when("CommitmentDiscountId", _commitment_related, "x_CommitmentCoveredCost",
                      "the subscription deduction"))


@rule("CommitmentDiscountName.Null", "CommitmentDiscountName", "MUST", "CommitmentDiscountName is null when "
      "CommitmentDiscountId is null")
def _commitment_name(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: _null(r["CommitmentDiscountId"]) and not _null(r["CommitmentDiscountName"]),
                    "with a CommitmentDiscountName but no CommitmentDiscountId")


@rule("CommitmentDiscountQuantity.Nullability", "CommitmentDiscountQuantity", "MUST", "CommitmentDiscountQuantity "
      "is not null when ChargeCategory is Usage or Purchase and CommitmentDiscountId is not null (ChargeClass not "
      "Correction); null in all other cases")
def _commitment_quantity(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    def wrong(r: Row) -> bool:
        required = _usage(r) and not _null(r["CommitmentDiscountId"])
        forbidden = not _null(r["CommitmentDiscountId"]) and r["ChargeClass"] == "Correction"
        return (required and _null(r["CommitmentDiscountQuantity"])) or (
            not required and not forbidden and not _null(r["CommitmentDiscountQuantity"]))
    yield from _bad(rows, wrong, "whose CommitmentDiscountQuantity nullability is wrong")


@rule("CommitmentDiscountStatus.Nullability", "CommitmentDiscountStatus", "MUST", "CommitmentDiscountStatus is null "
      "when CommitmentDiscountId is null, and not null when CommitmentDiscountId is not null and ChargeCategory is "
      "Usage")
def _commitment_status(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: _null(r["CommitmentDiscountId"]) and not _null(r["CommitmentDiscountStatus"]),
                    "with a CommitmentDiscountStatus but no CommitmentDiscountId")
    yield from _bad(rows, lambda r: not _null(r["CommitmentDiscountId"]) and r["ChargeCategory"] == "Usage"
                    and _null(r["CommitmentDiscountStatus"]), "of Usage with a commitment but no status")


@rule("CommitmentDiscountUnit.UnitFormat", "CommitmentDiscountUnit", "SHOULD", "CommitmentDiscountUnit conforms to "
      "UnitFormat (a spend-based commitment is measured in its currency)")
def _commitment_unit(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: r["CommitmentDiscountUnit"] is not None and not (
        UNIT.match(r["CommitmentDiscountUnit"]) or r["CommitmentDiscountUnit"] in ISO_4217),
        "whose CommitmentDiscountUnit is not in UnitFormat")


@rule("CommitmentDiscountId.Consistent", "CommitmentDiscountId", "MUST", "CommitmentDiscountUnit and "
      "CommitmentDiscountCategory remain consistent for a given CommitmentDiscountId")
def _commitment_consistent(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    seen: dict[str, set[tuple[Any, Any]]] = defaultdict(set)
    for r in rows:
        if r["CommitmentDiscountId"] is not None:
            seen[r["CommitmentDiscountId"]].add((r["CommitmentDiscountUnit"], r["CommitmentDiscountCategory"]))
    for commitment, found in seen.items():
        if len(found) > 1:
            yield f"commitment {commitment} has several units or categories: {sorted(map(str, found))}"


@rule("ConsumedQuantity.Nullability", "ConsumedQuantity", "MUST", "ConsumedQuantity is null when ChargeCategory is "
      "not Usage or CommitmentDiscountStatus is Unused; not null for other Usage rows (ChargeClass not Correction)")
def _consumed(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    def wrong(r: Row) -> bool:
        usage = r["ChargeCategory"] == "Usage" and r.get("CommitmentDiscountStatus") != "Unused"
        if not usage:
            return not _null(r["ConsumedQuantity"])
        return r["ChargeClass"] != "Correction" and _null(r["ConsumedQuantity"])
    yield from _bad(rows, wrong, "whose ConsumedQuantity nullability is wrong")


def _unit_format(column: str) -> None:
    @rule(f"{column}.UnitFormat", column, "SHOULD", f"{column} conforms to UnitFormat ('<plural units>' or "
          "'<quantity> <plural units>', capitalised, e.g. '1000 Tokens')")
    def check(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
        yield from _bad(rows, lambda r: r[column] is not None and not UNIT.match(r[column]),
                        f"whose {column} is not in UnitFormat")


_unit_format("ConsumedUnit")
_unit_format("PricingUnit")


def _product(cost: str, price: str) -> None:
    @rule(f"{cost}.Product", cost, "MUST", f"the product of {price} and PricingQuantity matches {cost} when both are "
          "not null and ChargeClass is not Correction (to 0.000001: a split row's parts are rounded apart)")
    def check(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
        def wrong(r: Row) -> bool:
            if r[price] is None or r["PricingQuantity"] is None or r["ChargeClass"] == "Correction":
                return False
            return abs(r[price] * r["PricingQuantity"] - r[cost]) > MATCH_TOLERANCE
        yield from _bad(rows, wrong, f"where {price} x PricingQuantity does not match {cost}")


_product("ListCost", "ListUnitPrice")
_product("ContractedCost", "ContractedUnitPrice")


def _non_negative(column: str) -> None:
    @rule(f"{column}.NonNegative", column, "MUST", f"{column} is a non-negative decimal when not null")
    def check(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
        yield from _bad(rows, lambda r: r[column] is not None and r[column] < 0, f"with a negative {column}")


_non_negative("ListUnitPrice")
_non_negative("ContractedUnitPrice")


@rule("EffectiveCost.WithoutCommitment", "EffectiveCost", "MUST", "without a prepaid purchase to amortize "
      "(CommitmentDiscountId null), EffectiveCost is BilledCost: it differs only by the amortized purchase")
def _effective(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: _null(r.get("CommitmentDiscountId")) and r["EffectiveCost"] != r["BilledCost"],
                    "without a commitment whose EffectiveCost is not BilledCost")


@rule("EffectiveCost.WithCommitment", "EffectiveCost", "MUST", "on rows a commitment covered, EffectiveCost "
      "includes the amortized purchase: BilledCost plus a non-negative amount")
def _effective_committed(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: not _null(r.get("CommitmentDiscountId")) and r["EffectiveCost"] < r["BilledCost"],
                    "with a commitment whose EffectiveCost is below BilledCost")


@rule("BilledCost.FullyCommitted", "BilledCost", "MUST", "BilledCost is 0 for a row whose commitment covers the "
      "entire cost (the covered list value is the row's ListCost)")
def _fully_committed(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    if _has(schema, "x_CommitmentCoveredCost"):
        yield from _bad(rows, lambda r: _commitment_related(r) and r["x_CommitmentCoveredCost"] >= r["ListCost"]
                        and r["BilledCost"] != 0, "fully covered by a commitment with a BilledCost")


@rule("PricingCategory.Committed", "PricingCategory", "MUST", "PricingCategory is Committed when the charge is "
      "subject to an existing commitment discount, and only then")
def _committed(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: (r["PricingCategory"] == "Committed") != (
        not _null(r.get("CommitmentDiscountId")) and r["ChargeCategory"] != "Purchase"),
        "whose PricingCategory Committed does not follow the commitment")


@rule("ResourceName.NotTheId", "ResourceName", "MUST", "ResourceName is null when ResourceId is null, and does not "
      "duplicate a system-generated ResourceId")
def _resource_name(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: _null(r["ResourceId"]) and not _null(r["ResourceName"]),
                    "with a ResourceName but no ResourceId")
    yield from _bad(rows, lambda r: r["ResourceName"] is not None and r["ResourceName"] == r["ResourceId"],
                    "whose ResourceName is its ResourceId")


@rule("ServiceName.OneCategory", "ServiceName", "MUST", "a ServiceName has one and only one ServiceCategory")
def _one_category(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    found: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        found[r["ServiceName"]].add(r["ServiceCategory"])
    yield from (f"{name} has categories {sorted(c)}" for name, c in found.items() if len(c) > 1)


@rule("ServiceName.OneSubcategory", "ServiceName", "SHOULD", "a ServiceName has one and only one "
      "ServiceSubcategory")
def _one_subcategory(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    found: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        found[r["ServiceName"]].add(r["ServiceSubcategory"])
    yield from (f"{name} has subcategories {sorted(c)}" for name, c in found.items() if len(c) > 1)


@rule("ServiceSubcategory.Parent", "ServiceSubcategory", "MUST", "ServiceSubcategory has one and only one parent "
      "ServiceCategory, as the allowed values specify")
def _parent(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: r["ServiceSubcategory"] not in SERVICE_SUBCATEGORIES.get(r["ServiceCategory"], ()),
                    "whose ServiceSubcategory is not of its ServiceCategory")


def _per(key: str, value: str, rows: list[Row], what: str) -> Iterator[str]:
    found: dict[Any, set[Any]] = defaultdict(set)
    for r in rows:
        if r[key] is not None:
            found[r[key]].add(r[value])
    bad = sorted(str(k) for k, v in found.items() if len(v) > 1)
    if bad:
        yield f"{len(bad)} {key} value(s) with several {what} (e.g. {bad[0]})"


@rule("SkuPriceId.OneSkuId", "SkuPriceId", "MUST", "a SkuPriceId has one and only one parent SkuId")
def _one_sku(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _per("SkuPriceId", "SkuId", rows, "SkuIds")


@rule("SkuPriceId.ImpliesSku", "SkuPriceId", "MUST", "a SkuPriceId comes with its SkuId, supports the lookup of its "
      "ListUnitPrice (not null) and is metered (SkuMeter SHOULD NOT be null)")
def _sku_implies(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: r["SkuPriceId"] is not None and (
        r["SkuId"] is None or r["ListUnitPrice"] is None or r["SkuMeter"] is None),
        "with a SkuPriceId but no SkuId, ListUnitPrice or SkuMeter")


@rule("SkuPriceId.OneListPrice", "SkuPriceId", "MUST", "a SkuPriceId supports the lookup of the ListUnitPrice: one "
      "list unit price per SkuPriceId and charge period")
def _one_price(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    found: dict[tuple[Any, Any], set[Any]] = defaultdict(set)
    for r in rows:
        if r["SkuPriceId"] is not None:
            found[(r["SkuPriceId"], r["ChargePeriodStart"])].add(r["ListUnitPrice"])
    bad = [k for k, v in found.items() if len(v) > 1]
    if bad:
        yield f"{len(bad)} SkuPriceId and day pair(s) with several list prices (e.g. {bad[0][0]})"


@rule("SkuMeter.Nullability", "SkuMeter", "MUST", "SkuMeter is null when SkuId is null (and SHOULD NOT be null when "
      "SkuId is not null)")
def _meter(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: _null(r["SkuId"]) != _null(r["SkuMeter"]), "whose SkuMeter does not follow SkuId")


@rule("SkuMeter.ConsistentPerSku", "SkuMeter", "SHOULD", "SkuMeter remains consistent for a given SkuId")
def _meter_per_sku(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _per("SkuId", "SkuMeter", rows, "SkuMeters")


def _key_value(column: str) -> None:
    @rule(f"{column}.KeyValueFormat", column, "MUST", f"{column} is a JSON object with unique keys whose values are "
          "numbers, strings, true, false or null, never objects or arrays")
    def check(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
        problems: list[str] = []
        for r in rows:
            if r[column] is None:
                continue
            value, why = _json_object(r[column])
            if value is None:
                problems.append(why)
            elif not all(_scalar(v) for v in value.values()):
                problems.append("a value is an object or array")
        if problems:
            yield f"{len(problems)} row(s) whose {column} is not KeyValueFormat: {problems[0]}"


_key_value("SkuPriceDetails")
_key_value("Tags")


@rule("SkuPriceDetails.Nullability", "SkuPriceDetails", "MUST", "SkuPriceDetails is null when SkuPriceId is null")
def _details_null(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: _null(r["SkuPriceId"]) and not _null(r["SkuPriceDetails"]),
                    "with SkuPriceDetails but no SkuPriceId")


@rule("SkuPriceDetails.Keys", "SkuPriceDetails", "MUST", "a property key begins with x_ unless FOCUS defines it; "
      "FOCUS-defined properties have their specified spelling and type (keys SHOULD be Pascal case)")
def _detail_keys(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    bad: set[str] = set()
    for r in rows:
        value, _ = _json_object(r["SkuPriceDetails"]) if r["SkuPriceDetails"] else (None, "")
        for key, item in (value or {}).items():
            if key in SKU_PRICE_PROPERTIES:
                kind = SKU_PRICE_PROPERTIES[key]
                if (kind == "number") != isinstance(item, int | float | Decimal) or isinstance(item, bool):
                    bad.add(f"{key} is not a {kind}")
            elif not key.startswith("x_"):
                bad.add(f"{key} is neither FOCUS-defined nor x_-prefixed")
            elif not PASCAL.match(key[2:]):
                bad.add(f"{key} is not Pascal case")
    yield from sorted(bad)


@rule("SkuPriceDetails.PerSkuPriceId", "SkuPriceDetails", "MUST", "SkuPriceDetails is associated with its "
      "SkuPriceId: every row of a SkuPriceId has the same properties")
def _details_per_price(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    found: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r["SkuPriceId"] is not None and r["SkuPriceDetails"] is not None:
            value, _ = _json_object(r["SkuPriceDetails"])
            found[r["SkuPriceId"]].add(json.dumps(value, sort_keys=True, default=str))
    bad = [k for k, v in found.items() if len(v) > 1]
    if bad:
        yield f"{len(bad)} SkuPriceId(s) with different SkuPriceDetails (e.g. {bad[0]})"


@rule("SubAccountId.Related", "SubAccountId", "MUST", "SubAccountId is not null when a charge is related to a sub "
      "account: every charge of a resource (a workspace's model) names its workspace")
def _sub_account(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: not _null(r["ResourceId"]) and _null(r["SubAccountId"]),
                    "of a resource without a SubAccountId")


@rule("Tags.ProviderPrefix", "Tags", "MUST", "provider-defined tag keys are prefixed with a predetermined prefix "
      "(the data generator's own tags: 'chargeback/')")
def _tag_prefix(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    bad: set[str] = set()
    for r in rows:
        value, _ = _json_object(r["Tags"]) if r["Tags"] else (None, "")
        bad.update(k for k in (value or {}) if k in ("cost_center", "allocation_rule"))
    yield from (f"tag key {k} of the data generator has no prefix" for k in sorted(bad))


# --------------------------------------------------------------- FOCUS 1.3 allocation columns (x_ in 1.2)


def _split(row: Row) -> bool:
    return row.get("x_AllocationRule") not in (None, "api_key", "workspace", "unallocated")


rule("x_AllocatedMethodId.Nullability", "x_AllocatedMethodId", "MUST", "(FOCUS 1.3 AllocatedMethodId) null when a "
     "charge is not related to a data generator-calculated split cost allocation, not null when it is")(
    _set_exactly_when("x_AllocatedMethodId", _split, "x_AllocationRule", "the split"))


@rule("x_AllocatedMethodDetails.Nullability", "x_AllocatedMethodDetails", "MUST", "(FOCUS 1.3) null when the charge "
      "is not a split cost allocation; SHOULD NOT be null when it is")
def _details_nullability(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    yield from _bad(rows, lambda r: _null(r["x_AllocatedMethodId"]) != _null(r["x_AllocatedMethodDetails"]),
                    "whose x_AllocatedMethodDetails does not follow x_AllocatedMethodId")


@rule("x_AllocatedMethodDetails.Schema", "x_AllocatedMethodDetails", "MUST", "(FOCUS 1.3) a JSON object with a "
      "top-level Elements array of KeyValueFormat objects, each with a numeric AllocatedRatio; UsageUnit where "
      "UsageQuantity is given; other keys x_-prefixed")
def _details_schema(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    bad: set[str] = set()
    for r in rows:
        if r["x_AllocatedMethodDetails"] is None:
            continue
        value, why = _json_object(r["x_AllocatedMethodDetails"])
        elements = (value or {}).get("Elements")
        if value is None or not isinstance(elements, list) or not elements:
            bad.add(why or "no Elements array")
            continue
        for element in elements:
            if not isinstance(element, dict) or not all(_scalar(v) for v in element.values()):
                bad.add("an element is not a key-value object")
                continue
            ratio = element.get("AllocatedRatio")
            if not isinstance(ratio, int | float | Decimal) or isinstance(ratio, bool):
                bad.add("an element lacks a numeric AllocatedRatio")
            if "UsageQuantity" in element and "UsageUnit" not in element:
                bad.add("UsageQuantity without UsageUnit")
            bad.update(f"key {k} is not x_-prefixed" for k in element
                       if k not in ("AllocatedRatio", "UsageUnit", "UsageQuantity") and not k.startswith("x_"))
    yield from sorted(bad)


ORIGIN = ("ResourceId", "ChargePeriodStart", "SkuPriceId", "ListUnitPrice", "BillingAccountId", "x_AccountId",
          "RegionId", "BillingCurrency", "x_AllocatedMethodId")


@rule("x_AllocatedMethodDetails.RatiosSumToOne", "x_AllocatedMethodDetails", "MUST", "(FOCUS 1.3) the AllocatedRatio "
      "values of all allocated charges of one origin charge sum to 1")
def _ratios(rows: list[Row], schema: pa.Schema) -> Iterable[str]:
    totals: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
    for r in rows:
        if r["x_AllocatedMethodDetails"] is None:
            continue
        value, _ = _json_object(r["x_AllocatedMethodDetails"])
        ratio = (value or {}).get("Elements", [{}])[0].get("AllocatedRatio", 0)
        totals[tuple(r.get(c) for c in ORIGIN)] += Decimal(str(ratio))
    bad = [k for k, total in totals.items() if abs(total - 1) > Decimal("0.000000001")]
    if bad:
        yield f"{len(bad)} origin charge(s) whose allocated ratios do not sum to 1 (e.g. {bad[0][0]})"


NOT_CHECKED = {
    "BilledCost": "the sum per InvoiceId matches the invoice (InvoiceId is null: no invoice is named); 0 for "
                  "marketplace charges (none)",
    "BillingAccountId": "unique within the provider (true of Alibaba Cloud UIDs, not decidable from a file)",
    "InvoiceId": "null when no invoice is associated: always null here, as the bill names no invoice",
    "PricingUnit": "semantically equal to the price list's unit (千tokens, 张, 秒 map to 1000 Tokens, Images, "
                   "Seconds: units.py)",
    "SkuId": "consistent across accounts, contracts and pricing categories (built from the bill's codes only)",
    "StringHandling": "immutable IDs unchanged across billing periods (they are the bill's own)",
    "ColumnHandling": "no acronyms in IDs (judgement: x_ApiKeyId names the product's 'API key')",
    "RegionId": "not null where the service runs in a distinct region: the bill's region code is passed through "
                "(a unit test checks it); the bill gives video rows none",
}


# --------------------------------------------------------------------------------------------- running


def rows_of(table: pa.Table) -> list[Row]:
    return table.to_pylist()


def check(table: pa.Table) -> list[Failure]:
    """Every rule's failures on a FOCUS 1.2 table (as read back from its Parquet file)."""
    rows = rows_of(table)
    failures: list[Failure] = []
    for item in RULES:
        try:
            failures.extend(Failure(item.id, message) for message in item.check(rows, table.schema))
        except KeyError:  # a column the rule reads is missing: the presence rules report it
            continue
    return failures


def check_csv(data: bytes, table: pa.Table) -> list[Failure]:
    """Format rules on the CSV copy: nulls as empty cells, NumericFormat, Date/Time format, the same rows."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    failures: list[Failure] = []
    rows = list(reader)
    if reader.fieldnames != table.column_names:
        failures.append(Failure("CSV.Columns", "the CSV's columns are not the Parquet's"))
    if len(rows) != table.num_rows:
        failures.append(Failure("CSV.Rows", f"{len(rows)} CSV rows, {table.num_rows} Parquet rows"))
    decimals = [f.name for f in table.schema if pa.types.is_decimal(f.type)]
    stamps = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
    for name in decimals:
        bad = [v for r in rows if (v := r[name]) != "" and not NUMERIC_TEXT.match(v)]
        if bad:
            failures.append(Failure("NumericFormat.Text", f"{name}: {bad[0]!r} is not a plain number"))
    for name in stamps:
        bad = [v for r in rows if not DATETIME_TEXT.match(r[name])]
        if bad:
            failures.append(Failure("DateTimeFormat.Text", f"{name}: {bad[0]!r} is not YYYY-MM-DDTHH:mm:ssZ"))
    parquet = rows_of(table)
    for name in table.column_names:
        nulls = sum(1 for r in parquet if r[name] is None)
        empties = sum(1 for r in rows if r[name] == "")
        if nulls != empties:
            failures.append(Failure("NullHandling.Csv", f"{name}: {nulls} nulls but {empties} empty cells"))
    return failures


def rules_markdown() -> str:
    """The README's table of the checked FOCUS 1.2 rules."""
    lines = ["| rule | column | level | requirement |", "|---|---|---|---|"]
    lines += [f"| `{r.id}` | {r.column} | {r.level} | {r.text} |" for r in RULES]
    lines += ["| `NumericFormat.Text` | (CSV) | MUST | decimals are plain numbers: no sign for positives, no commas, "
              "units or symbols |",
              "| `DateTimeFormat.Text` | (CSV) | MUST | date/times are `YYYY-MM-DDTHH:mm:ssZ` (UTC) |",
              "| `NullHandling.Csv` | (CSV) | MUST | a null is an empty cell, and only a null is |"]
    return "\n".join(lines)


def not_checked_markdown() -> str:
    """The README's list of FOCUS 1.2 requirements a file cannot show, wrapped as the README is."""
    return "\n".join(textwrap.fill(f"- {column}: {why}", width=115, subsequent_indent="  ", break_on_hyphens=False)
                     for column, why in NOT_CHECKED.items())


__all__ = ["RULES", "Failure", "Rule", "check", "check_csv", "not_checked_markdown", "rules_markdown"]
