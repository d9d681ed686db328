"""Unit tests of the tenant_quota_check module (boundary faked: the Kubernetes client)."""

import copy
import sys

import yaml
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "module_utils"))

from test_trp_support import FakeClient, run_module  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.virakcloud.everest.plugins.modules import tenant_quota_check  # noqa: E402  pylint: disable=wrong-import-position

TRP_API = "everest.local/v1"
DBC_API = "everest.percona.com/v1alpha1"


def world():
    client = FakeClient()
    client.put_object(
        {
            "apiVersion": TRP_API,
            "kind": "TenantResourcePolicy",
            "metadata": {"name": "resource-policy", "namespace": "ns-alice", "generation": 1},
            "spec": {
                "limits": {"cpuCores": 4, "memoryBytes": 17179869184, "maxClusters": 3, "maxDbUsers": 2},
                "selectors": {"engines": ["postgresql", "mysql"]},
            },
        },
        TRP_API,
        "tenantresourcepolicies",
    )
    for name, cpu in (("pg1", "1500m"), ("pg2", 2)):
        client.put_object(
            {
                "apiVersion": DBC_API,
                "kind": "DatabaseCluster",
                "metadata": {"name": name, "namespace": "ns-alice"},
                "spec": {"engine": {"type": "postgresql", "replicas": 1, "resources": {"cpu": cpu, "memory": "4Gi"}, "storage": {"size": "1Gi"}}},
            },
            DBC_API,
            "databaseclusters",
        )
    client.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "everest-rbac", "namespace": "everest-system"},
            "data": {"policy.csv": "g, admin, role:admin\n# BEGIN virakcloud.everest ns-alice\ng, alice, role:t\n# END virakcloud.everest ns-alice\n"},
        },
        "v1",
        "configmaps",
    )
    return client


def run(client, monkeypatch, capsys, args, **kwargs):
    return run_module(tenant_quota_check, dict({"namespace": "ns-alice"}, **args), client, monkeypatch, capsys, **kwargs)


def test_allowed_request_returns_usage_and_headroom(monkeypatch, capsys):
    client = world()
    failed, res = run(client, monkeypatch, capsys, {"engine": "postgresql", "cpu": "500m", "memory": "8Gi"})
    assert not failed and res["allowed"] is True and res["changed"] is False
    assert res["usage"] == {"clusters": 2, "cpu_cores": 3.5, "memory_bytes": 8 * 2**30, "db_users": 1}
    assert res["headroom"] == {"clusters": 1, "cpu_cores": 0.5, "memory_bytes": 8 * 2**30, "db_users": 1}
    assert res["usage_after"]["cpu_cores"] == 4
    assert client.writes() == []
    assert [c[0] for c in client.calls] == ["get", "list", "get"]


def test_violations_fail_with_one_message_each(monkeypatch, capsys):
    client = world()
    # memory is given because the policy limits it (a new cluster without it is refused as incomplete); 8Gi + 1Gi fits
    failed, res = run(client, monkeypatch, capsys, {"engine": "psmdb", "cpu": 1, "memory": "1Gi", "db_users": 2})
    assert failed and res["allowed"] is False
    assert res["violations"] == [
        "ns-alice: engine psmdb is not allowed by TenantResourcePolicy ns-alice/resource-policy; allowed engines: mysql (pxc), postgresql (postgresql)",
        "ns-alice: cpu 4.5 cores would exceed the limit of 4 (in use 3.5, requested 1)",
        "ns-alice: db users 3 would exceed the limit of 2 (in use 1, requested 2)",
    ]
    assert res["msg"] == "; ".join(res["violations"])


def test_missing_policy_fails_with_the_fix(monkeypatch, capsys):
    client = world()
    failed, res = run(client, monkeypatch, capsys, {"namespace": "ns-bob", "engine": "postgresql"})
    assert failed and "no TenantResourcePolicy 'resource-policy' in namespace ns-bob" in res["msg"]
    assert "virakcloud.everest.tenant_resource_policy" in res["msg"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        ({"cpu": "1 core"}, "cpu '1 core' is not a Kubernetes quantity"),
        ({"memory": "-1Gi"}, "memory must not be negative"),
        ({"engine": "oracle"}, "value of engine must be one of"),
        ({"engine": "postgresql", "replicas": 0, "cpu": 1, "memory": "1Gi"}, "replicas must be an integer of at least 1"),
    ],
)
def test_bad_request_fails_before_any_call(monkeypatch, capsys, args, fragment):
    client = world()
    client.calls.clear()
    failed, res = run(client, monkeypatch, capsys, args)
    assert failed and fragment in res["msg"]
    assert client.calls == []


def test_update_status_writes_once_and_not_in_check_mode(monkeypatch, capsys):
    client = world()
    failed, res = run(client, monkeypatch, capsys, {"update_status": True}, check=True)
    assert not failed and res["changed"] is False and client.writes() == []
    failed, res = run(client, monkeypatch, capsys, {"update_status": True})
    assert not failed and res["changed"] is True
    status = client.obj(TRP_API, "tenantresourcepolicies", "ns-alice", "resource-policy")["status"]
    assert status["usage"] == {"clusters": 2, "cpuCores": 3.5, "memoryBytes": 8 * 2**30, "dbUsers": 1}
    assert status["conditions"][0]["type"] == "WithinLimits" and status["conditions"][0]["status"] == "True"
    before = copy.deepcopy(client.writes())
    failed, res = run(client, monkeypatch, capsys, {"update_status": True})
    assert not failed and res["changed"] is False and client.writes() == before


def test_mistyped_resize_fails_naming_the_cluster(monkeypatch, capsys):
    """cluster_name naming no cluster and no engine: refused (it used to be answered allowed: true, nothing requested)."""
    client = world()
    client.put_object(
        {
            "apiVersion": TRP_API,
            "kind": "TenantResourcePolicy",
            "metadata": {"name": "tight", "namespace": "ns-alice"},
            "spec": {"limits": {"maxClusters": 0, "cpuCores": 1}, "selectors": {"engines": ["postgresql"]}},
        },
        TRP_API,
        "tenantresourcepolicies",
    )
    failed, res = run(client, monkeypatch, capsys, {"policy_name": "tight", "cluster_name": "pg-typo", "replicas": 3, "cpu": 8})
    assert failed and res["allowed"] is False and res["changed"] is False
    assert res["msg"] == (
        "ns-alice: database cluster ns-alice/pg-typo does not exist, so there is nothing to resize; give engine to "
        "check a new cluster of that name, or fix cluster_name"
    )
    assert client.writes() == []


def test_new_cluster_without_memory_fails_naming_the_option(monkeypatch, capsys):
    client = world()
    failed, res = run(client, monkeypatch, capsys, {"engine": "postgresql", "cpu": "500m", "update_status": True})
    assert failed and res["allowed"] is False
    assert res["msg"].startswith("ns-alice: memory is required to check a new cluster against the memory limit of 16Gi; give memory")
    assert client.writes() == []  # not even the status


def _doc_choices(module, *path):
    options = yaml.safe_load(module.DOCUMENTATION)["options"]
    for name in path[:-1]:
        options = options[name]["suboptions"]
    return options[path[-1]]["choices"]


def test_documented_engine_choices_come_from_the_mapping_table():
    """ENGINE_CHOICES is derived from _constants.POLICY_ENGINE_TO_TYPE; the DOCUMENTATION list must match it (validate-modules
    compares DOCUMENTATION choices with the argument_spec ones)."""
    from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _quota  # pylint: disable=import-outside-toplevel

    table = _constants.POLICY_ENGINE_TO_TYPE
    assert set(_quota.ENGINE_CHOICES) == set(table) | set(table.values())
    assert sorted(_doc_choices(tenant_quota_check, "engine")) == sorted(_quota.ENGINE_CHOICES)
