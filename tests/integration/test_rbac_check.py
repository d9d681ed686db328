"""Integration tests of everest_rbac_check, and a cross-check of _rbac against the sandbox's everestctl emulator
(an independent implementation of reference §5) on generated policies and requests."""

import random
import subprocess
from pathlib import Path

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac

pytestmark = pytest.mark.integration

CM = "/api/v1/namespaces/everest-system/configmaps/everest-rbac"
FIXTURES = Path(__file__).resolve().parents[1] / "unit" / "fixtures" / "rbac"


def tenant_policy(count):
    lines = ["g, admin, role:admin"]
    for i in range(count):
        name = "t%02d" % i
        lines += [
            "p, role:%s, namespaces, read, %s" % (name, name),
            "p, role:%s, database-clusters, *, %s/*" % (name, name),
            "p, role:%s, database-engines, read, %s/*" % (name, name),
            "g, %s_admin, role:%s" % (name, name),
        ]
    return "\n".join(lines) + "\n"


def matrix(count):
    checks = []
    for i in range(count):
        for j in range(count):
            checks.append(
                {
                    "subject": "t%02d_admin" % i,
                    "action": "create",
                    "resource": "database-clusters",
                    "object": "t%02d/db" % j,
                    "expect": "allow" if i == j else "deny",
                }
            )
    return checks


def run_check(ansible, **check):
    return ansible.playbook("rbac/check.yml", extra_vars=dict(("check_" + k, v) for k, v in check.items()))


@pytest.fixture
def sbx(clean_sandbox):
    return clean_sandbox


def put_policy(sbx, text, enabled="false"):
    status, obj = sbx.request("GET", CM)
    assert status == 200
    obj["data"] = {"policy.csv": text, "enabled": enabled}
    status, body = sbx.request("PUT", CM, obj)
    assert status == 200, body


def test_isolation_matrix_against_the_configmap(ansible, sbx):
    put_policy(sbx, tenant_policy(40), enabled="true")
    sbx.reset_stats()
    run = run_check(ansible, checks=matrix(40))  # 1600 checks
    res = run.result("RBAC check")
    assert run.rc == 0, run.output[-2000:]
    assert res["changed"] is False and res["rbac_enabled"] is True and res["enforced"] is True and res["mismatches"] == []
    assert len(res["results"]) == 1600
    first = res["results"][0]
    assert first["allowed"] is True and first["rule"] == "p, role:t00, database-clusters, *, t00/*" and first["rule_line"] == 3
    assert res["results"][1]["allowed"] is False and res["results"][1]["rule"] is None
    assert sbx.stats()["by_verb"]["get"] == 1 and sum(sbx.stats()["by_verb"][v] for v in ("create", "update", "patch", "delete")) == 0


def test_mismatches_fail_with_a_table(ansible, sbx):
    put_policy(sbx, tenant_policy(3), enabled="true")
    checks = matrix(3)
    checks[1]["expect"] = "allow"  # wrong on purpose: t00_admin cannot touch t01
    checks.append({"subject": "admin", "action": "delete", "resource": "namespaces", "object": "all", "expect": "deny"})
    run = run_check(ansible, checks=checks)
    res = run.result("RBAC check")
    assert run.rc != 0
    assert res["msg"].startswith("2 of 10 RBAC check(s) did not get the expected answer (configmap everest-system/everest-rbac):")
    table = res["msg"].split("\n")[1:]
    assert table[0].split() == ["#", "SUBJECT", "ACTION", "RESOURCE", "OBJECT", "EXPECT", "GOT", "RULE"]
    assert table[1].split()[:7] == ["1", "t00_admin", "create", "database-clusters", "t01/db", "allow", "deny"]
    assert "p, role:admin, namespaces, *, *" in table[2]
    assert [m["index"] for m in res["mismatches"]] == [1, 9]


def test_disabled_rbac_allows_everything_unless_assumed_enabled(ansible, sbx):
    put_policy(sbx, tenant_policy(2), enabled="false")
    checks = [{"subject": "t00_admin", "action": "delete", "resource": "database-clusters", "object": "t01/db"}]
    res = run_check(ansible, checks=checks).result("RBAC check")
    assert res["rbac_enabled"] is False and res["enforced"] is False and res["results"][0]["allowed"] is True
    res = run_check(ansible, checks=checks, assume_enabled=True).result("RBAC check")
    assert res["enforced"] is True and res["results"][0]["allowed"] is False


def test_disabled_rbac_answers_yes_even_for_an_invalid_policy_like_everestctl(ansible, sbx):
    """reference §5.2: `can` without --policy-file answers Yes while RBAC is disabled, without loading the policy."""
    put_policy(sbx, (FIXTURES / "policy-4-bad.csv").read_text(), enabled="false")
    check = {"subject": "nobody", "action": "delete", "resource": "database-clusters", "object": "t01/db"}
    proc = everestctl(sbx, "settings", "rbac", "can", check["subject"], check["action"], check["resource"], check["object"])
    assert proc.returncode == 0 and proc.stdout.strip() == "Yes", proc.stderr
    run = run_check(ansible, checks=[check])
    res = run.result("RBAC check")
    assert run.rc == 0, run.output[-2000:]
    assert res["results"][0]["allowed"] is True and res["results"][0]["reason"] == "rbac_disabled"
    assert res["validation"]["ok"] is False and "role 'role:notexists' does not exist" in run.output  # the warning
    run = run_check(ansible, checks=[dict(check, expect="deny")])
    assert run.rc != 0 and "RBAC is disabled in the ConfigMap" in run.result("RBAC check")["msg"]


def test_inline_and_file_sources(ansible, sbx, tmp_path):
    checks = [
        {"subject": "bob", "action": "create", "resource": "database-clusters", "object": "dev/*", "expect": "allow"},
        {"subject": "bob", "action": "create", "resource": "database-clusters", "object": "*", "expect": "deny"},
        {"subject": "alice", "action": "read", "resource": "database-engines", "object": "*", "expect": "allow"},
    ]
    text = (FIXTURES / "policy-1-good.csv").read_text()
    run = run_check(ansible, checks=checks, policy=text)
    assert run.rc == 0 and run.result("RBAC check")["source"] == "inline" and run.result("RBAC check")["rbac_enabled"] is None
    manifest = tmp_path / "cm.yaml"
    indented = "".join("    " + line + "\n" if line else "\n" for line in text.splitlines())
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: everest-rbac}\ndata:\n  enabled: \"false\"\n  policy.csv: |\n" + indented)
    run = run_check(ansible, checks=checks, policy_file=str(manifest))
    assert run.rc == 0, run.output[-2000:]
    assert run.result("RBAC check")["enforced"] is True  # enabled is ignored for files, as in everestctl


def test_invalid_policy_fails(ansible, sbx):
    run = run_check(
        ansible, checks=[{"subject": "a", "action": "read", "resource": "namespaces", "object": "x"}], policy=(FIXTURES / "policy-4-bad.csv").read_text()
    )
    res = run.result("RBAC check")
    assert run.rc != 0 and "policy syntax error - role 'role:notexists' does not exist" in res["msg"]


def test_cross_check_with_everestctl_through_the_module(ansible, sbx):
    put_policy(sbx, (FIXTURES / "policy-1-good.csv").read_text(), enabled="false")
    checks = [
        {"subject": s, "action": a, "resource": r, "object": o}
        for s, a, r, o in [
            ("admin", "create", "database-clusters", "*"),
            ("alice", "create", "database-clusters", "*"),
            ("alice", "create", "database-clusters", "alice/alice-cluster-1"),
            ("bob", "create", "database-clusters", "dev/*"),
            ("bob", "update", "namespaces", "all"),
        ]
    ]
    run = run_check(ansible, checks=checks, cross_check=True)
    res = run.result("RBAC check")
    assert run.rc == 0, run.output[-2000:]
    assert [r["everestctl"] for r in res["results"]] == [True, False, True, True, False]
    # RBAC is disabled in the ConfigMap: the module's own answers are "allowed", the cross-check compares enforced answers
    assert all(r["allowed"] for r in res["results"])


# ------------------------------------------------------------------------------------------------------------
# _rbac vs the everestctl emulator, direct subprocess calls (40 in total)


def everestctl(sbx, *args):
    proc = subprocess.run(
        [sbx.everestctl] + list(args) + ["--kubeconfig", sbx.kubeconfig], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60, check=False
    )
    return proc


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("policy-*.csv")))
def test_validate_agrees_with_everestctl(sbx, name):
    proc = everestctl(sbx, "settings", "rbac", "validate", "--policy-file=%s" % (FIXTURES / name))
    errors = _rbac.validate((FIXTURES / name).read_text())
    assert (proc.returncode, proc.stdout) == _rbac.validate_output(errors)  # reference §5.8, to the byte (✅ / ❌, prefixes)


def _random_case(rng):
    subjects = ["alice", "bob", "role:a", "role:b"]
    objects = ["*/*", "*", "ns-a/*", "ns-a", "**", "ns-?/c1", "ns-b/c[12]", "*-a/*"]
    rules = []
    for _line in range(rng.randint(1, 6)):
        rules.append(
            "p, %s, %s, %s, %s"
            % (
                rng.choice(subjects),
                rng.choice(["database-clusters", "namespaces", "*", "backup-storages"]),
                rng.choice(["read", "*", "create", "re*"]),
                rng.choice(objects),
            )
        )
    rules += ["g, alice, role:a", "g, role:a, role:b", "g, bob, %s" % rng.choice(["role:b", "role:admin"])]
    request = (
        rng.choice(subjects + ["carol", "role:admin"]),
        rng.choice(["create", "read", "update", "delete", "*"]),
        rng.choice(["database-clusters", "namespaces", "backup-storages", "data-importers"]),
        rng.choice(["*", "all", "ns-a/c1", "ns-b/c1", "ns-b/c2", "ns-a", "x-a/y"]),
    )
    return "\n".join(rules) + "\n", request


def test_can_agrees_with_everestctl_on_generated_cases(sbx, tmp_path):
    rng = random.Random(20261123)
    disagreements = []
    answers = []
    for index in range(33):
        text, (subject, action, resource, obj) = _random_case(rng)
        path = tmp_path / ("p%02d.csv" % index)
        path.write_text(text)
        ours = _rbac.Enforcer(text).can(subject, action, resource, obj) is not None
        proc = everestctl(sbx, "settings", "rbac", "can", subject, action, resource, obj, "--policy-file=%s" % path)
        assert proc.returncode == 0, proc.stderr
        theirs = proc.stdout.strip() == "Yes"
        answers.append(theirs)
        if ours != theirs:
            disagreements.append((text, subject, action, resource, obj, ours, theirs))
    assert disagreements == []
    assert 3 <= sum(answers) <= 30, "the generated cases should mix Yes and No answers"
