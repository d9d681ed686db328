"""Kubernetes quantities as Fractions (independent of the collection's own parser)."""

from __future__ import annotations

import re
from fractions import Fraction

_SUFFIX = {
    '': 1, 'n': Fraction(1, 10 ** 9), 'u': Fraction(1, 10 ** 6), 'm': Fraction(1, 1000),
    'k': 10 ** 3, 'M': 10 ** 6, 'G': 10 ** 9, 'T': 10 ** 12, 'P': 10 ** 15, 'E': 10 ** 18,
    'Ki': 2 ** 10, 'Mi': 2 ** 20, 'Gi': 2 ** 30, 'Ti': 2 ** 40, 'Pi': 2 ** 50, 'Ei': 2 ** 60,
}
_RE = re.compile(r'^([+-]?[0-9]*\.?[0-9]+)([eE][+-]?[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$')


def parse(value) -> Fraction:
    """Fraction of a quantity (int, float or string); ValueError when it is not one."""
    if isinstance(value, bool):
        raise ValueError(f'{value!r} is not a quantity')
    if isinstance(value, (int, float)):
        return Fraction(str(value))
    match = _RE.match(str(value).strip())
    if not match:
        raise ValueError(f'quantities must match the regular expression; got {value!r}')
    number = Fraction(match.group(1))
    if match.group(2):
        number *= Fraction(10) ** int(match.group(2)[1:])
    return number * _SUFFIX[match.group(3) or '']
