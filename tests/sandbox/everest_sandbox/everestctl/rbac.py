"""RBAC policy engine of the emulator (EF §5), independent of plugins/module_utils/_rbac.py.

Glob semantics follow doublestar v4 (used by casbin's globMatch) through a translation to Python regexes.
"""

from __future__ import annotations

import functools
import re

import yaml

RESOURCES = (
    'backup-storages', 'data-import-jobs', 'data-importers', 'database-cluster-backups',
    'database-cluster-credentials', 'database-cluster-restores', 'database-clusters', 'database-engines',
    'enginefeatures/split-horizon-dns-configs', 'load-balancer-configs', 'monitoring-instances', 'namespaces',
    'pod-scheduling-policies',
)
GLOBAL_RESOURCES = ('data-importers', 'load-balancer-configs', 'namespaces', 'pod-scheduling-policies')
ACTIONS = ('create', 'read', 'update', 'delete', '*')
TERM_RE = re.compile(r'^[/*-_:a-zA-Z0-9]+$')


class PolicyLoadError(Exception):
    """The policy could not be loaded (bad line, CSV error, wrong rule size)."""


class PolicyCheckError(Exception):
    """One of the three validation checks of EF §5.6 failed (detail text)."""


class BadPattern(Exception):
    """doublestar.ErrBadPattern."""


# glob ---------------------------------------------------------------------------------------------

def _class_end(pattern: str, start: int) -> int:
    """Index of the closing `]` of the class opened at start, or -1."""
    i = start + 1
    if i < len(pattern) and pattern[i] in '!^':
        i += 1
    first = True
    while i < len(pattern):
        ch = pattern[i]
        if ch == '\\':
            i += 2
            first = False
            continue
        if ch == ']' and not first:
            return i
        first = False
        i += 1
    return -1


def _translate_class(body: str) -> str:
    negate = bool(body) and body[0] in '!^'
    if negate:
        body = body[1:]
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == '\\' and i + 1 < len(body):
            i += 1
            ch = body[i]
        out.append(re.escape(ch) if ch not in '-' else '-')
        i += 1
    inner = ''.join(out)
    if not inner:
        raise BadPattern()
    # doublestar v4 does not exclude the separator from classes: `[!a]` matches `/`
    return f'[^{inner}]' if negate else f'[{inner}]'


def _split_alternatives(body: str) -> list[str]:
    parts, depth, cur, i = [], 0, [], 0
    while i < len(body):
        ch = body[i]
        if ch == '\\' and i + 1 < len(body):
            cur.append(body[i:i + 2])
            i += 2
            continue
        if ch == '[':
            end = _class_end(body, i)
            if end > 0:
                cur.append(body[i:end + 1])
                i = end + 1
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


def _brace_end(pattern: str, start: int) -> int:
    depth, i = 0, start
    while i < len(pattern):
        ch = pattern[i]
        if ch == '\\':
            i += 2
            continue
        if ch == '[':
            end = _class_end(pattern, i)
            if end > 0:
                i = end + 1
                continue
        if ch == '{':
            depth += 1
        elif ch == '}':
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _translate(pattern: str) -> str:
    out = []
    i = 0
    size = len(pattern)
    while i < size:
        ch = pattern[i]
        if ch == '*':
            j = i
            while j < size and pattern[j] == '*':
                j += 1
            stars = j - i
            seg_start = i == 0 or pattern[i - 1] == '/'
            seg_end = j == size or pattern[j] == '/'
            if stars >= 2 and seg_start and seg_end:
                if j == size:
                    if i == 0:
                        out.append('.*')
                    else:
                        # "a/**" matches "a" itself and everything below it
                        out.pop()  # the "/" just emitted
                        out.append('(?:/.*)?')
                else:
                    # "**/" matches zero or more directories
                    out.append('(?:.*/)?')
                    j += 1
            else:
                out.append('[^/]*')
            i = j
            continue
        if ch == '?':
            out.append('[^/]')
        elif ch == '[':
            end = _class_end(pattern, i)
            if end < 0:
                raise BadPattern()
            out.append(_translate_class(pattern[i + 1:end]))
            i = end + 1
            continue
        elif ch == '{':
            end = _brace_end(pattern, i)
            if end < 0:
                raise BadPattern()
            alts = _split_alternatives(pattern[i + 1:end])
            out.append('(?:' + '|'.join(_translate(alt) for alt in alts) + ')')
            i = end + 1
            continue
        elif ch == '\\':
            if i + 1 >= size:
                raise BadPattern()
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        else:
            out.append(re.escape(ch))
        i += 1
    return ''.join(out)


@functools.lru_cache(maxsize=1024)
def glob_regex(pattern: str):
    """Compiled regex for a doublestar v4 pattern; None for a bad pattern."""
    try:
        return re.compile('(?s:' + _translate(pattern) + r')\Z')
    except (BadPattern, re.error):
        return None


def _zero_length(pattern: str) -> bool:
    """doublestar isZeroLengthPattern: what may remain of the pattern once the whole name is consumed."""
    if pattern in ('', '*', '**', '/**', '**/', '/**/'):
        return True
    if pattern.startswith('{'):
        end = _brace_end(pattern, 0)
        if end < 0:
            return False
        return any(_zero_length(alt + pattern[end + 1:]) for alt in _split_alternatives(pattern[1:end]))
    return False


def glob_match(name: str, pattern: str) -> bool:
    """casbin globMatch(key1=name, key2=pattern) with doublestar v4 semantics.

    An empty name never enters doublestar's matching loop: only a syntactically zero-length pattern matches it
    (so `***` or `*{a,*}` do not match ``, unlike their regex translation).
    """
    rx = glob_regex(pattern)
    if rx is None:
        return False
    if name == '':
        return _zero_length(pattern)
    return bool(rx.match(name))


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
    """A --policy-file: ConfigMap YAML with data."policy.csv", else the raw text (EF §5.3)."""
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
        """EF §5.6 checks 1-3, in order; raises PolicyCheckError(detail)."""
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
    """EF §5.7: `*`/`all` -> `/` (namespaced) or `` (global)."""
    if obj in ('*', 'all'):
        return '' if resource in GLOBAL_RESOURCES else '/'
    return obj
