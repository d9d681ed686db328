"""The report's drift: the inventory's view of a tenant (tenant_plan summary) against the cluster's (tenant_info row)."""

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils import _inventory_drift

CLUSTER = {
    "namespace": "ns-a",
    "managed": True,
    "users": ["alice"],
    "operators": ["pxc", "postgresql"],
    "allowed_engines": ["mysql", "postgresql"],
    "limits": {"cpu_cores": 0.5, "memory_bytes": 4 * 2**30, "max_clusters": 3, "max_db_users": None},
    "drift": {"namespace_missing": False, "namespace_not_managed": False, "rbac_block_missing": False, "missing_accounts": [], "over_limits": []},
}
WANTED = {
    "tenant": "a",
    "state": "present",
    "namespace": "ns-a",
    "users": ["alice"],
    "operators": ["mysql", "postgresql"],
    "engines": ["postgresql", "mysql"],
    "limits": {"cpu": "500m", "memory": "4Gi", "max_clusters": 3},
}


def test_the_same_tenant_in_other_words_is_no_drift():
    # 500m = 0.5 cores, 4Gi = 4294967296 bytes, pxc = mysql, engines in any order, a limit the inventory leaves out
    assert _inventory_drift.differences(WANTED, CLUSTER) == []


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"limits": {"memory": "8Gi"}}, "memory: cluster 4Gi, inventory 8Gi"),
        ({"limits": {"memory": "6442450944"}}, "memory: cluster 4Gi, inventory 6442450944"),
        ({"limits": {"cpu": 2}}, "cpu: cluster 0.5, inventory 2"),
        ({"limits": {"max_db_users": 5}}, "max_db_users: cluster none, inventory 5"),
        ({"users": ["alice", "bob"]}, "users missing in the cluster: bob"),
        ({"users": []}, "users not in the inventory: alice"),
        ({"operators": ["mysql", "postgresql", "mongodb"]}, "operators missing in the cluster: mongodb"),
        ({"engines": ["postgresql"]}, "engines not in the inventory: mysql"),
    ],
)
def test_each_difference_is_named_in_the_inventorys_units(change, expected):
    wanted = dict(WANTED, **change)
    assert _inventory_drift.differences(wanted, CLUSTER) == [expected]


def test_onboarding_and_offboarding_pending():
    assert _inventory_drift.differences(WANTED, None) == ["not onboarded: no TenantResourcePolicy in namespace ns-a"]
    assert _inventory_drift.differences(dict(WANTED, state="absent"), CLUSTER) == ["offboarded in the inventory, still in the cluster"]
    assert _inventory_drift.differences(dict(WANTED, state="absent"), None) == []


def test_report_rows_lines_and_cluster_tenants_outside_the_inventory():
    other = dict(CLUSTER, namespace="ns-b", users=["bob"], drift=dict(CLUSTER["drift"], rbac_block_missing=True, missing_accounts=["bob"]))
    out = _inventory_drift.report([other, CLUSTER], [dict(WANTED, limits={"memory": "8Gi"})])
    assert [r["namespace"] for r in out["rows"]] == ["ns-a", "ns-b"]
    assert out["rows"][1]["in_inventory"] is False and out["rows"][1]["drift"] == ["RBAC block missing", "accounts missing: bob"]
    assert out["drifted"] == ["ns-a", "ns-b"]
    assert out["lines"][0].startswith("NAMESPACE") and out["lines"][-1] == "drifted tenants: ns-a, ns-b"
    assert "0.5/4Gi/-/3/-" in out["lines"][1] and "memory: cluster 4Gi, inventory 8Gi" in out["lines"][1]
    assert out["rows"][0]["operators"] == ["mysql", "postgresql"]  # in the inventory's words


def test_an_unreadable_inventory_value_is_left_to_the_plan():
    # tenant_plan refuses it with a message of its own; the report does not guess
    assert _inventory_drift.differences(dict(WANTED, limits={"memory": "lots"}), CLUSTER) == []


def test_sso_identities_are_block_members_not_missing_accounts():
    # an SSO-only tenant: tenant_info lists its subject among the block's users (without an account), its group apart
    cluster = dict(CLUSTER, users=["00u1lead"], groups=["/acme/dbas"], drift=dict(CLUSTER["drift"], missing_accounts=["00u1lead"]))
    wanted = dict(WANTED, users=[], sso_groups=["/acme/dbas"], sso_subjects=["00u1lead"])
    out = _inventory_drift.report([cluster], [wanted])
    assert out["rows"][0]["drift"] == [] and out["drifted"] == []
    # a group the inventory dropped is drift, so is a lost account
    gone = dict(cluster, users=["00u1lead", "bob"], drift=dict(cluster["drift"], missing_accounts=["00u1lead", "bob"]))
    dropped = dict(wanted, sso_groups=[], users=["bob"])
    assert _inventory_drift.report([gone], [dropped])["rows"][0]["drift"] == ["accounts missing: bob", "groups not in the inventory: /acme/dbas"]
