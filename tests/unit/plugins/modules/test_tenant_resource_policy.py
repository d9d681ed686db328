"""Unit tests of the tenant_resource_policy module (boundary faked: the Kubernetes client)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "module_utils"))

from test_trp_support import FakeClient, run_module  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.virakcloud.everest.plugins.modules import tenant_resource_policy  # noqa: E402  pylint: disable=wrong-import-position

TRP_API = "everest.local/v1"
CRD_API = "apiextensions.k8s.io/v1"
CRD_NAME = "tenantresourcepolicies.everest.local"
ARGS = {
    "namespace": "ns-alice",
    "limits": {"cpu": 4, "memory": "16Gi", "max_clusters": 3, "max_db_users": 20},
    "allowed_engines": ["postgresql", "mysql"],
    "labels": {"virakcloud.everest/tenant": "alice"},
}


@pytest.fixture(name="client")
def fixture_client():
    client = FakeClient()

    def establish(path, obj):
        if "customresourcedefinitions" in path:
            obj.setdefault("status", {})["conditions"] = [{"type": "Established", "status": "True"}]
        return obj

    client.on_get = establish
    return client


def run(client, monkeypatch, capsys, args=None, **kwargs):
    return run_module(tenant_resource_policy, ARGS if args is None else args, client, monkeypatch, capsys, **kwargs)


def test_create_rerun_check_and_diff(client, monkeypatch, capsys):
    failed, res = run(client, monkeypatch, capsys, check=True, diff=True)
    assert not failed and res["changed"] is True and res["crd_changed"] is True
    assert client.writes() == []
    assert res["diff"]["before"] == {} and res["diff"]["after"]["spec"]["limits"]["memoryBytes"] == 17179869184

    failed, res = run(client, monkeypatch, capsys)
    assert not failed and res["changed"] is True
    assert res["policy"]["spec"] == {
        "limits": {"cpuCores": 4, "memoryBytes": 17179869184, "maxClusters": 3, "maxDbUsers": 20},
        "selectors": {"engines": ["mysql", "postgresql"]},
    }
    assert res["policy"]["metadata"]["labels"] == {
        "virakcloud.everest/tenant": "alice",
        "app.kubernetes.io/managed-by": "virakcloud.everest",
        "virakcloud.everest/tenant-namespace": "ns-alice",
    }
    assert res["resource_quota"]["hard"] == {"count/databaseclusters.everest.percona.com": "3"}
    assert client.obj(CRD_API, "customresourcedefinitions", None, CRD_NAME) is not None

    client.calls.clear()
    failed, res = run(client, monkeypatch, capsys, diff=True)
    assert not failed and res["changed"] is False and res["crd_changed"] is False
    assert client.writes() == []
    assert len(client.calls) == 3  # CRD GET + TRP GET + ResourceQuota GET
    assert res["diff"]["before"] == res["diff"]["after"]


def test_diff_shows_the_change(client, monkeypatch, capsys):
    run(client, monkeypatch, capsys)
    args = dict(ARGS, limits={"cpu": "4500m", "memory": "16Gi", "max_clusters": 3, "max_db_users": 20})
    failed, res = run(client, monkeypatch, capsys, args=args, check=True, diff=True)
    assert not failed and res["changed"] is True
    assert res["diff"]["before"]["spec"]["limits"]["cpuCores"] == 4
    assert res["diff"]["after"]["spec"]["limits"]["cpuCores"] == 4.5
    assert client.obj(TRP_API, "tenantresourcepolicies", "ns-alice", "resource-policy")["spec"]["limits"]["cpuCores"] == 4


@pytest.mark.parametrize(
    "limits, fragment",
    [
        ({"memory": "16GB"}, "limits.memory '16GB' is not a Kubernetes quantity"),
        ({"cpu": "-2"}, "limits.cpu must not be negative"),
        ({"max_clusters": -1}, "limits.max_clusters must not be negative"),
    ],
)
def test_bad_input_fails_before_any_call(client, monkeypatch, capsys, limits, fragment):
    failed, res = run(client, monkeypatch, capsys, args=dict(ARGS, limits=limits))
    assert failed and fragment in res["msg"]
    assert client.calls == []


def test_422_names_the_field(client, monkeypatch, capsys):
    client.validate["tenantresourcepolicies"] = lambda obj: [
        {"field": "spec.limits.maxClusters", "reason": "FieldValueTooLarge", "message": "should be less than or equal to 10"}
    ]
    failed, res = run(client, monkeypatch, capsys, args=dict(ARGS, install_crd=False))
    assert failed and "spec.limits.maxClusters: should be less than or equal to 10" in res["msg"]
    assert "Traceback" not in res["msg"]


def test_absent(client, monkeypatch, capsys):
    run(client, monkeypatch, capsys)
    failed, res = run(client, monkeypatch, capsys, args={"namespace": "ns-alice", "state": "absent"})
    assert not failed and res["changed"] is True and res["policy"] is None
    assert client.obj(TRP_API, "tenantresourcepolicies", "ns-alice", "resource-policy") is None
    assert client.obj("v1", "resourcequotas", "ns-alice", "resource-policy-clusters") is None
    assert client.obj(CRD_API, "customresourcedefinitions", None, CRD_NAME) is not None
    failed, res = run(client, monkeypatch, capsys, args={"namespace": "ns-alice", "state": "absent"})
    assert not failed and res["changed"] is False


def test_batch_form(client, monkeypatch, capsys):
    args = {
        "policies": [
            {"namespace": "ns-a", "limits": {"cpu": 1, "max_clusters": 1}},
            {"namespace": "ns-b", "limits": {"memory": "1Gi"}, "allowed_engines": ["mongodb"]},
        ]
    }
    failed, res = run(client, monkeypatch, capsys, args=args)
    assert not failed and res["changed"] is True
    assert [(r["namespace"], r["changed"]) for r in res["results"]] == [("ns-a", True), ("ns-b", True)]
    client.calls.clear()
    failed, res = run(client, monkeypatch, capsys, args=args)
    assert not failed and res["changed"] is False
    assert [c[0] for c in client.calls] == ["get", "list", "list"]


def test_batch_rejects_bad_items_before_anything(client, monkeypatch, capsys):
    args = {"policies": [{"namespace": "ns-a", "limits": {"cpu": "1x"}}, {"namespace": "ns-b"}, {"namespace": "ns-b"}]}
    failed, res = run(client, monkeypatch, capsys, args=args)
    assert failed and "ns-a/resource-policy" in res["msg"] and client.calls == []
    failed, res = run(client, monkeypatch, capsys, args={"policies": [{"namespace": "ns-b"}, {"namespace": "ns-b"}]})
    assert failed and "more than once" in res["msg"]


def test_namespace_and_policies_are_exclusive(client, monkeypatch, capsys):
    failed, res = run(client, monkeypatch, capsys, args={"namespace": "a", "policies": []})
    assert failed and "mutually exclusive" in res["msg"]


def test_documented_engine_choices_match_the_mapping_table_and_the_crd():
    """allowed_engines (single and batch form) documents the policy engine names; they come from
    _constants.POLICY_ENGINE_TO_TYPE, which must also equal the CRD's spec.selectors.engines enum."""
    import yaml  # pylint: disable=import-outside-toplevel
    from ansible_collections.virakcloud.everest.plugins.module_utils import _constants, _trp_crd  # pylint: disable=import-outside-toplevel

    options = yaml.safe_load(tenant_resource_policy.DOCUMENTATION)["options"]
    assert sorted(options["allowed_engines"]["choices"]) == list(_constants.POLICY_ENGINES)
    assert sorted(options["policies"]["suboptions"]["allowed_engines"]["choices"]) == list(_constants.POLICY_ENGINES)
    assert tenant_resource_policy.ARGUMENT_SPEC["allowed_engines"]["choices"] == list(_constants.POLICY_ENGINES)
    crd = yaml.safe_load(_trp_crd.CRD_YAML)
    enum = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["selectors"]["properties"]["engines"]["items"]["enum"]
    assert sorted(enum) == list(_constants.POLICY_ENGINES) == sorted(_constants.POLICY_ENGINE_TO_TYPE)
