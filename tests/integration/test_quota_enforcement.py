"""Issue #16 end to end: the role gives each tenant a compute and a storage ResourceQuota and a LimitRange, and then
Kubernetes holds the tenant to its totals when it works in Everest (the REST emulator, as Everest's UI does): two
clusters inside the total come up; a third that pushes CPU, memory or storage over it is refused at pod or PVC level
and its status says so; after one cluster is deleted the third comes up. Also: the role's no-op, check mode, diff and
offboarding of the new layers, and fleet mode's reads staying constant.

The clusters are PostgreSQL with one node and one PgBouncer (100m/64Mi, counted by the policy). What each costs beyond
the policy's count, as the sandbox's operator simulation creates it: three sidecars on the node and two containers
(and two init containers) on the repo host without requests, so at the LimitRange's 50m/64Mi, and pgbouncer-config
5m/16Mi: 255m and 336Mi. The tenants give a quota_headroom close to that (300m, 400-512Mi), as a provider whose tenants
run single nodes without monitoring would."""

import copy

import pytest

from everest_sandbox.launcher import raw_request

from test_admission_enforcement import login
from test_role_fleet import localhost_inventory, FLEET
from test_role_tenant_bootstrap import BOOTSTRAP, OFFBOARD, Cluster, write_inventory

pytestmark = pytest.mark.integration

DBC = "/apis/everest.percona.com/v1alpha1/namespaces/%s/databaseclusters"
POLICY_TASK = "Converge | TenantResourcePolicies with their ResourceQuotas (count, compute, storage) and LimitRanges"
HEADROOM = {"cpu": "300m", "memory": "512Mi", "volumes": 2}
TENANTS = {
    # CPU is the tight dimension: compute quota requests.cpu = 2 + 3 x 300m = 2900m
    "qcpu": {
        "tenant_bootstrap_password": "Qcpu@pass11",
        "tenant_bootstrap_limits": {"cpu": 2, "memory": "8Gi", "storage": "100Gi", "max_clusters": 3, "max_db_users": 2},
        "tenant_bootstrap_quota_headroom": HEADROOM,
    },
    # memory: requests.memory = 2Gi + 3 x 400Mi = 3248Mi
    "qmem": {
        "tenant_bootstrap_password": "Qmem@pass22",
        "tenant_bootstrap_limits": {"cpu": 8, "memory": "2Gi", "storage": "100Gi", "max_clusters": 3, "max_db_users": 2},
        "tenant_bootstrap_quota_headroom": dict(HEADROOM, memory="400Mi"),
    },
    # storage: requests.storage = 30Gi, exactly the policy (storage has no headroom: the rule counts every volume)
    "qsto": {
        "tenant_bootstrap_password": "Qsto@pass33",
        "tenant_bootstrap_limits": {"cpu": 8, "memory": "8Gi", "storage": "30Gi", "max_clusters": 3, "max_db_users": 2},
    },
}
PASSWORDS = {"qcpu": "Qcpu@pass11", "qmem": "Qmem@pass22", "qsto": "Qsto@pass33"}


def cluster_body(name, cpu="800m", memory="1Gi", storage="5Gi"):
    return {
        "apiVersion": "everest.percona.com/v1alpha1",
        "kind": "DatabaseCluster",
        "metadata": {"name": name},
        "spec": {
            "engine": {"type": "postgresql", "version": "17.4", "replicas": 1, "resources": {"cpu": cpu, "memory": memory}, "storage": {"size": storage}},
            "proxy": {"type": "pgbouncer", "replicas": 1, "resources": {"cpu": "100m", "memory": "64Mi"}},
        },
    }


@pytest.fixture(name="onboarded")
def fixture_onboarded(ansible, clean_sandbox, tmp_path):
    inventory = write_inventory(tmp_path, TENANTS)
    run = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert run.rc == 0, run.output[-4000:]
    return clean_sandbox, inventory


class Tenant:
    """One tenant working through Everest's REST API (the emulator), as Everest's UI does."""

    def __init__(self, sandbox, name):
        self.sandbox = sandbox
        self.ns = "ns-" + name
        self.token = login(sandbox, name, PASSWORDS[name])

    def call(self, method, path, body=None):
        return raw_request(self.sandbox.everest_url, self.token, method, "/v1/namespaces/%s/database-clusters%s" % (self.ns, path), body)

    def create(self, body):
        status, answer = self.call("POST", "", body)
        assert status == 201, answer
        return answer

    def status(self, name):
        status, answer = self.call("GET", "/" + name)
        assert status == 200, answer
        return answer.get("status") or {}

    def pods(self):
        _st, listing = self.sandbox.request("GET", "/api/v1/namespaces/%s/pods" % self.ns)
        return sorted(p["metadata"]["name"] for p in listing["items"])

    def quota(self, suffix):
        _st, quota = self.sandbox.request("GET", "/api/v1/namespaces/%s/resourcequotas/resource-policy-%s" % (self.ns, suffix))
        return quota


def test_the_role_creates_the_layers(onboarded):
    sandbox, _inventory = onboarded
    cluster = Cluster(sandbox)
    compute = cluster.get("/api/v1/namespaces/ns-qcpu/resourcequotas/resource-policy-compute")
    assert compute["spec"]["hard"] == {"requests.cpu": "2900m", "requests.memory": "9728Mi"}  # 8Gi + 3 x 512Mi
    assert compute["status"]["hard"] == compute["spec"]["hard"]  # the quota controller has seen it: in force
    storage = cluster.get("/api/v1/namespaces/ns-qsto/resourcequotas/resource-policy-storage")
    assert storage["spec"]["hard"] == {"requests.storage": "30Gi", "persistentvolumeclaims": "12"}  # 3 x 4 (PostgreSQL)
    assert cluster.get("/api/v1/namespaces/ns-qmem/resourcequotas/resource-policy-compute")["spec"]["hard"]["requests.memory"] == "3248Mi"
    limit_range = cluster.get("/api/v1/namespaces/ns-qsto/limitranges/resource-policy-defaults")
    assert limit_range["spec"]["limits"] == [{"type": "Container", "defaultRequest": {"cpu": "50m", "memory": "64Mi"}}]
    assert limit_range["metadata"]["labels"]["virakcloud.everest/tenant"] == "qsto"


@pytest.mark.parametrize(
    "tenant, shape, refused, quota",
    [
        # two clusters of 800m + 100m fit 2 CPU; the third's node pod (800m + 3 x 50m) finds 2310m used of 2900m
        (
            "qcpu",
            {"cpu": "800m"},
            'pods "c-instance1-%s-0" is forbidden: exceeded quota: resource-policy-compute, requested: requests.cpu=950m, '
            "used: requests.cpu=2310m, limited: requests.cpu=2900m",
            "compute",
        ),
        # two of 768Mi + 64Mi fit 2Gi; the third's node pod (768Mi + 3 x 64Mi) finds 2336Mi used of 3248Mi
        (
            "qmem",
            {"memory": "768Mi"},
            'pods "c-instance1-%s-0" is forbidden: exceeded quota: resource-policy-compute, requested: requests.memory=960Mi, '
            "used: requests.memory=2336Mi, limited: requests.memory=3248Mi",
            "compute",
        ),
        # two of 2 x 5Gi fit 30Gi; the third (2 x 10Gi: admitted alone) gets its data volume, then its backup repository
        # volume finds the quota full
        (
            "qsto",
            {"storage": "10Gi"},
            'persistentvolumeclaims "c-repo1" is forbidden: exceeded quota: resource-policy-storage, requested: requests.storage=10Gi, '
            "used: requests.storage=30Gi, limited: requests.storage=30Gi",
            "storage",
        ),
    ],
)
def test_a_third_cluster_over_the_total_is_refused_until_one_is_deleted(onboarded, tenant, shape, refused, quota):
    sandbox, _inventory = onboarded
    user = Tenant(sandbox, tenant)
    first = dict(shape, storage="5Gi") if tenant == "qsto" else shape
    for name in ("a", "b"):
        user.create(cluster_body(name, **first))
        assert user.status(name).get("status") != "error", user.status(name)
    third = user.create(cluster_body("c", **shape))  # the admission policy admits it: alone it is inside the total
    assert third["metadata"]["name"] == "c"
    status = user.status("c")
    expected = refused % _instance_suffix(sandbox, user.ns) if "%s" in refused else refused
    assert status.get("status") == "error" and status.get("message") == expected, status
    refused_object = expected.split('"')[1]
    assert refused_object not in user.pods()  # the operator's other StatefulSets and Deployments go on (on a real cluster too)
    # Kubernetes' own count: the refused objects are not charged
    quota_status = user.quota(quota)["status"]
    assert quota_status["hard"] == user.quota(quota)["spec"]["hard"] and set(quota_status["used"]) == set(quota_status["hard"])

    # the tenant deletes a cluster: its pods and volumes go, and the operator's next reconcile brings the third up
    assert user.call("DELETE", "/a")[0] == 204
    status = user.status("c")
    assert status.get("status") != "error" and "message" not in status, status
    pods = user.pods()
    assert any(p.startswith("c-instance1-") for p in pods) and any(p.startswith("c-pgbouncer-") for p in pods) and "c-repo-host-0" in pods
    assert not any(p.startswith("a-") for p in pods)


def task_result(run, name, host):
    """The result on ``host`` of the last role task called ``name`` (results name role tasks ``<role> : <name>``)."""
    for task in reversed(run.tasks):
        if task["name"].endswith(" : " + name) and host in task["hosts"]:
            return task["hosts"][host]
    raise AssertionError("no task %r ran on %s" % (name, host))


def _instance_suffix(sandbox, namespace):
    """The generated part of the name of cluster c's instance (its PVC exists even when the pod was refused)."""
    _st, listing = sandbox.request("GET", "/api/v1/namespaces/%s/persistentvolumeclaims" % namespace)
    names = [p["metadata"]["name"] for p in listing["items"] if p["metadata"]["name"].startswith("c-instance1-")]
    return names[0][len("c-instance1-") : -len("-pgdata")]


def test_a_sidecar_without_requests_gets_the_limit_range_default(onboarded):
    sandbox, _inventory = onboarded
    user = Tenant(sandbox, "qsto")
    user.create(cluster_body("a"))
    node = [p for p in user.pods() if p.startswith("a-instance1-")][0]
    _st, pod = sandbox.request("GET", "/api/v1/namespaces/ns-qsto/pods/" + node)
    sidecars = dict((c["name"], c.get("resources")) for c in pod["spec"]["containers"])
    assert sidecars["pgbackrest"] == {"requests": {"cpu": "50m", "memory": "64Mi"}}  # a request, no limit
    assert sidecars["database"] == {"limits": {"cpu": "800m", "memory": "1Gi"}, "requests": {"cpu": "800m", "memory": "1Gi"}}
    # the LimitRanger names the containers it defaulted in the pod's order
    assert pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container replication-cert-copy; cpu, memory request for container pgbackrest; "
        "cpu, memory request for container pgbackrest-config"
    )
    assert pod["status"]["phase"] == "Running"


def test_changing_limits_updates_quotas_check_mode_diff_noop_and_offboarding(ansible, onboarded, tmp_path):
    sandbox, _inventory = onboarded
    cluster = Cluster(sandbox)
    tenants = copy.deepcopy(TENANTS)
    tenants["qsto"]["tenant_bootstrap_limits"].update(storage="40Gi", cpu=6)
    inventory = write_inventory(tmp_path, tenants, name="changed.yml")

    sandbox.reset_stats()
    check = ansible.playbook(BOOTSTRAP, inventory=inventory, limit="qsto", check=True, diff=True)
    assert check.rc == 0, check.output[-4000:]
    assert cluster.writes() == {}
    diff = task_result(check, POLICY_TASK, "qsto")["diff"][0]
    assert diff["before_header"] == "TenantResourcePolicy ns-qsto/resource-policy (before)"
    assert diff["before"]["storage_quota"] == {"name": "resource-policy-storage", "hard": {"requests.storage": "30Gi", "persistentvolumeclaims": "12"}}
    assert diff["after"]["storage_quota"]["hard"]["requests.storage"] == "40Gi"
    assert diff["before"]["compute_quota"]["name"] == "resource-policy-compute"
    assert diff["after"]["compute_quota"]["hard"]["requests.cpu"] != diff["before"]["compute_quota"]["hard"]["requests.cpu"]

    run = ansible.playbook(BOOTSTRAP, inventory=inventory, limit="qsto")
    assert run.rc == 0, run.output[-4000:]
    assert cluster.get("/api/v1/namespaces/ns-qsto/resourcequotas/resource-policy-storage")["spec"]["hard"]["requests.storage"] == "40Gi"
    compute = cluster.get("/api/v1/namespaces/ns-qsto/resourcequotas/resource-policy-compute")["spec"]["hard"]
    assert compute["requests.cpu"] == diff["after"]["compute_quota"]["hard"]["requests.cpu"]

    sandbox.reset_stats()
    again = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert again.rc == 0 and again.total("changed") == 0, again.changed_hosts()
    assert cluster.writes() == {}

    # offboarding removes the policy, its quotas and its LimitRange (the namespace stays)
    off = ansible.playbook(OFFBOARD, inventory=inventory, limit="qsto")
    assert off.rc == 0, off.output[-4000:]
    assert cluster.get("/api/v1/namespaces/ns-qsto/resourcequotas")["items"] == []
    assert cluster.get("/api/v1/namespaces/ns-qsto/limitranges")["items"] == []
    assert cluster.namespace("ns-qsto") is not None
    assert cluster.get("/api/v1/namespaces/ns-qcpu/resourcequotas/resource-policy-compute") is not None  # the others keep theirs
    sandbox.reset_stats()
    off = ansible.playbook(OFFBOARD, inventory=inventory, limit="qsto")
    assert off.rc == 0 and off.total("changed") == 0 and cluster.writes() == {}


def test_fleet_no_op_reads_stay_constant(ansible, clean_sandbox, tmp_path):
    """One LIST per kind whatever the number of tenants: a no-op with two tenants reads what a no-op with three reads."""
    cluster = Cluster(clean_sandbox)

    def noop_reads(tenants, name):
        inventory = localhost_inventory(tmp_path, tenants, name=name)
        first = ansible.playbook(FLEET, inventory=inventory)
        assert first.rc == 0, first.output[-4000:]
        clean_sandbox.reset_stats()
        again = ansible.playbook(FLEET, inventory=inventory)
        assert again.rc == 0 and again.stats["localhost"]["changed"] == 0
        assert cluster.writes() == {}
        by_resource = clean_sandbox.stats()["by_resource"]
        kinds = ("resourcequotas", "limitranges", "tenantresourcepolicies")
        return dict((k, dict((verb, n) for verb, n in by_resource.get(k, {}).items() if n)) for k in kinds)  # the verbs used

    two = noop_reads(dict((k, TENANTS[k]) for k in ("qcpu", "qmem")), "two.yml")
    three = noop_reads(TENANTS, "three.yml")
    assert two == three
    assert two["resourcequotas"] == {"list": 1} and two["limitranges"] == {"list": 1}
