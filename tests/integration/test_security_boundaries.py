"""Tenant boundaries that hold across runs (issue #13): whoever acts and in whatever run, a tenant never takes or removes
what another tenant owns, a custom RBAC block never reaches outside its tenant, and reserved namespaces are never
adopted or removed.

Each takeover is tried the ways an operator really would: ``--limit`` on a shared inventory, a separate inventory in
per-tenant mode, a separate inventory in fleet mode, and AWX's onboarding survey playbook. Each must be refused before
any write, and the victim's state must be byte-identical afterwards (same objects, same resourceVersions).
"""

import copy
import json

import pytest

from test_role_fleet import FLEET, localhost_inventory
from test_role_tenant_bootstrap import ACCOUNTS, BOOTSTRAP, OFFBOARD, QUOTA, RBAC, REPO, TRP, Cluster, write_inventory

pytestmark = pytest.mark.integration

SURVEY = str(REPO / "awx" / "playbooks" / "onboard_tenant.yml")
VICTIM = {"alice": {"tenant_bootstrap_password": "Alice@pass1", "tenant_bootstrap_operators": {"postgresql": True}}}
INTRUDER_PASSWORD = "Mallory#pass9"


@pytest.fixture
def cluster(clean_sandbox):
    return Cluster(clean_sandbox)


@pytest.fixture
def victim(ansible, cluster, tmp_path):
    """Tenant alice onboarded alone; returns her state snapshot."""
    run = ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, VICTIM, name="victim.yml"))
    assert run.rc == 0, run.output[-4000:]
    return snapshot(cluster)


def snapshot(cluster):
    """Everything of alice's the intruder could touch, as the API serves it (resourceVersions included)."""
    secret = cluster.get(ACCOUNTS)
    return json.dumps(
        {
            "namespace": cluster.namespace("ns-alice"),
            "rbac": cluster.get(RBAC),
            "policy": cluster.get(TRP % "ns-alice"),
            "quota": cluster.get(QUOTA % "ns-alice"),
            "accounts_secret": secret,
        },
        sort_keys=True,
    )


def intruder(**overrides):
    values = {"tenant_bootstrap_password": INTRUDER_PASSWORD, "tenant_bootstrap_operators": {"postgresql": True}}
    values.update(overrides)
    return {"mallory": values}


TAKEOVERS = {
    "namespace": dict(tenant_bootstrap_namespace="ns-alice"),
    "account": dict(tenant_bootstrap_users=[{"username": "alice", "password": INTRUDER_PASSWORD}]),
    "escalation": dict(
        tenant_bootstrap_rbac_preset="custom",
        tenant_bootstrap_rbac_policies=["p, role:x, database-clusters, *, */*", "g, mallory, role:admin", "g, mallory, role:x"],
    ),
}
REFUSALS = {
    "namespace": "namespace 'ns-alice' belongs to tenant 'alice'",
    "account": "account 'alice' belongs to tenant 'alice'",
    "escalation": "binds 'mallory' to role:admin",
}


def assert_refused_before_any_write(run, cluster, before, kind):
    assert run.rc != 0
    text = " ".join(run.output.split())
    assert REFUSALS[kind] in text, run.output[-3000:]
    assert cluster.writes() == {}, cluster.writes()
    assert snapshot(cluster) == before
    assert cluster.namespace("ns-mallory") is None


@pytest.mark.parametrize("kind", sorted(TAKEOVERS))
def test_takeover_with_limit_on_a_shared_inventory(ansible, cluster, victim, tmp_path, kind):
    inventory = write_inventory(tmp_path, dict(VICTIM, **intruder(**TAKEOVERS[kind])), name="shared.yml")
    cluster.sandbox.reset_stats()
    run = ansible.playbook(BOOTSTRAP, inventory=inventory, limit="mallory")
    assert_refused_before_any_write(run, cluster, victim, kind)


@pytest.mark.parametrize("kind", sorted(TAKEOVERS))
def test_takeover_from_a_separate_inventory(ansible, cluster, victim, tmp_path, kind):
    inventory = write_inventory(tmp_path, intruder(**TAKEOVERS[kind]), name="other.yml")
    cluster.sandbox.reset_stats()
    run = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert_refused_before_any_write(run, cluster, victim, kind)


@pytest.mark.parametrize("kind", sorted(TAKEOVERS))
def test_takeover_in_fleet_mode(ansible, cluster, victim, tmp_path, kind):
    inventory = localhost_inventory(tmp_path, intruder(**TAKEOVERS[kind]), name="fleet-other.yml")
    cluster.sandbox.reset_stats()
    run = ansible.playbook(FLEET, inventory=inventory)
    assert_refused_before_any_write(run, cluster, victim, kind)


@pytest.mark.parametrize("kind", ["namespace", "account"])
def test_takeover_through_the_awx_survey(ansible, cluster, victim, kind):
    survey = {
        "everest_survey_tenant": "mallory",
        "everest_survey_password": INTRUDER_PASSWORD,
        "everest_survey_operators": ["postgresql"],
        "everest_survey_cpu": 1,
        "everest_survey_memory": "1Gi",
        "everest_survey_max_clusters": 1,
        "everest_survey_max_db_users": 1,
        "everest_survey_rbac_preset": "namespace_admin",
    }
    if kind == "namespace":
        survey["everest_survey_namespace"] = "ns-alice"
    else:
        survey["everest_survey_username"] = "alice"
    cluster.sandbox.reset_stats()
    run = ansible.playbook(SURVEY, extra_vars=survey)
    assert_refused_before_any_write(run, cluster, victim, kind)


def test_offboarding_an_intruder_never_removes_the_victims_objects(ansible, cluster, victim, tmp_path):
    """An inventory that names alice's namespace and user for another tenant, offboarded with purge: refused."""
    inventory = write_inventory(
        tmp_path, intruder(tenant_bootstrap_namespace="ns-alice", tenant_bootstrap_users=[{"username": "alice", "password": ""}]), name="offboard.yml"
    )
    cluster.sandbox.reset_stats()
    run = ansible.playbook(OFFBOARD, inventory=inventory, extra_vars={"tenant_bootstrap_purge": True, "tenant_bootstrap_force": True})
    assert run.rc != 0
    assert "never removes what another tenant owns" in " ".join(run.output.split())
    assert cluster.writes() == {} and snapshot(cluster) == victim


def test_an_explicit_handover_is_the_way_out(ansible, cluster, victim, tmp_path):
    """takeover_from naming the owner hands the namespace and its account over; the message said so."""
    carol = {
        "carol": {
            "tenant_bootstrap_namespace": "ns-alice",
            "tenant_bootstrap_users": [{"username": "alice", "password": "Alice@pass1"}],
            "tenant_bootstrap_operators": {"postgresql": True},
            "tenant_bootstrap_takeover_from": "alice",
        }
    }
    run = ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, carol, name="carol.yml"))
    assert run.rc == 0, run.output[-4000:]
    assert cluster.namespace("ns-alice")["metadata"]["labels"]["virakcloud.everest/tenant"] == "carol"
    assert cluster.block("ns-alice")[0] == "# tenant=carol namespace=ns-alice"
    owners = json.loads(cluster.get(ACCOUNTS)["metadata"]["annotations"]["virakcloud.everest/account-tenants"])
    assert owners["alice"] == "carol"
    again = ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, carol, name="carol.yml"))
    assert again.rc == 0 and again.total("changed") == 0


@pytest.mark.parametrize("namespace", ["kube-system", "default", "kube-public"])
def test_reserved_namespaces_are_never_adopted_or_removed(ansible, cluster, tmp_path, namespace):
    tenant = {
        "sysgrab": {
            "tenant_bootstrap_password": INTRUDER_PASSWORD,
            "tenant_bootstrap_namespace": namespace,
            "tenant_bootstrap_take_ownership": True,
            "tenant_bootstrap_operators": {"postgresql": True},
        }
    }
    inventory = write_inventory(tmp_path, tenant, name="sys.yml")
    cluster.sandbox.reset_stats()
    adopt = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert adopt.rc != 0 and "is a reserved namespace" in " ".join(adopt.output.split())
    remove = ansible.playbook(OFFBOARD, inventory=inventory, extra_vars={"tenant_bootstrap_purge": True})
    assert remove.rc != 0 and "is a reserved namespace" in " ".join(remove.output.split())
    assert cluster.writes() == {}
    assert "app.kubernetes.io/managed-by" not in (cluster.namespace(namespace)["metadata"].get("labels") or {})


# --- the modules hold the line on their own: a playbook that bypasses the role is refused too ------------------------

MODULE_TAKEOVERS = [
    ("everest_namespace", {"name": "ns-alice", "operators": {"postgresql": True}, "tenant": "mallory"}, "belongs to tenant 'alice'"),
    (
        "everest_namespace",
        {"name": "ns-alice", "operators": {"postgresql": True}, "labels": {"virakcloud.everest/tenant": "mallory"}},
        "belongs to tenant 'alice'",
    ),
    ("everest_namespace", {"name": "ns-alice", "state": "absent", "force": True, "tenant": "mallory"}, "never removes"),
    ("everest_account", {"username": "alice", "password": INTRUDER_PASSWORD, "tenant": "mallory"}, "belongs to tenant 'alice'"),
    ("everest_account", {"username": "alice", "state": "absent", "tenant": "mallory"}, "never removes"),
    ("everest_rbac_policy", {"block": "ns-alice", "tenant": "mallory", "policies": ["g, mallory, role:tenant-ns-alice"]}, "belongs to tenant 'alice'"),
    ("everest_rbac_policy", {"block": "ns-alice", "state": "absent", "tenant": "mallory"}, "never removes"),
    ("tenant_resource_policy", {"namespace": "ns-alice", "limits": {"cpu": 64}, "tenant": "mallory"}, "belongs to tenant 'alice'"),
    ("tenant_resource_policy", {"namespace": "ns-alice", "state": "absent", "tenant": "mallory"}, "never removes"),
    ("everest_namespace", {"name": "kube-system", "operators": {"postgresql": True}, "take_ownership": True}, "reserved namespace"),
]


@pytest.mark.parametrize("module, args, expected", MODULE_TAKEOVERS, ids=["%s-%d" % (m[0], i) for i, m in enumerate(MODULE_TAKEOVERS)])
def test_the_modules_refuse_on_their_own(ansible, cluster, victim, tmp_path, module, args, expected):
    playbook = tmp_path / "direct.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [{"name": "direct", "virakcloud.everest.%s" % module: args}]}]))
    cluster.sandbox.reset_stats()
    run = ansible.playbook(str(playbook))
    assert run.rc != 0 and expected in " ".join(run.output.split()), run.output[-3000:]
    assert cluster.writes() == {} and snapshot(cluster) == victim


def test_a_foreign_block_that_would_break_isolation_is_never_written(ansible, cluster, victim, tmp_path):
    """Two tenants in the cluster; a block (no tenant, written by hand through the module) binding alice to role:admin
    would let her reach bob's namespace: the module's isolation proof refuses it before writing."""
    bob = {"bob": {"tenant_bootstrap_password": "Bob@pass22", "tenant_bootstrap_operators": {"postgresql": True}}}
    assert ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, bob, name="bob.yml")).rc == 0
    playbook = tmp_path / "evil.yml"
    playbook.write_text(
        json.dumps(
            [
                {
                    "hosts": "localhost",
                    "gather_facts": False,
                    "tasks": [{"name": "evil", "virakcloud.everest.everest_rbac_policy": {"block": "ops", "policies": ["g, alice, role:admin"]}}],
                }
            ]
        )
    )
    before = copy.deepcopy(cluster.get(RBAC))
    cluster.sandbox.reset_stats()
    run = ansible.playbook(str(playbook))
    text = " ".join(run.output.split())
    assert run.rc != 0 and "would break tenant isolation" in text and "user alice of tenant alice could" in text, run.output[-3000:]
    assert cluster.writes() == {} and cluster.get(RBAC) == before
