"""Kubernetes ``resource.Quantity`` as the API server implements it (k8s.io/apimachinery/pkg/api/resource).

Used by the CEL quantity library (``cel.py``), where the exact Go behaviour is visible to policies:

* ``parse`` ports ``ParseQuantity``/``parseQuantityString``: the same accepted forms (a missing number counts
  as 0, so ``Mi`` is the quantity 0), the same three error texts, values finer than ``1n`` rounded away from
  zero, binary values capped at 2^63-1, binary values below 1 switched to the decimal format.
* A quantity keeps Go's two internal representations, because ``asInteger``/``isInteger`` depend on them:
  an int64 amount ``value x 10^scale`` (fast path: ``1.5k`` is ``15 x 10^2``, ``1.0`` is ``10 x 10^-1`` and so
  is *not* an integer for ``AsInt64``) or an arbitrary-precision decimal (``inf.Dec``; never an integer for
  ``AsInt64``).
* ``add``/``sub`` are exact (int64 arithmetic, falling back to big decimals on overflow) and take the other
  operand's format when the receiver is zero; ``cmp``/``==`` compare values (``200M == 0.2G``).
* ``str()`` is the canonical form (``CanonicalizeBytes``): ``1500m``, ``1536Mi``, ``2k``, ``1e3`` for
  DecimalExponent, ``0`` for zero.
"""

from __future__ import annotations

import math
from fractions import Fraction

FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
NUMERIC = 'unable to parse numeric part of quantity'
SUFFIX = "unable to parse quantity's suffix"

DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT = 'DecimalSI', 'BinarySI', 'DecimalExponent'
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
NANO = -9
MAX_INT64_FACTORS = 18
_DEC_SUFFIX = {'n': -9, 'u': -6, 'm': -3, '': 0, 'k': 3, 'M': 6, 'G': 9, 'T': 12, 'P': 15, 'E': 18}
_BIN_SUFFIX = {'Ki': 10, 'Mi': 20, 'Gi': 30, 'Ti': 40, 'Pi': 50, 'Ei': 60}
_DEC_BY_EXP = {v: k for k, v in _DEC_SUFFIX.items()}
_BIN_BY_EXP = {0: '', **{v // 10: k for k, v in _BIN_SUFFIX.items()}}
_SUFFIX_CHARS = set('eEinumkKMGTP')


class QuantityError(ValueError):
    """ParseQuantity's error (message is one of the three texts above)."""


def _in_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


class Quantity:
    """An immutable quantity: ``kind`` 'int' (int64Amount) or 'dec' (inf.Dec); value = ``unscaled x 10^exp``."""

    __slots__ = ('kind', 'unscaled', 'exp', 'fmt')

    def __init__(self, kind: str, unscaled: int, exp: int, fmt: str):
        self.kind = kind
        self.unscaled = unscaled
        self.exp = exp
        self.fmt = fmt

    # ------------------------------------------------------------------ value
    @property
    def value(self) -> Fraction:
        return Fraction(self.unscaled) * (Fraction(10) ** self.exp)

    def sign(self) -> int:
        return (self.unscaled > 0) - (self.unscaled < 0)

    def cmp(self, other: 'Quantity') -> int:
        left, right = self.value, other.value
        return (left > right) - (left < right)

    def __eq__(self, other) -> bool:
        return isinstance(other, Quantity) and self.cmp(other) == 0

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f'Quantity({str(self)!r})'

    # ------------------------------------------------------------------ conversions
    def as_int64(self):
        """(value, ok) like ``Quantity.AsInt64``: only int64 amounts with a non-negative scale convert."""
        if self.kind != 'int' or self.exp < 0:
            return 0, False
        result = self.unscaled * 10**self.exp
        return (result, True) if _in_int64(result) else (0, False)

    def approximate_float(self) -> float:
        """``AsApproximateFloat64``: float(unscaled) x 10^exp (may lose precision, +-Inf when too large)."""
        try:
            base = float(self.unscaled)
        except OverflowError:
            base = math.copysign(math.inf, self.unscaled)
        if self.exp == 0:
            return base
        try:
            return base * (10.0**self.exp)
        except OverflowError:
            return math.copysign(math.inf, base) if base else 0.0

    # ------------------------------------------------------------------ arithmetic
    def add(self, other: 'Quantity') -> 'Quantity':
        fmt = other.fmt if self.unscaled == 0 else self.fmt
        if self.kind == 'int' and other.kind == 'int':
            amount = _int_add(self.unscaled, self.exp, other.unscaled, other.exp)
            if amount is not None:
                return Quantity('int', amount[0], amount[1], fmt)
        return _dec_sum(self, other.unscaled, other.exp, fmt)

    def sub(self, other: 'Quantity') -> 'Quantity':
        fmt = other.fmt if self.unscaled == 0 else self.fmt
        if self.kind == 'int' and other.kind == 'int' and other.unscaled != INT64_MIN:
            amount = _int_add(self.unscaled, self.exp, -other.unscaled, other.exp)
            if amount is not None:
                return Quantity('int', amount[0], amount[1], fmt)
        return _dec_sum(self, -other.unscaled, other.exp, fmt)

    # ------------------------------------------------------------------ canonical form
    def __str__(self) -> str:
        if self.unscaled == 0:
            return '0'
        fmt = self.fmt
        if fmt == BINARY_SI:
            if -1024 < self.value < 1024 or self.value.denominator != 1:
                fmt = DECIMAL_SI
            else:
                return _base1024(int(self.value))
        number, exponent = _canonical_decimal(self.unscaled, self.exp)
        if fmt == DECIMAL_EXPONENT:
            return number + (f'e{exponent}' if exponent else '')
        while exponent > 18:
            number += '000'
            exponent -= 3
        return number + _DEC_BY_EXP.get(exponent, '')


def _int_add(a_val: int, a_exp: int, b_val: int, b_exp: int):
    """int64Amount.Add: (value, exp) or None on int64 overflow."""
    if b_val == 0:
        return a_val, a_exp
    if a_val == 0:
        return b_val, b_exp
    if a_exp > b_exp:
        a_val, a_exp = a_val * 10 ** (a_exp - b_exp), b_exp
        if not _in_int64(a_val):
            return None
    elif b_exp > a_exp:
        b_val = b_val * 10 ** (b_exp - a_exp)
        if not _in_int64(b_val):
            return None
    total = a_val + b_val
    return (total, a_exp) if _in_int64(total) else None


def _dec_sum(left: Quantity, b_val: int, b_exp: int, fmt: str) -> Quantity:
    """inf.Dec addition: exact, result scale = the larger scale (smaller exponent)."""
    exp = min(left.exp, b_exp)
    total = left.unscaled * 10 ** (left.exp - exp) + b_val * 10 ** (b_exp - exp)
    return Quantity('dec', total, exp, fmt)


def _canonical_decimal(unscaled: int, exp: int) -> tuple:
    """(digits, exponent multiple of 3): AsCanonicalBytes (factors of ten moved into the exponent)."""
    negative = unscaled < 0
    amount = abs(unscaled)
    while amount and amount % 10 == 0:
        amount //= 10
        exp += 1
    while exp % 3:
        amount *= 10
        exp -= 1
    return ('-' if negative else '') + str(amount), exp


def _base1024(value: int) -> str:
    negative = value < 0
    amount, exponent = abs(value), 0
    while amount and amount % 1024 == 0 and exponent < 6:
        amount //= 1024
        exponent += 1
    return ('-' if negative else '') + str(amount) + _BIN_BY_EXP[exponent]


def _split(text: str):
    """parseQuantityString: (positive, value, num, denom, suffix)."""
    positive, pos, end = True, 0, len(text)
    if pos < end and text[0] in '+-':
        positive = text[0] == '+'
        pos += 1
    while pos < end and text[pos] == '0':
        pos += 1
    if pos >= end:
        return positive, '0', '0', '', ''
    start = pos
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    num = text[start:pos] or '0'
    if pos >= end:
        return positive, text[:end], num, '', ''
    denom = ''
    if text[pos] == '.':
        pos += 1
        start = pos
        while pos < end and text[pos] in '0123456789':
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return positive, text[:end], num, denom, ''
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in '+-':
        pos += 1
    while pos < end and text[pos] in '0123456789':
        pos += 1
    if pos < end:
        raise QuantityError(FORMAT_WRONG)
    return positive, value, num, denom, text[suffix_start:]


def _interpret(suffix: str):
    """(base, exponent, format) or None (suffixer.interpret)."""
    if suffix in _DEC_SUFFIX:
        return 10, _DEC_SUFFIX[suffix], DECIMAL_SI
    if suffix in _BIN_SUFFIX:
        return 2, _BIN_SUFFIX[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in 'eE':
        digits = suffix[1:]
        body = digits[1:] if digits[:1] in '+-' else digits
        if body.isdigit() and body.isascii() and _in_int64(int(digits)):
            return 10, int(digits), DECIMAL_EXPONENT
    return None


def parse(text: str) -> Quantity:
    """``resource.ParseQuantity``; raises QuantityError with the Go error text."""
    if not text:
        raise QuantityError(FORMAT_WRONG)
    if text == '0':
        return Quantity('int', 0, 0, DECIMAL_SI)
    positive, value, num, denom, suffix = _split(text)
    found = _interpret(suffix)
    if found is None:
        raise QuantityError(SUFFIX)
    base, exponent, fmt = found
    fast = _parse_fast(positive, num, denom, base, exponent, fmt)
    if fast is not None:
        return fast
    return _parse_slow(value, base, exponent, fmt)


def _parse_fast(positive, num, denom, base, exponent, fmt):
    """The int64 path of ParseQuantity, or None when the value needs a big decimal."""
    mantissa, scale = 1, 0
    if base == 10:
        scale = exponent
        precision = MAX_INT64_FACTORS - (len(num) + len(denom))
    elif exponent >= 0 and not denom:
        mantissa = 1 << exponent
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
    else:
        precision = -1
    if precision < 0:
        return None
    scale -= len(denom)
    if scale < NANO:
        return None
    shifted = int(num + denom)
    if not _in_int64(shifted) or not _in_int64(shifted * mantissa):
        return None
    result = shifted * mantissa
    return Quantity('int', result if positive else -result, scale, fmt)


def _parse_slow(value, base, exponent, fmt):
    """The inf.Dec path: exact value, rounded up (away from zero) to nano units, binary values capped."""
    sign = -1 if value.startswith('-') else 1
    digits = value.lstrip('+-')
    whole, _dot, frac = digits.partition('.')
    if (whole + frac) and not (whole + frac).isdigit():
        raise QuantityError(NUMERIC)
    unscaled = int(whole + frac or '0')
    exp = -len(frac)
    if base == 10:
        exp += exponent
    else:
        unscaled <<= exponent
    if unscaled != 0 and exp < NANO:
        factor = 10 ** (NANO - exp)
        unscaled = -(-unscaled // factor)  # round up the magnitude
        exp = NANO
    elif unscaled != 0:
        unscaled *= 10 ** (exp - NANO)
        exp = NANO
    amount = Fraction(unscaled) * Fraction(10) ** exp
    if fmt == BINARY_SI and amount > INT64_MAX:
        unscaled, exp = INT64_MAX, 0
    if fmt == BINARY_SI and 0 < amount < 1:
        fmt = DECIMAL_SI
    return Quantity('dec', sign * unscaled, exp, fmt)


def from_int(value: int, fmt: str = DECIMAL_EXPONENT) -> Quantity:
    """``resource.NewQuantity(value, format)``."""
    return Quantity('int', value, 0, fmt)
