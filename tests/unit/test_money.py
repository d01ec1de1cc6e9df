from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chargeback.money import format_decimal, quantum_of, split_exact, to_decimal


def test_format_decimal_plain_and_without_trailing_zeros():
    assert format_decimal(Decimal("57.477867000000")) == "57.477867"
    assert format_decimal(Decimal("10.000")) == "10"
    assert format_decimal(Decimal("0E-12")) == "0"
    assert format_decimal(Decimal("-1.50")) == "-1.5"
    assert format_decimal(Decimal("0.0000001")) == "0.0000001"
    # more digits than the default context's 28: nothing is rounded
    assert format_decimal(Decimal("12345678901234567890.123456789012")) == "12345678901234567890.123456789012"
    assert format_decimal(Decimal("-99999999999999999999999999.999999999999000")) == \
        "-99999999999999999999999999.999999999999"
    assert format_decimal(Decimal("1E+30")) == "1" + "0" * 30


def test_quantum_is_the_finest_decimal():
    assert quantum_of([Decimal("0.5"), Decimal("1.25"), Decimal("3")]) == Decimal("0.01")
    assert quantum_of([Decimal("0.000208800000")]) == Decimal("0.0000001")


def test_split_exact_largest_remainder():
    parts = split_exact(Decimal("1.00"), [Decimal(1)] * 3, Decimal("0.01"))
    assert parts == [Decimal("0.34"), Decimal("0.33"), Decimal("0.33")]
    assert split_exact(Decimal("10"), [Decimal(60), Decimal(40)], Decimal("0.01")) == [Decimal("6.00"), Decimal("4.00")]


def test_split_negative_and_zero_weights():
    parts = split_exact(Decimal("-0.05"), [Decimal(1), Decimal(1)], Decimal("0.01"))
    assert sum(parts) == Decimal("-0.05")
    assert split_exact(Decimal("0.03"), [Decimal(0), Decimal(0)], Decimal("0.01")) == [Decimal("0.02"), Decimal("0.01")]


def test_split_rejects_amount_finer_than_quantum():
    with pytest.raises(ValueError, match="finer"):
        split_exact(Decimal("0.001"), [Decimal(1)], Decimal("0.01"))


def test_no_floats_for_money():
    with pytest.raises(TypeError):
        to_decimal(0.1)
    assert to_decimal("") == 0


@given(
    st.decimals(min_value=-10**6, max_value=10**6, places=7, allow_nan=False, allow_infinity=False),
    st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=7),
)
def test_split_always_sums_exactly(amount, weights):
    quantum = Decimal("0.0000001")
    parts = split_exact(amount, [Decimal(w) for w in weights], quantum)
    assert sum(parts, Decimal(0)) == amount
    assert all((p / quantum) == (p / quantum).to_integral_value() for p in parts)


def test_decimal_text_is_plain_exact_and_vectorized():
    import pyarrow as pa

    from chargeback.money import MONEY_TYPE, decimal_text, finest_places

    values = [Decimal("1.5"), Decimal("100"), Decimal("0"), Decimal("-0.0000001"), Decimal("-12.25"), None,
              Decimal("9000000.123")]
    column = pa.array(values, MONEY_TYPE)
    assert decimal_text(column).to_pylist() == ["1.5", "100", "0", "-0.0000001", "-12.25", None, "9000000.123"]
    assert finest_places(column) == 7
    assert decimal_text(column.slice(3, 2)).to_pylist() == ["-0.0000001", "-12.25"]
    huge = pa.array([Decimal("123456789012.5")], MONEY_TYPE)  # beyond 64-bit unscaled
    assert decimal_text(huge).to_pylist() == ["123456789012.5"]
    assert finest_places(huge) == 1
    widest = ["12345678901234567890.123456789012", "-99999999999999999999999999.999999999999"]  # 38 digits
    assert decimal_text(pa.array([Decimal(v) for v in widest], MONEY_TYPE)).to_pylist() == widest
    chunked = pa.chunked_array([column.slice(0, 2), column.slice(5)])
    assert decimal_text(chunked).to_pylist() == ["1.5", "100", None, "9000000.123"]
    assert decimal_text(column.slice(0, 0)).to_pylist() == []
    assert decimal_text(column).type == pa.string()
    whole = pa.array([Decimal("100"), Decimal("-20")], pa.decimal128(10, 0))
    assert decimal_text(whole).to_pylist() == ["100", "-20"]
    wide = pa.array([Decimal("1.50")], pa.decimal256(50, 2))
    assert decimal_text(wide).to_pylist() == ["1.5"]
