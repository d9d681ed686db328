"""Label and field selectors (the string forms of k8s.io/apimachinery/pkg/labels and pkg/fields)."""

from __future__ import annotations

import re

from .errors import bad_request

_KEY = re.compile(r'^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$')
_VALUE = re.compile(r'^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$')


def _split_top(text: str) -> list:
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for char in text:
        if char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
        if char == ',' and depth == 0:
            parts.append(''.join(cur))
            cur = []
        else:
            cur.append(char)
    parts.append(''.join(cur))
    return parts


def _check_key(key: str, raw: str):
    if not key or len(key.split('/')[-1]) > 63 or not _KEY.match(key):
        raise bad_request(
            f'unable to parse requirement: <nil>: Invalid value: "{key}": name part must consist of alphanumeric '
            f"characters, '-', '_' or '.', and must start and end with an alphanumeric character (in {raw!r})"
        )


def _check_value(value: str, key: str):
    if len(value) > 63 or not _VALUE.match(value):
        raise bad_request(
            f'unable to parse requirement: values[0][{key}]: Invalid value: "{value}": a valid label must be an '
            "empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            'with an alphanumeric character'
        )


def parse_label_selector(text: str) -> list:
    """Parse into [(op, key, values)] with op in exists, !exists, in, notin, =, !=, gt, lt."""
    reqs = []
    if text is None or not text.strip():
        return reqs
    for part in _split_top(text):
        part = part.strip()
        if not part:
            raise bad_request(f'found \'\', expected: !, identifier, or \'end of string\' (in label selector {text!r})')
        match = re.match(r'^(\S+)\s+(in|notin)\s*\((.*)\)$', part)
        if match:
            key, op, vals = match.group(1), match.group(2), [v.strip() for v in match.group(3).split(',')]
            _check_key(key, text)
            for val in vals:
                _check_value(val, key)
            reqs.append((op, key, set(vals)))
            continue
        if part.startswith('!'):
            key = part[1:].strip()
            _check_key(key, text)
            reqs.append(('!exists', key, None))
            continue
        match = re.match(r'^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(.*)$', part)
        if match:
            key, op, val = match.group(1), match.group(2), match.group(3).strip()
            _check_key(key, text)
            if op in ('<', '>'):
                if not re.match(r'^-?\d+$', val):
                    raise bad_request(f'unable to parse requirement: for \'Gt\', \'Lt\' operators, the value must be an integer (in label selector {text!r})')
                reqs.append(('gt' if op == '>' else 'lt', key, int(val)))
                continue
            _check_value(val, key)
            reqs.append(('!=' if op == '!=' else '=', key, val))
            continue
        if re.search(r'\s', part):
            raise bad_request(f'unable to parse requirement: found \'{part.split()[1]}\', expected: \'=\', \'!=\', \'==\', \'in\', notin\'')
        _check_key(part, text)
        reqs.append(('exists', part, None))
    return reqs


def labels_match(reqs: list, labels: dict | None) -> bool:
    labels = labels or {}
    for op, key, val in reqs:
        have = key in labels
        cur = labels.get(key)
        if op == 'exists' and not have:
            return False
        if op == '!exists' and have:
            return False
        if op == '=' and cur != val:
            return False
        if op == '!=' and have and cur == val:
            return False
        if op == 'in' and (not have or cur not in val):
            return False
        if op == 'notin' and have and cur in val:
            return False
        if op in ('gt', 'lt'):
            try:
                num = int(cur)
            except (TypeError, ValueError):
                return False
            if (op == 'gt' and not num > val) or (op == 'lt' and not num < val):
                return False
    return True


def parse_field_selector(text: str, supported) -> list:
    """Parse ``a=b,c!=d`` into [(field, op, value)]; only fields in ``supported`` are accepted."""
    reqs = []
    if text is None or not text.strip():
        return reqs
    for part in text.split(','):
        part = part.strip()
        match = re.match(r'^([^=!]+?)\s*(==|=|!=)\s*(.*)$', part)
        if not match:
            raise bad_request(f'invalid selector: \'{text}\'; can\'t understand \'{part}\'')
        field, op, value = match.group(1), match.group(2), match.group(3)
        if field not in supported:
            raise bad_request(f'field label not supported: {field}')
        reqs.append((field, '!=' if op == '!=' else '=', value))
    return reqs


def field_value(obj: dict, field: str) -> str:
    cur = obj
    for part in field.split('.'):
        if not isinstance(cur, dict):
            return ''
        cur = cur.get(part)
    if cur is None:
        return ''
    return cur if isinstance(cur, str) else str(cur)


def fields_match(reqs: list, obj: dict) -> bool:
    for field, op, value in reqs:
        cur = field_value(obj, field)
        if (op == '=' and cur != value) or (op == '!=' and cur == value):
            return False
    return True


def label_selector_requirements(selector: dict | None) -> list | None:
    """A structured metav1.LabelSelector (matchLabels, matchExpressions) as ``labels_match`` requirements.

    None (a nil selector) selects nothing; ``{}`` selects everything."""
    if selector is None:
        return None
    reqs = [('=', key, value) for key, value in sorted((selector.get('matchLabels') or {}).items())]
    ops = {'In': 'in', 'NotIn': 'notin', 'Exists': 'exists', 'DoesNotExist': '!exists'}
    for expr in selector.get('matchExpressions') or ():
        op = ops.get(expr.get('operator'))
        if op is None:
            raise bad_request(f'{expr.get("operator")!r} is not a valid label selector operator')
        reqs.append((op, expr.get('key', ''), set(expr.get('values') or ()) if op in ('in', 'notin') else None))
    return reqs


def selector_matches(selector: dict | None, labels: dict | None) -> bool:
    """A structured LabelSelector against ``labels``; an absent or empty selector matches everything (what the
    admission-policy matchers see: their selectors default to ``{}``)."""
    return labels_match(label_selector_requirements(selector or {}), labels)
