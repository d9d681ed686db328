"""Issue #15 end to end: the role installs the admission policy, and then the API server itself refuses what a
tenant's TenantResourcePolicy forbids, whoever sends the DatabaseCluster: the tenant through Everest's REST API (as
Everest's UI does), or kubectl."""

import json
import subprocess

import pytest

from everest_sandbox.launcher import raw_request

from test_role_tenant_bootstrap import BOOTSTRAP, Cluster, write_inventory

pytestmark = pytest.mark.integration

POLICY = "virakcloud-everest-tenant-resource-policy"
TENANTS = {
    "zed": {
        "tenant_bootstrap_password": "Zed@pass11",
        "tenant_bootstrap_operators": {"postgresql": True, "mongodb": True},
        "tenant_bootstrap_engines": ["postgresql"],
        "tenant_bootstrap_limits": {"cpu": 2, "memory": "4Gi", "max_clusters": 2, "max_db_users": 2},
    },
    "yak": {
        "tenant_bootstrap_password": "Yak@pass22",
        "tenant_bootstrap_operators": {"postgresql": True, "mongodb": True},
        "tenant_bootstrap_limits": {"cpu": 64, "memory": "256Gi", "max_clusters": 5},
    },
}


def cluster_body(name, engine="postgresql", replicas=1, cpu="1", memory="1Gi"):
    resources = dict((k, v) for k, v in (("cpu", cpu), ("memory", memory)) if v is not None)
    return {
        "apiVersion": "everest.percona.com/v1alpha1",
        "kind": "DatabaseCluster",
        "metadata": {"name": name},
        "spec": {
            "engine": {
                "type": engine,
                "version": "17.4" if engine == "postgresql" else "7.0.12-7",
                "replicas": replicas,
                "resources": resources,
                "storage": {"size": "10Gi"},
            }
        },
    }


@pytest.fixture
def onboarded(ansible, clean_sandbox, tmp_path):
    run = ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, TENANTS))
    assert run.rc == 0, run.output[-4000:]
    return clean_sandbox


def login(sandbox, user, password):
    status, body = raw_request(sandbox.everest_url, None, "POST", "/v1/session", {"username": user, "password": password})
    assert status == 200, body
    return body["token"]


def create(sandbox, token, namespace, body):
    return raw_request(sandbox.everest_url, token, "POST", "/v1/namespaces/%s/database-clusters" % namespace, body)


def test_the_role_installs_one_policy_and_one_binding(onboarded):
    for plural in ("validatingadmissionpolicies", "validatingadmissionpolicybindings"):
        status, listing = onboarded.request("GET", "/apis/admissionregistration.k8s.io/v1/%s" % plural)
        assert status == 200 and [i["metadata"]["name"] for i in listing["items"]] == [POLICY]


def test_a_tenant_cannot_bypass_its_policy_through_everest(onboarded):
    sandbox = onboarded
    token = login(sandbox, "zed", "Zed@pass11")
    refusals = {
        "mongo": (cluster_body("mongo", engine="psmdb"), "ns-zed does not allow the psmdb engine"),
        "huge": (cluster_body("huge", replicas=3, cpu="64", memory="512Gi"), "ns-zed allows at most 2 CPU for all its clusters; this cluster asks for 192"),
    }
    for name, (body, message) in refusals.items():
        status, answer = create(sandbox, token, "ns-zed", body)
        assert status == 422 and message in answer["message"], (name, status, answer)
        assert sandbox.request("GET", "/apis/everest.percona.com/v1alpha1/namespaces/ns-zed/databaseclusters/%s" % name)[0] == 404
    # inside the limits: accepted
    status, answer = create(sandbox, token, "ns-zed", cluster_body("small", cpu="1", memory="2Gi"))
    assert status == 201, answer
    # a scale-up past a limit is refused too (UPDATE)
    path = "/v1/namespaces/ns-zed/database-clusters/small"
    status, current = raw_request(sandbox.everest_url, token, "GET", path)
    assert status == 200, current
    current["spec"]["engine"]["replicas"] = 3
    status, answer = raw_request(sandbox.everest_url, token, "PUT", path, current)
    assert status == 422 and "this cluster asks for 3" in answer["message"], answer


def test_a_cluster_without_cpu_is_refused_when_the_policy_limits_cpu(onboarded):
    """Everest's own API refuses a cluster without resources (400) before Kubernetes sees it; anything writing to the
    Kubernetes API directly (kubectl, a GitOps controller) meets the admission policy instead."""
    body = dict(cluster_body("nocpu", cpu=None), metadata={"name": "nocpu", "namespace": "ns-zed"})
    status, answer = onboarded.request("POST", "/apis/everest.percona.com/v1alpha1/namespaces/ns-zed/databaseclusters", body)
    assert status == 422 and "this cluster must set spec.engine.resources.cpu" in answer["message"], answer
    token = login(onboarded, "zed", "Zed@pass11")
    status, answer = create(onboarded, token, "ns-zed", cluster_body("nocpu", cpu=None))
    assert status == 400, answer


def test_one_tenants_policy_never_affects_another_and_unpolicied_namespaces_are_untouched(onboarded):
    sandbox = onboarded
    token = login(sandbox, "yak", "Yak@pass22")
    status, answer = create(sandbox, token, "ns-yak", cluster_body("big", replicas=3, cpu="16", memory="64Gi"))
    assert status == 201, answer  # 48 CPU: far above zed's 2, inside yak's 64
    status, answer = create(sandbox, token, "ns-yak", cluster_body("mongo", engine="psmdb"))
    assert status == 201, answer  # yak allows its operators' engines
    # a namespace without a TenantResourcePolicy: the binding finds no params and admits (parameterNotFoundAction Allow)
    assert sandbox.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "free"}})[0] == 201
    body = dict(cluster_body("anything", engine="psmdb", replicas=5, cpu="100", memory="1Ti"), metadata={"name": "anything", "namespace": "free"})
    status, answer = sandbox.request("POST", "/apis/everest.percona.com/v1alpha1/namespaces/free/databaseclusters", body)
    assert status == 201, answer


def test_kubectl_sees_the_usual_denied_request_line(onboarded, tmp_path):
    sandbox = onboarded
    kubeconfig = tmp_path / "kubectl.kubeconfig"
    sandbox.kubeconfig_for(sandbox.token, str(kubeconfig), tls=True)
    body = dict(cluster_body("huge", replicas=3, cpu="64", memory="8Gi"), metadata={"name": "huge", "namespace": "ns-zed"})
    manifest = tmp_path / "huge.json"
    manifest.write_text(json.dumps(body))
    proc = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "apply", "-f", str(manifest)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0
    assert "ValidatingAdmissionPolicy '%s' with binding '%s' denied request: ns-zed allows at most 2 CPU" % (POLICY, POLICY) in proc.stderr, proc.stderr
    assert Cluster(sandbox).get("/apis/everest.percona.com/v1alpha1/namespaces/ns-zed/databaseclusters/huge") is None
