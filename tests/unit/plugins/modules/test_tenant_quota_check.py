"""Unit tests of the tenant_quota_check module (boundary faked: the Kubernetes client)."""

import copy
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "module_utils"))

from test_trp_support import FakeClient, run_module  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.virakcloud.everest.plugins.modules import tenant_quota_check  # noqa: E402  pylint: disable=wrong-import-position

TRP_API = "everest.local/v1"
DBC_API = "everest.percona.com/v1alpha1"


def world():
    client = FakeClient()
    client.put_object({"apiVersion": TRP_API, "kind": "TenantResourcePolicy",
                       "metadata": {"name": "resource-policy", "namespace": "ns-alice", "generation": 1},
                       "spec": {"limits": {"cpuCores": 4, "memoryBytes": 17179869184, "maxClusters": 3, "maxDbUsers": 2},
                                "selectors": {"engines": ["postgresql", "mysql"]}}}, TRP_API, "tenantresourcepolicies")
    for name, cpu in (("pg1", "1500m"), ("pg2", 2)):
        client.put_object({"apiVersion": DBC_API, "kind": "DatabaseCluster", "metadata": {"name": name, "namespace": "ns-alice"},
                           "spec": {"engine": {"type": "postgresql", "replicas": 1, "resources": {"cpu": cpu, "memory": "4Gi"},
                                               "storage": {"size": "1Gi"}}}}, DBC_API, "databaseclusters")
    client.put_object({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "everest-rbac", "namespace": "everest-system"},
                       "data": {"policy.csv": "g, admin, role:admin\n# BEGIN virakcloud.everest ns-alice\ng, alice, role:t\n"
                                              "# END virakcloud.everest ns-alice\n"}}, "v1", "configmaps")
    return client


def run(client, monkeypatch, capsys, args, **kwargs):
    return run_module(tenant_quota_check, dict({"namespace": "ns-alice"}, **args), client, monkeypatch, capsys, **kwargs)


def test_allowed_request_returns_usage_and_headroom(monkeypatch, capsys):
    client = world()
    failed, res = run(client, monkeypatch, capsys, {"engine": "postgresql", "cpu": "500m", "memory": "8Gi"})
    assert not failed and res["allowed"] is True and res["changed"] is False
    assert res["usage"] == {"clusters": 2, "cpu_cores": 3.5, "memory_bytes": 8 * 2 ** 30, "db_users": 1}
    assert res["headroom"] == {"clusters": 1, "cpu_cores": 0.5, "memory_bytes": 8 * 2 ** 30, "db_users": 1}
    assert res["usage_after"]["cpu_cores"] == 4
    assert client.writes() == []
    assert [c[0] for c in client.calls] == ["get", "list", "get"]


def test_violations_fail_with_one_message_each(monkeypatch, capsys):
    client = world()
    failed, res = run(client, monkeypatch, capsys, {"engine": "psmdb", "cpu": 1, "db_users": 2})
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


@pytest.mark.parametrize("args, fragment", [
    ({"cpu": "1 core"}, "cpu '1 core' is not a Kubernetes quantity"),
    ({"memory": "-1Gi"}, "memory must not be negative"),
    ({"engine": "oracle"}, "value of engine must be one of"),
])
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
    assert status["usage"] == {"clusters": 2, "cpuCores": 3.5, "memoryBytes": 8 * 2 ** 30, "dbUsers": 1}
    assert status["conditions"][0]["type"] == "WithinLimits" and status["conditions"][0]["status"] == "True"
    before = copy.deepcopy(client.writes())
    failed, res = run(client, monkeypatch, capsys, {"update_status": True})
    assert not failed and res["changed"] is False and client.writes() == before
