"""Kubernetes quantity parsing (plugins/module_utils/_quantity.py)."""

import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

from ansible_collections.virakcloud.everest.plugins.module_utils import _quantity as q  # noqa: E402  pylint: disable=wrong-import-position


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", Fraction(0)),
        ("1", Fraction(1)),
        ("+1", Fraction(1)),
        ("-1", Fraction(-1)),
        ("500m", Fraction(1, 2)),
        ("1500m", Fraction(3, 2)),
        ("250u", Fraction(250, 10**6)),
        ("7n", Fraction(7, 10**9)),
        ("1k", Fraction(1000)),
        ("2M", Fraction(2 * 10**6)),
        ("2G", Fraction(2 * 10**9)),
        ("3T", Fraction(3 * 10**12)),
        ("1P", Fraction(10**15)),
        ("1E", Fraction(10**18)),
        ("1Ki", Fraction(1024)),
        ("1Mi", Fraction(2**20)),
        ("16Gi", Fraction(17179869184)),
        ("1Ti", Fraction(2**40)),
        ("1Pi", Fraction(2**50)),
        ("1Ei", Fraction(2**60)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("0.5", Fraction(1, 2)),
        (".5", Fraction(1, 2)),
        ("5.", Fraction(5)),
        ("1e3", Fraction(1000)),
        ("1E3", Fraction(1000)),
        ("1e+3", Fraction(1000)),
        ("1E-2", Fraction(1, 100)),
        ("2.5e-1", Fraction(1, 4)),
        ("007", Fraction(7)),
        (4, Fraction(4)),
        (0.1, Fraction(1, 10)),
        (2.0, Fraction(2)),
        (17179869184, Fraction(17179869184)),
    ],
)
def test_parse_valid(text, expected):
    assert q.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " 1",
        "1 ",
        "1 Gi",
        "16GB",
        "1.2.3",
        "Gi",
        "m",
        "1K",
        "1KiB",
        "1mi",
        "1ki",
        "0.1mi",
        "1i",
        ".5i",
        "1e",
        "1e3.5",
        "-3.01e-",
        "1+1.0M",
        "aoeu",
        "1,5",
        "1_000",
        "--1",
        "+-1",
        "1\n",
        "\u0661",
        "1Gi ",
        "e3",
        ".",
        "1gi",
        True,
        False,
        None,
        [1],
        {"a": 1},
        float("inf"),
        float("nan"),
    ],
)
def test_parse_invalid(text):
    with pytest.raises(q.QuantityError):
        q.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        # Kubernetes' scanner reads a missing number as 0 and accepts all of these as the quantity 0
        "Ki",
        "Mi",
        "Gi",
        "Ti",
        "Pi",
        "Ei",
        "m",
        "u",
        "n",
        "k",
        "M",
        "G",
        "T",
        "P",
        "E",
        "e3",
        "E3",
        "e-2",
        "E+2",
        "+",
        "-",
        ".",
        "+.",
        "-.",
        "-Ki",
        "+m",
        ".Gi",
        "+e3",
    ],
)
def test_degenerate_forms_kubernetes_reads_as_zero_are_refused_on_purpose(text):
    """Documented in the _quantity docstring and the modules' cpu/memory/limits options: stricter than Kubernetes."""
    with pytest.raises(q.QuantityError) as err:
        q.parse(text, "cpu")
    assert "is not a Kubernetes quantity" in str(err.value)


@pytest.mark.parametrize("text", ["1e65", "1E65", "1e-65", "1e+65", "5e100", "1e2147483647"])
def test_exponents_beyond_64_are_refused_on_purpose(text):
    with pytest.raises(q.QuantityError, match="exponent out of range"):
        q.parse(text)


@pytest.mark.parametrize("text, expected", [("1e64", Fraction(10) ** 64), ("1e-64", Fraction(1, 10**64)), ("0e64", Fraction(0))])
def test_exponents_up_to_64_are_accepted(text, expected):
    assert q.parse(text) == expected


def test_error_message_names_the_value_and_examples():
    with pytest.raises(q.QuantityError) as err:
        q.parse("16GB", "limits.memory")
    assert "limits.memory '16GB' is not a Kubernetes quantity" in str(err.value)
    assert "16Gi" in str(err.value)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1.5", 2),
        ("1", 1),
        ("16Gi", 17179869184),
        ("1m", 1),
        ("0", 0),
        ("1001m", 2),
        (Fraction(3, 2), 2),
    ],
)
def test_value_ceil_rounds_up_like_kubernetes_value(value, expected):
    assert q.value_ceil(value) == expected


@pytest.mark.parametrize("value, expected", [("0.5", 500), ("1", 1000), ("1n", 1), ("1.0001", 1001)])
def test_milli_value_ceil(value, expected):
    assert q.milli_value_ceil(value) == expected


@pytest.mark.parametrize(
    "fraction, expected",
    [
        (Fraction(4), 4),
        (Fraction(1, 2), 0.5),
        (Fraction(9, 2), 4.5),
        (Fraction(1, 10**10), 1e-09),
        (Fraction(1, 3), 0.333333334),
    ],
)
def test_to_number(fraction, expected):
    number = q.to_number(fraction)
    assert number == expected
    assert type(number) is type(expected)  # pylint: disable=unidiomatic-typecheck


@pytest.mark.parametrize(
    "value, expected",
    [
        (17179869184, "16Gi"),
        (1024, "1Ki"),
        (1000, "1000"),
        (0, "0"),
        (3 * 2**29, "1536Mi"),
        (2**60, "1Ei"),
    ],
)
def test_format_bytes(value, expected):
    assert q.format_bytes(value) == expected


def test_format_cores():
    assert q.format_cores(Fraction(9, 2)) == "4.5"
    assert q.format_cores(Fraction(4)) == "4"
    assert q.format_cores(Fraction(1, 1000)) == "0.001"


_SUFFIXES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "m": Fraction(1, 10**3),
    "u": Fraction(1, 10**6),
    "n": Fraction(1, 10**9),
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=999), st.sampled_from(sorted(_SUFFIXES)), st.sampled_from(["", "+", "-"]))
def test_parse_matches_decimal_arithmetic(whole, frac, suffix, sign):
    text = "%s%d.%03d%s" % (sign, whole, frac, suffix)
    expected = Fraction(Decimal("%d.%03d" % (whole, frac))) * _SUFFIXES[suffix]
    assert q.parse(text) == (-expected if sign == "-" else expected)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.fractions(min_value=0, max_value=10**6))
def test_to_number_round_trips_through_parse(value):
    number = q.to_number(value)
    assert q.parse(number) == q.round_up_nano(value)
    assert q.round_up_nano(value) >= value
