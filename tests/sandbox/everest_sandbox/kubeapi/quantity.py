"""Kubernetes resource quantities: a port of k8s.io/apimachinery ``resource.Quantity`` (``pkg/api/resource``).

The one implementation of the sandbox: typed fields of the API emulator (decoding, canonical form), ResourceQuota,
LimitRanger, the operator simulation, the CEL quantity library of ValidatingAdmissionPolicy and the Everest REST
emulator's validation.

* Parsing ports ``ParseQuantity``/``parseQuantityString``: an optional sign, digits with an optional fraction, then
  a suffix: decimal SI (``n u m "" k M G T P E``), binary SI (``Ki Mi Gi Ti Pi Ei``) or a decimal exponent (``e3``,
  ``E-2``); Go's three error texts; values finer than 1n rounded away from zero; binary SI values capped at 2^63-1;
  binary SI values below 1 switched to decimal SI. One deliberate difference, from the CEL library's contract
  (``isQuantity('Mi')`` is false): a string without a number (``Mi``) is refused with the regular-expression error,
  and one whose number has no digit (``.``) with the numeric error, where Go's scanner reads both as zero.
* A quantity keeps Go's two representations, because CEL's ``asInteger``/``isInteger`` (``AsInt64``) depend on
  them: an int64 amount ``value x 10^scale`` (the fast path: ``1.5k`` is ``15 x 10^2``; ``1.0`` is ``10 x 10^-1``
  and ``1000m`` is ``1000 x 10^-3``, neither converts) or an arbitrary-precision decimal (``inf.Dec``, at nano
  scale after parsing; never converts).
* ``add``/``sub`` (also ``+``/``-``) are exact (int64 arithmetic, big decimals on overflow) and take the other
  operand's format when the receiver is zero (``0 + 64Mi`` -> ``64Mi``); comparisons are by value
  (``200M == 0.2G``).
* ``str()`` is the canonical form (``CanonicalizeBytes``): ``0`` for zero; ``1536Mi``/``1Gi`` for a whole binary SI
  value of at least 1024 (the largest binary suffix that keeps the mantissa whole); else the mantissa with the
  largest power-of-1000 suffix that keeps it whole (``1k``, ``100m``, ``1500m``); ``<m>e<exp>`` for decimal-exponent
  values (``1e3``). A decimal SI value beyond ``E`` (10^21 and up) prints in the exponent form (``1e21``) as on
  current kube-apiserver; 1.30 drops the suffix there (prints ``1``), an upstream bug since fixed.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT = 'DecimalSI', 'BinarySI', 'DecimalExponent'
INT, DEC = 'int', 'dec'  # int64Amount / inf.Dec

ERR_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
ERR_NUMERIC = 'unable to parse numeric part of quantity'
ERR_SUFFIX = "unable to parse quantity's suffix"

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
NANO = -9
MAX_INT64_FACTORS = 18
_MAX_MILLI = INT64_MAX // 1000
_DEC_SUFFIX = {'n': -9, 'u': -6, 'm': -3, '': 0, 'k': 3, 'M': 6, 'G': 9, 'T': 12, 'P': 15, 'E': 18}
_BIN_SUFFIX = {'Ki': 10, 'Mi': 20, 'Gi': 30, 'Ti': 40, 'Pi': 50, 'Ei': 60}
_DEC_BY_EXP = {v: k for k, v in _DEC_SUFFIX.items()}
_BIN_BY_EXP = {0: '', **{v // 10: k for k, v in _BIN_SUFFIX.items()}}
_SUFFIX_CHARS = frozenset('eEinumkKMGTP')
_DIGITS = frozenset('0123456789')


class QuantityError(ValueError):
    """A string that is not a quantity; ``str()`` is apimachinery's error text."""


def _in_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


def _away_from_zero(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded away from zero (denominator > 0)."""
    quotient = -(-abs(numerator) // denominator)
    return quotient if numerator >= 0 else -quotient


class Quantity:
    """An immutable quantity: ``unscaled x 10^exp`` held as ``kind`` INT (int64Amount) or DEC (inf.Dec), plus ``fmt``.

    ``Quantity(n)`` is ``resource.NewQuantity(n, DecimalSI)``."""

    __slots__ = ('unscaled', 'exp', 'fmt', 'kind', '_value')

    def __init__(self, unscaled: int = 0, exp: int = 0, fmt: str = DECIMAL_SI, kind: str = INT):
        self.unscaled = unscaled
        self.exp = exp
        self.fmt = fmt
        self.kind = kind
        self._value = None

    # ---------------------------------------------------------------- construction
    @classmethod
    def parse(cls, raw) -> 'Quantity':
        """``ParseQuantity`` of a string; a JSON number is read as its text (what ``UnmarshalJSON`` sees)."""
        if isinstance(raw, Quantity):
            return raw
        if isinstance(raw, bool) or raw is None:
            raise QuantityError(ERR_FORMAT)
        return _parse_text(repr(raw) if isinstance(raw, float) else str(raw))

    @classmethod
    def decode(cls, raw) -> 'Quantity':
        """A typed field's value as ``UnmarshalJSON`` decodes it (surrounding white space ignored)."""
        return cls.parse(raw.strip() if isinstance(raw, str) else raw)

    # ---------------------------------------------------------------- value
    @property
    def value(self) -> Fraction:
        """The exact value."""
        if self._value is None:
            self._value = Fraction(self.unscaled) * (Fraction(10) ** self.exp)
        return self._value

    def sign(self) -> int:
        return (self.unscaled > 0) - (self.unscaled < 0)

    def is_zero(self) -> bool:
        return self.unscaled == 0

    def cmp(self, other: 'Quantity') -> int:
        left, right = self.value, other.value
        return (left > right) - (left < right)

    def __eq__(self, other) -> bool:
        return isinstance(other, Quantity) and self.value == other.value

    def __lt__(self, other: 'Quantity') -> bool:
        return self.value < other.value

    def __le__(self, other: 'Quantity') -> bool:
        return self.value <= other.value

    def __gt__(self, other: 'Quantity') -> bool:
        return self.value > other.value

    def __ge__(self, other: 'Quantity') -> bool:
        return self.value >= other.value

    def __hash__(self) -> int:
        return hash(self.value)

    # ---------------------------------------------------------------- conversions
    def as_int64(self) -> tuple:
        """(value, ok) as ``AsInt64``: only an int64 amount with a non-negative scale that fits converts."""
        if self.kind != INT or self.exp < 0:
            return 0, False
        result = self.unscaled * 10**self.exp
        return (result, True) if _in_int64(result) else (0, False)

    def approximate_float(self) -> float:
        """``AsApproximateFloat64``: float(unscaled) x 10^exp (may lose precision; +-Inf when too large)."""
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

    def value_int(self) -> int:
        """``Value()``: the value rounded away from zero to a whole number."""
        return self._scaled(0)

    def milli_value(self) -> int:
        """``MilliValue()``: thousandths, rounded away from zero."""
        return self._scaled(-3)

    def _scaled(self, scale: int) -> int:
        shift = self.exp - scale
        if shift >= 0:
            return self.unscaled * 10**shift
        return _away_from_zero(self.unscaled, 10**-shift)

    def round_up(self) -> 'Quantity':
        """``RoundUp(0)``: whole units, away from zero (what ResourceQuota charges for storage)."""
        if self.exp >= 0:
            return self
        return Quantity(_away_from_zero(self.unscaled, 10**-self.exp), 0, self.fmt, self.kind)

    @staticmethod
    def comparable(*quantities) -> list:
        """LimitRanger's ``requestLimitEnforcedValues``: milli-values when none overflows, else values."""
        values = [q.value_int() for q in quantities]
        if all(v <= _MAX_MILLI for v in values):
            return [q.milli_value() for q in quantities]
        return values

    # ---------------------------------------------------------------- arithmetic
    def add(self, other: 'Quantity') -> 'Quantity':
        fmt = other.fmt if self.unscaled == 0 else self.fmt
        if self.kind == INT and other.kind == INT:
            amount = _int_add(self.unscaled, self.exp, other.unscaled, other.exp)
            if amount is not None:
                return Quantity(amount[0], amount[1], fmt, INT)
        return _dec_sum(self, other.unscaled, other.exp, fmt)

    def sub(self, other: 'Quantity') -> 'Quantity':
        fmt = other.fmt if self.unscaled == 0 else self.fmt
        if self.kind == INT and other.kind == INT and other.unscaled != INT64_MIN:
            amount = _int_add(self.unscaled, self.exp, -other.unscaled, other.exp)
            if amount is not None:
                return Quantity(amount[0], amount[1], fmt, INT)
        return _dec_sum(self, -other.unscaled, other.exp, fmt)

    __add__ = add
    __sub__ = sub

    def __neg__(self) -> 'Quantity':
        return Quantity(-self.unscaled, self.exp, self.fmt, self.kind)

    # ---------------------------------------------------------------- canonical form
    def __str__(self) -> str:
        if self.unscaled == 0:
            return '0'
        fmt = self.fmt
        if fmt == BINARY_SI:
            value = self.value
            if -1024 < value < 1024 or value.denominator != 1:
                fmt = DECIMAL_SI
            else:
                return _base1024(int(value))
        number, exponent = _canonical_decimal(self.unscaled, self.exp)
        if fmt == DECIMAL_SI and exponent in _DEC_BY_EXP:
            return number + _DEC_BY_EXP[exponent]
        return number + (f'e{exponent}' if exponent else '')

    def __repr__(self) -> str:
        return f'Quantity({str(self)!r})'


def _int_add(a_val: int, a_exp: int, b_val: int, b_exp: int):
    """``int64Amount.Add``: (value, exp), or None on int64 overflow."""
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
    """inf.Dec addition: exact, at the finer of the two scales."""
    exp = min(left.exp, b_exp)
    total = left.unscaled * 10 ** (left.exp - exp) + b_val * 10 ** (b_exp - exp)
    return Quantity(total, exp, fmt, DEC)


def _canonical_decimal(unscaled: int, exp: int) -> tuple:
    """(digits, exponent multiple of 3): ``AsCanonicalBytes`` (factors of ten moved into the exponent)."""
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


def _split(text: str) -> tuple:
    """``parseQuantityString``: (positive, value, num, denom, suffix); ``num`` has its leading zeros stripped."""
    positive, pos, end = True, 0, len(text)
    if text[0] in '+-':
        positive = text[0] == '+'
        pos = 1
    while pos < end and text[pos] == '0':
        pos += 1
    if pos >= end:
        return positive, '0', '0', '', ''
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos] or '0'
    if pos >= end:
        return positive, text, num, '', ''
    denom = ''
    if text[pos] == '.':
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return positive, text, num, denom, ''
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in '+-':
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT)
    return positive, value, num, denom, text[suffix_start:]


def _interpret(suffix: str):
    """(base, exponent, format) of a suffix, or None (``suffixHandler.interpret``)."""
    if suffix in _DEC_SUFFIX:
        return 10, _DEC_SUFFIX[suffix], DECIMAL_SI
    if suffix in _BIN_SUFFIX:
        return 2, _BIN_SUFFIX[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in 'eE':
        digits = suffix[1:]
        body = digits[1:] if digits[:1] in ('+', '-') else digits
        if body and set(body) <= _DIGITS and _in_int64(int(digits)):
            return 10, int(digits), DECIMAL_EXPONENT
    return None


def _number_part(text: str) -> str:
    """What the regular expression's first group could match: an optional sign, then ``[0-9.]*``."""
    pos = 1 if text[:1] in ('+', '-') else 0
    start = pos
    while pos < len(text) and (text[pos] in _DIGITS or text[pos] == '.'):
        pos += 1
    return text[start:pos]


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Quantity:
    """``ParseQuantity`` (pure; quantities are immutable, and the same few spellings come back all the time)."""
    if not text:
        raise QuantityError(ERR_FORMAT)
    if text == '0':
        return Quantity(0, 0, DECIMAL_SI, INT)
    positive, value, num, denom, suffix = _split(text)
    found = _interpret(suffix)
    if found is None:
        raise QuantityError(ERR_SUFFIX)
    number = _number_part(text)
    if not number:
        raise QuantityError(ERR_FORMAT)  # 'Mi': no number at all
    if not set(number) & _DIGITS:
        raise QuantityError(ERR_NUMERIC)  # '.', '-.Ki'
    base, exponent, fmt = found
    fast = _parse_fast(positive, num, denom, base, exponent, fmt)
    if fast is not None:
        return fast
    return _parse_slow(value, base, exponent, fmt)


def _parse_fast(positive, num, denom, base, exponent, fmt):
    """The int64 path of ``ParseQuantity``, or None when the value needs a big decimal."""
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
    return Quantity(result if positive else -result, scale, fmt, INT)


def _parse_slow(value, base, exponent, fmt):
    """The inf.Dec path: exact value rounded away from zero to nano units; binary SI values capped."""
    sign = -1 if value.startswith('-') else 1
    whole, _dot, frac = value.lstrip('+-').partition('.')
    if not (whole + frac).isdigit():
        raise QuantityError(ERR_NUMERIC)
    unscaled = int(whole + frac)
    exp = -len(frac)
    if base == 10:
        exp += exponent
    else:
        unscaled <<= exponent
    if unscaled != 0 and exp < NANO:
        unscaled = -(-unscaled // 10 ** (NANO - exp))
    elif unscaled != 0:
        unscaled *= 10 ** (exp - NANO)
    exp = NANO
    amount = Fraction(unscaled, 10**-NANO)
    if fmt == BINARY_SI and amount > INT64_MAX:
        unscaled, exp = INT64_MAX, 0
    if fmt == BINARY_SI and 0 < amount < 1:
        fmt = DECIMAL_SI
    return Quantity(sign * unscaled, exp, fmt, DEC)


ZERO = Quantity(0)


def parse(raw) -> Quantity:
    return Quantity.parse(raw)


def from_int(value: int, fmt: str = DECIMAL_EXPONENT) -> Quantity:
    """``resource.NewQuantity(value, format)`` (CEL's ``add(int)``/``sub(int)`` use DecimalExponent)."""
    return Quantity(value, 0, fmt, INT)


def canonical(raw) -> str:
    """The canonical text of a quantity value (what a typed field reads back as)."""
    return str(Quantity.parse(raw))


def is_quantity(raw) -> bool:
    try:
        Quantity.parse(raw)
    except QuantityError:
        return False
    return True


# ------------------------------------------------------------------ resource lists (maps of name -> Quantity)
def parse_list(raw: dict | None) -> dict:
    """{name: Quantity} of a ResourceList (values already validated)."""
    return {k: Quantity.parse(v) for k, v in (raw or {}).items()}


def format_list(items: dict) -> dict:
    return {k: str(v) for k, v in items.items()}


def add_lists(left: dict, right: dict) -> dict:
    """``quota.Add``: the union, values of common keys summed."""
    out = dict(left)
    for key, value in right.items():
        out[key] = out[key] + value if key in out else value
    return out


def subtract_non_negative(left: dict, right: dict) -> dict:
    """``quota.SubtractWithNonNegativeResult``."""
    out = {}
    for key, value in left.items():
        diff = value - right[key] if key in right else value
        out[key] = diff if diff.sign() >= 0 else Quantity(0, 0, diff.fmt)
    return out


def max_into(target: dict, other: dict):
    """``maxResourceList``: keep the larger value per key (in place)."""
    for key, value in other.items():
        if key not in target or value.cmp(target[key]) > 0:
            target[key] = value


def mask(items: dict, names) -> dict:
    names = set(names)
    return {k: v for k, v in items.items() if k in names}
