"""Unit tests of the quota headroom arithmetic (_headroom) and of the objects a policy implies (_tenant_quotas).

The expected numbers are worked out by hand from docs/dev/operator-pods.md (D = the LimitRange default request 50m/64Mi,
PMM small 95m/99604Ki, medium 228m/199168Ki, large 228m/796907Ki); tests/sandbox_tests/test_quota_headroom.py checks
the same numbers against what the sandbox's quota charges for the operators' pods."""

import sys
from fractions import Fraction
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_trp_support  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

from ansible_collections.virakcloud.everest.plugins.module_utils import _headroom  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.virakcloud.everest.plugins.module_utils import _tenant_quotas  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import ValidationError  # noqa: E402  pylint: disable=wrong-import-position

MI, KI = 2**20, 2**10
M = Fraction(1, 1000)  # one millicore
PMM_SMALL = (95 * M, 99604 * KI)
D = (50 * M, 64 * MI)


@pytest.mark.parametrize(
    "etype, cpu, memory",
    [
        # 3 nodes x PMM; 3 ProxySQL pods x (pxc-monit + proxysql-monit + PMM); PITR pod max(D, 50m/50M)
        ("pxc", 3 * PMM_SMALL[0] + 3 * (2 * D[0] + PMM_SMALL[0]) + D[0], 3 * PMM_SMALL[1] + 3 * (2 * D[1] + PMM_SMALL[1]) + D[1]),
        # 3 nodes x (backup-agent 300m/1G + PMM)
        ("psmdb", 3 * (300 * M + PMM_SMALL[0]), 3 * (10**9 + PMM_SMALL[1])),
        # 3 nodes x (3 sidecars + PMM); repo host 2 x D; 3 PgBouncer pods x pgbouncer-config 5m/16Mi
        ("postgresql", 3 * (3 * D[0] + PMM_SMALL[0]) + 2 * D[0] + 3 * 5 * M, 3 * (3 * D[1] + PMM_SMALL[1]) + 2 * D[1] + 3 * 16 * MI),
    ],
)
def test_reference_cluster_overhead(etype, cpu, memory):
    assert _headroom.cluster_overhead(etype) == (cpu, memory)


def test_reference_numbers_of_the_docs():
    expected = {"pxc": ("920m", 1031.6171875), "psmdb": ("1185m", 3152.83154296875), "postgresql": ("850m", 1043.80859375)}
    for etype, (cpu, mebis) in expected.items():
        got_cpu, got_memory = _headroom.cluster_overhead(etype)
        assert (_tenant_quotas._quantity.format_cpu(got_cpu), float(got_memory / MI)) == (cpu, mebis)  # pylint: disable=protected-access
    assert [_headroom.volumes(e) for e in ("pxc", "psmdb", "postgresql", "oracle")] == [3, 3, 4, 0]


@pytest.mark.parametrize(
    "memory, size",
    [(4 * 2**30, "small"), (8 * 10**9 - 1, "small"), (8 * 10**9, "medium"), (32 * 10**9 - 1, "medium"), (32 * 10**9, "large"), (None, "large")],
)
def test_engine_size_of_the_largest_node(memory, size):
    assert _headroom.engine_size(memory) == size


def test_default_headroom_is_the_largest_over_the_engines_each_value_on_its_own():
    pg_only = _headroom.default_headroom(["postgresql"], 4 * 2**30)
    assert pg_only == {"cpu": Fraction(850, 1000), "memory": 1044 * MI, "volumes": 4}  # 1043.8Mi rounded up
    mixed = _headroom.default_headroom(["postgresql", "pxc"], 4 * 2**30)
    assert mixed == {"cpu": Fraction(920, 1000), "memory": 1044 * MI, "volumes": 4}  # cpu of pxc, memory and volumes of postgresql
    assert _headroom.default_headroom([], 4 * 2**30) == {"cpu": 0, "memory": 0, "volumes": 0}
    # a bigger memory limit allows bigger nodes, whose PMM client asks more
    medium = _headroom.default_headroom(["psmdb"], 16 * 2**30)
    assert medium["cpu"] == 3 * (300 * M + 228 * M) and medium["memory"] == -((-(3 * (10**9 + 199168 * KI))) // MI) * MI
    # the default requests feed the arithmetic: every container without requests is charged them
    heavier = _headroom.default_headroom(["postgresql"], 4 * 2**30, {"cpu": "100m", "memory": "64Mi"})
    assert heavier["cpu"] == 3 * (300 * M + 95 * M) + 200 * M + 15 * M


def spec(**limits):
    return {"limits": limits, "selectors": {"engines": ["postgresql"]}}


def settings(headroom=None, requests=None):
    return _tenant_quotas.normalize_settings(headroom, requests)


def test_compute_quota_is_the_policy_plus_clusters_times_headroom():
    body = _tenant_quotas.desired("compute_quota", "ns-a", "resource-policy", spec(cpuCores=2, memoryBytes=4 * 2**30, maxClusters=2), {"l": "v"}, settings())
    assert body["metadata"]["name"] == "resource-policy-compute" and body["metadata"]["labels"] == {"l": "v"}
    assert body["spec"]["hard"] == {"requests.cpu": "3700m", "requests.memory": "6184Mi"}  # 2 + 2 x 850m; 4096Mi + 2 x 1044Mi
    assert body["metadata"]["annotations"] == {"virakcloud.everest/quota-headroom": '{"clusters":2,"cpu":"850m","memory":"1044Mi","volumes":4}'}
    # no maxClusters: one cluster's headroom; only the limited resources; no memory limit: nodes of any size, PMM large
    body = _tenant_quotas.desired("compute_quota", "ns-a", "p", spec(cpuCores=0.5), {}, settings())
    assert body["spec"]["hard"] == {"requests.cpu": "1749m"}  # 500m + 3 x (3 x 50m + 228m) + 2 x 50m + 3 x 5m
    # the headroom given replaces the derived one, value by value
    body = _tenant_quotas.desired("compute_quota", "ns-a", "p", spec(cpuCores=2, memoryBytes=4 * 10**9, maxClusters=3), {}, settings({"memory": "1G"}))
    assert body["spec"]["hard"] == {"requests.cpu": "4550m", "requests.memory": "7G"}
    assert _tenant_quotas.desired("compute_quota", "ns-a", "p", spec(maxClusters=3), {}, settings()) is None


def test_storage_quota_and_limit_range():
    body = _tenant_quotas.desired("storage_quota", "ns-a", "p", spec(storageBytes=100 * 2**30, maxClusters=2), {}, settings())
    assert body["spec"]["hard"] == {"requests.storage": "100Gi", "persistentvolumeclaims": "8"}
    body = _tenant_quotas.desired("storage_quota", "ns-a", "p", spec(storageBytes=500 * 10**9), {}, settings({"volumes": 2}))
    assert body["spec"]["hard"] == {"requests.storage": "500G"}  # no cluster count: no volume count
    assert _tenant_quotas.desired("storage_quota", "ns-a", "p", spec(maxClusters=2), {}, settings()) is None
    body = _tenant_quotas.desired("limit_range", "ns-a", "p", spec(memoryBytes=2**30), {}, settings(requests={"cpu": "0.1", "memory": 67108864}))
    assert body["spec"] == {"limits": [{"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "64Mi"}}]}
    assert _tenant_quotas.desired("limit_range", "ns-a", "p", spec(storageBytes=2**30), {}, settings()) is None
    assert _tenant_quotas.desired("count_quota", "ns-a", "p", spec(maxClusters=0), {}, settings())["spec"]["hard"] == {
        "count/databaseclusters.everest.percona.com": "0"
    }


def test_comparison_by_value_and_metadata():
    wanted = _tenant_quotas.desired("compute_quota", "ns-a", "p", spec(cpuCores=2, memoryBytes=4 * 2**30, maxClusters=2), {"l": "v"}, settings())
    rewritten = {
        "metadata": {"name": "p-compute", "labels": {"l": "v", "other": "x"}, "annotations": dict(wanted["metadata"]["annotations"], other="y")},
        "spec": {"hard": {"requests.cpu": "3.7", "requests.memory": str(6184 * MI)}},
    }
    assert _tenant_quotas.up_to_date("compute_quota", rewritten, wanted)
    assert _tenant_quotas.updated("compute_quota", rewritten, wanted) is None
    rewritten["spec"]["hard"]["requests.cpu"] = "3701m"
    new = _tenant_quotas.updated("compute_quota", rewritten, wanted)
    assert new["spec"]["hard"] == wanted["spec"]["hard"] and new["metadata"]["labels"]["other"] == "x" and new["metadata"]["annotations"]["other"] == "y"
    rewritten["spec"]["hard"] = dict(wanted["spec"]["hard"], pods="10")  # a key someone added: not ours
    assert not _tenant_quotas.up_to_date("compute_quota", rewritten, wanted)
    lr = _tenant_quotas.desired("limit_range", "ns-a", "p", spec(cpuCores=1), {}, settings())
    observed = {"metadata": {"name": "p-defaults"}, "spec": {"limits": [{"type": "Container", "defaultRequest": {"cpu": "0.05", "memory": "65536Ki"}}]}}
    assert _tenant_quotas.up_to_date("limit_range", observed, lr)
    observed["spec"]["limits"][0]["default"] = {"cpu": "1"}
    assert not _tenant_quotas.up_to_date("limit_range", observed, lr)


@pytest.mark.parametrize(
    "headroom, requests, fragment",
    [
        ({"cpu": "-1"}, None, "quota_headroom.cpu must not be negative"),
        ({"memory": "1GB"}, None, "quota_headroom.memory '1GB' is not a Kubernetes quantity"),
        ({"volumes": -1}, None, "quota_headroom.volumes must be a non-negative integer"),
        ({"pods": 3}, None, "quota_headroom: unknown key(s) pods"),
        (None, {"cpu": "x"}, "default_requests.cpu 'x' is not a Kubernetes quantity"),
        (None, {"gpu": "1"}, "default_requests: unknown key gpu"),
    ],
)
def test_settings_are_checked(headroom, requests, fragment):
    with pytest.raises(ValidationError) as err:
        _tenant_quotas.normalize_settings(headroom, requests)
    assert fragment in err.value.msg


def test_layer_status_needs_the_quota_controllers_status():
    policy_spec = spec(cpuCores=2, maxClusters=2)
    quota = {"metadata": {"name": "p-compute"}, "spec": {"hard": {"requests.cpu": "3700m"}}}
    status = _tenant_quotas.layer_status("compute_quota", quota, policy_spec)
    assert status["required"] is True and status["in_force"] is False and status["hard"] == {"requests.cpu": "3700m"}
    quota["status"] = {"hard": {"requests.cpu": "3700m"}, "used": {"requests.cpu": "3800m"}}
    status = _tenant_quotas.layer_status("compute_quota", quota, policy_spec)
    assert status["in_force"] is True and status["used"] == {"requests.cpu": "3800m"} and status["over"] == ["requests.cpu"]
    # a layer the policy does not call for is not required, and absent
    assert _tenant_quotas.layer_status("storage_quota", None, policy_spec) == {
        "required": False,
        "in_force": False,
        "name": None,
        "hard": {},
        "used": {},
        "over": [],
    }
    # the LimitRange must default every limited resource
    lr = {"metadata": {"name": "p-defaults"}, "spec": {"limits": [{"type": "Container", "defaultRequest": {"memory": "64Mi"}}]}}
    assert _tenant_quotas.layer_status("limit_range", lr, policy_spec)["in_force"] is False
