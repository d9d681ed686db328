"""RBAC policy engine of the emulator (reference §5), independent of plugins/module_utils/_rbac.py.

Glob semantics follow doublestar v4 (used by casbin's globMatch) through a translation to Python regexes.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

import yaml

RESOURCES = (
    'backup-storages',
    'data-import-jobs',
    'data-importers',
    'database-cluster-backups',
    'database-cluster-credentials',
    'database-cluster-restores',
    'database-clusters',
    'database-engines',
    'enginefeatures/split-horizon-dns-configs',
    'load-balancer-configs',
    'monitoring-instances',
    'namespaces',
    'pod-scheduling-policies',
)
GLOBAL_RESOURCES = ('data-importers', 'load-balancer-configs', 'namespaces', 'pod-scheduling-policies')
ACTIONS = ('create', 'read', 'update', 'delete', '*')
TERM_RE = re.compile(r'^[/*-_:a-zA-Z0-9]+$')


class PolicyLoadError(Exception):
    """The policy could not be loaded (bad line, CSV error, wrong rule size)."""


class PolicyCheckError(Exception):
    """One of the three validation checks of reference §5.6 failed (detail text)."""


class BadPattern(Exception):
    """doublestar.ErrBadPattern."""


# glob ---------------------------------------------------------------------------------------------
#
# Each token of the pattern becomes a regex; braces are substituted one alternative at a time, the way
# doublestar's matcher recurses into them. Two doublestar rules are kept on purpose:
# * `**` is a doublestar only at the start of a segment (pattern start, after `/`, or where an alternative was
#   substituted) and only when followed by `/` or the end of the pattern; otherwise it is a plain `*`;
# * once the name is used up, what is left of the pattern must be syntactically zero-length
#   (isZeroLengthPattern: ``, `*`, `**`, `/**`, `**/`, `/**/`, or an alternative group leading to one).


class _Tok(NamedTuple):
    start: int
    end: int
    rx: str  # regex of the token
    rx_plus: str  # regex of the token when it consumes the last character of the name
    brace: bool = False


def _class_end(pattern: str, start: int) -> int:
    """Index of the `]` closing the class opened at start; BadPattern if missing or empty."""
    i = start + 1
    if i < len(pattern) and pattern[i] in '!^':
        i += 1
    if i >= len(pattern) or pattern[i] == ']':
        raise BadPattern()
    while i < len(pattern):
        if pattern[i] == '\\':
            i += 2
            continue
        if pattern[i] == ']':
            return i
        i += 1
    raise BadPattern()


def _translate_class(body: str) -> str:
    negate = body[0] in '!^'
    if negate:
        body = body[1:]
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == '\\' and i + 1 < len(body):
            i += 1
            ch = body[i]
            out.append(re.escape(ch))
        else:
            out.append('-' if ch == '-' else re.escape(ch))
        i += 1
    # doublestar does not exclude the separator from classes: `[!a]` matches `/`
    return ('[^' if negate else '[') + ''.join(out) + ']'


def _brace_end(pattern: str, start: int) -> int:
    """indexMatchedClosingAlt: the `}` closing the `{` at start (nesting and escapes), -1 if none."""
    depth, i = 0, start
    while i < len(pattern):
        ch = pattern[i]
        if ch == '\\':
            i += 2
            continue
        if ch == '{':
            depth += 1
        elif ch == '}':
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _split_alternatives(body: str) -> list[str]:
    """indexNextAlt: split on commas outside nested braces (escapes kept)."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(body):
        ch = body[i]
        if ch == '\\' and i + 1 < len(body):
            cur.append(body[i : i + 2])
            i += 2
            continue
        if ch == '{':
            depth += 1
        elif ch == '}':
            depth -= 1
        elif ch == ',' and depth == 0:
            parts.append(''.join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    parts.append(''.join(cur))
    return parts


def _star_token(pattern: str, i: int, seg: bool) -> tuple[_Tok, bool]:
    size = len(pattern)
    if seg and pattern.startswith('**', i):
        if i + 2 == size:
            return _Tok(i, size, '.*', '.+'), False
        if pattern[i + 2] == '/':
            return _Tok(i, i + 3, '(?:.*/)?', '.*/'), True
    j = i
    while j < size and pattern[j] == '*':
        j += 1
    return _Tok(i, j, '[^/]*', '[^/]+'), False


def _tokens(pattern: str) -> list[_Tok]:
    """Tokenize; raises BadPattern. The pattern starts a segment (doublestar's startOfSegment := true)."""
    toks: list[_Tok] = []
    size = len(pattern)
    i = 0
    seg = True
    while i < size:
        ch = pattern[i]
        if ch == '*':
            tok, seg = _star_token(pattern, i, seg)
        elif ch == '?':
            tok, seg = _Tok(i, i + 1, '[^/]', '[^/]'), False
        elif ch == '[':
            end = _class_end(pattern, i)
            rx = _translate_class(pattern[i + 1 : end])
            tok, seg = _Tok(i, end + 1, rx, rx), False
        elif ch == '{':
            end = _brace_end(pattern, i)
            if end < 0:
                raise BadPattern()
            tok, seg = _Tok(i, end + 1, '', '', brace=True), False
        elif ch == '\\':
            if i + 1 >= size:
                raise BadPattern()
            lit = pattern[i + 1]
            tok, seg = _Tok(i, i + 2, re.escape(lit), re.escape(lit)), lit == '/'
        else:
            tok, seg = _Tok(i, i + 1, re.escape(ch), re.escape(ch)), ch == '/'
        toks.append(tok)
        i = tok.end
    return toks


def _zero_length(pattern: str) -> bool:
    """doublestar isZeroLengthPattern: what may remain of the pattern once the whole name is consumed."""
    if pattern in ('', '*', '**', '/**', '**/', '/**/'):
        return True
    if pattern.startswith('{'):
        end = _brace_end(pattern, 0)
        if end < 0:
            return False
        return any(_zero_length(alt + pattern[end + 1 :]) for alt in _split_alternatives(pattern[1:end]))
    return False


@functools.lru_cache(maxsize=4096)
def _fullmatch(regex: str, name: str) -> bool:
    try:
        return re.fullmatch(regex, name, re.S) is not None
    except re.error:  # e.g. a reversed class range: never matches
        return False


def _match(name: str, prefix_rx: str, rest: str, depth: int) -> bool:
    """prefix_rx: regex of the tokens already fixed; rest: the pattern text still to tokenize (an alternative
    substituted into it starts a segment, as doublestar's recursion restarts with startOfSegment = true)."""
    if depth > 32:
        raise BadPattern()
    toks = _tokens(rest)
    brace = next((k for k, tok in enumerate(toks) if tok.brace), len(toks))
    prefix = prefix_rx
    for tok in toks[:brace]:
        # the name ends with this token: the rest of the pattern must be zero-length
        if _zero_length(rest[tok.end :]) and _fullmatch(prefix + tok.rx_plus, name):
            return True
        prefix += tok.rx
    if brace < len(toks):
        tok = toks[brace]
        for alt in _split_alternatives(rest[tok.start + 1 : tok.end - 1]):
            if _match(name, prefix, alt + rest[tok.end :], depth + 1):
                return True
    return False


@functools.lru_cache(maxsize=4096)
def glob_match(name: str, pattern: str) -> bool:
    """casbin globMatch(key1=name, key2=pattern) with doublestar v4 semantics; a bad pattern never matches."""
    try:
        if name == '':
            _tokens(pattern)
            return _zero_length(pattern)
        return _match(name, '', pattern, 0)
    except BadPattern:
        return False


# CSV ---------------------------------------------------------------------------------------------


def csv_record(line: str) -> list[str] | None:
    """Go encoding/csv Read of one line: comma, TrimLeadingSpace, no LazyQuotes. None for no record."""
    if line.endswith('\r'):
        line = line[:-1]
    if line == '':
        return None
    fields = []
    i = 0
    size = len(line)
    while True:
        while i < size and line[i] in ' \t':
            i += 1
        if i < size and line[i] == '"':
            i += 1
            buf = []
            while True:
                q = line.find('"', i)
                if q < 0:
                    raise PolicyLoadError(f'parse error on line 1, column {size + 1}: extraneous or missing " in quoted-field')
                buf.append(line[i:q])
                i = q + 1
                if i < size and line[i] == '"':
                    buf.append('"')
                    i += 1
                    continue
                if i == size or line[i] == ',':
                    break
                raise PolicyLoadError(f'parse error on line 1, column {i + 1}: extraneous or missing " in quoted-field')
            fields.append(''.join(buf))
        else:
            end = line.find(',', i)
            end = size if end < 0 else end
            value = line[i:end]
            bare = value.find('"')
            if bare >= 0:
                raise PolicyLoadError(f'parse error on line 1, column {i + bare + 1}: bare " in non-quoted-field')
            fields.append(value)
            i = end
        if i >= size:
            return fields
        i += 1  # the comma
        if i == size:
            fields.append('')
            return fields


def go_slice(values) -> str:
    return '[' + ' '.join(values) + ']'


# policy ------------------------------------------------------------------------------------------


def policy_from_file_text(text: str) -> str:
    """A --policy-file: ConfigMap YAML with data."policy.csv", else the raw text (reference §5.3)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get('data'), dict) and isinstance(doc['data'].get('policy.csv'), str):
        return doc['data']['policy.csv']
    return text


class Policy:
    """Loaded p and g rules (duplicates dropped), implicit admin rules appended."""

    def __init__(self, text: str):
        self.p_rules: list[tuple] = []
        self.g_rules: list[tuple] = []
        for line in text.split('\n'):
            if line == '' or line.startswith('#'):
                continue
            record = csv_record(line)
            if record is None or len(record) < 2 or record[0] not in ('p', 'g'):
                raise PolicyLoadError(f"invalid policy line '{line}'")
            values = record[1:]
            if record[0] == 'p':
                if len(values) != 4:
                    raise PolicyLoadError(f'invalid policy rule size: expected 4, got {len(values)}, rule: {go_slice(values)}')
                if tuple(values) not in self.p_rules:
                    self.p_rules.append(tuple(values))
            else:
                if len(values) < 2:
                    raise PolicyLoadError(f'invalid policy rule size: expected 2, got {len(values)}, rule: {go_slice(values)}')
                if tuple(values[:2]) not in self.g_rules:
                    self.g_rules.append(tuple(values[:2]))
        for res in RESOURCES:
            rule = ('role:admin', res, '*', '*' if res in GLOBAL_RESOURCES else '*/*')
            if rule not in self.p_rules:
                self.p_rules.append(rule)

    def check(self):
        """Reference §5.6 checks 1-3, in order; raises PolicyCheckError(detail)."""
        for rule in self.p_rules:
            for term in rule:
                if not TERM_RE.match(term):
                    raise PolicyCheckError(f"invalid policy term '{term}'")
        roles = {g[1] for g in self.g_rules}
        for rule in self.p_rules:
            sub = rule[0]
            if sub.startswith('role:') and sub != 'role:admin' and sub not in roles:
                raise PolicyCheckError(f"role '{sub}' does not exist")
        for rule in self.p_rules:
            if rule[1] != '*' and rule[1] not in RESOURCES:
                raise PolicyCheckError(f"unknown resource name '{rule[1]}'")

    def subjects_of(self, subject: str) -> set[str]:
        """The subject and every role reachable through g lines."""
        seen = {subject}
        todo = [subject]
        while todo:
            cur = todo.pop()
            for member, role in self.g_rules:
                if member == cur and role not in seen:
                    seen.add(role)
                    todo.append(role)
        return seen

    def enforce(self, subject: str, resource: str, action: str, obj: str) -> bool:
        subjects = self.subjects_of(subject)
        for p_sub, p_res, p_act, p_obj in self.p_rules:
            if p_sub in subjects and glob_match(resource, p_res) and glob_match(action, p_act) and glob_match(obj, p_obj):
                return True
        return False


def enforcer(text: str) -> Policy:
    """Load + check. Load errors raise PolicyLoadError(detail); checks raise PolicyCheckError(
    'policy syntax error\\n<detail>') as the enforcer creation does."""
    policy = Policy(text)
    try:
        policy.check()
    except PolicyCheckError as exc:
        raise PolicyCheckError(f'policy syntax error\n{exc}') from None
    return policy


def request_object(resource: str, obj: str) -> str:
    """Reference §5.7: `*`/`all` -> `/` (namespaced) or `` (global)."""
    if obj in ('*', 'all'):
        return '' if resource in GLOBAL_RESOURCES else '/'
    return obj
