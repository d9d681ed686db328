"""Unit tests of plugins/module_utils/_rbac.py against reference §5 (docs/reference/everest.md) and the examples of Percona's RBAC documentation page."""

import pathlib

import pytest
import yaml

from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils import _validation

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "rbac"


def fixture_text(name):
    return (FIXTURES / name).read_text(encoding="utf-8")


def first_error(text):
    errors = _rbac.validate(text)
    return errors[0] if errors else None


# ----------------------------------------------------------------------------------------------------------------
# Constants


def test_thirteen_resources_with_scope():
    assert len(_constants.RBAC_RESOURCES) == 13
    assert _constants.RBAC_GLOBAL_RESOURCES == ("data-importers", "load-balancer-configs", "namespaces", "pod-scheduling-policies")
    assert _constants.RBAC_RESOURCES["enginefeatures/split-horizon-dns-configs"] == _constants.RBAC_NAMESPACED
    assert _constants.RBAC_ACTIONS == ("create", "read", "update", "delete", "*")


def test_term_pattern_is_the_go_text_with_its_range():
    assert _validation.RBAC_TERM_PATTERN == r"^[/*-_:a-zA-Z0-9]+$"
    allowed = set("*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_abcdefghijklmnopqrstuvwxyz")
    for code in range(0x20, 0x7F):
        char = chr(code)
        assert _rbac.term_ok(char) == (char in allowed), char
    for bad in ("", "a b", "a\n", "a\r", "é", "a!", 'a"', "a'", "{a}", "a|b", "a~", "a`", "#a", "a$", "a%", "a&", "(a)"):
        assert not _rbac.term_ok(bad), bad


def test_term_pattern_has_no_trailing_newline_loophole():
    # Python's `$` matches before a final newline; Go's does not
    assert _validation.RBAC_TERM_RE.match("abc\n")
    assert not _rbac.term_ok("abc\n")


# ----------------------------------------------------------------------------------------------------------------
# reference §5.10 glob table and more doublestar v4 behaviour

GLOB_CASES = [
    # (name, pattern, expected) - first five rows are reference §5.10 verbatim
    ("ns-a/c1", "*/*", True),
    ("/", "*/*", True),
    ("", "*", True),
    ("ns-a/c1", "*", False),
    ("ns-a/c1", "ns-a/*", True),
    # reference §5.4: * does not cross /
    ("enginefeatures/split-horizon-dns-configs", "*", False),
    ("enginefeatures/split-horizon-dns-configs", "enginefeatures/*", True),
    ("database-clusters", "*", True),
    ("database-clusters", "database-*", True),
    ("database-clusters", "*-clusters", True),
    ("database-clusters", "database-cluster", False),
    # ** crosses /
    ("a/b/c", "**", True),
    ("/", "**", True),
    ("", "**", True),
    ("a/b/c", "a/**", True),
    ("a", "a/**", True),
    ("ab", "a/**", False),
    ("x/y/b", "**/b", True),
    ("b", "**/b", True),
    ("a/b", "a/**/b", True),
    ("a/x/y/b", "a/**/b", True),
    ("a/xb", "a/**/b", False),
    # mid-pattern ** behaves like * (bash globstar)
    ("a/b/c.txt", "a/**.txt", False),
    ("a/c.txt", "a/**.txt", True),
    ("ab/c", "a**", False),
    # ?
    ("ns-a/c1", "ns-?/c1", True),
    ("ns/c1", "ns?c1", False),
    ("", "?", False),
    # classes
    ("ns-a/c1", "ns-[ab]/c1", True),
    ("ns-c/c1", "ns-[ab]/c1", False),
    ("ns-c/c1", "ns-[^ab]/c1", True),
    ("ns-c/c1", "ns-[!ab]/c1", True),
    ("ns-b/c1", "ns-[a-c]/c1", True),
    ("ns-d/c1", "ns-[a-c]/c1", False),
    # alternatives (not reachable through Everest's term rule, but part of doublestar)
    ("ns-a/c1", "{ns-a,ns-b}/*", True),
    ("ns-c/c1", "{ns-a,ns-b}/*", False),
    # literal * in the request is matched by * in the pattern (reference §5.7)
    ("dev/*", "dev/*", True),
    ("dev/*", "*/*", True),
    # doublestar's end-of-name rule (isZeroLengthPattern): once the name is used up, only "", "*", "**", "/**",
    # "**/" and "/**/" count as matching nothing - whatever a regex reading of the pattern suggests
    ("", "**/*", False),
    ("x", "**/*", True),
    ("", "/**/", True),
    ("ab", "ab*/**", False),
    ("ab", "*/**", True),
    ("a/", "a/**/*", False),
    ("a/b", "a/**/*", True),
    # escapes
    ("a*", "a\\*", True),
    ("ab", "a\\*", False),
]


@pytest.mark.parametrize("name,pattern,expected", GLOB_CASES)
def test_glob_match(name, pattern, expected):
    assert _rbac.glob_match(pattern, name) is expected


@pytest.mark.parametrize("pattern,name", [("[", "x"), ("a[", "b"), ("prod/[db", "prod/x"), ("a\\", "b"), ("[]", "x"), ("{a", "a")])
def test_bad_patterns_raise(pattern, name):
    with pytest.raises(_rbac.BadPattern):
        _rbac.glob_match(pattern, name)
    assert not _rbac.validate_pattern(pattern)


def test_bad_pattern_is_not_reached_when_an_earlier_part_already_failed_lazily():
    # doublestar validates the rest of the pattern when a match fails, so even this raises
    with pytest.raises(_rbac.BadPattern):
        _rbac.glob_match("x[", "y")
    # ... but a pattern whose bad part sits inside a matched class is only detected when reached
    assert _rbac.validate_pattern("a[b]") and _rbac.glob_match("a[b]", "ab")


# ----------------------------------------------------------------------------------------------------------------
# Parser (reference §5.3)


def test_parser_skips_only_exact_empty_lines_and_hash_comments():
    policy = _rbac.parse_policy("\n# comment\n#\ng, admin, role:admin\n\n")
    assert policy.ok
    assert [r.values for r in policy.g_rules] == [("admin", "role:admin")]
    assert policy.g_rules[0].line == 4


@pytest.mark.parametrize(
    "line,message",
    [
        ("   ", "invalid policy line '   '"),
        ("  # indented comment", "invalid policy line '  # indented comment'"),
        ("\r", "EOF"),  # a blank CRLF line: Go's csv reader returns io.EOF
        ("p", "invalid policy line 'p'"),
        ("this is a bad policy", "invalid policy line 'this is a bad policy'"),
        ("a, role:admin, database-clusters, *, */*", "invalid policy line 'a, role:admin, database-clusters, *, */*'"),
        ("P, role:admin, database-clusters, *, */*", "invalid policy line 'P, role:admin, database-clusters, *, */*'"),
        ("p , a, b, c, d", "invalid policy line 'p , a, b, c, d'"),  # trailing space of the first field is kept
        ("p, a, b, c", "invalid policy rule size: expected 4, got 3, rule: [a b c]"),
        ("p, a, b, c, d, e", "invalid policy rule size: expected 4, got 5, rule: [a b c d e]"),
        ("g, alice", "invalid policy rule size: expected 2, got 1, rule: [alice]"),
        ('p, a"b, c, d, e', 'parse error on line 1, column 5: bare " in non-quoted-field'),
        ('p, "abc, c, d, e', 'parse error on line 1, column 17: extraneous or missing " in quoted-field'),
        ('p, "a"x, c, d, e', 'parse error on line 1, column 6: extraneous or missing " in quoted-field'),
    ],
)
def test_parser_load_errors(line, message):
    policy = _rbac.parse_policy("g, admin, role:admin\n" + line + "\n")
    assert [e.message for e in policy.errors] == [message]
    assert policy.errors[0].line == 2
    errors = _rbac.validate(policy)
    assert errors[0].message == message
    assert _rbac.everest_error_text(errors) == "policy syntax error - " + message


def test_parser_csv_details():
    policy = _rbac.parse_policy('p,   role:x  , "database-clusters", read, "a""b"\r\ng, u, role:x, extra\n')
    assert policy.ok
    assert policy.p_rules[0].values == ("role:x  ", "database-clusters", "read", 'a"b')  # leading space trimmed, trailing kept
    assert policy.g_rules[0].values == ("u", "role:x", "extra")  # g takes >= 2 values
    assert first_error(policy.text).message == "invalid policy term 'role:x  '"


def test_parser_drops_duplicates_with_casbins_key():
    policy = _rbac.parse_policy("p, a, namespaces, read, x\np,a,namespaces,read,x\np, a, namespaces, read, y\n")
    assert [r.line for r in policy.p_rules] == [1, 3]
    # casbin keys rules by joining values with ",": these two collide
    policy = _rbac.parse_policy('g, "a,b", c\ng, a, "b,c"\n')
    assert len(policy.g_rules) == 1


def test_crlf_file_loads_except_blank_crlf_lines():
    assert _rbac.parse_policy("g, admin, role:admin\r\np, admin, namespaces, read, *\r\n").ok
    assert _rbac.parse_policy("g, admin, role:admin\r\n\r\n").errors[0].message == "EOF"


# ----------------------------------------------------------------------------------------------------------------
# Validator: reference §5.9 upstream test policies (reconstructed fixtures) and §5.6 rules

UPSTREAM = [
    ("policy-1-good.csv", None),
    ("policy-2-bad.csv", "invalid policy line 'this is a bad policy'"),
    ("policy-3-bad.csv", "invalid policy term 'monitoring instances'"),
    ("policy-4-bad.csv", "role 'role:notexists' does not exist"),
    ("policy-5-bad.csv", "invalid policy rule size: expected 4, got 5, rule: [role:admin database-clusters * */* extra]"),
    ("policy-6-bad.csv", "unknown resource name 'non-existent-resource'"),
    ("policy-7-bad.csv", "invalid policy line 'a, role:admin, database-clusters, *, */*'"),
]


@pytest.mark.parametrize("name,message", UPSTREAM)
def test_upstream_policies(name, message):
    errors = _rbac.validate(fixture_text(name))
    if message is None:
        assert errors == []
    else:
        assert errors[0].message == message
        assert errors[0].line == 1
        assert errors[0].everest


def test_everest_error_text_wrapping():
    load = _rbac.validate(fixture_text("policy-2-bad.csv"))
    check = _rbac.validate(fixture_text("policy-6-bad.csv"))
    assert _rbac.everest_error_text(load) == "policy syntax error - invalid policy line 'this is a bad policy'"
    assert _rbac.everest_error_text(check) == "policy syntax error - policy syntax error - unknown resource name 'non-existent-resource'"
    assert _rbac.everest_error_text(check, command="can") == "policy syntax error\nunknown resource name 'non-existent-resource'"
    assert _rbac.everest_error_text(load, command="can") == "invalid policy line 'this is a bad policy'"
    assert _rbac.everest_error_text([]) is None


def test_check_order_terms_then_roles_then_resources():
    text = "p, role:ghost, bogus-resource, read, */*\np, alice, database-clusters, read, bad term\n"
    errors = _rbac.validate(text)
    assert [e.rule for e in errors] == ["term", "role", "resource"]
    assert [e.line for e in errors] == [2, 1, 1]
    assert errors[0].message == "invalid policy term 'bad term'"


def test_role_admin_needs_no_binding_and_plain_users_are_not_checked():
    assert _rbac.validate("p, role:admin, namespaces, read, *\np, nobody, namespaces, read, *\n") == []
    # only subjects starting with role: are checked; g lines are never checked
    assert _rbac.validate("p, admin:role, namespaces, read, *\ng, x, role:whatever\n") == []


def test_role_existence_means_target_of_a_g_line():
    text = "p, role:a, namespaces, read, *\ng, role:a, role:b\n"
    assert first_error(text).message == "role 'role:a' does not exist"  # role:a is only a member, never a target
    assert _rbac.validate("p, role:a, namespaces, read, *\ng, role:b, role:a\n") == []


def test_resource_star_is_accepted_and_globs_are_not():
    assert _rbac.validate("p, alice, *, read, */*\n") == []
    assert first_error("p, alice, database-*, read, */*\n").message == "unknown resource name 'database-*'"


def test_actions_and_objects_are_only_term_checked():
    assert _rbac.validate("p, alice, namespaces, get, whatever;<=>?@\n") == []


def test_empty_policy_is_valid():
    assert _rbac.validate("") == []
    assert _rbac.validate("# only a comment\n") == []


def test_strict_glob_hazard_is_reported_but_not_as_everest():
    text = "p, alice, database-clusters, read, prod/[db\n"
    errors = _rbac.validate(text)
    assert [(e.rule, e.everest) for e in errors] == [("glob", False)]
    assert "error from Everest instead of an answer" in errors[0].message
    assert _rbac.everest_error_text(errors) is None
    assert _rbac.validate_output(errors) == (0, "\u2705 Valid\n\n")  # Everest's validation accepts it
    assert _rbac.validate(text, strict=False) == []


def test_blocking_problems_hazards_only_in_the_written_blocks():
    text = (
        "g, admin, role:admin\n"
        "p, ops, namespaces, read, [\n"  # foreign hazard (line 2)
        + _rbac.render_block("t-a", ["p, a, database-clusters, read, t-a/[x"])  # hazard in t-a (line 4)
        + _rbac.render_block("t-b", ["p, b, database-clusters, read, t-b/x\\"])
    )  # hazard in t-b (line 7)
    errors = _rbac.validate(text)
    assert [(e.rule, e.line) for e in errors] == [("glob", 2), ("glob", 4), ("glob", 7)]
    assert _rbac.blocking_problems(errors, text, []) == []
    assert [e.line for e in _rbac.blocking_problems(errors, text, ["t-a"])] == [4]
    assert [e.line for e in _rbac.blocking_problems(errors, text, ["t-a", "t-b"])] == [4, 7]
    # Everest problems block wherever they are
    broken = text + "p, role:ghost, namespaces, read, *\n"
    errors = _rbac.validate(broken)
    assert [(e.rule, e.line) for e in _rbac.blocking_problems(errors, broken, [])] == [("role", 9)]


def test_implicit_admin_rules():
    rules = _rbac.implicit_admin_rules()
    assert len(rules) == 13
    assert all(r.values[0] == "role:admin" and r.values[2] == "*" for r in rules)
    objs = dict((r.values[1], r.values[3]) for r in rules)
    assert objs["namespaces"] == "*" and objs["database-clusters"] == "*/*"


# ----------------------------------------------------------------------------------------------------------------
# Evaluator: reference §5.9 can cases, §5.7 rewriting

POLICY1_CAN = [
    # admin create/read/update any DB cluster or backup `*` -> Yes
    ("admin", "create", "database-clusters", "*", True),
    ("admin", "read", "database-clusters", "*", True),
    ("admin", "update", "database-clusters", "*", True),
    ("admin", "create", "database-cluster-backups", "*", True),
    ("admin", "read", "database-cluster-backups", "*", True),
    ("admin", "update", "database-cluster-backups", "*", True),
    ("alice", "create", "database-clusters", "*", False),
    ("alice", "read", "database-engines", "*", True),
    ("alice", "create", "database-clusters", "alice/alice-cluster-1", True),
    ("bob", "create", "database-clusters", "*", False),
    ("bob", "create", "database-clusters", "dev/*", True),
    ("bob", "create", "database-clusters", "dev/bob-1", True),
]


@pytest.mark.parametrize("subject,action,resource,obj,expected", POLICY1_CAN)
def test_policy1_can_cases(subject, action, resource, obj, expected):
    enforcer = _rbac.Enforcer(fixture_text("policy-1-good.csv"))
    assert (enforcer.can(subject, action, resource, obj) is not None) is expected


def test_can_returns_the_first_matching_rule():
    enforcer = _rbac.Enforcer(fixture_text("policy-1-good.csv"))
    rule = enforcer.can("alice", "create", "database-clusters", "alice/x")
    assert rule.render() == "p, alice, database-clusters, *, alice/*" and rule.line == 27
    rule = enforcer.can("admin", "delete", "data-importers", "*")
    assert rule.implicit and rule.render() == "p, role:admin, data-importers, *, *"


def test_object_rewriting():
    assert _rbac.can_object("database-clusters", "*") == "/"
    assert _rbac.can_object("database-clusters", "all") == "/"
    assert _rbac.can_object("namespaces", "*") == ""
    assert _rbac.can_object("pod-scheduling-policies", "all") == ""
    assert _rbac.can_object("unknown-thing", "*") == "/"
    assert _rbac.can_object("database-clusters", "ns/*") == "ns/*"


def test_every_object_needs_a_full_wildcard_rule():
    enforcer = _rbac.Enforcer(
        "p, u, database-clusters, read, ns-a/*\np, u, namespaces, read, ns-a\np, v, database-clusters, read, **\np, v, namespaces, read, *\n"
    )
    assert enforcer.can("u", "read", "database-clusters", "ns-a/c1")
    assert not enforcer.can("u", "read", "database-clusters", "*")
    assert not enforcer.can("u", "read", "namespaces", "all")
    assert enforcer.can("v", "read", "database-clusters", "*")
    assert enforcer.can("v", "read", "namespaces", "*")


def test_resource_star_does_not_cover_the_slash_resource():
    enforcer = _rbac.Enforcer("p, u, *, read, */*\n")
    assert enforcer.can("u", "read", "database-clusters", "ns/x")
    assert not enforcer.can("u", "read", "enginefeatures/split-horizon-dns-configs", "ns/x")


def test_implicit_admin_only_through_g_binding():
    enforcer = _rbac.Enforcer("p, alice, namespaces, read, *\n")
    assert not enforcer.can("admin", "read", "namespaces", "*")
    assert enforcer.can("role:admin", "read", "namespaces", "*")
    assert _rbac.Enforcer("g, admin, role:admin\n").can("admin", "delete", "enginefeatures/split-horizon-dns-configs", "ns/x")


def test_roles_are_transitive_up_to_ten_levels():
    links = "".join("g, r%d, r%d\n" % (i, i + 1) for i in range(12))
    enforcer = _rbac.Enforcer(links + "p, r10, namespaces, read, *\np, r11, namespaces, update, *\n")
    assert enforcer.can("r0", "read", "namespaces", "*")  # 10 hops
    assert not enforcer.can("r0", "update", "namespaces", "*")  # 11 hops: beyond casbin's limit
    assert enforcer.can("r1", "update", "namespaces", "*")


def test_cycles_terminate():
    enforcer = _rbac.Enforcer("g, a, b\ng, b, a\np, b, namespaces, read, *\n")
    assert enforcer.can("a", "read", "namespaces", "x")


def test_invalid_action_and_invalid_policy():
    enforcer = _rbac.Enforcer("")
    with pytest.raises(ValueError, match=r"invalid action 'get'\. Supported actions: create,read,update,delete,\*"):
        enforcer.can("u", "get", "namespaces", "*")
    with pytest.raises(ValueError, match="policy syntax error\nrole 'role:x' does not exist"):
        _rbac.Enforcer("p, role:x, namespaces, read, *\n")
    assert _rbac.Enforcer("p, role:x, namespaces, read, *\n", check=False).can("role:x", "read", "namespaces", "*")


def test_action_patterns_are_globs_too():
    enforcer = _rbac.Enforcer("p, u, namespaces, re*, *\n")
    assert enforcer.can("u", "read", "namespaces", "x")
    assert not enforcer.can("u", "update", "namespaces", "x")


def test_bad_pattern_fails_evaluation_when_reached():
    enforcer = _rbac.Enforcer("p, u, database-clusters, read, prod/[db\np, v, namespaces, read, *\n")
    assert enforcer.can("v", "read", "namespaces", "x")  # rules of other subjects are never evaluated
    with pytest.raises(_rbac.BadPattern):
        enforcer.can("u", "read", "database-clusters", "prod/x")


# ----------------------------------------------------------------------------------------------------------------
# The documentation's examples (Percona's RBAC documentation page)

DOC_EXAMPLES = yaml.safe_load(fixture_text("docs-examples.yml"))


def example_policy(example):
    return fixture_text(example["policy_file"]) if "policy_file" in example else example["policy"]


@pytest.mark.parametrize("example", DOC_EXAMPLES, ids=[e["name"] for e in DOC_EXAMPLES])
def test_doc_examples(example):
    policy = example_policy(example)
    errors = [e for e in _rbac.validate(policy) if e.everest]
    if example["error"] is None:
        assert errors == [], example["why"]
    else:
        assert errors and errors[0].message == example["error"], example["why"]
    if "all_errors" in example:
        assert list(dict.fromkeys(e.message for e in errors)) == example["all_errors"]  # distinct, in report order
    if "everestctl_output" in example:
        # what everestctl really prints (reference §5.8), and that the doc's rendering differs from it
        assert _rbac.validate_output(errors) == (0 if example["error"] is None else 1, example["everestctl_output"])
        assert example.get("doc_output") != example["everestctl_output"]
    if example.get("can"):
        enforcer = _rbac.Enforcer(policy)
        for subject, action, resource, obj, expected in example["can"]:
            assert (enforcer.can(subject, action, resource, obj) is not None) is expected, (subject, action, resource, obj)


UPSTREAM_TESTDATA = ["policy-1-good.csv"] + ["policy-%d-bad.csv" % n for n in range(2, 8)]  # reference §5.9, the complete list


def test_doc_quirks_are_recorded_with_the_facts_correct_behaviour():
    by_name = dict((e["name"], e) for e in DOC_EXAMPLES)
    assert sorted(p.name for p in FIXTURES.glob("policy-*.csv")) == sorted(UPSTREAM_TESTDATA)
    # file names the doc uses that do not exist upstream
    missing = [e for e in DOC_EXAMPLES if e.get("doc_file")]
    assert [e["doc_file"] for e in missing] == ["policy-bad.csv"] and "policy-bad.csv" not in UPSTREAM_TESTDATA
    assert any("policy-1-bad.csv" in name for name in by_name) and "policy-1-bad.csv" not in UPSTREAM_TESTDATA
    # validate output: the doc's marks and single prefix vs everestctl's (reference §5.6, §5.8)
    bad = missing[0]
    assert bad["doc_output"].startswith("\u00d7 Invalid\npolicy syntax error - unknown")
    assert bad["everestctl_output"] == ("\u274c Invalid\npolicy syntax error - policy syntax error - unknown resource name 'non-existent-resource'\n")
    valid = [e for e in DOC_EXAMPLES if e.get("doc_output", "").startswith("\u2713")]
    assert len(valid) == 1 and valid[0]["everestctl_output"] == "\u2705 Valid\n\n"
    load = _rbac.validate(fixture_text("policy-2-bad.csv"))
    assert _rbac.validate_output(load) == (1, "\u274c Invalid\npolicy syntax error - invalid policy line 'this is a bad policy'\n")
    # "adminrole:role" (doc typo) has none of role:admin's implicit rules
    typo = next(e for e in DOC_EXAMPLES if "adminrole:role" in e["name"])
    enforcer = _rbac.Enforcer(typo["policy"])
    assert not any(rule.values[0] == "adminrole:role" for rule in enforcer.rules)
    assert not enforcer.can("admin", "*", "namespaces", "*")
    # the "<newuser>" placeholder is valid, in a g line and in a p line
    assert _rbac.term_ok("<newuser>") and all(0x2A <= ord(c) <= 0x5F for c in "<>")  # inside the "*-_" range
    placeholders = [e for e in DOC_EXAMPLES if "<newuser>" in (e.get("policy") or "")]
    assert len(placeholders) == 2 and all(e["error"] is None for e in placeholders)
    assert _rbac.render_line({"user": "<newuser>", "role": "role:admin"}) == "g, <newuser>, role:admin"


def test_doc_examples_cover_the_invalid_ones():
    invalid = [e["name"] for e in DOC_EXAMPLES if e["error"]]
    assert len(invalid) >= 6
    assert any("database-clusters-credentials" in (e["error"] or "") for e in DOC_EXAMPLES)


# ----------------------------------------------------------------------------------------------------------------
# Items and injection safety


@pytest.mark.parametrize(
    "item,line",
    [
        ({"subject": "role:t-a", "resource": "database-clusters", "action": "*", "object": "t-a/*"}, "p, role:t-a, database-clusters, *, t-a/*"),
        ({"user": "alice", "role": "role:t-a"}, "g, alice, role:t-a"),
        ("p,role:t-a,namespaces,read,t-a", "p, role:t-a, namespaces, read, t-a"),
        ("  g ,  alice , role:t-a  ", "g, alice, role:t-a"),
        ({"user": "alice", "role": "role:t-a", "extra": None}, "g, alice, role:t-a"),
    ],
)
def test_render_line(item, line):
    assert _rbac.render_line(item) == line
    assert _rbac.check_item(item) == []


INJECTIONS = [
    {"subject": "alice\np, alice, *, *, **", "resource": "namespaces", "action": "read", "object": "x"},
    {"subject": "alice", "resource": "namespaces", "action": "read", "object": "x\ng, alice, role:admin"},
    {"subject": "alice, namespaces", "resource": "namespaces", "action": "read", "object": "x"},
    {"subject": "alice", "resource": "namespaces", "action": "read", "object": "x,y"},
    {"subject": '"alice', "resource": "namespaces", "action": "read", "object": "x"},
    {"subject": "alice", "resource": "namespaces", "action": "read", "object": '"x,y"'},
    {"subject": "#alice", "resource": "namespaces", "action": "read", "object": "x"},
    {"subject": "alice", "resource": "namespaces", "action": "read", "object": "x\r"},
    {"subject": "al ice", "resource": "namespaces", "action": "read", "object": "x"},
    {"subject": "alice", "resource": "namespaces", "action": "read", "object": ""},
    {"subject": "alice", "resource": "namespaces", "action": "read", "object": "it's"},
    {"user": "alice, role:admin", "role": "role:x"},
    {"user": "alice", "role": "role:x\ng, bob, role:admin"},
    {"user": "alice", "role": 5},
    "p, alice, namespaces, read, x\ng, alice, role:admin",
    'p, alice, namespaces, read, "x,y"',
    "p, alice, namespaces, read",
    "p, alice, namespaces, read, x, y",
    "# comment",
    "",
    "x, alice, role:admin",
    {"subject": "a", "resource": "namespaces"},
    ["p", "a"],
]


@pytest.mark.parametrize("item", INJECTIONS)
def test_injection_attempts_are_rejected(item):
    problems = _rbac.check_item(item)
    assert problems and problems[0]
    with pytest.raises(_rbac.ItemError):
        _rbac.render_line(item)


def test_rejection_messages_name_the_field_and_reason():
    assert "object 'x,y' contains a comma" in _rbac.check_item({"subject": "a", "resource": "namespaces", "action": "read", "object": "x,y"})[0]
    assert "subject" in _rbac.check_item({"subject": "a\nb", "resource": "namespaces", "action": "read", "object": "x"})[0]
    assert "newline" in _rbac.check_item({"subject": "a\nb", "resource": "namespaces", "action": "read", "object": "x"})[0]


def test_rendered_lines_always_parse_back_to_the_same_values():
    item = {"subject": "role:t;a", "resource": "database-clusters", "action": "*", "object": "t-a/[x]"}
    policy = _rbac.parse_policy(_rbac.render_line(item) + "\n")
    assert policy.ok and policy.p_rules[0].values == ("role:t;a", "database-clusters", "*", "t-a/[x]")


# ----------------------------------------------------------------------------------------------------------------
# Managed blocks

FOREIGN = "g, admin, role:admin\r\n# hand-written comment  \n  p, alice, namespaces, read, *\n"


def block(name, *lines):
    return _rbac.render_block(name, list(lines))


def test_add_block_to_text_without_final_newline():
    text = "g, admin, role:admin"
    out = _rbac.apply_blocks(text, {"t-a": ["p, a, namespaces, read, t-a"]})
    assert out == "g, admin, role:admin\n# BEGIN virakcloud.everest t-a\np, a, namespaces, read, t-a\n# END virakcloud.everest t-a\n"
    assert _rbac.get_blocks(out) == {"t-a": ["p, a, namespaces, read, t-a"]}


def test_add_replace_remove_keep_foreign_bytes():
    text = FOREIGN + block("t-b", "g, b, role:t-b") + "tail line\n"
    added = _rbac.apply_blocks(text, {"t-a": ["g, a, role:t-a"]})
    assert added.startswith(text) and added[len(text) :] == block("t-a", "g, a, role:t-a")
    replaced = _rbac.apply_blocks(added, {"t-b": ["g, b2, role:t-b", "g, b3, role:t-b"]})
    assert replaced == FOREIGN + block("t-b", "g, b2, role:t-b", "g, b3, role:t-b") + "tail line\n" + block("t-a", "g, a, role:t-a")
    removed = _rbac.apply_blocks(replaced, {"t-b": None, "t-a": None})
    assert removed == FOREIGN + "tail line\n"
    # removing something absent, or re-applying the same content, is a no-op
    assert _rbac.apply_blocks(removed, {"t-x": None}) == removed
    assert _rbac.apply_blocks(replaced, {"t-a": ["g, a, role:t-a"]}) == replaced


def test_several_blocks_in_one_call_and_empty_block():
    out = _rbac.apply_blocks("", {"a": ["g, x, role:a"], "b": [], "c": None})
    assert out == block("a", "g, x, role:a") + block("b")
    assert _rbac.get_blocks(out) == {"a": ["g, x, role:a"], "b": []}


def test_similar_names_are_distinct_blocks():
    out = _rbac.apply_blocks("", {"t-a": ["g, x, role:t-a"], "t-a2": ["g, y, role:t-a2"]})
    out = _rbac.apply_blocks(out, {"t-a": None})
    assert _rbac.get_blocks(out) == {"t-a2": ["g, y, role:t-a2"]}


def test_markers_with_crlf_are_recognised():
    text = "# BEGIN virakcloud.everest a\r\ng, x, role:a\r\n# END virakcloud.everest a\r\nkeep\r\n"
    assert _rbac.get_blocks(text) == {"a": ["g, x, role:a"]}
    assert _rbac.apply_blocks(text, {"a": None}) == "keep\r\n"


@pytest.mark.parametrize(
    "text,match",
    [
        ("# BEGIN virakcloud.everest a\ng, x, y\n", "has no"),
        ("# END virakcloud.everest a\n", "without a matching BEGIN"),
        ("# BEGIN virakcloud.everest a\n# BEGIN virakcloud.everest b\n# END virakcloud.everest b\n# END virakcloud.everest a\n", "not closed"),
        (block("a") + block("a"), "appears twice"),
    ],
)
def test_broken_markers_refuse_to_edit(text, match):
    with pytest.raises(_rbac.BlockError, match=match):
        _rbac.apply_blocks(text, {"z": ["g, q, role:z"]})


@pytest.mark.parametrize("name", ["", "a b", "a\nb", "-a", "x" * 254, None, "a,b"])
def test_bad_block_names(name):
    assert _rbac.check_block_name(name)
    with pytest.raises(_rbac.BlockError):
        _rbac.apply_blocks("", {name: []})


def test_block_markers_are_comments_for_everest():
    text = _rbac.apply_blocks("g, admin, role:admin\n", {"t-a": ["p, role:t-a, namespaces, read, t-a", "g, alice, role:t-a"]})
    assert _rbac.validate(text) == []
    assert _rbac.Enforcer(text).can("alice", "read", "namespaces", "t-a")
