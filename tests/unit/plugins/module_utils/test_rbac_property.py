"""Property tests: _rbac's glob port and Enforcer against an independent, straightforward implementation.

The reference translates a doublestar pattern into a regular expression segment by segment (``*`` -> ``[^/]*``,
``?`` -> ``[^/]``, a ``**`` segment -> any number of segments) and evaluates the casbin model naively
(recursive role expansion, every rule tried in order). Patterns are drawn from the characters Everest's term rule
admits that have a glob meaning (``*``, ``?``, ``/``) plus a small literal alphabet.
"""

import re

from hypothesis import assume, given, settings, strategies as st

from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac

SETTINGS = settings(derandomize=True, max_examples=600, deadline=None, database=None)

LITERALS = "ab-"
segment_chars = st.sampled_from(list(LITERALS) + ["*", "?"])
plain_segment = st.lists(segment_chars, min_size=0, max_size=4).map("".join)
segment = st.one_of(plain_segment, plain_segment, st.just("**"))
patterns = st.lists(segment, min_size=1, max_size=4).map("/".join)
names = st.lists(st.lists(st.sampled_from(list(LITERALS) + ["*"]), max_size=3).map("".join), min_size=1, max_size=4).map("/".join)


def reference_regex(pattern):
    """doublestar semantics as a regex: ``**`` is special only as a whole segment; elsewhere it is ``*``."""
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
        seg = seg.replace("**", "*")
        out.append("".join("[^/]*" if ch == "*" else "[^/]" if ch == "?" else re.escape(ch) for ch in seg))
    return re.compile("(?s)" + "".join(out) + r"\Z")


def reference_match(pattern, name):
    return reference_regex(pattern).match(name) is not None


# doublestar's isZeroLengthPattern: once the name is used up, the rest of the pattern is accepted only if it is one
# of these (so `**/*` does not match "" although a regex reading says it could, and `/**/` does although a regex
# reading says it needs a "/"). The comparison skips patterns whose wildcard-only tail has a suffix on which the
# two readings disagree; test_rbac.py pins those cases.
ZERO_LENGTH_FORMS = ("", "*", "**", "/**", "**/", "/**/")


def _tail(pattern):
    return pattern[len(pattern.rstrip("*/")):]


def _zero_length_quirk(pattern):
    tail = _tail(pattern)
    return any(bool(reference_regex(tail[i:]).match("")) != (tail[i:] in ZERO_LENGTH_FORMS) for i in range(len(tail)))


def _no_double_doublestar(pattern):
    return "**/**" not in pattern


@SETTINGS
@given(patterns.filter(_no_double_doublestar), names)
def test_glob_port_agrees_with_regex_translation(pattern, name):
    assume(not _zero_length_quirk(pattern))
    assert _rbac.glob_match(pattern, name) == reference_match(pattern, name), (pattern, name)


@SETTINGS
@given(patterns.filter(_no_double_doublestar))
def test_every_pattern_matches_its_own_literal_expansion(pattern):
    # replace every wildcard by a literal the wildcard admits: the result must match
    literal = pattern.replace("**", "a").replace("*", "b").replace("?", "a")
    assert _rbac.glob_match(pattern, literal)


# ----------------------------------------------------------------------------------------------------------------
# Enforcer vs a naive evaluator

SUBJECTS = ["alice", "bob", "role:a", "role:b", "role:c"]
RES = ["database-clusters", "namespaces", "*", "backup-storages", "enginefeatures/split-horizon-dns-configs"]
ACT = ["read", "create", "*", "re*"]
OBJ = ["*/*", "*", "ns-a/*", "ns-a", "ns-b/c1", "**", "ns-?/c1"]

p_rule = st.tuples(st.sampled_from(SUBJECTS), st.sampled_from(RES), st.sampled_from(ACT), st.sampled_from(OBJ))
g_rule = st.tuples(st.sampled_from(SUBJECTS[:4]), st.sampled_from(["role:a", "role:b", "role:c", "role:admin"]))
requests = st.tuples(st.sampled_from(SUBJECTS + ["role:admin", "carol"]), st.sampled_from(["create", "read", "update", "delete", "*"]),
                     st.sampled_from(sorted(_rbac.RESOURCES) + ["*"]), st.sampled_from(["*", "all", "ns-a/c1", "ns-b/c1", "ns-a", "x", "ns-a/*"]))


def naive_can(p_rules, g_rules, subject, action, resource, obj):
    if obj in ("*", "all"):
        obj = "" if resource in ("data-importers", "load-balancer-configs", "namespaces", "pod-scheduling-policies") else "/"
    rules = list(p_rules)
    for name, scope in sorted(_rbac.RESOURCES.items()):
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


@SETTINGS
@given(st.lists(p_rule, max_size=8), st.lists(g_rule, max_size=5))
def test_validator_role_rule_matches_definition(p_rules, g_rules):
    errors = _rbac.validate(policy_text(p_rules, g_rules))
    bound = set(role for _member, role in g_rules)
    unbound = [s for s, _r, _a, _o in p_rules if s.startswith("role:") and s != "role:admin" and s not in bound]
    assert bool(errors) == bool(unbound)
    if unbound:
        assert errors[0].message == "role '%s' does not exist" % unbound[0]


@SETTINGS
@given(st.lists(st.sampled_from(list("pg, \t\"#\r\nab*/:") + ["role:x", "namespaces", "# BEGIN virakcloud.everest zz\n"]),
                max_size=40).map("".join))
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
