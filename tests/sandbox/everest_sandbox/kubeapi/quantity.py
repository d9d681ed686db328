"""Kubernetes resource quantities as k8s.io/apimachinery ``resource.Quantity`` parses, compares, adds and prints them.

One implementation for the whole sandbox (the API emulator's typed fields, ResourceQuota, LimitRanger, the operator
simulation and the Everest REST emulator's validation).

* Parsing follows ``ParseQuantity`` (``staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go``): an optional
  sign, digits with an optional fraction, then a suffix: decimal SI (``n u m "" k M G T P E``), binary SI
  (``Ki Mi Gi Ti Pi Ei``) or a decimal exponent (``e3``, ``E-2``). Values finer than 1n are rounded up (away from
  zero) to the next nano. The errors carry Go's texts. One deliberate difference: a string without any digit
  (``Mi``) is refused, as CEL's ``isQuantity`` documents, where the Go scanner would read it as zero.
* The value is kept exactly (a ``Fraction``); arithmetic never overflows.
* ``str()`` is the canonical form (``Quantity.String``): zero is ``0``; a binary SI value of at least 1024 that is a
  whole number prints with the largest binary suffix that keeps the mantissa whole (``1536Mi``, ``1Gi``); every other
  value prints as mantissa and a power-of-1000 suffix with the largest exponent that keeps the mantissa whole
  (``1k`` for ``1000``, ``100m`` for ``0.1``, ``1500m`` for ``1.5``); decimal-exponent values print ``<m>e<exp>``.
* ``a + b`` keeps the format of ``a`` unless ``a`` is zero, then it takes ``b``'s (``0 + 64Mi`` -> ``64Mi``).
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

DECIMAL_SI = 'DecimalSI'
BINARY_SI = 'BinarySI'
DECIMAL_EXPONENT = 'DecimalExponent'

ERR_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
ERR_SUFFIX = "unable to parse quantity's suffix"
ERR_NUMERIC = 'unable to parse numeric part of quantity'

_DEC_SUFFIX = {'n': -9, 'u': -6, 'm': -3, '': 0, 'k': 3, 'M': 6, 'G': 9, 'T': 12, 'P': 15, 'E': 18}
_BIN_SUFFIX = {'Ki': 10, 'Mi': 20, 'Gi': 30, 'Ti': 40, 'Pi': 50, 'Ei': 60}
_DEC_BY_EXP = {exp: suffix for suffix, exp in _DEC_SUFFIX.items()}
_BIN_BY_POWER = {0: '', 1: 'Ki', 2: 'Mi', 3: 'Gi', 4: 'Ti', 5: 'Pi', 6: 'Ei'}
_SUFFIX_CHARS = set('eEinumkKMGTP')
_NANO = Fraction(1, 10**9)
_MAX_MILLI = (2**63 - 1) // 1000


class QuantityError(ValueError):
    """A string that is not a quantity; ``str()`` is apimachinery's error text."""


def _split(text: str) -> tuple:
    """parseQuantityString: (negative, number text, suffix)."""
    pos, end = 0, len(text)
    negative = False
    if text[0] in '+-':
        negative = text[0] == '-'
        pos = 1
    start = pos
    while pos < end and text[pos].isdigit():
        pos += 1
    if pos < end and text[pos] == '.':
        pos += 1
        while pos < end and text[pos].isdigit():
            pos += 1
    number = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in '+-':
        pos += 1
    while pos < end and text[pos].isdigit():
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT)
    return negative, number, text[suffix_start:]


def _interpret(suffix: str) -> tuple:
    """(base, exponent, format) of a suffix (``suffixHandler.interpret``)."""
    if suffix in _DEC_SUFFIX:
        return 10, _DEC_SUFFIX[suffix], DECIMAL_SI
    if suffix in _BIN_SUFFIX:
        return 2, _BIN_SUFFIX[suffix], BINARY_SI
    if len(suffix) > 1 and suffix[0] in 'eE' and re.fullmatch(r'[+-]?[0-9]+', suffix[1:]):
        return 10, int(suffix[1:]), DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def _round_up_nano(value: Fraction) -> Fraction:
    if (value / _NANO).denominator == 1:
        return value
    scaled = math.ceil(abs(value) / _NANO)
    return (scaled * _NANO) if value > 0 else -(scaled * _NANO)


def _strip(number: int, base: int) -> tuple:
    """(mantissa, times): ``number = mantissa * base**times`` with the mantissa not divisible by ``base``."""
    times = 0
    while number and number % base == 0:
        number //= base
        times += 1
    return number, times


class Quantity:
    """An immutable quantity: exact ``value`` (Fraction) and ``fmt`` (DecimalSI, BinarySI, DecimalExponent)."""

    __slots__ = ('value', 'fmt')

    def __init__(self, value=0, fmt: str = DECIMAL_SI):
        self.value = Fraction(value)
        self.fmt = fmt

    # ---------------------------------------------------------------- construction
    @classmethod
    def parse(cls, raw) -> 'Quantity':
        """A quantity from a string or a JSON number (what ``Quantity.UnmarshalJSON`` accepts)."""
        if isinstance(raw, Quantity):
            return raw
        if isinstance(raw, bool) or raw is None:
            raise QuantityError(ERR_FORMAT)
        return _parse_text(repr(raw) if isinstance(raw, float) else str(raw))

    @classmethod
    def _from_text(cls, text: str) -> 'Quantity':
        if not text:
            raise QuantityError(ERR_FORMAT)
        negative, number, suffix = _split(text)
        base, exponent, fmt = _interpret(suffix)
        if not any(c.isdigit() for c in number):
            raise QuantityError(ERR_FORMAT)  # 'Mi', '-', '.': no number at all
        value = Fraction(number) * (Fraction(base) ** exponent)
        value = _round_up_nano(-value if negative else value)
        if fmt == BINARY_SI and 0 < abs(value) < 1:
            fmt = DECIMAL_SI
        return cls(value, fmt)

    # ---------------------------------------------------------------- arithmetic
    def __add__(self, other: 'Quantity') -> 'Quantity':
        return Quantity(self.value + other.value, other.fmt if self.value == 0 else self.fmt)

    def __sub__(self, other: 'Quantity') -> 'Quantity':
        return Quantity(self.value - other.value, other.fmt if self.value == 0 else self.fmt)

    def __neg__(self) -> 'Quantity':
        return Quantity(-self.value, self.fmt)

    def cmp(self, other: 'Quantity') -> int:
        return (self.value > other.value) - (self.value < other.value)

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

    def is_zero(self) -> bool:
        return self.value == 0

    def sign(self) -> int:
        return (self.value > 0) - (self.value < 0)

    def value_int(self) -> int:
        """``Value()``: the value rounded up to a whole number."""
        return math.ceil(self.value)

    def milli_value(self) -> int:
        """``MilliValue()``: thousandths, rounded up."""
        return math.ceil(self.value * 1000)

    def round_up(self) -> 'Quantity':
        """``RoundUp(0)``: whole units (what ResourceQuota charges for storage)."""
        return Quantity(math.ceil(self.value), self.fmt)

    @staticmethod
    def comparable(*quantities) -> list:
        """LimitRanger's ``requestLimitEnforcedValues``: milli-values when none overflows, else values."""
        values = [q.value_int() for q in quantities]
        if all(v <= _MAX_MILLI for v in values):
            return [q.milli_value() for q in quantities]
        return values

    # ---------------------------------------------------------------- printing
    def __str__(self) -> str:
        value = self.value
        if value == 0:
            return '0'
        fmt = self.fmt
        if fmt == BINARY_SI and (abs(value) < 1024 or value.denominator != 1):
            fmt = DECIMAL_SI
        if fmt == BINARY_SI:
            mantissa, power = _strip(abs(value.numerator), 1024)
            while power > 6:
                mantissa, power = mantissa * 1024, power - 1
            return ('-' if value < 0 else '') + f'{mantissa}{_BIN_BY_POWER[power]}'
        mantissa, exponent = self._decimal_parts()
        if fmt == DECIMAL_EXPONENT:
            return f'{mantissa}e{exponent}' if exponent else str(mantissa)
        suffix = _DEC_BY_EXP.get(exponent)
        if suffix is None:
            return f'{mantissa}e{exponent}'
        return f'{mantissa}{suffix}'

    def _decimal_parts(self) -> tuple:
        """(integer mantissa, exponent multiple of 3): the largest exponent that keeps the mantissa whole."""
        value = self.value
        exponent = 0
        while value.denominator != 1:
            value *= 10
            exponent -= 1
        mantissa, times = _strip(abs(value.numerator), 10)
        exponent += times
        shift = exponent % 3
        mantissa *= 10**shift
        exponent -= shift
        return (-mantissa if value < 0 else mantissa), exponent

    def __repr__(self) -> str:
        return f'Quantity({str(self)!r})'


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Quantity:
    """Parsing is pure and quantities are immutable: the same few spellings come back all the time."""
    return Quantity._from_text(text)  # pylint: disable=protected-access


ZERO = Quantity(0)


def parse(raw) -> Quantity:
    return Quantity.parse(raw)


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
        out[key] = diff if diff.sign() >= 0 else Quantity(0, diff.fmt)
    return out


def max_into(target: dict, other: dict):
    """``maxResourceList``: keep the larger value per key (in place)."""
    for key, value in other.items():
        if key not in target or value.cmp(target[key]) > 0:
            target[key] = value


def mask(items: dict, names) -> dict:
    names = set(names)
    return {k: v for k, v in items.items() if k in names}
