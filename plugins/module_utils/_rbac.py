# -*- coding: utf-8 -*-
# Copyright: (c) 2026, VirakCloud
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everest RBAC policy model: parser, validator, evaluator and managed blocks (pure: no Ansible, no I/O).

Contract: ``docs/reference/everest.md`` §5.

* Parser (reference §5.3): the text is split on ``\\n``; exactly empty lines and lines starting with ``#`` are skipped;
  every other line is one CSV record read like Go's ``encoding/csv`` with ``TrimLeadingSpace`` (leading white
  space of each field removed, trailing kept, double quotes allowed) and then loaded like casbin's
  ``LoadPolicyArray`` (``p`` needs exactly 4 values, ``g`` at least 2, duplicates dropped).
* Validator (reference §5.6): implicit ``role:admin`` rules are added after the file rules; then three passes over all
  ``p`` rules, in Everest's order: terms, role existence, resource names. ``validate()`` returns every problem
  (the first one is the one Everest reports) plus, marked ``everest=False``, hazards Everest does not detect at
  validation time: malformed glob patterns. Everest loads such a policy, but doublestar returns ``ErrBadPattern``
  when a request is matched against the pattern and casbin's ``globMatch`` passes that error up, so such a request
  gets an error instead of an answer (from casbin's and doublestar's source; reference §5.10 only lists the glob syntax).
  ``blocking_problems()`` tells which problems must stop a write: every Everest problem, and hazards only in the
  blocks being written.
* Evaluator (reference §5.4, §5.7, §5.10): request ``(subject, resource, action, object)``; a rule matches when the
  request subject is, or transitively (at most 10 hops, casbin's default role manager) belongs to, the rule's
  subject, and resource, action and object match the rule's values as doublestar v4 patterns (``glob_match`` is a
  port of ``doublestar.Match``; pycasbin's ``globMatch`` is wrong for this). The first matching rule in policy
  order is returned.
* Managed blocks: lines between ``# BEGIN virakcloud.everest <block>`` and ``# END virakcloud.everest <block>``
  belong to that block; everything else is preserved byte for byte (``apply_blocks``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _validation

MAX_HIERARCHY_LEVEL = 10  # casbin default role manager

BLOCK_PREFIX = "virakcloud.everest"
BEGIN_MARK = "# BEGIN %s " % BLOCK_PREFIX
END_MARK = "# END %s " % BLOCK_PREFIX
# The first line of a tenant's block names its owner (a comment: Everest skips it), e.g. "# tenant=acme namespace=ns-acme".
BLOCK_META_RE = re.compile(r"# tenant=([A-Za-z0-9][-A-Za-z0-9_.]{0,62}) namespace=([a-z][-a-z0-9]{0,62})\Z")
# A tenant's block may declare members it shares on purpose with other tenants (an IdP group two customers both use),
# one comment line each, e.g. "# sso-shared /corp/dba-oncall". The isolation proof accepts a member reaching another
# tenant's namespace only through that tenant's own role, and only when both blocks bind it and declare it shared.
SHARED_META_PREFIX = "# sso-shared "
SHARED_META_RE = re.compile(r"# sso-shared (\S+)\Z")
# A tenant's block marks which of its members are IdP groups (a group's g line looks like a subject's), one comment
# line each, e.g. "# sso-group /corp/dba": what counts the tenant's database users (max_db_users) leaves them out.
GROUP_META_PREFIX = "# sso-group "
GROUP_META_RE = re.compile(r"# sso-group (\S+)\Z")


class PolicyError(Exception):
    """A problem found in a policy text.

    ``line`` is the 1-based line number in the text (None for implicit rules), ``rule`` a short identifier of the
    check, ``message`` Everest's own detail text, ``text`` the offending line, ``everest`` whether Everest's own
    validation reports it (False: a hazard that Everest only hits later, at enforce time).
    """

    def __init__(self, rule, message, line=None, text=None, everest=True):
        super(PolicyError, self).__init__(message)
        self.rule = rule
        self.message = message
        self.line = line
        self.text = text
        self.everest = everest

    def as_dict(self):
        return {"rule": self.rule, "message": self.message, "line": self.line, "text": self.text, "everest": self.everest}

    def __str__(self):
        where = "line %d: " % self.line if self.line else ""
        return "%s%s (%s)" % (where, self.message, self.rule)


class BadPattern(ValueError):
    """doublestar.ErrBadPattern: a malformed glob pattern."""


class BlockError(ValueError):
    """The managed-block markers in a policy text are inconsistent; editing would be unsafe."""


class ItemError(ValueError):
    """A user-supplied policy item cannot be rendered safely."""


# ---------------------------------------------------------------------------------------------------------------
# Go encoding/csv, one record, Comma=',', TrimLeadingSpace=true, LazyQuotes=false (reference §5.3)

_GO_ASCII_SPACE = frozenset("\t\n\v\f\r \x85\xa0")


def _go_isspace(ch):
    """Go's unicode.IsSpace."""
    if ord(ch) <= 0xFF:
        return ch in _GO_ASCII_SPACE
    return ch.isspace()


class CsvError(ValueError):
    pass


def _go_csv_record(line):
    """Parse ``line`` (no ``\\n`` inside) as Go's csv.Reader.Read would; returns a list of fields.

    Raises CsvError with Go's error text. An input that yields no record (Go returns io.EOF) raises
    CsvError('EOF').
    """
    # readLine: a trailing \r before EOF is dropped; an empty line is skipped (-> no record -> EOF)
    if line.endswith("\r"):
        line = line[:-1]
    if line == "":
        raise CsvError("EOF")
    if line.startswith("#"):  # Comment = '#'; never reached for Everest (it skips '#' lines itself)
        raise CsvError("EOF")
    fields = []
    pos = 0
    n = len(line)
    while True:
        while pos < n and _go_isspace(line[pos]):
            pos += 1
        if pos >= n or line[pos] != '"':
            end = line.find(",", pos)
            field = line[pos:] if end < 0 else line[pos:end]
            quote = field.find('"')
            if quote >= 0:
                raise CsvError('parse error on line 1, column %d: bare " in non-quoted-field' % (_col(line, pos + quote)))
            fields.append(field)
            if end < 0:
                return fields
            pos = end + 1
            continue
        # quoted field
        pos += 1
        buf = []
        while True:
            quote = line.find('"', pos)
            if quote < 0:
                raise CsvError('parse error on line 1, column %d: extraneous or missing " in quoted-field' % _col(line, n))
            buf.append(line[pos:quote])
            pos = quote + 1
            if pos < n and line[pos] == '"':
                buf.append('"')
                pos += 1
                continue
            if pos >= n:
                fields.append("".join(buf))
                return fields
            if line[pos] == ",":
                fields.append("".join(buf))
                pos += 1
                break
            raise CsvError('parse error on line 1, column %d: extraneous or missing " in quoted-field' % _col(line, pos - 1))


def _col(line, index):
    """Go's 1-based byte column of ``line[index]``."""
    return len(line[:index].encode("utf-8")) + 1


def _go_list(values):
    """Go's %v of a []string."""
    return "[" + " ".join(values) + "]"


# ---------------------------------------------------------------------------------------------------------------
# Policy model


class Rule:
    """One loaded ``p`` or ``g`` rule. ``values`` excludes the leading ``p``/``g``; ``line`` is 1-based or None."""

    __slots__ = ("ptype", "values", "line", "text", "implicit")

    def __init__(self, ptype, values, line=None, text=None, implicit=False):
        self.ptype = ptype
        self.values = tuple(values)
        self.line = line
        self.text = text
        self.implicit = implicit

    def render(self):
        return ", ".join((self.ptype,) + self.values)

    def as_dict(self):
        result = {"ptype": self.ptype, "line": self.line, "text": self.render(), "implicit": self.implicit}
        if self.ptype == "p":
            result.update(subject=self.values[0], resource=self.values[1], action=self.values[2], object=self.values[3])
        return result

    def __repr__(self):
        return "Rule(%r, line=%r)" % (self.render(), self.line)


class Policy:
    """A parsed policy: ``p_rules``/``g_rules`` (file order, duplicates dropped) and load ``errors``."""

    def __init__(self, text, p_rules, g_rules, errors):
        self.text = text
        self.p_rules = p_rules
        self.g_rules = g_rules
        self.errors = errors

    @property
    def ok(self):
        return not self.errors


def implicit_admin_rules():
    """reference §5.6: role:admin, <resource>, *, */* (namespaced) or * (global), for each of the 13 resources."""
    rules = []
    for name in sorted(_constants.RBAC_RESOURCES):
        obj = "*" if _constants.RBAC_RESOURCES[name] == _constants.RBAC_GLOBAL else "*/*"
        rules.append(Rule("p", (_constants.RBAC_ADMIN_ROLE, name, "*", obj), implicit=True))
    return rules


def parse_policy(text):
    """Parse a policy text exactly as Everest loads it (reference §5.3). Returns a Policy; never raises.

    Every load problem is recorded (Everest stops at the first one: ``policy.errors[0]``).
    """
    if text is None:
        text = ""
    p_rules, g_rules, errors = [], [], []
    seen = {"p": set(), "g": set()}
    for number, line in enumerate(text.split("\n"), 1):
        if line == "" or line.startswith("#"):
            continue
        try:
            tokens = _go_csv_record(line)
        except CsvError as exc:
            errors.append(PolicyError("csv", str(exc), line=number, text=line))
            continue
        if len(tokens) < 2 or tokens[0] not in ("p", "g"):
            errors.append(PolicyError("line", "invalid policy line '%s'" % line, line=number, text=line))
            continue
        ptype, values = tokens[0], tokens[1:]
        if (ptype == "p" and len(values) != 4) or (ptype == "g" and len(values) < 2):
            errors.append(
                PolicyError(
                    "rule_size",
                    "invalid policy rule size: expected %d, got %d, rule: %s" % (4 if ptype == "p" else 2, len(values), _go_list(values)),
                    line=number,
                    text=line,
                )
            )
            continue
        key = ",".join(values)  # casbin's PolicyMap key (DefaultSep ",")
        if key in seen[ptype]:
            continue
        seen[ptype].add(key)
        (p_rules if ptype == "p" else g_rules).append(Rule(ptype, values, line=number, text=line))
    return Policy(text, p_rules, g_rules, errors)


def term_ok(term):
    return _validation.RBAC_TERM_RE.fullmatch(term) is not None


def _all_p_rules(policy):
    keys = set(",".join(rule.values) for rule in policy.p_rules)
    rules = list(policy.p_rules)
    for rule in implicit_admin_rules():
        if ",".join(rule.values) not in keys:
            rules.append(rule)
    return rules


def roles_of(policy):
    """casbin GetAllRoles(): the second value of every g rule."""
    return set(rule.values[1] for rule in policy.g_rules)


def validate(policy, strict=True):
    """Validate a Policy (or text) like Everest (reference §5.6). Returns a list of PolicyError, Everest's first.

    Load errors are returned alone (Everest never gets further). Otherwise the three passes run in Everest's order
    over all p rules (file rules first, then the implicit admin rules) and every failure is listed. With ``strict``
    problems that Everest accepts but that break enforcement are appended with ``everest=False``.
    """
    if not isinstance(policy, Policy):
        policy = parse_policy(policy)
    if policy.errors:
        return list(policy.errors)
    errors = []
    rules = _all_p_rules(policy)
    for rule in rules:
        for term in rule.values:
            if not term_ok(term):
                errors.append(PolicyError("term", "invalid policy term '%s'" % term, line=rule.line, text=rule.text))
                break
    roles = roles_of(policy)
    for rule in rules:
        subject = rule.values[0]
        if subject.startswith(_constants.RBAC_ROLE_PREFIX) and subject != _constants.RBAC_ADMIN_ROLE and subject not in roles:
            errors.append(PolicyError("role", "role '%s' does not exist" % subject, line=rule.line, text=rule.text))
    for rule in rules:
        resource = rule.values[1]
        if resource != "*" and resource not in _constants.RBAC_RESOURCES:
            errors.append(PolicyError("resource", "unknown resource name '%s'" % resource, line=rule.line, text=rule.text))
    if strict:
        for rule in rules:
            for term in rule.values[1:]:
                if not validate_pattern(term):
                    errors.append(PolicyError("glob", GLOB_HAZARD % term, line=rule.line, text=rule.text, everest=False))
                    break
    return errors


GLOB_HAZARD = (
    "malformed glob pattern '%s': Everest's validation accepts it, but a request matched against this rule gets an "
    "error from Everest instead of an answer (doublestar ErrBadPattern, passed up by casbin's globMatch)"
)


def blocking_problems(errors, text, blocks):
    """The problems of ``validate(text)`` that must stop a write of the blocks named in ``blocks``.

    Every Everest problem blocks, wherever it is (Everest would reject the policy). A hazard (``everest=False``)
    blocks only when its line is inside one of ``blocks``: a malformed pattern in a foreign line or in another
    block does not stop an unrelated edit (Everest accepts it; the caller reports it as a warning).
    """
    blocks = set(blocks)
    owner = line_blocks(text) if any(not e.everest for e in errors) else {}
    return [e for e in errors if e.everest or (e.line is not None and owner.get(e.line) in blocks)]


def validate_output(errors):
    """``(rc, stdout)`` of ``everestctl settings rbac validate`` for these problems (reference §5.8)."""
    text = everest_error_text(errors)
    if text is None:
        return 0, "\u2705 Valid\n\n"
    return 1, "\u274c Invalid\n" + text.replace("\n", " - ") + "\n"


def everest_error_text(errors, command="validate"):
    """The text everestctl prints for the first error (reference §5.6, §5.8); None when there is none."""
    errors = [e for e in errors if e.everest]
    if not errors:
        return None
    first = errors[0]
    load = first.rule in ("csv", "line", "rule_size")
    if command == "validate":
        return "policy syntax error - " + ("" if load else "policy syntax error - ") + first.message
    return first.message if load else "policy syntax error\n" + first.message


# ---------------------------------------------------------------------------------------------------------------
# doublestar v4 Match (github.com/bmatcuk/doublestar/v4 match.go), separator '/', validate=true.


def _rune(s, i):
    if i < len(s):
        return s[i], 1
    return "\ufffd", 0


def validate_pattern(s):
    """doublestar.ValidatePattern."""
    alt_depth = 0
    n = len(s)
    i = 0
    while i < n:
        c = s[i]
        if c == "\\":
            i += 1
            if i >= n:
                return False
        elif c == "[":
            i += 1
            if i >= n:
                return False
            if s[i] in "^!":
                i += 1
            if i >= n or s[i] == "]":
                return False
            closed = False
            while i < n:
                if s[i] == "\\":
                    i += 1
                elif s[i] == "]":
                    closed = True
                    break
                i += 1
            if not closed:
                return False
        elif c == "{":
            alt_depth += 1
        elif c == "}":
            if alt_depth == 0:
                return False
            alt_depth -= 1
        i += 1
    return alt_depth == 0


def _index_unescaped(s, c):
    i, n = 0, len(s)
    while i < n:
        if s[i] == "\\":
            i += 1
        elif s[i] == c:
            return i
        i += 1
    return -1


def _index_alt(s, comma):
    """In the text after a ``{``: doublestar's indexMatchedClosingAlt (``comma`` false: the index of the ``}`` closing it)
    or indexNextAlt (``comma`` true: the index of the next ``,`` at its own level, character classes skipped); -1 if none."""
    alts, i, n = 1, 0, len(s)
    while i < n:
        if s[i] == "\\":
            i += 1
        elif s[i] == "[" and comma:
            i += 1
            while i < n:
                if s[i] == "\\":
                    i += 1
                elif s[i] == "]":
                    break
                i += 1
        elif s[i] == "{":
            alts += 1
        elif s[i] == "}":
            alts -= 1
            if alts == 0 and not comma:
                return i
        elif s[i] == "," and comma and alts == 1:
            return i
        i += 1
    return -1


def _index_matched_closing_alt(s):
    return _index_alt(s, comma=False)


def _index_next_alt(s):
    return _index_alt(s, comma=True)


def _is_zero_length(pattern):
    if pattern in ("", "*", "**", "/**", "**/", "/**/"):
        return True
    if pattern[0] == "{":
        closing = _index_matched_closing_alt(pattern[1:])
        if closing == -1:
            raise BadPattern(pattern)
        closing += 1
        pat = 1
        while True:
            comma = _index_next_alt(pattern[pat:closing])
            if comma == -1:
                break
            comma += pat
            if _is_zero_length(pattern[pat:comma] + pattern[closing + 1 :]):
                return True
            pat = comma + 1
        return _is_zero_length(pattern[pat:closing] + pattern[closing + 1 :])
    if not validate_pattern(pattern):
        raise BadPattern(pattern)
    return False


def glob_match(pattern, name):
    """doublestar v4 ``Match(pattern, name)``: True/False, BadPattern for a malformed pattern it reaches."""
    return _match(pattern, name, -1, -1, -1, -1, 0, 0)


def _match(pattern, name, ds_pat, ds_name, star_pat, star_name, pat, nam):  # noqa: C901 (a faithful port)
    # pylint: disable=too-many-branches,too-many-statements
    pat_len, name_len = len(pattern), len(name)
    start_of_segment = True
    while nam < name_len:
        if pat < pat_len:
            c = pattern[pat]
            if c == "*":
                pat += 1
                if pat < pat_len and pattern[pat] == "*":
                    pat += 1
                    if start_of_segment:
                        if pat >= pat_len:
                            return True
                        if pattern[pat] == "/":
                            pat += 1
                            ds_pat, ds_name = pat, nam
                            star_pat, star_name = -1, -1
                            continue
                start_of_segment = False
                star_pat, star_name = pat, nam
                continue
            elif c == "?":
                start_of_segment = False
                if name[nam] != "/":
                    pat += 1
                    nam += 1
                    continue
            elif c == "[":
                start_of_segment = False
                pat += 1
                if pat >= pat_len:
                    raise BadPattern(pattern)
                name_rune = name[nam]
                matched = False
                negate = pattern[pat] in "!^"
                if negate:
                    pat += 1
                if pat >= pat_len or pattern[pat] == "]":
                    raise BadPattern(pattern)
                last = None
                while pat < pat_len and pattern[pat] != "]":
                    pat_rune, size = _rune(pattern, pat)
                    pat += size
                    if last is not None and pat_rune == "-" and pat < pat_len and pattern[pat] != "]":
                        if pattern[pat] == "\\":
                            pat += 1
                        pat_rune, size = _rune(pattern, pat)
                        pat += size
                        if last <= name_rune <= pat_rune:
                            matched = True
                            break
                        last = None
                        continue
                    if pat_rune == "\\":
                        pat_rune, size = _rune(pattern, pat)
                        pat += size
                    if pat_rune == name_rune:
                        matched = True
                        break
                    last = pat_rune
                if matched == negate:
                    if pat >= pat_len:
                        raise BadPattern(pattern)
                else:
                    closing = _index_unescaped(pattern[pat:], "]")
                    if closing == -1:
                        raise BadPattern(pattern)
                    pat += closing + 1
                    nam += 1
                    continue
            elif c == "{":
                start_of_segment = False
                before = pat
                pat += 1
                closing = _index_matched_closing_alt(pattern[pat:])
                if closing == -1:
                    raise BadPattern(pattern)
                closing += pat
                while True:
                    comma = _index_next_alt(pattern[pat:closing])
                    if comma == -1:
                        break
                    comma += pat
                    if _match(pattern[:before] + pattern[pat:comma] + pattern[closing + 1 :], name, ds_pat, ds_name, star_pat, star_name, before, nam):
                        return True
                    pat = comma + 1
                return _match(pattern[:before] + pattern[pat:closing] + pattern[closing + 1 :], name, ds_pat, ds_name, star_pat, star_name, before, nam)
            else:
                if c == "\\":
                    pat += 1
                    if pat >= pat_len:
                        raise BadPattern(pattern)
                pat_rune = pattern[pat]
                if pat_rune == name[nam]:
                    pat += 1
                    nam += 1
                    start_of_segment = pat_rune == "/"
                    continue
                if pat > 0 and pattern[pat - 1] == "\\":
                    pat -= 1
        # no match at this position: backtrack
        if star_pat >= 0:
            name_rune, size = _rune(name, star_name)
            if name_rune != "/":
                star_name += size
                pat, nam = star_pat, star_name
                start_of_segment = False
                continue
        if ds_pat >= 0:
            nam = ds_name
            restarted = False
            while nam < name_len:
                name_rune = name[nam]
                nam += 1
                if name_rune == "/":
                    ds_name = nam
                    pat = ds_pat
                    start_of_segment = True
                    restarted = True
                    break
            if restarted:
                continue
        if pat < pat_len and not validate_pattern(pattern[pat:]):
            raise BadPattern(pattern)
        return False
    return _is_zero_length(pattern[pat:])


# ---------------------------------------------------------------------------------------------------------------
# Evaluator

# Characters that make a doublestar pattern more than a literal (``\\`` escapes one).
GLOB_METACHARS = ("*", "?", "[", "{", "\\")


def can_object(resource, obj):
    """reference §5.7: ``*``/``all`` means "every object": ``/`` for namespaced resources, ``""`` for global ones."""
    if obj in ("*", "all"):
        return "" if resource in _constants.RBAC_GLOBAL_RESOURCES else "/"
    return obj


class Enforcer:
    """Everest's enforcer over a Policy (or text). Raises ValueError when the policy is invalid (like everestctl can).

    ``can(subject, action, resource, object)`` -> the first matching Rule or None (reference §5.7 object rewriting applied).
    ``enforce(subject, resource, action, object)`` -> the same without rewriting (the raw casbin request).
    """

    def __init__(self, policy, check=True):
        if not isinstance(policy, Policy):
            policy = parse_policy(policy)
        if check:
            errors = [e for e in validate(policy, strict=False) if e.everest]
            if errors:
                raise ValueError(everest_error_text(errors, command="can"))
        self.policy = policy
        self.rules = _all_p_rules(policy)
        self._links = {}
        for rule in policy.g_rules:
            self._links.setdefault(rule.values[0], []).append(rule.values[1])
        self._by_subject = {}
        for index, rule in enumerate(self.rules):
            self._by_subject.setdefault(rule.values[0], []).append(index)
        self._closure_cache = {}
        self._glob_cache = {}

    def subjects_of(self, subject):
        """Every name the subject is linked to (itself included), within casbin's 10-level hierarchy limit."""
        cached = self._closure_cache.get(subject)
        if cached is not None:
            return cached
        seen = {subject}
        frontier = [subject]
        for _level in range(MAX_HIERARCHY_LEVEL):
            nxt = []
            for name in frontier:
                for role in self._links.get(name, ()):
                    if role not in seen:
                        seen.add(role)
                        nxt.append(role)
            if not nxt:
                break
            frontier = nxt
        result = frozenset(seen)
        self._closure_cache[subject] = result
        return result

    def literal_scopes(self, subject):
        """The namespaces (first object segment) the subject's rules can match at all, or None when one of its rules has
        a pattern there (then any namespace may match). A namespace outside this set gets "deny" for every resource
        and action without evaluating anything: rules are allow-only and a literal first segment only matches
        itself. This is what makes an N x N isolation matrix linear in N."""
        scopes = set()
        for name in self.subjects_of(subject):
            for index in self._by_subject.get(name, ()):
                head = self.rules[index].values[3].split("/", 1)[0]
                if any(char in head for char in GLOB_METACHARS):
                    return None
                scopes.add(head)
        return frozenset(scopes)

    def _glob(self, pattern, value):
        key = (pattern, value)
        result = self._glob_cache.get(key)
        if result is None:
            result = glob_match(pattern, value)
            self._glob_cache[key] = result
        return result

    def enforce(self, subject, resource, action, obj):
        indexes = []
        for name in self.subjects_of(subject):
            indexes.extend(self._by_subject.get(name, ()))
        for index in sorted(indexes):
            rule = self.rules[index]
            _sub, res, act, pobj = rule.values
            if self._glob(res, resource) and self._glob(act, action) and self._glob(pobj, obj):
                return rule
        return None

    def can(self, subject, action, resource, obj):
        if action not in _constants.RBAC_ACTIONS:
            raise ValueError("invalid action '%s'. Supported actions: create,read,update,delete,*" % action)
        return self.enforce(subject, resource, action, can_object(resource, obj))


# ---------------------------------------------------------------------------------------------------------------
# User items -> policy lines (injection-safe)

ITEM_FIELDS_P = ("subject", "resource", "action", "object")
ITEM_FIELDS_G = ("user", "role")


def check_term(value, what):
    """Why a user-supplied field cannot go into a policy line, or None.

    Stricter than Everest: the field must match the term rule (``_validation.RBAC_TERM_RE``: no white space, no newline,
    no ``#``, no quotes of any kind), and additionally ``,`` and ``"`` are refused explicitly although its ``*-_`` range admits
    ``,``: a comma would end the CSV field and smuggle in another value (or, in a ``g`` line, another role) and a
    double quote would open a quoted CSV field; neither can be represented in a rendered line without quoting.
    """
    if not isinstance(value, str):
        return "%s must be a string, got %s" % (what, type(value).__name__)
    if value == "":
        return "%s is empty" % what
    for char, name in (("\n", "a newline"), ("\r", "a carriage return"), (",", "a comma"), ('"', "a double quote")):
        if char in value:
            return "%s %r contains %s, which could split or inject policy lines" % (what, value, name)
    if value.startswith("#"):
        return "%s %r starts with '#', which would turn the line into a comment" % (what, value)
    if not term_ok(value):
        bad = sorted(set(ch for ch in value if not _validation.RBAC_TERM_RE.fullmatch(ch)))
        return "%s %r contains characters Everest does not accept in a policy term (%s); allowed: letters, digits and %s" % (
            what,
            value,
            " ".join(repr(ch) for ch in bad),
            "* + - . / : ; < = > ? @ [ \\ ] ^ _",
        )
    return None


def check_item(item):
    """Problems of one ``policies`` item (str line, dict p item or dict g item) as a list of texts (empty: fine)."""
    try:
        render_line(item)
    except ItemError as exc:
        return [str(exc)]
    return []


def _split_line(line):
    if not isinstance(line, str):
        raise ItemError("policy item must be a string or a dict, got %s" % type(line).__name__)
    for char, name in (("\n", "a newline"), ("\r", "a carriage return"), ('"', "a double quote")):
        if char in line:
            raise ItemError("policy line %r contains %s; write one rule per item, without quotes" % (line, name))
    stripped = line.strip()
    if stripped.startswith("#") or not stripped:
        raise ItemError("policy line %r is empty or a comment; only p and g lines are managed" % line)
    return [field.strip() for field in stripped.split(",")]


def render_line(item):
    """Canonical text of a policy item: ``p, sub, res, act, obj`` or ``g, user, role``. Raises ItemError."""
    if isinstance(item, dict):
        keys = set(k for k, v in item.items() if v is not None)
        if keys == set(ITEM_FIELDS_P):
            fields, ptype, names = [item[k] for k in ITEM_FIELDS_P], "p", ITEM_FIELDS_P
        elif keys == set(ITEM_FIELDS_G):
            fields, ptype, names = [item[k] for k in ITEM_FIELDS_G], "g", ITEM_FIELDS_G
        else:
            raise ItemError("policy item %r must have exactly the keys subject, resource, action, object (a p rule) or user, role (a g rule)" % (item,))
    else:
        parts = _split_line(item)
        ptype, fields = parts[0], parts[1:]
        if ptype == "p":
            names = ITEM_FIELDS_P
        elif ptype == "g":
            names = ITEM_FIELDS_G
        else:
            raise ItemError("policy line %r must start with 'p' or 'g'" % item)
        if len(fields) != len(names):
            raise ItemError("policy line %r: a %s line needs exactly %d values (%s), got %d" % (item, ptype, len(names), ", ".join(names), len(fields)))
    for value, what in zip(fields, names):
        problem = check_term(value, what)
        if problem:
            raise ItemError(problem)
    return ", ".join([ptype] + list(fields))


# ---------------------------------------------------------------------------------------------------------------
# Managed blocks


def check_block_name(name):
    if not isinstance(name, str) or not _validation.RBAC_BLOCK_NAME_RE.fullmatch(name):
        return "block name %r is not usable: 1-253 characters, letters, digits and . _ : @ + / -, starting with a letter or digit" % (name,)
    return None


def _marker(line):
    """('begin'|'end', name) when the line is one of our markers, else None. A trailing \\r is tolerated."""
    body = line[:-1] if line.endswith("\n") else line
    if body.endswith("\r"):
        body = body[:-1]
    if body.startswith(BEGIN_MARK):
        return "begin", body[len(BEGIN_MARK) :]
    if body.startswith(END_MARK):
        return "end", body[len(END_MARK) :]
    return None


_LINE_RE = re.compile(r"[^\n]*\n|[^\n]+\Z")


def _lines_keepends(text):
    """Lines split on \\n only (str.splitlines also splits on \\r, \\x0b, ... which Everest does not)."""
    return _LINE_RE.findall(text)


def _segments(text):
    """Split text into ('text', chunk) and ('block', name, content_lines, raw) segments. Raises BlockError."""
    segments = []
    current = None
    chunk = []
    found = set()
    for number, line in enumerate(_lines_keepends(text), 1):
        marker = _marker(line)
        if current is None:
            if marker is None:
                chunk.append(line)
            elif marker[0] == "begin":
                if marker[1] in found:
                    raise BlockError("line %d: block '%s' appears twice in the policy; fix the policy by hand" % (number, marker[1]))
                if chunk:
                    segments.append(("text", "".join(chunk)))
                    chunk = []
                current = (marker[1], [line], [])
            else:
                raise BlockError("line %d: '# END %s %s' without a matching BEGIN; fix the policy by hand" % (number, BLOCK_PREFIX, marker[1]))
        else:
            name, raw, content = current
            raw.append(line)
            if marker is None:
                content.append(line)
            elif marker[0] == "end" and marker[1] == name:
                segments.append(("block", name, content, "".join(raw)))
                found.add(name)
                current = None
            else:
                raise BlockError("line %d: block '%s' is not closed before another marker; fix the policy by hand" % (number, name))
    if current is not None:
        raise BlockError("block '%s' has no '# END %s %s' line; fix the policy by hand" % (current[0], BLOCK_PREFIX, current[0]))
    if chunk:
        segments.append(("text", "".join(chunk)))
    return segments


def line_blocks(text):
    """{1-based line number (text split on \\n): block name} for every line inside a managed block, markers included."""
    owner = {}
    current = None
    for number, line in enumerate((text or "").split("\n"), 1):
        marker = _marker(line)
        if marker and marker[0] == "begin":
            current = marker[1]
        if current is not None:
            owner[number] = current
        if marker and marker[0] == "end":
            current = None
    return owner


def get_blocks(text):
    """{name: [content lines without line ends]} of every managed block in ``text``. Raises BlockError."""
    result = {}
    for segment in _segments(text or ""):
        if segment[0] == "block":
            result[segment[1]] = [line.rstrip("\n").rstrip("\r") for line in segment[2]]
    return result


def block_meta_line(tenant, namespace):
    """The metadata line that makes a block a tenant's (its first line)."""
    return "# tenant=%s namespace=%s" % (tenant, namespace)


def block_meta(lines):
    """(tenant, namespace) from a block's metadata line, or (None, None) for a block without one."""
    for line in lines or []:
        match = BLOCK_META_RE.match(line.strip())
        if match:
            return match.group(1), match.group(2)
    return None, None


def shared_meta_line(name):
    """The comment line declaring ``name`` a member the block shares on purpose with other tenants' blocks."""
    return SHARED_META_PREFIX + name


def tenant_block_lines(tenant, namespace, lines, shared=(), groups=()):
    """A tenant's block as written: its metadata line, one line per member shared on purpose, one per member that is
    an IdP group, then the policy lines (everest_rbac_policy writes it, everest_rbac_check overlays it)."""
    meta = [block_meta_line(tenant, namespace)] + [shared_meta_line(n) for n in shared or ()]
    return meta + [group_meta_line(n) for n in groups or ()] + list(lines)


def group_meta_line(name):
    """The comment line marking ``name``, a member of the block, as an IdP group (not a user or subject)."""
    return GROUP_META_PREFIX + name


def _meta_names(lines, pattern):
    out = []
    for line in lines or []:
        match = pattern.match(line.strip())
        if match and match.group(1) not in out:
            out.append(match.group(1))
    return out


def block_shared(lines):
    """The members a block declares shared (its ``# sso-shared <name>`` lines), in order, without duplicates."""
    return _meta_names(lines, SHARED_META_RE)


def block_groups(lines):
    """The members a block marks as IdP groups (its ``# sso-group <name>`` lines), in order, without duplicates."""
    return _meta_names(lines, GROUP_META_RE)


def block_members(lines):
    """The members of the ``g`` lines of a block (users, SSO subjects or groups it binds), in order, without duplicates."""
    members = []
    for line in lines or []:
        stripped = line.strip()
        if not stripped.startswith("g") or stripped.startswith("#"):
            continue
        try:
            fields = [f.strip() for f in _go_csv_record(stripped)]
        except CsvError:
            continue
        if len(fields) >= 3 and fields[0] == "g" and fields[1] not in members:
            members.append(fields[1])
    return members


def render_block(name, lines):
    return "".join([BEGIN_MARK + name + "\n"] + [line + "\n" for line in lines] + [END_MARK + name + "\n"])


def apply_blocks(text, changes):
    """Return ``text`` with managed blocks changed: ``changes`` maps block name -> list of lines (present) or None
    (absent). Existing blocks are replaced in place, new ones appended in ``changes`` order; text outside blocks is
    kept byte for byte (a final newline is added to it only if a new block must follow a last line without one).
    """
    text = text or ""
    for name in changes:
        problem = check_block_name(name)
        if problem:
            raise BlockError(problem)
    out = []
    done = set()
    for segment in _segments(text):
        if segment[0] == "text":
            out.append(segment[1])
            continue
        name = segment[1]
        if name not in changes:
            out.append(segment[3])
        else:
            done.add(name)
            if changes[name] is not None:
                out.append(render_block(name, changes[name]))
    result = "".join(out)
    for name, lines in changes.items():
        if name in done or lines is None:
            continue
        if result and not result.endswith("\n"):
            result += "\n"
        result += render_block(name, lines)
    return result


# ---------------------------------------------------------------------------------------------------------------
# Tenant blocks: the escalation guard and the cross-tenant isolation proof


def _known_action(action):
    """Whether a ``p`` action names (or, as a pattern, matches) at least one of Everest's actions."""
    if action in _constants.RBAC_ACTIONS:
        return True
    try:
        return any(glob_match(action, known) for known in _constants.RBAC_ACTIONS if known != "*")
    except BadPattern:
        return False


def unknown_action_problem(line, action):
    """Why ``line`` grants nothing because ``action`` matches none of Everest's actions, or None."""
    if _known_action(action):
        return None
    return "%r names action %r, which matches none of Everest's actions (%s); it would grant nothing (set allow_unknown_actions to write it anyway)" % (
        line,
        action,
        ", ".join(_constants.RBAC_ACTIONS),
    )


def tenant_scope_problems(lines, role, namespace, members=None, allow_unknown_actions=False):
    """Why the lines of a tenant's block would reach beyond the tenant (a list of texts; empty: they stay inside).

    * ``p`` subjects are the tenant's own roles: ``role`` itself or ``<role>:<name>`` (a ``:`` cannot occur in a
      namespace, so no other tenant's role can look like one of these); never ``role:admin`` or another tenant's role;
    * resources are Everest's (or ``*``) and actions are Everest's (or patterns matching one), unless
      ``allow_unknown_actions`` (an unknown action grants nothing, but is almost always a typo);
    * objects lie inside the tenant's namespace: ``<namespace>/...`` for namespaced resources, exactly ``<namespace>``
      for the global resource ``namespaces``; other global resources are shared by every tenant and refused;
    * ``g`` lines bind members to the tenant's own roles only, never a role (``role:...``) as member, and, when
      ``members`` is given, only those members (the tenant's own users and SSO identities).
    """

    def own(name):
        return name == role or name.startswith(role + ":")

    problems = []
    for line in lines:
        if not line.strip() or line.strip().startswith("#"):
            continue
        try:
            fields = [f.strip() for f in _go_csv_record(line.strip())]
        except CsvError as exc:
            problems.append("%r is not a policy line (%s)" % (line, exc))
            continue
        ptype, values = fields[0], fields[1:]
        if ptype == "g" and len(values) >= 2:
            member, target = values[0], values[1]
            if not own(target):
                problems.append("%r binds %r to %s; a tenant's lines may bind only to its own roles (%s or %s:<name>)" % (line, member, target, role, role))
            elif member.startswith(_constants.RBAC_ROLE_PREFIX):
                problems.append("%r makes role %s a member of %s; a tenant's role may not be granted to another role" % (line, member, role))
            elif members is not None and member not in members:
                problems.append("%r binds %r, which is not one of this tenant's users or SSO identities (%s)" % (line, member, ", ".join(members) or "none"))
            continue
        if ptype != "p" or len(values) != 4:
            problems.append("%r is not a p or g line" % line)
            continue
        subject, resource, action, obj = values
        if not own(subject):
            problems.append("%r grants to %s; a tenant's p lines may grant only to its own roles (%s or %s:<name>)" % (line, subject, role, role))
        if resource != "*" and resource not in _constants.RBAC_RESOURCES:
            problems.append("%r names resource %r, which Everest does not know" % (line, resource))
        if not allow_unknown_actions and not _known_action(action):
            problems.append(unknown_action_problem(line, action))
        if resource in _constants.RBAC_GLOBAL_RESOURCES:
            if resource != "namespaces" or obj != namespace:
                problems.append(
                    "%r: global resource %s is shared by every tenant; a tenant may only be granted "
                    "'namespaces' on its own namespace %r" % (line, resource, namespace)
                )
        elif not obj.startswith(namespace + "/"):
            problems.append("%r: object %r is outside the tenant's namespace; use %s/<name> or %s/*" % (line, obj, namespace, namespace))
    return problems


def tenant_blocks(text):
    """{tenant: (namespace, members, block name)} of every block carrying a metadata line (see ``block_meta``)."""
    out = {}
    for name, lines in get_blocks(text).items():
        tenant, namespace = block_meta(lines)
        if tenant:
            out[tenant] = (namespace, block_members(lines), name)
    return out


def _glob_or_false(pattern, value):
    try:
        return glob_match(pattern, value)
    except BadPattern:
        return False  # Everest answers such a request with an error, not a grant


def _reaches(resource, pattern, namespace):
    """Whether object ``pattern`` of a rule on ``resource`` can match some object of ``namespace`` (conservative: a
    namespaced pattern whose first segment matches the namespace counts, whatever the rest of it)."""
    if resource in _constants.RBAC_GLOBAL_RESOURCES:
        return _glob_or_false(pattern, namespace)
    head = pattern.split("/", 1)[0]
    if head == "**":
        return True
    return "/" in pattern and _glob_or_false(head, namespace)


def isolation_violations(text, resources, actions, limit=50):
    """Cross-tenant grants in a policy text: [{tenant, member, target_tenant, target_namespace, resource, action,
    object, rule, rule_line}] where a member of one tenant's block may act on some object of another tenant's namespace.

    Over EVERY tenant block of the text (not only those of a run), rule by rule: each ``p`` rule a member reaches (its
    own, its roles', transitively, the implicit admin rules included) is matched against the other tenants'
    namespaces; a rule whose object starts with a literal namespace is only compared with that one, so the proof stays
    linear in the number of tenants. Raises ValueError for a policy Everest would refuse (validate it first)."""
    tenants = tenant_blocks(text)
    if len(tenants) < 2:
        return []
    enforcer = Enforcer(text)
    owner_of_ns = dict((ns, tenant) for tenant, (ns, _m, _b) in tenants.items())
    blocks = get_blocks(text)
    shared = dict((tenant, set(block_shared(blocks.get(block)))) for tenant, (_ns, _m, block) in tenants.items())
    members_of = dict((tenant, set(members)) for tenant, (_ns, members, _b) in tenants.items())
    found = []
    seen = set()
    for tenant, (own_ns, members, _block) in sorted(tenants.items()):
        for member in members:
            for name in sorted(enforcer.subjects_of(member)):
                for index in enforcer._by_subject.get(name, ()):  # pylint: disable=protected-access
                    rule = enforcer.rules[index]
                    _subject, res_pattern, act_pattern, obj_pattern = rule.values
                    hit_resources = [r for r in resources if _glob_or_false(res_pattern, r)]
                    hit_actions = [a for a in actions if _glob_or_false(act_pattern, a)]
                    if not hit_resources or not hit_actions:
                        continue
                    head = obj_pattern.split("/", 1)[0]
                    literal = not any(char in head for char in GLOB_METACHARS)
                    targets = [head] if literal and head in owner_of_ns else ([] if literal else sorted(owner_of_ns))
                    for target_ns in targets:
                        if target_ns == own_ns:
                            continue
                        if _shared_on_purpose(member, tenant, owner_of_ns[target_ns], rule, target_ns, shared, members_of):
                            continue
                        for resource in hit_resources:
                            key = (member, target_ns, resource, rule.render())
                            if key in seen or not _reaches(resource, obj_pattern, target_ns):
                                continue
                            seen.add(key)
                            found.append(
                                {
                                    "tenant": tenant,
                                    "member": member,
                                    "target_tenant": owner_of_ns[target_ns],
                                    "target_namespace": target_ns,
                                    "resource": resource,
                                    "action": hit_actions[0],
                                    "object": obj_pattern,
                                    "rule": rule.render(),
                                    "rule_line": rule.line,
                                }
                            )
                            if len(found) >= limit:
                                return found
    return found


def _shared_on_purpose(member, tenant, target, rule, target_ns, shared, members_of):
    """Whether ``member`` of ``tenant`` reaches ``target``'s namespace legitimately: both blocks bind it and declare it
    shared, and the rule is one of ``target``'s own roles (the member is the target tenant's member too)."""
    if member not in shared.get(tenant, ()) or member not in shared.get(target, ()) or member not in members_of.get(target, ()):
        return False
    role = _constants.tenant_role(target_ns)
    subject = rule.values[0]
    return subject == role or subject.startswith(role + ":")


def violation_text(violation):
    where = (" (line %d)" % violation["rule_line"]) if violation.get("rule_line") else " (implicit)"
    return (
        "user %(member)s of tenant %(tenant)s could %(action)s %(resource)s in namespace %(target_namespace)s of tenant %(target_tenant)s" % violation
    ) + " via rule '%s'%s" % (violation["rule"], where)
