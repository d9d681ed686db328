"""Property tests: _rbac's glob port and Enforcer against an independent, straightforward implementation.

The reference first expands ``{a,b}`` alternatives into plain patterns (a match of any expansion is a match), then
translates each one into a regular expression segment by segment (``*`` -> ``[^/]*``, ``?`` -> ``[^/]``, a ``**``
segment -> any number of segments, ``[..]`` / ``[^..]`` / ``[!..]`` -> a regex class, ``\\c`` -> the literal c) and
evaluates the casbin model naively (recursive role expansion, every rule tried in order).

Glob syntax per reference §5.4/§5.10 (doublestar v4: ``*``, ``**``, ``?``, ``[..]``, ``{a,b}``) and doublestar's match.go for
the details the reference does not spell out: negation with ``^`` or ``!``, ranges, ``\\`` escapes, and that a class (even
a negated one) is not stopped by ``/``. Note that Everest's term rule (reference §5.6) rejects ``{``, ``}`` and ``!``, so
alternatives and ``[!..]`` can never occur in a valid policy; they are tested at the glob level only, and the
Enforcer test uses term-valid patterns (``[..]``, ``[^..]``, escapes).
"""

import functools
import re

from hypothesis import assume, given, settings, strategies as st

from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants

SETTINGS = settings(derandomize=True, max_examples=600, deadline=None, database=None)

LITERALS = "ab-"
ESCAPABLE = "ab*?[-"
class_item = st.one_of(st.sampled_from(list("abx")), st.sampled_from(["a-b", "a-x", "b-x", "\\*", "\\a"]))
char_class = st.tuples(st.sampled_from(["", "", "^", "!"]), st.lists(class_item, min_size=1, max_size=3)).map(lambda t: "[" + t[0] + "".join(t[1]) + "]")
escape = st.sampled_from(list(ESCAPABLE)).map(lambda c: "\\" + c)
token = st.one_of(st.sampled_from(list(LITERALS) + ["*", "?"]), st.sampled_from(list(LITERALS) + ["*", "?"]), char_class, escape)
plain_segment = st.lists(token, min_size=0, max_size=4).map("".join)
segment = st.one_of(plain_segment, plain_segment, st.just("**"))
plain_patterns = st.lists(segment, min_size=1, max_size=4).map("/".join)
# {a,b} groups (not nested): 2-3 alternatives of the same tokens, an alternative may contain a "/" or be empty
alternative = st.lists(st.one_of(token, st.just("/")), min_size=0, max_size=3).map("".join)
brace = st.lists(alternative, min_size=2, max_size=3).map(lambda alts: "{" + ",".join(alts) + "}")
brace_patterns = st.lists(st.one_of(plain_segment, brace, st.just("/"), st.just("**")), min_size=1, max_size=5).map("".join)
names = st.lists(st.lists(st.sampled_from(list(LITERALS) + ["*", "x", "?", "["]), max_size=3).map("".join), min_size=1, max_size=4).map("/".join)


def tokens(pattern):
    """Split a brace-free pattern into tokens: an escape pair, a class, one other character."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif pattern[i] == "[":
            j = i + 1
            if pattern[j] in "^!":
                j += 1
            j += 1  # a class holds at least one item; "]" right after "[" or "[^" would be that item
            while pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append(pattern[i : j + 1])
            i = j + 1
        else:
            out.append(pattern[i])
            i += 1
    return out


def class_regex(tok):
    body = tok[1:-1]
    negate = body[:1] in ("^", "!")
    if negate:
        body = body[1:]
    items, i = [], 0
    while i < len(body):
        if body[i] == "\\":
            items.append(re.escape(body[i + 1]))
            i += 2
        elif i + 2 < len(body) and body[i + 1] == "-":
            items.append("%s-%s" % (re.escape(body[i]), re.escape(body[i + 2])))
            i += 3
        else:
            items.append(re.escape(body[i]))
            i += 1
    return "[" + ("^" if negate else "") + "".join(items) + "]"  # a class is not stopped by "/", in doublestar either


def segment_regex(seg):
    out = []
    for tok in tokens(seg):  # a run of stars inside a segment is one star
        if tok == "*":
            if not out or out[-1] != "[^/]*":
                out.append("[^/]*")
        elif tok == "?":
            out.append("[^/]")
        elif tok.startswith("\\"):
            out.append(re.escape(tok[1]))
        elif tok.startswith("["):
            out.append(class_regex(tok))
        else:
            out.append(re.escape(tok))
    return "".join(out)


@functools.lru_cache(maxsize=None)
def reference_regex(pattern):
    """doublestar semantics of a brace-free pattern as a regex: ``**`` is special only as a whole segment."""
    segments = pattern.split("/")
    if segments == ["**"]:
        return re.compile(r"(?s).*\Z")
    out = []
    last = len(segments) - 1
    for index, seg in enumerate(segments):
        if seg == "**":
            if index == 0:
                out.append("(?:.*/)?")  # '**/' prefix: zero or more leading segments
                continue
            if index == last:
                out.append("(?:/.*)?")  # '/**' suffix: the directory itself or anything below
                continue
            out.append("/(?:.*/)?")  # '/**/': zero or more segments in between
            continue
        if index > 0 and segments[index - 1] != "**":
            out.append("/")
        out.append(segment_regex(seg))
    return re.compile("(?s)" + "".join(out) + r"\Z")


def expand(pattern):
    """[(brace-free pattern, [offsets where an alternative was substituted])] for a pattern with un-nested {..}."""
    start = pattern.find("{")
    if start < 0:
        return [(pattern, [])]
    close = pattern.index("}", start)
    out = []
    for alt in pattern[start + 1 : close].split(","):
        for rest, offsets in expand(pattern[close + 1 :]):
            shift = start + len(alt)
            out.append((pattern[:start] + alt + rest, [start] + [shift + o for o in offsets]))
    return out


@functools.lru_cache(maxsize=None)
def _expansions(pattern):
    return tuple(p for p, _offsets in expand(pattern))


def reference_match(pattern, name):
    return any(reference_regex(p).match(name) is not None for p in _expansions(pattern))


# doublestar's isZeroLengthPattern: once the name is used up, the rest of the pattern is accepted only if it is one
# of these (so `**/*` does not match "" although a regex reading says it could, and `/**/` does although a regex
# reading says it needs a "/"). The comparison skips patterns whose wildcard-only tail has a suffix on which the
# two readings disagree; test_rbac.py pins those cases.
ZERO_LENGTH_FORMS = ("", "*", "**", "/**", "**/", "/**/")


def _tail(pattern):
    """The longest suffix made of unescaped ``*`` and ``/`` tokens."""
    toks = tokens(pattern)
    keep = 0
    while keep < len(toks) and toks[len(toks) - 1 - keep] in ("*", "/"):
        keep += 1
    return "".join(toks[len(toks) - keep :])


def _zero_length_quirk(pattern):
    tail = _tail(pattern)
    return any(bool(reference_regex(tail[i:]).match("")) != (tail[i:] in ZERO_LENGTH_FORMS) for i in range(len(tail)))


def _brace_segment_quirk(expanded, offsets):
    """doublestar matches each alternative by a recursive call that starts with startOfSegment = true, so a ``**``
    at the start of a substituted alternative is a doublestar even mid-segment (``a{**,b}`` matches ``ab/c``); a
    plain expansion reads it as ``*``. Such patterns are skipped (test_brace_quirks_are_what_doublestar_does pins it)."""
    return any(o > 0 and expanded[o - 1] != "/" and expanded[o:].startswith("**") for o in offsets)


def _end_of_name_quirk(pattern, name):
    """The same end-of-name rule in context: doublestar may use the name up while the wildcard-only tail R of the
    pattern is still left (the prefix P matched all of it) and then answers "R is one of ZERO_LENGTH_FORMS", whatever
    a regex reading of the whole pattern says (``a**/`` matches ``a``: R = ``**/``, although the ``**`` is not a
    segment there). Skip pairs where that answer and the regex reading differ."""
    for expanded in _expansions(pattern):
        whole = bool(reference_regex(expanded).match(name))
        toks = tokens(expanded)
        cut = len(toks)
        while cut > 0 and toks[cut - 1] in ("*", "/"):
            cut -= 1
            prefix, rest = "".join(toks[:cut]), "".join(toks[cut:])
            if reference_regex(prefix).match(name) and (rest in ZERO_LENGTH_FORMS) != whole:
                return True
    return False


def _partial(pattern, count):
    """The pattern with its first ``count`` {..} groups substituted, every combination."""
    if count == 0:
        return [pattern]
    start = pattern.find("{")
    close = pattern.index("}", start)
    return [pattern[:start] + alt + rest for alt in pattern[start + 1 : close].split(",") for rest in _partial(pattern[close + 1 :], count - 1)]


def _brace_lookahead_quirk(pattern):
    """Two places where doublestar reads a {..} group differently from its expansion (both pinned in
    test_brace_quirks_are_what_doublestar_does):

    * a ``*`` right before a group is read before the group is substituted, so ``**{,}/x`` is a single ``*``
      followed by ``/x`` (``**`` is a doublestar only when "/" follows it), and ``*{*,b}`` is never a ``**``;
    * when the name is used up, doublestar expands a group of the rest of the pattern only if the rest starts with
      it; otherwise the rest is judged by its text alone (one of ZERO_LENGTH_FORMS), so ``*{,}`` does not match ""
      although its expansion ``*`` does.

    Skip patterns with a ``*`` right before a group, or a run of ``*``/``/`` before a group that could meet the end
    of the name while an expansion of the rest would match nothing."""
    for count in range(pattern.count("{")):
        for text in _partial(pattern, count):
            brace = text.index("{")
            toks = tokens(text[:brace])
            if toks and toks[-1] == "*":
                return True
            p = brace
            while toks and toks[-1] in ("*", "/"):
                p -= len(toks.pop())
                if any(reference_regex(e).match("") for e, _offsets in expand(text[p:])):
                    return True
    return False


def _comparable(pattern):
    if _brace_lookahead_quirk(pattern):
        return False
    for expanded, offsets in expand(pattern):
        if "**/**" in expanded or _zero_length_quirk(expanded) or _brace_segment_quirk(expanded, offsets):
            return False
    return True


def _slash_class_quirk(pattern, name):
    """A negated class also matches "/" (doublestar does not stop it), but doublestar keeps only the LAST ``*`` as a
    backtracking point and a ``*`` never crosses "/", so ``*[^a]*`` does not match ``b/`` (first ``*`` = "b",
    class = "/" is never tried) although a regex reading says it does. Such name/pattern pairs are skipped;
    test_slash_class_quirk_is_what_doublestar_does pins the behaviour."""
    return "/" in name and any(tok[:2] in ("[^", "[!") for expanded in _expansions(pattern) for tok in tokens(expanded))


def _no_double_doublestar(pattern):
    return "**/**" not in pattern


@SETTINGS
@given(plain_patterns.filter(_no_double_doublestar), names)
def test_glob_port_agrees_with_regex_translation(pattern, name):
    assume(_comparable(pattern) and not _slash_class_quirk(pattern, name) and not _end_of_name_quirk(pattern, name))
    assert _rbac.validate_pattern(pattern), pattern
    assert _rbac.glob_match(pattern, name) == reference_match(pattern, name), (pattern, name)


@settings(SETTINGS, max_examples=400)
@given(brace_patterns, names)
def test_glob_port_agrees_with_brace_expansion(pattern, name):
    assume(_comparable(pattern) and not _slash_class_quirk(pattern, name) and not _end_of_name_quirk(pattern, name))
    assert _rbac.validate_pattern(pattern), pattern
    assert _rbac.glob_match(pattern, name) == reference_match(pattern, name), (pattern, name)


@SETTINGS
@given(plain_patterns.filter(_no_double_doublestar))
def test_every_pattern_matches_its_own_literal_expansion(pattern):
    # replace every wildcard by a literal the wildcard admits: the result must match
    literal = []
    for tok in tokens(pattern):
        if tok in ("*", "?"):
            literal.append("a" if tok == "?" else "b")
        elif tok.startswith("\\"):
            literal.append(tok[1])
        elif tok.startswith("["):
            literal.append(next(c for c in "abx*-c/" if re.match(class_regex(tok), c)))
        else:
            literal.append(tok)
    assert _rbac.glob_match(pattern, "".join(literal)), (pattern, "".join(literal))


def test_end_of_name_quirk_is_what_doublestar_does():
    assert _rbac.glob_match("a**/", "a") is True and not reference_match("a**/", "a")
    assert _end_of_name_quirk("a**/", "a") and not _end_of_name_quirk("a**/", "ab/")


def test_slash_class_quirk_is_what_doublestar_does():
    assert _rbac.glob_match("*[^a]*", "b/") is False and reference_match("*[^a]*", "b/")
    assert _rbac.glob_match("[^a]*", "/b") is True  # a negated class does match "/"
    assert _rbac.glob_match("b[!a]", "b/") is True
    assert _slash_class_quirk("*[^a]*", "b/") and not _slash_class_quirk("*[^a]*", "bc")


def test_brace_quirks_are_what_doublestar_does():
    # the cases the brace comparison skips, pinned: an alternative starting with ** is a doublestar
    assert _rbac.glob_match("a{**,b}", "ab/c") is True
    assert _rbac.glob_match("a**", "ab/c") is False
    assert _rbac.glob_match("x/{**,b}", "x/y/z") is True
    assert not reference_match("a{**,b}", "ab/c") and _brace_segment_quirk(*expand("a{**,b}")[0])

    # a "*" right before a group is read before the substitution
    assert _rbac.glob_match("**{,}//", "/") is False and _rbac.glob_match("**//", "/") is True
    assert _brace_lookahead_quirk("**{,}//") and _brace_lookahead_quirk("*{*,b}")
    # and the end-of-name rule looks at the text of the rest, expanding a group only when the rest starts with it
    assert _rbac.glob_match("*{,}", "") is False and _rbac.glob_match("*", "") is True
    assert _rbac.glob_match("{,}*", "") is True and _rbac.glob_match("a/{,**}", "a") is False
    assert _brace_lookahead_quirk("*{,}") and _brace_lookahead_quirk("a/{,**}") and not _brace_lookahead_quirk("{,}*")


# ----------------------------------------------------------------------------------------------------------------
# Enforcer vs a naive evaluator

SUBJECTS = ["alice", "bob", "role:a", "role:b", "role:c"]
# term-valid patterns only (reference §5.6: no "{", "}" or "!"): classes, [^..] negation, ranges and escapes included
RES = ["database-clusters", "namespaces", "*", "backup-storages", "enginefeatures/split-horizon-dns-configs", "database-[c]lusters", "[bn]a*"]
ACT = ["read", "create", "*", "re*", "[cr]*", "[^r]*", "\\*"]
OBJ = ["*/*", "*", "ns-a/*", "ns-a", "ns-b/c1", "**", "ns-?/c1", "ns-[ab]/*", "ns-[^a]/c[0-9]", "ns-\\a/*", "[a-n]s-a", "ns-[^b]"]

p_rule = st.tuples(st.sampled_from(SUBJECTS), st.sampled_from(RES), st.sampled_from(ACT), st.sampled_from(OBJ))
g_rule = st.tuples(st.sampled_from(SUBJECTS[:4]), st.sampled_from(["role:a", "role:b", "role:c", "role:admin"]))
requests = st.tuples(
    st.sampled_from(SUBJECTS + ["role:admin", "carol"]),
    st.sampled_from(["create", "read", "update", "delete", "*"]),
    st.sampled_from(sorted(_constants.RBAC_RESOURCES) + ["*"]),
    st.sampled_from(["*", "all", "ns-a/c1", "ns-b/c1", "ns-a", "x", "ns-a/*", "ns-x/c2", "ns-/", "ns-b"]),
)


def naive_can(p_rules, g_rules, subject, action, resource, obj):
    if obj in ("*", "all"):
        obj = "" if resource in ("data-importers", "load-balancer-configs", "namespaces", "pod-scheduling-policies") else "/"
    rules = list(p_rules)
    for name, scope in sorted(_constants.RBAC_RESOURCES.items()):
        rules.append(("role:admin", name, "*", "*" if scope == "global" else "*/*"))

    def linked(name, target, depth):
        if name == target:
            return True
        if depth == 0:
            return False
        return any(linked(role, target, depth - 1) for member, role in g_rules if member == name)

    for sub, res, act, pobj in rules:
        if linked(subject, sub, 10) and reference_match(res, resource) and reference_match(act, action) and reference_match(pobj, obj):
            return True
    return False


def policy_text(p_rules, g_rules):
    return "".join("p, %s, %s, %s, %s\n" % r for r in p_rules) + "".join("g, %s, %s\n" % r for r in g_rules)


@SETTINGS
@given(st.lists(p_rule, max_size=8), st.lists(g_rule, max_size=5), st.lists(requests, min_size=1, max_size=10))
def test_enforcer_agrees_with_naive_evaluator(p_rules, g_rules, reqs):
    text = policy_text(p_rules, g_rules)
    enforcer = _rbac.Enforcer(text, check=False)
    for subject, action, resource, obj in reqs:
        got = enforcer.can(subject, action, resource, obj) is not None
        assert got == naive_can(p_rules, g_rules, subject, action, resource, obj), (text, subject, action, resource, obj)


p_rule_known_resource = st.tuples(
    st.sampled_from(SUBJECTS), st.sampled_from([r for r in RES if r == "*" or r in _constants.RBAC_RESOURCES]), st.sampled_from(ACT), st.sampled_from(OBJ)
)


@SETTINGS
@given(st.lists(p_rule_known_resource, max_size=8), st.lists(g_rule, max_size=5))
def test_validator_role_rule_matches_definition(p_rules, g_rules):
    errors = _rbac.validate(policy_text(p_rules, g_rules))
    bound = set(role for _member, role in g_rules)
    unbound = [s for s, _r, _a, _o in p_rules if s.startswith("role:") and s != "role:admin" and s not in bound]
    assert bool(errors) == bool(unbound)
    if unbound:
        assert errors[0].message == "role '%s' does not exist" % unbound[0]


@SETTINGS
@given(st.lists(st.sampled_from(list("pg, \t\"#\r\nab*/:") + ["role:x", "namespaces", "# BEGIN virakcloud.everest zz\n"]), max_size=40).map("".join))
def test_parser_never_raises_and_apply_blocks_preserves_foreign_text(text):
    policy = _rbac.parse_policy(text)
    assert isinstance(policy.errors, list)
    try:
        out = _rbac.apply_blocks(text, {"zz": ["g, q, role:zz"]})
    except _rbac.BlockError:
        return
    base = text if not text or text.endswith("\n") else text + "\n"
    assert out == base + _rbac.render_block("zz", ["g, q, role:zz"])
    assert _rbac.apply_blocks(out, {"zz": None}) == base
