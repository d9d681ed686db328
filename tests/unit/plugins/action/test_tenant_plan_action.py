"""Unit tests of the tenant_plan action's pure parts: validation, derivation and clash detection (the role's
integration tests drive the action itself through ansible-playbook in both modes)."""

from pathlib import Path

import pytest
import yaml

from ansible_collections.virakcloud.everest.plugins.action import tenant_plan
from ansible_collections.virakcloud.everest.plugins.module_utils import _validation

ROLE = Path(__file__).resolve().parents[4] / "roles" / "tenant_bootstrap"
SPEC = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
ROLE_VARS = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
CONSTANTS = {key: ROLE_VARS[key] for key in tenant_plan.CONSTANTS}


def values(**overrides):
    base = {
        "tenant_bootstrap_state": "present",
        "tenant_bootstrap_namespace": "ns-acme",
        "tenant_bootstrap_users": [{"username": "acme", "password": "Acme@pass1"}],
        "tenant_bootstrap_operators": {"postgresql": True, "mysql": False},
        "tenant_bootstrap_limits": {"cpu": 2, "memory": "4Gi", "max_clusters": 2, "max_db_users": 5},
        "tenant_bootstrap_rbac_preset": "namespace_admin",
        "tenant_bootstrap_rbac_policies": [],
        "tenant_bootstrap_enable_rbac": True,
    }
    base.update(overrides)
    return base


def test_valid_tenant_derives_the_block_without_secrets():
    plan, problems = tenant_plan.plan_tenant("acme", values(), CONSTANTS, SPEC)
    assert problems == []
    assert plan["namespace"] == "ns-acme" and plan["usernames"] == ["acme"] and plan["engines"] == ["postgresql"]
    assert plan["rbac_lines"][0] == "p, role:tenant-ns-acme, namespaces, read, ns-acme"
    assert "p, role:tenant-ns-acme, database-clusters, *, ns-acme/*" in plan["rbac_lines"]
    assert plan["rbac_lines"][-1] == "g, acme, role:tenant-ns-acme"
    assert len(plan["rbac_lines"]) == len(CONSTANTS["tenant_bootstrap__presets"]["namespace_admin"]) + 1
    assert "Acme@pass1" not in repr(plan)


@pytest.mark.parametrize("overrides,expected", [
    ({"tenant_bootstrap_namespace": "Bad_NS"}, "invalid input"),
    ({"tenant_bootstrap_namespace": "everest-system"}, "invalid input"),
    ({"tenant_bootstrap_users": [{"username": "ab", "password": "Acme@pass1"}]}, "invalid input"),
    ({"tenant_bootstrap_users": [{"username": "acme", "password": "short"}]}, "is empty or not accepted by Everest"),
    ({"tenant_bootstrap_users": [{"username": "u_%d" % i, "password": "Acme@pass1"} for i in range(3)],
      "tenant_bootstrap_limits": {"max_db_users": 2}}, "3 users (u_0, u_1, u_2) but tenant_bootstrap_limits.max_db_users is 2"),
    ({"tenant_bootstrap_operators": {"postgresql": False}}, "at least one operator"),
    ({"tenant_bootstrap_rbac_preset": "custom"}, "needs tenant_bootstrap_rbac_policies"),
    ({"tenant_bootstrap_limits": {"max_clusters": "many"}}, "invalid role variables"),
    ({"tenant_bootstrap_state": "gone"}, "invalid role variables"),
])
def test_invalid_tenants_are_refused_with_the_fix(overrides, expected):
    plan, problems = tenant_plan.plan_tenant("acme", values(**overrides), CONSTANTS, SPEC)
    assert problems and expected in " ".join(problems)
    assert all(p.startswith("tenant acme") for p in problems)
    assert "Acme@pass1" not in " ".join(problems)


def test_absent_tenant_needs_no_password():
    plan, problems = tenant_plan.plan_tenant("acme", values(tenant_bootstrap_state="absent",
                                                            tenant_bootstrap_users=[{"username": "acme", "password": ""}]),
                                             CONSTANTS, None)
    assert problems == [] and plan["present"] is False


def test_host_name_must_be_a_label_value():
    assert tenant_plan.plan_tenant("x" * 64, values(), CONSTANTS, SPEC)[1]
    assert tenant_plan.plan_tenant("-bad", values(), CONSTANTS, SPEC)[1]
    assert not tenant_plan.plan_tenant("a.b_c-1", values(), CONSTANTS, SPEC)[1]


def test_custom_preset_lines():
    grant = {"subject": "role:dev", "resource": "namespaces", "action": "read", "object": "ns-acme"}
    custom = ["p, role:dev, database-clusters, *, ns-acme/*", grant, {"user": "acme", "role": "role:dev"}]
    plan, problems = tenant_plan.plan_tenant("acme", values(tenant_bootstrap_rbac_preset="custom",
                                                            tenant_bootstrap_rbac_policies=custom), CONSTANTS, SPEC)
    assert problems == []
    assert plan["rbac_lines"] == ["p, role:dev, database-clusters, *, ns-acme/*", "p, role:dev, namespaces, read, ns-acme",
                                  "g, acme, role:dev"]


def test_clashes_are_found_in_one_pass():
    plans = [{"name": "a", "namespace": "ns-1", "usernames": ["u1"]}, {"name": "b", "namespace": "ns-1", "usernames": ["u2"]},
             {"name": "c", "namespace": "ns-3", "usernames": ["u2", "u3"]}, {"name": "d", "namespace": "ns-4", "usernames": ["u4"]}]
    assert tenant_plan.clashes(plans) == {"a": ["b"], "b": ["a", "c"], "c": ["b"]}


def test_role_password_rule_equals_the_module_utils_one():
    """rotate_passwords.yml keeps a copy of the password rule; it must not drift from _validation's."""
    assert ROLE_VARS["tenant_bootstrap__password_re"] == _validation.PASSWORD_PATTERN
