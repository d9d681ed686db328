"""The tenant_bootstrap role's decisions (module_utils/_tenants.py): validation, derivation, clashes between the run's
tenants, ownership against the cluster, the escalation guard of custom RBAC, and the module items of every step. The
role's integration tests drive the same code through ansible-playbook in both modes."""

from pathlib import Path

import pytest
import yaml

from ansible_collections.virakcloud.everest.plugins.action import tenant_plan
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _tenants, _validation

ROLE = Path(__file__).resolve().parents[4] / "roles" / "tenant_bootstrap"
SPEC = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
ROLE_VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
PASSWORD = "Acme@pass1"


def values(**overrides):
    base = {
        "tenant_bootstrap_state": "present",
        "tenant_bootstrap_namespace": "ns-acme",
        "tenant_bootstrap_users": [{"username": "acme", "password": PASSWORD}],
        "tenant_bootstrap_operators": {"postgresql": True, "mysql": False},
        "tenant_bootstrap_limits": {"cpu": 2, "memory": "4Gi", "max_clusters": 2, "max_db_users": 5},
        "tenant_bootstrap_rbac_preset": "namespace_admin",
        "tenant_bootstrap_rbac_policies": [],
        "tenant_bootstrap_enable_rbac": True,
    }
    base.update(overrides)
    return base


def plan(name="acme", cluster=None, secrets=False, **overrides):
    vals = values(**overrides)
    invalid = tenant_plan.spec_problems(SPEC, vals)
    return _tenants.plan_tenants([(name, vals)], cluster=cluster, secrets=secrets, invalid={name: invalid} if invalid else None)[0]


def test_valid_tenant_derives_the_block_and_the_items_without_secrets():
    p = plan()
    assert p["valid"] and p["problem"] is None
    assert p["namespace"] == "ns-acme" and p["usernames"] == ["acme"] and p["summary"]["engines"] == ["postgresql"]
    assert p["rbac_lines"][0] == "p, role:tenant-ns-acme, namespaces, read, ns-acme"
    assert "p, role:tenant-ns-acme, database-clusters, *, ns-acme/*" in p["rbac_lines"]
    assert p["rbac_lines"][-1] == "g, acme, role:tenant-ns-acme"
    assert len(p["rbac_lines"]) == len(_tenants.PRESETS["namespace_admin"]) + 1
    steps = p["steps"]
    assert steps["namespace"] == {
        "name": "ns-acme",
        "operators": {"mysql": False, "postgresql": True, "mongodb": False},
        "take_ownership": False,
        "tenant": "acme",
    }
    assert steps["rbac"]["tenant"] == "acme" and steps["rbac"]["namespace"] == "ns-acme"
    assert steps["policy"]["tenant"] == "acme" and steps["accounts"][0]["tenant"] == "acme"
    assert PASSWORD not in repr(p)


def test_secrets_put_the_passwords_in_the_account_items_only():
    p = plan(secrets=True)
    assert p["steps"]["accounts"][0]["password"] == PASSWORD
    assert PASSWORD not in repr(dict((k, v) for k, v in p.items() if k != "steps"))


@pytest.mark.parametrize(
    "overrides,expected",
    [
        ({"tenant_bootstrap_namespace": "Bad_NS"}, "not RFC 1035 compatible"),
        ({"tenant_bootstrap_namespace": "everest-system"}, "reserved for Everest internals"),
        ({"tenant_bootstrap_namespace": "kube-system"}, "reserved namespace"),
        ({"tenant_bootstrap_namespace": "default"}, "reserved namespace"),
        ({"tenant_bootstrap_namespace": "corp-infra", "tenant_bootstrap_reserved_namespaces": ["corp-*"]}, "matches 'corp-*'"),
        ({"tenant_bootstrap_users": [{"username": "ab", "password": PASSWORD}]}, "at least 3 characters"),
        ({"tenant_bootstrap_users": [{"username": "admin", "password": PASSWORD}]}, "Everest's own administrator account"),
        ({"tenant_bootstrap_users": [{"username": "acme", "password": "short"}]}, "not accepted by Everest"),
        ({"tenant_bootstrap_users": [{"username": "acme", "password": "x" * 200000}]}, "longer than 4096 characters"),
        (
            {"tenant_bootstrap_users": [{"username": "u_%d" % i, "password": PASSWORD} for i in range(3)], "tenant_bootstrap_limits": {"max_db_users": 2}},
            "3 users (u_0, u_1, u_2) but tenant_bootstrap_limits.max_db_users is 2",
        ),
        ({"tenant_bootstrap_limits": {"max_clusters": 10**12}}, "must be between 0 and 100000"),
        ({"tenant_bootstrap_operators": {"postgresql": False}}, "at least one operator"),
        ({"tenant_bootstrap_rbac_preset": "custom"}, "needs tenant_bootstrap_rbac_policies"),
        ({"tenant_bootstrap_limits": {"max_clusters": "many"}}, "invalid role variables"),
        ({"tenant_bootstrap_state": "gone"}, "invalid role variables"),
    ],
)
def test_invalid_tenants_are_refused_with_the_fix(overrides, expected):
    p = plan(**overrides)
    assert not p["valid"] and expected in p["problem"]
    assert p["problem"].startswith("tenant acme: ") and p["problem"].endswith(_tenants.FIX)
    assert "steps" not in p and PASSWORD not in p["problem"]


def test_absent_tenant_needs_no_password_and_plans_the_offboarding_order():
    p = plan(tenant_bootstrap_state="absent", tenant_bootstrap_users=[{"username": "acme", "password": ""}], tenant_bootstrap_purge=True)
    assert p["valid"] and p["present"] is False
    assert p["steps"]["rbac"] == {"block": "ns-acme", "state": "absent", "tenant": "acme"}
    assert p["steps"]["accounts"] == [{"username": "acme", "state": "absent", "tenant": "acme"}]
    assert p["steps"]["purge"] == {"name": "ns-acme", "state": "absent", "force": False, "tenant": "acme"}
    assert "namespace" not in p["steps"]


def test_host_name_must_be_a_label_value():
    assert not plan("x" * 64)["valid"]
    assert not plan("-bad")["valid"]
    assert plan("a.b_c-1")["valid"]


def test_custom_preset_lines_that_stay_inside_the_tenant():
    grant = {"subject": "role:tenant-ns-acme", "resource": "namespaces", "action": "read", "object": "ns-acme"}
    custom = ["p, role:tenant-ns-acme, database-clusters, read, ns-acme/*", grant, {"user": "acme", "role": "role:tenant-ns-acme"}]
    p = plan(tenant_bootstrap_rbac_preset="custom", tenant_bootstrap_rbac_policies=custom)
    assert p["valid"], p["problem"]
    assert p["rbac_lines"] == [
        "p, role:tenant-ns-acme, database-clusters, read, ns-acme/*",
        "p, role:tenant-ns-acme, namespaces, read, ns-acme",
        "g, acme, role:tenant-ns-acme",
    ]


@pytest.mark.parametrize(
    "line,expected",
    [
        ("p, role:x, database-clusters, *, */*", "grants to role:x"),
        ("p, role:tenant-ns-acme, database-clusters, *, */*", "outside the tenant's namespace"),
        ("p, role:tenant-ns-acme, database-clusters, *, ns-bob/*", "outside the tenant's namespace"),
        ("g, acme, role:admin", "binds 'acme' to role:admin"),
        ("g, bob, role:tenant-ns-acme", "not one of this tenant's users"),
        ("g, role:tenant-ns-bob, role:tenant-ns-acme", "may not be granted to another role"),
        ("p, role:tenant-ns-acme, database-clusters, write, ns-acme/*", "matches none of Everest's actions"),
        ("p, role:tenant-ns-acme, data-importers, read, *", "shared by every tenant"),
        ("p, role:tenant-ns-acme, namespaces, read, *", "shared by every tenant"),
        ("p, role:tenant-ns-acme, no-such-resource, read, ns-acme/*", "Everest does not know"),
    ],
)
def test_the_escalation_guard_refuses_custom_lines_that_leave_the_tenant(line, expected):
    p = plan(tenant_bootstrap_rbac_preset="custom", tenant_bootstrap_rbac_policies=[line, "g, acme, role:tenant-ns-acme"])
    assert not p["valid"] and expected in p["problem"]


def test_unknown_actions_have_an_opt_out():
    line = "p, role:tenant-ns-acme, database-clusters, write, ns-acme/*"
    p = plan(
        tenant_bootstrap_rbac_preset="custom",
        tenant_bootstrap_rbac_policies=[line, "g, acme, role:tenant-ns-acme"],
        tenant_bootstrap_allow_unknown_rbac_actions=True,
    )
    assert p["valid"], p["problem"]


def test_clashes_between_the_tenants_of_a_run():
    inputs = [
        ("a", values(tenant_bootstrap_namespace="ns-1", tenant_bootstrap_users=[{"username": "usr1", "password": PASSWORD}])),
        ("b", values(tenant_bootstrap_namespace="ns-1", tenant_bootstrap_users=[{"username": "usr2", "password": PASSWORD}])),
        (
            "c",
            values(
                tenant_bootstrap_namespace="ns-3",
                tenant_bootstrap_users=[{"username": "usr2", "password": PASSWORD}, {"username": "usr3", "password": PASSWORD}],
            ),
        ),
        ("d", values(tenant_bootstrap_namespace="ns-4", tenant_bootstrap_users=[{"username": "usr4", "password": PASSWORD}])),
    ]
    plans = dict((p["name"], p) for p in _tenants.plan_tenants(inputs))
    assert [n for n, p in sorted(plans.items()) if not p["valid"]] == ["a", "b", "c"]
    assert "with tenant(s) b of this run" in plans["a"]["problem"] and "with tenant(s) a, c of this run" in plans["b"]["problem"]
    assert plans["d"]["valid"]


CLUSTER = {
    "namespaces": {"ns-bob": "bob", "ns-old": "acme"},
    "blocks": {"ns-bob": "bob"},
    "accounts": {"bob": "bob"},
    "existing_accounts": ["admin", "bob", "ops_person"],
}


@pytest.mark.parametrize(
    "overrides,expected",
    [
        ({"tenant_bootstrap_namespace": "ns-bob"}, "namespace 'ns-bob' belongs to tenant 'bob'"),
        ({"tenant_bootstrap_users": [{"username": "bob", "password": PASSWORD}]}, "account 'bob' belongs to tenant 'bob'"),
        ({"tenant_bootstrap_users": [{"username": "ops_person", "password": PASSWORD}]}, "belong to no tenant"),
    ],
)
def test_a_tenant_never_takes_what_another_tenant_owns(overrides, expected):
    p = plan(name="evil", cluster=dict(CLUSTER, namespaces={"ns-bob": "bob"}), **overrides)
    assert not p["valid"] and expected in p["problem"]
    assert "takeover_from: bob" in p["problem"] or "take_ownership" in p["problem"]


def test_an_explicit_handover_or_adoption_is_allowed():
    cluster = dict(CLUSTER, namespaces={"ns-bob": "bob"})
    p = plan(
        name="carol",
        cluster=cluster,
        tenant_bootstrap_namespace="ns-bob",
        tenant_bootstrap_takeover_from="bob",
        tenant_bootstrap_users=[{"username": "bob", "password": PASSWORD}],
    )
    assert p["valid"], p["problem"]
    assert p["steps"]["namespace"]["takeover_from"] == "bob" and p["steps"]["accounts"][0]["takeover_from"] == "bob"
    adopted = plan(cluster=cluster, tenant_bootstrap_users=[{"username": "ops_person", "password": PASSWORD}], tenant_bootstrap_take_ownership=True)
    assert adopted["valid"], adopted["problem"]


def test_offboarding_never_removes_another_tenants_objects():
    p = plan(
        name="evil",
        cluster=CLUSTER,
        tenant_bootstrap_state="absent",
        tenant_bootstrap_namespace="ns-bob",
        tenant_bootstrap_users=[{"username": "bob", "password": ""}],
        tenant_bootstrap_purge=True,
    )
    assert not p["valid"] and "never removes what another tenant owns" in p["problem"]


def test_a_tenants_namespace_is_immutable():
    p = plan(cluster=CLUSTER)
    assert not p["valid"] and "already owns namespace(s) ns-old" in p["problem"]
    assert plan(cluster=CLUSTER, tenant_bootstrap_namespace="ns-old")["valid"]


def test_step_failures_and_changes_map_back_to_tenants():
    inputs = [
        ("a", values(tenant_bootstrap_namespace="ns-a", tenant_bootstrap_users=[{"username": "usra", "password": PASSWORD}])),
        ("b", values(tenant_bootstrap_namespace="ns-b", tenant_bootstrap_users=[{"username": "usrb", "password": PASSWORD}])),
    ]
    plans = _tenants.plan_tenants(inputs)
    result = {"failed": True, "results": [{"name": "ns-a", "changed": True}, {"name": "ns-b", "failed": True, "msg": "boom"}]}
    assert _tenants.step_failures(result, plans, "namespace") == {"b": "tenant b: boom"}
    assert _tenants.step_changed(result, plans, "namespace") == ["a"]
    # policy results carry the policy's name too: they map by namespace
    policies = {
        "results": [
            {"namespace": "ns-a", "name": "resource-policy", "changed": True},
            {"namespace": "ns-b", "name": "resource-policy", "failed": True, "msg": "no"},
        ]
    }
    assert _tenants.step_changed(policies, plans, "policy") == ["a"]
    assert _tenants.step_failures(policies, plans, "policy") == {"b": "tenant b: no"}
    accounts = {"results": [{"username": "usrb", "failed": True, "msg": "no"}]}
    assert _tenants.step_failures(accounts, plans, "accounts") == {"b": "tenant b: account usrb: no"}


def test_summary_rows_say_would_change_in_check_mode():
    other = values(tenant_bootstrap_namespace="ns-b", tenant_bootstrap_users=[{"username": "bbb", "password": PASSWORD}])
    plans = _tenants.plan_tenants([("a", values()), ("b", other)])
    rows = _tenants.summary_rows(plans, {}, {"a"}, check_mode=True)
    assert [r["status"] for r in rows] == ["would change", "ok"]
    lines = _tenants.summary_lines(rows, "proven")
    assert lines[0].startswith("TENANT") and lines[-2] == "isolation proof: proven" and lines[-1] == "failed tenants: none"


def test_role_constants_equal_the_module_utils_ones():
    """The role keeps two copies (the tenant label for docs and the password rule for rotate_passwords.yml)."""
    assert ROLE_VARS["tenant_bootstrap__tenant_label"] == _constants.TENANT_LABEL
    assert ROLE_VARS["tenant_bootstrap__password_re"] == _validation.PASSWORD_PATTERN.replace("{6,}", "{6,%d}" % _validation.PASSWORD_MAX_LENGTH)
