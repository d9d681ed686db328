"""Unit tests of _trp: normalisation, plan/apply against a fake API, the CRD installer, usage and enforcement."""

import base64
import copy
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_trp_support import FakeClient  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.virakcloud.everest.plugins.module_utils import _quota  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.virakcloud.everest.plugins.module_utils import _tenant_report  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.virakcloud.everest.plugins.module_utils import _trp_crd  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.virakcloud.everest.plugins.module_utils import _trp_policy  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import (  # noqa: E402  pylint: disable=wrong-import-position
    EverestError,
    K8sConflict,
    TimeoutExceeded,
    ValidationError,
)

TRP_API = "everest.local/v1"
TRP = "tenantresourcepolicies"
DBC_API = "everest.percona.com/v1alpha1"


def item(**kw):
    base = {
        "namespace": "ns-alice",
        "name": "resource-policy",
        "state": "present",
        "cluster_quota": True,
        "limits": {"cpu": 4, "memory": "16Gi", "max_clusters": 3, "max_db_users": 20},
        "allowed_engines": ["postgresql", "mysql"],
        "labels": None,
    }
    base.update(kw)
    return _trp_policy.normalize_item(base)


# ----------------------------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    "cpu, expected",
    [
        (4, 4),
        (4.0, 4),
        ("4", 4),
        ("500m", 0.5),
        (0.5, 0.5),
        ("1500m", 1.5),
        ("2k", 2000),
        ("1e1", 10),
        ("250000u", 0.25),
        ("1n", 1e-09),
        (0, 0),
    ],
)
def test_cpu_normalisation(cpu, expected):
    value = _trp_policy.normalize_cpu(cpu)
    assert value == expected and type(value) is type(expected)  # pylint: disable=unidiomatic-typecheck


@pytest.mark.parametrize(
    "memory, expected",
    [
        ("16Gi", 17179869184),
        (17179869184, 17179869184),
        ("1.5", 2),
        (1.5, 2),
        ("2G", 2000000000),
        ("1Ki", 1024),
        ("1e3", 1000),
        ("0.5Ki", 512),
        ("1m", 1),
        ("512Mi", 536870912),
        ("1Ti", 2**40),
        ("8Ei", 2**63),
    ],
)
def test_memory_normalisation(memory, expected):
    if expected > _trp_policy.INT64_MAX:
        with pytest.raises(ValidationError, match="too large"):
            _trp_policy.normalize_memory(memory)
        return
    assert _trp_policy.normalize_memory(memory) == expected


@pytest.mark.parametrize(
    "limits, fragment",
    [
        ({"cpu": "16GB"}, "limits.cpu '16GB' is not a Kubernetes quantity"),
        ({"memory": "16GB"}, "limits.memory '16GB' is not a Kubernetes quantity"),
        ({"memory": "1.2.3"}, "not a Kubernetes quantity"),
        ({"memory": "Gi"}, "not a Kubernetes quantity"),
        ({"cpu": "-1"}, "limits.cpu must not be negative"),
        ({"cpu": -0.5}, "must not be negative"),
        ({"memory": "-1Gi"}, "limits.memory must not be negative"),
        ({"max_clusters": -1}, "limits.max_clusters must not be negative"),
        ({"max_db_users": -3}, "limits.max_db_users must not be negative"),
        ({"cpu": True}, "must be a number"),
        ({"max_clusters": "three"}, "must be an integer"),
        ({"bogus": 1}, "unknown key(s) bogus"),
    ],
)
def test_bad_limits_fail_before_any_call(limits, fragment):
    with pytest.raises(ValidationError) as err:
        _trp_policy.normalize_item({"namespace": "ns-a", "limits": limits})
    assert fragment in err.value.msg


def test_engines_sorted_deduplicated_and_default_all():
    assert item(allowed_engines=["postgresql", "mysql", "postgresql"])["spec"]["selectors"]["engines"] == ["mysql", "postgresql"]
    assert item(allowed_engines=None)["spec"]["selectors"]["engines"] == ["mongodb", "mysql", "postgresql", "xtradb_cluster"]
    assert item(allowed_engines=[])["spec"]["selectors"]["engines"] == []
    with pytest.raises(ValidationError, match="unknown engine"):
        item(allowed_engines=["pxc"])


def test_desired_spec_is_canonical():
    spec = item()["spec"]
    assert spec == {
        "limits": {"cpuCores": 4, "memoryBytes": 17179869184, "maxClusters": 3, "maxDbUsers": 20},
        "selectors": {"engines": ["mysql", "postgresql"]},
    }
    assert (
        _trp_policy.canonical_spec(
            {"limits": {"cpuCores": 4.0, "memoryBytes": 17179869184, "maxClusters": 3, "maxDbUsers": 20}, "selectors": {"engines": ["postgresql", "mysql"]}}
        )
        == spec
    )


@pytest.mark.parametrize(
    "namespace, name, fragment",
    [
        ("everest-system", "p", "reserved"),
        ("Bad_NS", "p", "RFC 1035"),
        ("ns-a", "Bad_Name", "not a valid Kubernetes object name"),
        ("ns-a", "x" * 250, "not a valid"),
    ],
)
def test_names_checked(namespace, name, fragment):
    with pytest.raises(ValidationError, match=fragment):
        _trp_policy.check_names(namespace, name)


def test_labels_merged_with_managed_labels():
    labels = item(labels={"virakcloud.everest/tenant": "alice"})["labels"]
    assert labels == {
        "virakcloud.everest/tenant": "alice",
        "app.kubernetes.io/managed-by": "virakcloud.everest",
        "virakcloud.everest/tenant-namespace": "ns-alice",
    }


# ----------------------------------------------------------------------------------------------- converge


def converge(client, items, check_mode=False, batch=False):
    return _trp_policy.converge_policies(client, items, check_mode=check_mode, batch=batch, sleep=lambda _s: None)


def test_create_then_idempotent_with_zero_writes():
    client = FakeClient()
    res = converge(client, [item()])[0]
    assert res["changed"] is True
    assert [c[0] for c in client.writes()] == ["create", "create"]
    stored = client.obj(TRP_API, TRP, "ns-alice", "resource-policy")
    assert stored["spec"]["limits"] == {"cpuCores": 4, "memoryBytes": 17179869184, "maxClusters": 3, "maxDbUsers": 20}
    assert stored["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "virakcloud.everest"
    quota = client.obj("v1", "resourcequotas", "ns-alice", "resource-policy-clusters")
    assert quota["spec"]["hard"] == {"count/databaseclusters.everest.percona.com": "3"}
    assert quota["metadata"]["labels"]["virakcloud.everest/tenant-namespace"] == "ns-alice"
    assert res["policy"]["metadata"]["resourceVersion"]

    client.calls.clear()
    same = {
        "namespace": "ns-alice",
        "allowed_engines": ["mysql", "postgresql", "mysql"],
        "limits": {"cpu": "4000m", "memory": 17179869184, "max_clusters": 3, "max_db_users": 20},
    }
    again = converge(client, [_trp_policy.normalize_item(same)])[0]
    assert again["changed"] is False
    assert client.writes() == []
    assert [c[0] for c in client.calls] == ["get", "get"]


def test_check_mode_writes_nothing_and_predicts():
    client = FakeClient()
    res = converge(client, [item()], check_mode=True)[0]
    assert res["changed"] is True
    assert client.writes() == []
    assert res["policy"]["spec"]["limits"]["maxClusters"] == 3
    assert res["after"]["resource_quota"]["hard"] == {"count/databaseclusters.everest.percona.com": "3"}
    assert res["before"] == {}


def test_update_changes_spec_and_quota_and_keeps_foreign_labels():
    client = FakeClient()
    converge(client, [item()])
    pol = client.obj(TRP_API, TRP, "ns-alice", "resource-policy")
    pol["metadata"]["labels"]["someone/else"] = "x"
    client.put_object(pol, TRP_API, TRP)
    client.calls.clear()
    res = converge(client, [item(limits={"cpu": "4500m", "memory": "16Gi", "max_clusters": 5})])[0]
    assert res["changed"] is True
    assert res["before"]["spec"]["limits"]["cpuCores"] == 4
    assert res["after"]["spec"]["limits"] == {"cpuCores": 4.5, "memoryBytes": 17179869184, "maxClusters": 5}
    stored = client.obj(TRP_API, TRP, "ns-alice", "resource-policy")
    assert "maxDbUsers" not in stored["spec"]["limits"]
    assert stored["metadata"]["labels"]["someone/else"] == "x"
    assert client.obj("v1", "resourcequotas", "ns-alice", "resource-policy-clusters")["spec"]["hard"] == {"count/databaseclusters.everest.percona.com": "5"}
    puts = [c for c in client.calls if c[0] == "update"]
    assert all(c[2]["metadata"]["resourceVersion"] for c in puts)


def test_update_retries_conflicts():
    client = FakeClient()
    converge(client, [item()])
    client.conflicts = 2
    res = converge(client, [item(limits={"cpu": 8})])[0]
    assert res["changed"] is True
    assert client.obj(TRP_API, TRP, "ns-alice", "resource-policy")["spec"]["limits"] == {"cpuCores": 8}
    client.conflicts = 100
    with pytest.raises(K8sConflict):
        converge(client, [item(limits={"cpu": 9})])


def test_without_max_clusters_the_managed_quota_is_removed_but_not_a_foreign_one():
    client = FakeClient()
    converge(client, [item()])
    converge(client, [item(limits={"cpu": 1})])
    assert client.obj("v1", "resourcequotas", "ns-alice", "resource-policy-clusters") is None
    client.put_object(
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "resource-policy-clusters", "namespace": "ns-alice"},
            "spec": {"hard": {"pods": "10"}},
        },
        "v1",
        "resourcequotas",
    )
    res = converge(client, [item(limits={"cpu": 1})])[0]
    assert res["changed"] is False
    assert client.obj("v1", "resourcequotas", "ns-alice", "resource-policy-clusters") is not None


def test_cluster_quota_false_leaves_quota_alone():
    client = FakeClient()
    converge(client, [item()])
    client.calls.clear()
    res = converge(client, [item(cluster_quota=False, limits={"cpu": 4, "memory": "16Gi", "max_clusters": 9, "max_db_users": 20})])[0]
    assert res["changed"] is True
    assert [c[0] for c in client.calls if c[0] != "get"] == ["update"]
    assert client.obj("v1", "resourcequotas", "ns-alice", "resource-policy-clusters")["spec"]["hard"][_constants.DBC_COUNT_RESOURCE] == "3"


def test_quota_value_compared_as_quantity():
    client = FakeClient()
    converge(client, [item()])
    quota = client.obj("v1", "resourcequotas", "ns-alice", "resource-policy-clusters")
    quota["spec"]["hard"][_constants.DBC_COUNT_RESOURCE] = "3000m"
    client.put_object(quota, "v1", "resourcequotas")
    assert converge(client, [item()])[0]["changed"] is False


def test_absent_deletes_policy_and_managed_quota_then_noop():
    client = FakeClient()
    converge(client, [item()])
    res = converge(client, [item(state="absent")])[0]
    assert res["changed"] is True and res["policy"] is None
    assert client.objects == {}
    client.calls.clear()
    assert converge(client, [item(state="absent")])[0]["changed"] is False
    assert client.writes() == []


def test_pruned_limit_is_reported_not_perpetually_changed():
    client = FakeClient()

    def old_crd(obj):
        obj.get("spec", {}).get("limits", {}).pop("maxDbUsers", None)
        return obj

    client.prune[TRP] = old_crd
    with pytest.raises(EverestError) as err:
        converge(client, [item()])
    assert "dropped spec.limits.maxDbUsers" in err.value.msg
    assert "install_crd" in err.value.msg


def test_unknown_fields_written_by_others_do_not_cause_changes():
    client = FakeClient()
    converge(client, [item()])
    pol = client.obj(TRP_API, TRP, "ns-alice", "resource-policy")
    pol["spec"]["selectors"]["engines"] = ["postgresql", "mysql"]  # other order
    pol["spec"]["limits"]["cpuCores"] = 4.0
    client.put_object(pol, TRP_API, TRP)
    assert converge(client, [item()])[0]["changed"] is False


def test_422_is_reported_with_the_field_path():
    client = FakeClient()
    client.validate[TRP] = lambda obj: [
        {
            "field": "spec.limits.maxClusters",
            "reason": "FieldValueTooLarge",
            "message": "Invalid value: 50: spec.limits.maxClusters in body should be less than or equal to 10",
        }
    ]
    with pytest.raises(EverestError) as err:
        converge(client, [item(limits={"max_clusters": 50})])
    assert "spec.limits.maxClusters" in err.value.msg
    assert "422" in err.value.msg
    assert err.value.details["fields"] == ["spec.limits.maxClusters"]


def test_create_race_converges_the_object_someone_else_created():
    client = FakeClient()
    plan = _trp_policy.plan_item(item(), None, None)  # observed: nothing
    converge(client, [item(limits={"cpu": 1, "max_clusters": 9})])  # meanwhile someone else creates both
    policy = _trp_policy.apply_plan(client, plan, sleep=lambda _s: None)
    assert policy["spec"]["limits"] == {"cpuCores": 4, "memoryBytes": 17179869184, "maxClusters": 3, "maxDbUsers": 20}
    assert client.obj("v1", "resourcequotas", "ns-alice", "resource-policy-clusters")["spec"]["hard"][_constants.DBC_COUNT_RESOURCE] == "3"


def test_missing_namespace_is_named_with_the_fix():
    client = FakeClient()
    client.missing_namespaces.add("ns-alice")
    with pytest.raises(EverestError) as err:
        converge(client, [item()])
    assert "namespace ns-alice does not exist" in err.value.msg and "everest_namespace" in err.value.msg


def test_batch_uses_two_lists_and_isolates_failures():
    client = FakeClient()
    converge(client, [item()])
    client.calls.clear()
    client.validate[TRP] = lambda obj: [{"field": "spec.limits.cpuCores", "message": "bad"}] if obj["metadata"]["namespace"] == "ns-bad" else []
    items = [item(), item(namespace="ns-bob", limits={"cpu": 1, "max_clusters": 1}), item(namespace="ns-bad")]
    results = converge(client, items, batch=True)
    assert [c[0] for c in client.calls if c[0] in ("get", "list")][:2] == ["list", "list"]
    assert not any(c[0] == "get" for c in client.calls)
    assert [r["changed"] for r in results] == [False, True, False]
    assert results[2]["failed"] is True and "spec.limits.cpuCores" in results[2]["msg"]
    assert client.obj(TRP_API, TRP, "ns-bob", "resource-policy")["spec"]["limits"] == {"cpuCores": 1, "maxClusters": 1}


# ----------------------------------------------------------------------------------------------- CRD


class Clock:
    def __init__(self):
        self.now = 0.0

    def sleep(self, seconds):
        self.now += seconds

    def __call__(self):
        return self.now


def _establish_after(client, gets):
    state = {"n": 0}

    def hook(path, obj):
        if "customresourcedefinitions" in path:
            state["n"] += 1
            if state["n"] > gets:
                obj.setdefault("status", {})["conditions"] = [{"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}]
        return obj

    client.on_get = hook


def test_crd_created_and_waited_for():
    client = FakeClient()
    _establish_after(client, 2)
    clock = Clock()
    changed, crd = _trp_crd.ensure_crd(client, wait_timeout=30, sleep=clock.sleep, clock=clock)
    assert changed is True and _trp_crd.crd_established(crd)
    assert client.count("create") == 1
    assert client.obj("apiextensions.k8s.io/v1", "customresourcedefinitions", None, "tenantresourcepolicies.everest.local")["spec"]["names"]["shortNames"] == [
        "trp"
    ]
    client.calls.clear()
    changed = _trp_crd.ensure_crd(client, wait_timeout=30, sleep=clock.sleep, clock=clock)[0]
    assert changed is False
    assert client.calls == [("get", _trp_crd.CRD_PATH)]


def test_crd_created_concurrently_by_another_run_is_converged_not_failed():
    """Two AWX slices install the CRD at once: the loser's POST gets AlreadyExists and must converge."""
    client = FakeClient()
    _establish_after(client, 0)
    original_create = client.create

    def racing_create(path, body):
        original_create(path, copy.deepcopy(body))  # the other run wins the race ...
        return original_create(path, body)  # ... so our own POST answers 409 AlreadyExists

    client.create = racing_create
    changed, crd = _trp_crd.ensure_crd(client, wait_timeout=30)
    assert changed is False  # we did not create it: the other run did
    assert _trp_crd.crd_established(crd)


def test_crd_server_defaults_are_not_a_difference_but_a_changed_schema_is():
    client = FakeClient()
    _establish_after(client, 0)
    _trp_crd.ensure_crd(client)
    crd = client.obj("apiextensions.k8s.io/v1", "customresourcedefinitions", None, _trp_crd.CRD_PATH.rsplit("/", 1)[1])
    crd["spec"]["conversion"] = {"strategy": "None"}
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["limits"]["properties"].pop("maxDbUsers")
    client.put_object(crd, "apiextensions.k8s.io/v1", "customresourcedefinitions")
    assert _trp_crd.ensure_crd(client, check_mode=True)[0] is True
    assert client.writes() == [c for c in client.writes() if c[0] == "create"]
    changed, after = _trp_crd.ensure_crd(client)
    assert changed is True
    assert "maxDbUsers" in after["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["limits"]["properties"]
    assert _trp_crd.ensure_crd(client)[0] is False


def test_crd_check_mode_when_missing():
    client = FakeClient()
    assert _trp_crd.ensure_crd(client, check_mode=True) == (True, None)
    assert client.writes() == []


def test_crd_wait_times_out():
    client = FakeClient()
    clock = Clock()
    with pytest.raises(TimeoutExceeded, match="not Established after 5s"):
        _trp_crd.ensure_crd(client, wait_timeout=5, sleep=clock.sleep, clock=clock)


# ----------------------------------------------------------------------------------------------- usage


def dbc(name, engine="postgresql", replicas=1, cpu="1", memory="1Gi", proxy=None, namespace="ns-alice", **spec_extra):
    spec = {"engine": {"type": engine, "replicas": replicas, "storage": {"size": "1Gi"}}}
    if cpu is not None or memory is not None:
        spec["engine"]["resources"] = dict((k, v) for k, v in (("cpu", cpu), ("memory", memory)) if v is not None)
    if replicas is None:
        del spec["engine"]["replicas"]
    if proxy is not None:
        spec["proxy"] = proxy
    spec.update(spec_extra)
    return {"apiVersion": DBC_API, "kind": "DatabaseCluster", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


@pytest.mark.parametrize(
    "cluster, cpu, memory, warn",
    [
        (dbc("a", replicas=3, cpu="600m", memory="1Gi"), "1.8", 3 * 2**30, False),
        (dbc("a", replicas=1, cpu=2, memory="2G"), "2", 2 * 10**9, False),
        (
            dbc("a", replicas=3, cpu="1", memory="1Gi", proxy={"type": "haproxy", "replicas": 2, "resources": {"cpu": "500m", "memory": "256Mi"}}),
            "4",
            3 * 2**30 + 2 * 256 * 2**20,
            False,
        ),
        (dbc("a", replicas=3, cpu="1", memory="1Gi", proxy={"type": "haproxy", "replicas": 2}), "3", 3 * 2**30, False),
        (dbc("a", replicas=3, cpu="1", memory="1Gi", proxy={"type": "haproxy", "resources": {"cpu": "1"}}), "6", 3 * 2**30, False),
        (dbc("a", replicas=None, cpu="1", memory="1Gi"), "1", 2**30, False),
        (dbc("a", replicas=2, cpu=None, memory=None), "0", 0, True),
        (dbc("a", engine="psmdb", replicas=3, cpu="1", memory="1Gi", sharding={"enabled": True, "shards": 2}), "6", 6 * 2**30, False),
    ],
)
def test_cluster_usage_rule(cluster, cpu, memory, warn):
    use = _quota.cluster_usage(cluster)
    assert use["cpu"] == _quota._quantity.parse(cpu)  # pylint: disable=protected-access
    assert use["memory"] == memory
    assert bool(use["warnings"]) is warn


def rbac_csv(namespace="ns-alice", users=("alice",)):
    lines = ["g, admin, role:admin", "# BEGIN virakcloud.everest %s" % namespace, "p, role:tenant-%s, database-clusters, *, %s/*" % (namespace, namespace)]
    lines += ["g, %s, role:tenant-%s" % (u, namespace) for u in users]
    lines += ["# END virakcloud.everest %s" % namespace, "g, outsider, role:tenant-%s" % namespace, ""]
    return "\n".join(lines)


def test_rbac_block_users():
    assert _quota.rbac_block(rbac_csv(users=("alice", "bob", "alice")), "ns-alice") == (True, ["alice", "bob"])
    assert _quota.rbac_block(rbac_csv(), "ns-bob") == (False, [])
    assert _quota.rbac_block(None, "ns-alice") == (False, [])
    with pytest.raises(EverestError, match="everest-rbac"):
        _quota.rbac_block("# BEGIN virakcloud.everest ns-alice\ng, a, b\n", "ns-alice")


# ----------------------------------------------------------------------------------------------- enforcement


def policy(limits=None, engines=("postgresql", "mysql"), namespace="ns-alice"):
    limits = {"cpuCores": 4, "memoryBytes": 17179869184, "maxClusters": 3, "maxDbUsers": 20} if limits is None else limits
    meta = {"name": "resource-policy", "namespace": namespace, "generation": 2}
    return {"apiVersion": TRP_API, "kind": "TenantResourcePolicy", "metadata": meta, "spec": {"limits": limits, "selectors": {"engines": list(engines)}}}


def request(**kw):
    base = dict.fromkeys(("engine", "replicas", "cpu", "memory", "proxy_replicas", "proxy_cpu", "proxy_memory", "cluster_name"))
    base["db_users"] = 0
    base.update(kw)
    return base


CLUSTERS = [dbc("pg1", replicas=1, cpu="1500m", memory="4Gi"), dbc("my1", engine="pxc", replicas=1, cpu=2, memory="8Gi")]


# A new cluster gives cpu and memory whenever the policy limits them (policy() limits both): rows about cpu give
# memory="1Gi" (12Gi + 1Gi fits 16Gi), rows about memory give cpu="100m" (3.5 + 0.1 fits 4).
@pytest.mark.parametrize(
    "req, users, allowed, messages",
    [
        # engine
        (
            request(engine="psmdb", cpu="100m", memory="1Gi"),
            [],
            False,
            ["ns-alice: engine psmdb is not allowed by TenantResourcePolicy ns-alice/resource-policy; allowed engines: mysql (pxc), postgresql (postgresql)"],
        ),
        (request(engine="mongodb", cpu="100m", memory="1Gi"), [], False, ["engine mongodb (psmdb) is not allowed"]),
        (request(engine="xtradb_cluster", cpu="100m", memory="1Gi"), [], True, []),
        (request(engine="pxc", cpu="100m", memory="1Gi"), [], True, []),
        # cpu: in use 3.5 of 4
        (request(engine="postgresql", cpu=1, memory="1Gi"), [], False, ["ns-alice: cpu 4.5 cores would exceed the limit of 4 (in use 3.5, requested 1)"]),
        (request(engine="postgresql", cpu="500m", memory="1Gi"), [], True, []),  # exactly at the limit
        (request(engine="postgresql", cpu="0.5", memory="1Gi"), [], True, []),
        (request(engine="postgresql", cpu="500000u", memory="1Gi"), [], True, []),
        (request(engine="postgresql", cpu="0.0005k", memory="1Gi"), [], True, []),
        (request(engine="postgresql", cpu="501m", memory="1Gi"), [], False, ["cpu 4.001 cores would exceed the limit of 4 (in use 3.5, requested 0.501)"]),
        (request(engine="postgresql", replicas=3, cpu="200m", memory="1Gi"), [], False, ["cpu 4.1 cores would exceed"]),
        # memory: in use 12Gi of 16Gi
        (request(engine="postgresql", cpu="100m", memory="4Gi"), [], True, []),
        (request(engine="postgresql", cpu="100m", memory=4294967296), [], True, []),
        (request(engine="postgresql", cpu="100m", memory="4096Mi"), [], True, []),
        (request(engine="postgresql", cpu="100m", memory="4194304Ki"), [], True, []),
        (request(engine="postgresql", cpu="100m", memory="4294967.296k"), [], True, []),
        (request(engine="postgresql", cpu="100m", memory="0.000000004294967296E"), [], True, []),
        (
            request(engine="postgresql", cpu="100m", memory="4294967297"),
            [],
            False,
            ["ns-alice: memory 17179869185 would exceed the limit of 16Gi (in use 12Gi, requested 4294967297)"],
        ),
        (request(engine="postgresql", cpu="100m", memory="5G"), [], False, ["memory"]),
        (
            request(engine="postgresql", cpu="100m", memory="4295M"),
            [],
            False,
            ["ns-alice: memory 17179901888 would exceed the limit of 16Gi (in use 12Gi, requested 4295000000)"],
        ),
        (request(engine="postgresql", cpu="100m", memory="0.25Ti"), [], False, ["memory 268Gi would exceed the limit of 16Gi (in use 12Gi, requested 256Gi)"]),
        (request(engine="postgresql", cpu="100m", memory="1Pi"), [], False, ["memory 1048588Gi would exceed the limit of 16Gi (in use 12Gi, requested 1Pi)"]),
        (request(engine="postgresql", cpu="100m", replicas=2, memory="2Gi", proxy_replicas=1, proxy_memory="1Mi"), [], False, ["memory 16385Mi would exceed"]),
        (request(engine="postgresql", cpu="100m", memory="4.294967296e9"), [], True, []),
        # users: 1 bound
        (request(db_users=19), ["alice"], True, []),
        (request(db_users=20), ["alice"], False, ["ns-alice: db users 21 would exceed the limit of 20 (in use 1, requested 20)"]),
        # several at once: one message each
        (request(engine="mongodb", cpu=2, memory="8Gi", db_users=25), [], False, ["engine mongodb", "cpu 5.5 cores", "memory 20Gi", "db users 25"]),
    ],
)
def test_quota_table(req, users, allowed, messages):
    result = _quota.evaluate("ns-alice", policy(), CLUSTERS, users, req)
    assert result["allowed"] is allowed, result["violations"]
    assert len(result["violations"]) == len(messages)
    for message, violation in zip(messages, result["violations"]):
        assert message in violation


def test_clusters_limit_and_boundary():
    two = CLUSTERS
    three = CLUSTERS + [dbc("pg2", cpu="100m", memory="1Mi")]
    pol = policy(limits={"maxClusters": 3})
    assert _quota.evaluate("ns-alice", pol, two, [], request(engine="postgresql"))["allowed"] is True
    result = _quota.evaluate("ns-alice", pol, three, [], request(engine="postgresql"))
    assert result["violations"] == ["ns-alice: clusters 4 would exceed the limit of 3 (in use 3, requested 1)"]
    assert result["headroom"]["clusters"] == 0
    zero = _quota.evaluate("ns-alice", policy(limits={"maxClusters": 0}), [], [], request(engine="postgresql"))
    assert zero["allowed"] is False


def test_resize_replaces_the_cluster_usage():
    # pg1 uses 1.5 cores; others use 2; limit 4 -> pg1 may grow to 2 cores but not to 2.5
    ok = _quota.evaluate("ns-alice", policy(), CLUSTERS, [], request(cluster_name="pg1", cpu=2))
    assert ok["allowed"] is True and ok["resize"] is True
    assert ok["requested"]["clusters"] == 1 and ok["usage_after"]["cpu_cores"] == 4 and ok["usage_after"]["clusters"] == 2
    bad = _quota.evaluate("ns-alice", policy(), CLUSTERS, [], request(cluster_name="pg1", cpu="2.5"))
    assert bad["violations"] == ["ns-alice: cpu 4.5 cores would exceed the limit of 4 (in use by other clusters 2, requested 2.5)"]
    # memory kept from the cluster when not given; replicas given -> 3 x 4Gi + 8Gi = 20Gi > 16Gi
    mem = _quota.evaluate("ns-alice", policy(limits={"memoryBytes": 17179869184}), CLUSTERS, [], request(cluster_name="pg1", replicas=3))
    assert mem["allowed"] is False and "memory 20Gi" in mem["violations"][0]
    # a cluster_name that does not exist is a create
    new = _quota.evaluate("ns-alice", policy(limits={"maxClusters": 2}), CLUSTERS, [], request(cluster_name="pg9", engine="postgresql"))
    assert new["resize"] is False and new["allowed"] is False
    with pytest.raises(ValidationError, match="cannot change it"):
        _quota.evaluate("ns-alice", policy(), CLUSTERS, [], request(cluster_name="pg1", engine="pxc"))


def test_mistyped_resize_is_refused_not_answered():
    """The audit case: cluster_name naming no cluster, no engine, 3 x 8 cores against maxClusters 0 and 1 core.
    Before, nothing counted as requested and the answer was allowed: true."""
    pol = policy(limits={"maxClusters": 0, "cpuCores": 1})
    with pytest.raises(ValidationError) as err:
        _quota.evaluate("ns-alice", pol, CLUSTERS, [], request(cluster_name="pg-typo", replicas=3, cpu=8))
    assert err.value.msg == (
        "ns-alice: database cluster ns-alice/pg-typo does not exist, so there is nothing to resize; give engine "
        "to check a new cluster of that name, or fix cluster_name"
    )
    # with engine it is a new cluster and is answered (refused here by both limits)
    new = _quota.evaluate("ns-alice", pol, CLUSTERS, [], request(cluster_name="pg-typo", engine="postgresql", replicas=3, cpu=8))
    assert new["resize"] is False and new["allowed"] is False
    assert [v.split(": ")[1].split(" ")[0] for v in new["violations"]] == ["clusters", "cpu"]
    # an existing name is still a resize without engine; no cluster_name and no engine is still a users-only check
    assert _quota.evaluate("ns-alice", pol, CLUSTERS, [], request(cluster_name="pg1", cpu="1500m"))["resize"] is True
    assert _quota.evaluate("ns-alice", pol, CLUSTERS, [], request(db_users=1))["requested"]["clusters"] == 0


@pytest.mark.parametrize(
    "limits, req, fragment",
    [
        (
            {"cpuCores": 4},
            request(engine="postgresql", replicas=3),
            "ns-alice: cpu is required to check a new cluster against the cpu limit of 4; give cpu (per engine replica; "
            "Everest requires cpu and memory for every cluster)",
        ),
        (
            {"memoryBytes": 17179869184},
            request(engine="postgresql", cpu=1),
            "ns-alice: memory is required to check a new cluster against the memory limit of 16Gi; give memory",
        ),
        (
            {"cpuCores": 0.5, "memoryBytes": 2**30},
            request(engine="postgresql", cluster_name="pg9"),
            "ns-alice: cpu and memory are required to check new cluster ns-alice/pg9 against the cpu limit of 0.5 and the memory "
            "limit of 1Gi; give cpu and memory",
        ),
        # proxy resources do not stand in for the engine's
        ({"cpuCores": 4}, request(engine="postgresql", proxy_cpu=1), "cpu is required"),
    ],
)
def test_new_cluster_without_resources_for_a_limited_dimension_is_refused(limits, req, fragment):
    with pytest.raises(ValidationError) as err:
        _quota.evaluate("ns-alice", policy(limits=limits), CLUSTERS, [], req)
    assert fragment in err.value.msg


def test_resources_not_needed_for_unlimited_dimensions_or_resizes():
    # the policy limits only the count: an engine-only check is complete
    only_count = _quota.evaluate("ns-alice", policy(limits={"maxClusters": 3}), CLUSTERS, [], request(engine="postgresql"))
    assert only_count["allowed"] is True and only_count["requested"]["clusters"] == 1
    # cpu limited, memory not: cpu alone is enough
    assert _quota.evaluate("ns-alice", policy(limits={"cpuCores": 4}), CLUSTERS, [], request(engine="postgresql", cpu="500m"))["allowed"] is True
    # a resize keeps the cluster's current values for what is left out
    resize = _quota.evaluate("ns-alice", policy(), CLUSTERS, [], request(cluster_name="pg1", replicas=1))
    assert resize["resize"] is True and resize["requested"]["cpu_cores"] == 1.5


def test_everest_database_cluster_requests_still_pass_through_evaluate():
    """everest_database_cluster's enforce_quota builds its request with _database_cluster.quota_request: engine type and
    cluster name always set, cpu/memory from the spec. Creates (no such cluster) and resizes stay answerable."""
    from ansible_collections.virakcloud.everest.plugins.module_utils import _database_cluster  # pylint: disable=import-outside-toplevel

    create_spec = {"engine": {"type": "postgresql", "replicas": 1, "resources": {"cpu": "500m", "memory": "1Gi"}, "storage": {"size": "1Gi"}}}
    req = _database_cluster.quota_request(create_spec, "pg-new")
    _quota.validate_request(req)
    created = _quota.evaluate("ns-alice", policy(), CLUSTERS, [], req)
    assert created["allowed"] is True and created["resize"] is False and created["requested"]["clusters"] == 1
    resize_spec = copy.deepcopy(CLUSTERS[0]["spec"])
    resize_spec["engine"]["resources"]["cpu"] = "2"
    resized = _quota.evaluate("ns-alice", policy(), CLUSTERS, [], _database_cluster.quota_request(resize_spec, "pg1"))
    assert resized["resize"] is True and resized["allowed"] is True


def test_shrinking_while_over_is_allowed():
    over = [dbc("pg1", cpu=6, memory="1Gi")]
    result = _quota.evaluate("ns-alice", policy(), over, [], request(cluster_name="pg1", cpu=5))
    assert result["allowed"] is True
    assert result["over_limits"] == ["cpu"] and result["headroom"]["cpu_cores"] == -2


def test_usage_limits_headroom_views():
    result = _quota.evaluate("ns-alice", policy(limits={"cpuCores": 4, "memoryBytes": 17179869184}), CLUSTERS, ["a", "b"], request())
    assert result["usage"] == {"clusters": 2, "cpu_cores": 3.5, "memory_bytes": 12 * 2**30, "db_users": 2}
    assert result["limits"] == {"cpu_cores": 4, "memory_bytes": 17179869184, "max_clusters": None, "max_db_users": None}
    assert result["headroom"] == {"clusters": None, "cpu_cores": 0.5, "memory_bytes": 4 * 2**30, "db_users": None}
    assert result["allowed"] is True


@pytest.mark.parametrize(
    "req, fragment",
    [
        (request(engine="oracle"), "engine 'oracle' is unknown"),
        (request(cpu="1 core"), "cpu '1 core' is not a Kubernetes quantity"),
        (request(memory="-1Gi"), "memory must not be negative"),
        (request(replicas=-1), "replicas must be an integer of at least 1"),
        (request(replicas=0), "replicas must be an integer of at least 1 (Everest requires at least one replica), got 0"),
        (request(proxy_replicas=0), "proxy_replicas must be an integer of at least 1"),
        (request(replicas=True), "replicas must be an integer of at least 1"),
        (request(db_users=-1), "db_users must be a non-negative integer"),
    ],
)
def test_request_validation(req, fragment):
    with pytest.raises(ValidationError) as err:
        _quota.validate_request(req)
    assert fragment in err.value.msg


def test_status_for_sets_condition_and_is_stable():
    pol = policy()
    result = _quota.evaluate("ns-alice", pol, CLUSTERS, ["alice"], request())
    status = _quota.status_for(pol, result, now="2026-01-01T00:00:00Z")
    assert status["usage"] == {"clusters": 2, "cpuCores": 3.5, "memoryBytes": 12 * 2**30, "dbUsers": 1}
    assert status["conditions"] == [
        {
            "type": "WithinLimits",
            "status": "True",
            "reason": "WithinLimits",
            "message": "usage is within every limit",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
            "observedGeneration": 2,
        }
    ]
    assert status["observedGeneration"] == 2
    pol["status"] = copy.deepcopy(status)
    assert _quota.status_for(pol, result, now="2026-02-02T00:00:00Z") is None
    over = _quota.evaluate("ns-alice", pol, CLUSTERS + [dbc("big", cpu=8)], ["alice"], request())
    new = _quota.status_for(pol, over, now="2026-03-03T00:00:00Z")
    assert new["conditions"][0]["status"] == "False" and new["conditions"][0]["reason"] == "OverLimit"
    assert new["conditions"][0]["lastTransitionTime"] == "2026-03-03T00:00:00Z"


def test_write_status_patches_the_subresource():
    client = FakeClient()
    client.put_object(policy(), TRP_API, TRP)
    _quota.write_status(client, policy(), {"usage": {"clusters": 1}})
    assert client.calls[-1][1].endswith("/tenantresourcepolicies/resource-policy/status")
    assert client.obj(TRP_API, TRP, "ns-alice", "resource-policy")["status"] == {"usage": {"clusters": 1}}


# ----------------------------------------------------------------------------------------------- info


def accounts_secret(names):
    text = "".join("%s:\n  enabled: true\n  passwordHash: !!binary AAEC\n" % n for n in names)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "everest-accounts", "namespace": "everest-system"},
        "data": {"users.yaml": base64.b64encode(text.encode()).decode()},
    }


def seed_tenant_world(client):
    client.put_object(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-alice", "labels": {"app.kubernetes.io/managed-by": "everest"}}}, "v1", "namespaces"
    )
    client.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-bob"}}, "v1", "namespaces")
    for ns in ("ns-alice", "ns-bob", "ns-gone"):
        client.put_object(policy(namespace=ns), TRP_API, TRP)
    client.put_object(
        {"apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription", "metadata": {"name": "percona-postgresql-operator", "namespace": "ns-alice"}},
        "operators.coreos.com/v1alpha1",
        "subscriptions",
    )
    client.put_object(
        {
            "apiVersion": "operators.coreos.com/v1alpha1",
            "kind": "Subscription",
            "metadata": {"name": "percona-xtradb-cluster-operator", "namespace": "ns-alice"},
        },
        "operators.coreos.com/v1alpha1",
        "subscriptions",
    )
    for cluster in CLUSTERS:
        client.put_object(copy.deepcopy(cluster), DBC_API, "databaseclusters")
    client.put_object(dbc("huge", cpu=9, namespace="ns-bob"), DBC_API, "databaseclusters")
    client.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "everest-rbac", "namespace": "everest-system"},
            "data": {"policy.csv": rbac_csv(users=("alice", "ghost")) + rbac_csv("ns-gone", users=())},
        },
        "v1",
        "configmaps",
    )
    client.put_object(accounts_secret(["admin", "alice"]), "v1", "secrets")


def test_collect_tenants_reports_drift():
    client = FakeClient()
    seed_tenant_world(client)
    tenants = _tenant_report.collect_tenants(client)
    assert [c[0] for c in client.calls].count("get") == 2  # RBAC ConfigMap + accounts Secret; the rest are LISTs
    by_ns = dict((t["namespace"], t) for t in tenants)
    assert [t["namespace"] for t in tenants] == ["ns-alice", "ns-bob", "ns-gone"]
    alice = by_ns["ns-alice"]
    assert alice["managed"] is True and alice["operators"] == ["postgresql", "pxc"]
    assert alice["users"] == ["alice", "ghost"]
    assert alice["usage"] == {"clusters": 2, "cpu_cores": 3.5, "memory_bytes": 12 * 2**30, "db_users": 2}
    assert alice["headroom"]["clusters"] == 1
    assert alice["drift"] == {
        "namespace_missing": False,
        "namespace_not_managed": False,
        "rbac_block_missing": False,
        "missing_accounts": ["ghost"],
        "over_limits": [],
    }
    assert alice["drifted"] is True
    bob = by_ns["ns-bob"]
    assert bob["drift"]["namespace_not_managed"] is True and bob["drift"]["rbac_block_missing"] is True
    assert bob["drift"]["over_limits"] == ["cpu"]
    gone = by_ns["ns-gone"]
    assert gone["drift"]["namespace_missing"] is True and gone["drift"]["rbac_block_missing"] is False and gone["users"] == []


def test_collect_one_namespace_and_clean_tenant():
    client = FakeClient()
    seed_tenant_world(client)
    client.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "everest-rbac", "namespace": "everest-system"},
            "data": {"policy.csv": rbac_csv(users=("alice",))},
        },
        "v1",
        "configmaps",
    )
    tenants = _tenant_report.collect_tenants(client, namespace="ns-alice")
    assert len(tenants) == 1 and tenants[0]["drifted"] is False
    assert all(
        c[1].startswith(
            (
                "/api/v1/namespaces/ns-alice",
                "/apis/everest.local/v1/namespaces/ns-alice",
                "/apis/operators.coreos.com/v1alpha1/namespaces/ns-alice",
                "/apis/everest.percona.com/v1alpha1/namespaces/ns-alice",
                "/api/v1/namespaces/everest-system",
            )
        )
        for c in client.calls
    )


@settings(max_examples=150, derandomize=True, deadline=None)
@given(
    st.integers(min_value=0, max_value=64000),
    st.integers(min_value=1, max_value=64000),
    st.integers(min_value=0, max_value=2**36),
    st.integers(min_value=1, max_value=2**36),
)
def test_boundary_property_exact_fit_allowed_one_unit_more_refused(used_milli, spare_milli, used_bytes, spare_bytes):
    """For any usage and headroom: requesting exactly the headroom is allowed, one milli-core or one byte more is not."""
    clusters = [dbc("c1", cpu="%dm" % used_milli, memory=str(used_bytes))]
    cpu_limit = _trp_policy.normalize_cpu("%dm" % (used_milli + spare_milli))  # the JSON number the policy stores
    pol = policy(limits={"cpuCores": cpu_limit, "memoryBytes": used_bytes + spare_bytes})
    fit = _quota.evaluate("ns-alice", pol, clusters, [], request(engine="postgresql", cpu="%dm" % spare_milli, memory=str(spare_bytes)))
    assert fit["allowed"] is True, fit["violations"]
    cpu_over = _quota.evaluate("ns-alice", pol, clusters, [], request(engine="postgresql", cpu="%dm" % (spare_milli + 1), memory="0"))
    assert [v.split(": ")[1].split(" ")[0] for v in cpu_over["violations"]] == ["cpu"]
    mem_over = _quota.evaluate("ns-alice", pol, clusters, [], request(engine="postgresql", cpu="0", memory=str(spare_bytes + 1)))
    assert [v.split(": ")[1].split(" ")[0] for v in mem_over["violations"]] == ["memory"]
