"""Free-quota usage valued in Arrow decimals gives, row by row, what the per-line ``Decimal`` arithmetic gives:
the line's price (the bill's list price, else the catalog's of its day) times its deducted usage, rounded
half-even to 12 places; a line no one prices counts as unvalued instead."""

from __future__ import annotations

import random
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pyarrow as pa
import pytest

from chargeback.config.prices import CURRENCY_SITE
from chargeback.errors import ChargebackError
from chargeback.pricing.catalog import load_catalog
from chargeback.pricing.reconcile import free_quota_price
from chargeback.queries.summary import _price_array, with_cost_amounts
from chargeback.vectors import token_counts
from tests.support.allocations import allocation_table, row

QUANTUM = Decimal("1e-12")
PRICES = ["0", "0.0008", "0.0024", "0.35", "0.5", "2.5", "3", ""]  # 0 and '' leave it to the catalog
MODELS = ["qwen-max", "qwen-plus", "qwen-no-such-model"]  # the last has no catalog price: unvalued


def expected(table: pa.Table) -> list[tuple[Decimal, int]]:
    """The per-line oracle: each free-quota row's value and unvalued count, in Python decimals."""
    catalog = load_catalog()
    out = []
    with localcontext() as context:
        context.prec = 80
        for line in table.to_pylist():
            if line["fee_type"] != "free_quota":
                out.append((Decimal(0), 0))
                continue
            price = free_quota_price(catalog, CURRENCY_SITE.get(line["currency"], ""), line["model"],
                                     line["usage_type"], line["io_type"], line["context_tier"], line["usage_unit"],
                                     line["list_unit_price"], date.fromisoformat(str(line["billing_date"])))
            deducted = line["deducted_usage"] or line["usage_before_deduction"] or Decimal(0)
            value = Decimal(0) if price is None else (price * deducted).quantize(QUANTUM, ROUND_HALF_EVEN)
            out.append((value, int(line["line_count"]) if price is None and deducted else 0))
    return out


def random_rows(seed: int, count: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        places = rng.randint(0, 12)
        deducted = Decimal(rng.randint(0, 10**14)).scaleb(-places)
        if rng.random() < 0.1:
            deducted = Decimal(rng.choice([1, 5, 15, 25])).scaleb(-12)  # a product ending on a tie
        fields = dict(model=rng.choice(MODELS), io_type=rng.choice(["input", "output"]),
                      list_unit_price=rng.choice(PRICES), fee_type=rng.choice(["free_quota", "free_quota",
                                                                               "pay_as_you_go"]))
        fields["usage_type"] = f"{fields['io_type']}_token"
        if fields["fee_type"] == "free_quota":
            if rng.random() < 0.2:  # no deducted usage: the usage before deduction is valued
                fields.update(usage="0", deducted_usage="0", usage_before_deduction=str(deducted))
            else:
                fields.update(usage="0", deducted_usage=str(deducted))
        rows.append(row(f"2026-05-{rng.randint(1, 28):02d}", "0" if fields["fee_type"] == "free_quota" else "1.5",
                        **fields))
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_row_is_valued_as_the_per_line_decimal_arithmetic_values_it(seed):
    table = allocation_table(random_rows(seed, 600))
    got = with_cost_amounts(table, load_catalog())
    pairs = list(zip(got["free_quota_covered"].to_pylist(), got["free_quota_unvalued_lines"].to_pylist(),
                     strict=True))
    want = expected(table)
    assert pairs == want
    assert any(unvalued for _, unvalued in want) and sum(v for v, _ in want) > 0  # both kinds are exercised


def test_no_free_quota_rows_value_nothing():
    table = allocation_table([row("2026-05-01", "2", model="qwen-max")])
    got = with_cost_amounts(table, load_catalog())
    assert got["free_quota_covered"].to_pylist() == [Decimal(0)]
    assert got["free_quota_unvalued_lines"].to_pylist() == [0]


def test_a_price_too_long_to_value_exactly_is_an_error_not_a_rounding():
    assert _price_array([Decimal("0.0000008"), Decimal("3")]).to_pylist() == [Decimal("0.0000008"), Decimal(3)]
    with pytest.raises(ChargebackError, match="more than 37 digits"):
        _price_array([Decimal("1e30"), Decimal("1e-10")])


@pytest.mark.parametrize("usage", ["1.0005", "2.5005", "0.0015", "123456789012345.123456789012",  # the fast way
                                   "5000000000000000.5", "1234567890123456.0015"])  # the wide way
def test_token_counts_round_half_even_in_either_width(usage):
    units = pa.array(["千tokens", "tokens", "张"])
    column = pa.array([Decimal(usage)] * 3, pa.decimal128(38, 12))
    got = token_counts(column, units).to_pylist()
    assert got[0] == int((Decimal(usage) * 1000).quantize(Decimal(1), ROUND_HALF_EVEN))
    assert got[1] == int(Decimal(usage).quantize(Decimal(1), ROUND_HALF_EVEN))
    assert got[2] is None  # images are not tokens
