"""Fleet mode's parallel namespace step (issue #17) against the sandbox, with the sandbox latency model on: adds really
run side by side and never more than tenant_bootstrap_fleet_parallelism at once, the Helm chart cache is filled by one
add alone and never written by two processes, one failing add among many stops nothing and the re-run finishes it,
check mode runs no everestctl command.

Everything is read from the cluster and from the everestctl emulator's call log (start/end on the host's monotonic
clock, chart_cache, chart_cache_race); no wall-clock duration is asserted.
"""

import base64
import gzip
import json

import pytest

from everest_sandbox.everestctl.testing import max_concurrency, overlapping
from test_role_fleet import FLEET, forget_calls, localhost_inventory
from test_role_tenant_bootstrap import BOOTSTRAP, LABEL, Cluster, write_inventory

pytestmark = pytest.mark.integration

# every add sleeps 2 s for the model (0.5 s base + 0.75 s per operator, two operators), the chart download 1 s: long
# enough that processes started together are seen together even on a loaded machine
LATENCY = {
    "EVEREST_SANDBOX_LATENCY_NS_ADD_BASE_S": "0.5",
    "EVEREST_SANDBOX_LATENCY_NS_ADD_PER_OPERATOR_S": "0.75",
    "EVEREST_SANDBOX_LATENCY_CHART_DOWNLOAD_S": "1",
    "EVEREST_SANDBOX_LATENCY_ACCOUNTS_S": "0.05",
}


def tenants(count):
    return {
        "t%02d" % i: {
            "tenant_bootstrap_password": "Tenant@pass%02d" % i,
            "tenant_bootstrap_operators": {"mysql": True, "postgresql": True, "mongodb": False},
        }
        for i in range(count)
    }


def adds(sandbox):
    return [c for c in sandbox.calls() if c["argv"][:2] == ["namespaces", "add"]]


@pytest.fixture
def cluster(clean_sandbox):
    return Cluster(clean_sandbox)


def test_fleet_adds_overlap_within_the_bound_and_fill_the_chart_cache_once(ansible, cluster, clean_sandbox, tmp_path):
    inventory = localhost_inventory(tmp_path, tenants(8))
    forget_calls(clean_sandbox)
    run = ansible.playbook(FLEET, inventory=inventory, extra_vars={"tenant_bootstrap_fleet_parallelism": 3}, env=LATENCY)
    assert run.rc == 0, run.output[-6000:]
    calls = adds(clean_sandbox)
    assert len(calls) == 8 and all(c["rc"] == 0 for c in calls)
    # side by side, never more than the bound
    assert 2 <= max_concurrency(calls) <= 3
    assert any(overlapping(a, b) for a in calls for b in calls if a is not b)
    # the chart cache: one download, by the first add, which ran alone; nobody wrote it at the same time
    first = min(calls, key=lambda c: c["mono_start"])
    assert [c["chart_cache"] for c in calls].count("downloaded") == 1 and first["chart_cache"] == "downloaded"
    assert not any(overlapping(first, other) for other in calls if other is not first)
    assert not any(c.get("chart_cache_race") for c in calls)
    for i in range(8):
        assert cluster.namespace("ns-t%02d" % i)["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "everest"
    # the accounts were written by the background job, and reported
    assert {"t%02d" % i for i in range(8)} <= set(cluster.accounts())
    assert "failed tenants: none" in "\n".join(next(t for t in run.tasks if t["name"].endswith("Summary | table"))["hosts"]["localhost"]["msg"])


def stale_release(sandbox, namespace, tenant):
    """The tenant's namespace with a Helm release of another chart version in it (left by an older Everest): everestctl's
    add fails there ('cannot overwrite existing release with a different chart version'), nowhere else."""
    status, body = sandbox.request(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {LABEL: tenant}}}
    )
    assert status == 201, body
    release = {
        "name": namespace,
        "namespace": namespace,
        "version": 1,
        "info": {"status": "deployed"},
        "chart": {"metadata": {"name": "everest-db-namespace", "version": "0.0.1"}},
        "config": {},
        "manifest": "",
    }
    packed = base64.b64encode(gzip.compress(json.dumps(release).encode(), mtime=0))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "helm.sh/release.v1",
        "metadata": {"name": "sh.helm.release.v1.%s.v1" % namespace, "labels": {"owner": "helm", "name": namespace, "status": "deployed", "version": "1"}},
        "data": {"release": base64.b64encode(packed).decode()},
    }
    status, body = sandbox.request("POST", "/api/v1/namespaces/%s/secrets" % namespace, secret)
    assert status == 201, body
    return "/api/v1/namespaces/%s/secrets/sh.helm.release.v1.%s.v1" % (namespace, namespace)


def test_one_failing_add_among_many_is_named_and_the_rerun_finishes_it(ansible, cluster, clean_sandbox, tmp_path):
    inventory = localhost_inventory(tmp_path, tenants(6))
    stale = stale_release(clean_sandbox, "ns-t03", "t03")
    run = ansible.playbook(FLEET, inventory=inventory, extra_vars={"tenant_bootstrap_fleet_parallelism": 4}, env=LATENCY)
    assert run.rc != 0
    text = " ".join(run.output.split())
    assert "tenant t03: everestctl namespaces add failed (rc=1): cannot overwrite existing release with a different chart version" in text
    assert "failed tenants: t03" in text
    failed = [c for c in adds(clean_sandbox) if c["rc"] != 0]
    assert [c["argv"][2] for c in failed] == ["ns-t03"]
    for i in (0, 1, 2, 4, 5):  # the others completed
        ns = "ns-t%02d" % i
        assert cluster.namespace(ns)["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "everest"
        assert cluster.block(ns)
    # t03 is left out of the later steps (no RBAC block); its account was written in the background and is kept
    assert cluster.block("ns-t03") is None and "t03" in cluster.accounts()

    # the cause removed (the stale release deleted), the next run finishes t03 and only t03
    assert clean_sandbox.request("DELETE", stale)[0] == 200
    forget_calls(clean_sandbox)
    again = ansible.playbook(FLEET, inventory=inventory, extra_vars={"tenant_bootstrap_fleet_parallelism": 4}, env=LATENCY)
    assert again.rc == 0, again.output[-6000:]
    assert [c["argv"][2] for c in adds(clean_sandbox)] == ["ns-t03"]
    assert "--take-ownership" in adds(clean_sandbox)[0]["argv"]  # its own namespace, resumed
    assert cluster.namespace("ns-t03")["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "everest" and cluster.block("ns-t03")


@pytest.mark.parametrize("playbook", ["fleet", "per_tenant"])
def test_check_mode_under_the_latency_model_runs_no_everestctl_command(ansible, cluster, clean_sandbox, tmp_path, playbook):
    latency = dict(LATENCY, EVEREST_SANDBOX_LATENCY_PROFILE="realistic", EVEREST_SANDBOX_LATENCY_SCALE="0.01")
    if playbook == "fleet":
        inventory, path = localhost_inventory(tmp_path, tenants(4)), FLEET
    else:
        inventory, path = write_inventory(tmp_path, tenants(4)), BOOTSTRAP
    forget_calls(clean_sandbox)
    cluster.sandbox.reset_stats()
    run = ansible.playbook(path, inventory=inventory, check=True, diff=True, env=latency)
    assert run.rc == 0, run.output[-6000:]
    # only the preflight's `version --client-only` (read-only, no cluster access, cached afterwards) may run
    assert [c["argv"][:1] for c in clean_sandbox.calls()] in ([], [["version"]])
    assert cluster.writes() == {}
    assert all(cluster.namespace("ns-t%02d" % i) is None for i in range(4))
