# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes ``resource.Quantity`` parsing, exact (``fractions.Fraction``), no third-party imports.

Grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go)::

    <quantity>        ::= <signedNumber><suffix>
    <signedNumber>    ::= <number> | <sign><number>
    <sign>            ::= "+" | "-"
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedInteger> | "E" <signedInteger>

Anything else is refused: ``16GB``, ``1.2.3``, ``1K`` (upper-case k), ``1e``, surrounding spaces, empty
strings, booleans. ``E`` alone is the exa suffix, ``E3`` an exponent.

Deliberately stricter than Kubernetes (``ParseQuantity`` in quantity.go): its scanner treats a missing number
as zero, so it accepts these degenerate forms as the quantity 0; this parser refuses them, because in a limit
or a request they are almost always a typo (``Ki`` for ``1Ki``, ``m`` for ``500m``) and reading them as 0
would silently remove a limit's meaning or hide a request's size:

* a suffix with no digits: ``Ki``, ``Mi``, ``Gi``, ``m``, ``k``, ``G`` ... (any binary or decimal SI suffix);
* an exponent with no digits before it: ``e3``, ``E-2``;
* a sign or a point alone, or a sign before nothing but a suffix: ``+``, ``-``, ``.``, ``+.``, ``-Ki``;
* decimal exponents whose absolute value is above ``_MAX_EXPONENT`` (64): ``1e65``, ``1e-65``. Kubernetes
  accepts larger ones (an ``int32`` scale; tiny values then round up to ``1n``, huge binary ones are capped);
  no CPU or memory value needs them, and refusing them keeps ``Fraction`` arithmetic cheap.

Every form accepted here is accepted by Kubernetes and means the same number (``parse`` keeps it exact;
``value_ceil``/``round_up_nano`` apply Kubernetes' rounding). The modules state this rule in their cpu, memory
and limits options. It is intentional and covered by tests/unit/plugins/module_utils/test_quantity.py.

Rounding follows Kubernetes: ``Value()`` (whole units, e.g. bytes) rounds up, ``MilliValue()`` rounds up
to thousandths, and a quantity never holds more precision than nano units (``1e-10`` is stored as ``1n``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from ansible_collections.virakcloud.everest.plugins.module_utils._errors import ValidationError

_BINARY = {'Ki': 2**10, 'Mi': 2**20, 'Gi': 2**30, 'Ti': 2**40, 'Pi': 2**50, 'Ei': 2**60}
_DECIMAL = {
    'n': Fraction(1, 10**9),
    'u': Fraction(1, 10**6),
    'm': Fraction(1, 1000),
    '': Fraction(1),
    'k': Fraction(10**3),
    'M': Fraction(10**6),
    'G': Fraction(10**9),
    'T': Fraction(10**12),
    'P': Fraction(10**15),
    'E': Fraction(10**18),
}
_QUANTITY_RE = re.compile(
    r'(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)'
    r'(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|[numkMGTPE]?)'
)
# Stricter than Kubernetes on purpose (see the module docstring): |exponent| > 64 is refused.
_MAX_EXPONENT = 64
NANO = Fraction(1, 10**9)


class QuantityError(ValueError):
    """The value is not a Kubernetes quantity (the message says why and shows examples)."""


def _describe(value):
    return repr(value) if isinstance(value, str) else '%r (%s)' % (value, type(value).__name__)


def parse(value, what='quantity'):
    """Exact value of a quantity as a ``Fraction``.

    ``value`` may be a string in the grammar above, an int, or a float (a YAML number; its shortest
    decimal form is used, so ``0.1`` is exactly one tenth). Booleans and anything else are refused.
    The result keeps full precision; use ``value_ceil``/``round_up_nano`` for Kubernetes rounding.
    """
    if isinstance(value, bool):
        raise QuantityError('%s must be a number or a Kubernetes quantity string, got %s' % (what, _describe(value)))
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        try:
            return Fraction(Decimal(repr(value)))
        except (InvalidOperation, ValueError, OverflowError):
            raise QuantityError('%s must be a finite number, got %r' % (what, value))
    if not isinstance(value, str):
        raise QuantityError('%s must be a number or a Kubernetes quantity string, got %s' % (what, _describe(value)))
    match = _QUANTITY_RE.fullmatch(value)
    if not match:
        raise QuantityError(
            "%s %r is not a Kubernetes quantity; write a number with an optional suffix: m, k, M, G, T, P, E (powers of 1000), "
            "Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024) or an exponent (e3, E-2); for example 500m, 2, 1.5Gi, 16Gi, 2e9" % (what, value)
        )
    number = Fraction(Decimal(match.group('number')))
    suffix = match.group('suffix')
    if suffix in _BINARY:
        number *= _BINARY[suffix]
    elif suffix in _DECIMAL:
        number *= _DECIMAL[suffix]
    else:
        exponent = int(suffix[1:])
        if abs(exponent) > _MAX_EXPONENT:
            raise QuantityError('%s %r has an exponent out of range' % (what, value))
        number *= Fraction(10) ** exponent
    return -number if match.group('sign') == '-' else number


def _ceil(fraction):
    return -((-fraction.numerator) // fraction.denominator)


def value_ceil(value, what='quantity'):
    """Whole units rounded up, like ``Quantity.Value()``: ``'1.5'`` -> 2, ``'16Gi'`` -> 17179869184."""
    return _ceil(parse(value, what) if not isinstance(value, Fraction) else value)


def milli_value_ceil(value, what='quantity'):
    """Thousandths rounded up, like ``Quantity.MilliValue()``: ``'0.5'`` -> 500."""
    frac = parse(value, what) if not isinstance(value, Fraction) else value
    return _ceil(frac * 1000)


def round_up_nano(fraction):
    """Round up to nano units, the finest precision a Kubernetes quantity keeps."""
    return Fraction(_ceil(fraction * 10**9), 10**9)


def to_number(fraction):
    """A JSON number for a Fraction: int when integral (``4`` not ``4.0``), else a float (``0.5``).

    Values are first rounded up to nano units, so the float round-trips through JSON and back
    through ``parse`` to the same value.
    """
    frac = round_up_nano(fraction)
    if frac.denominator == 1:
        return frac.numerator
    return float(Decimal(frac.numerator) / Decimal(frac.denominator))


def format_cores(fraction):
    """Human CPU text: ``4``, ``0.5``, ``4.5`` (decimal cores, no trailing zeros)."""
    number = to_number(fraction)
    if isinstance(number, int):
        return str(number)
    text = ('%.9f' % number).rstrip('0').rstrip('.')
    return text


# The order in which format_bytes tries units: binary down to Mi, decimal down to M, then Ki. The tenant admission
# policy formats bytes with the same chain (files/tenant-policy-admission.yaml, variable byteTexts), so both speak alike.
BYTE_UNITS = (
    ('Ei', 2**60),
    ('Pi', 2**50),
    ('Ti', 2**40),
    ('Gi', 2**30),
    ('Mi', 2**20),
    ('E', 10**18),
    ('P', 10**15),
    ('T', 10**12),
    ('G', 10**9),
    ('M', 10**6),
    ('Ki', 2**10),
)


def format_bytes(value):
    """Human memory or storage text, exact: the first unit of ``BYTE_UNITS`` that divides the value (``16Gi``, ``4G``,
    ``1536Mi``, ``2500M``), else plain bytes. So a value a tenant wrote as ``4Gi`` or ``4G`` reads back as written."""
    value = int(value)
    if value == 0:
        return '0'
    for suffix, unit in BYTE_UNITS:
        if value % unit == 0:
            return '%d%s' % (value // unit, suffix)
    return str(value)


def format_cpu(fraction):
    """A CPU quantity as Kubernetes writes it: whole cores (``3``), else millicores (``3700m``), else nano cores
    rounded up (``1n``)."""
    frac = round_up_nano(fraction)
    if frac.denominator == 1:
        return str(frac.numerator)
    milli = frac * 1000
    if milli.denominator == 1:
        return '%dm' % milli.numerator
    return '%dn' % (frac * 10**9).numerator


def non_negative(value, what):
    """The exact value (a Fraction) of a quantity option that must not be negative. Raises ValidationError naming ``what``."""
    try:
        frac = parse(value, what)
    except QuantityError as exc:
        raise ValidationError(str(exc))
    if frac < 0:
        raise ValidationError('%s must not be negative, got %r' % (what, value))
    return frac
