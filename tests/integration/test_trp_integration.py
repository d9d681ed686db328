"""Integration tests of tenant_resource_policy and tenant_quota_check: real ansible-playbook against the sandbox.

Between runs the tests talk to the Kubernetes API emulator directly (create namespaces and DatabaseClusters,
read back policies, count requests with /_sandbox/stats). Each test uses its own namespaces.
"""

import copy

import pytest

pytestmark = pytest.mark.integration

POLICY = "trp/policy.yml"
CHECKS = "trp/quota_check.yml"
TRP_API = "/apis/everest.local/v1"
CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tenantresourcepolicies.everest.local"
DBC = "/apis/everest.percona.com/v1alpha1/namespaces/%s/databaseclusters"
RBAC = "/api/v1/namespaces/everest-system/configmaps/everest-rbac"
QUOTA_KEY = "count/databaseclusters.everest.percona.com"
WRITE_VERBS = ("create", "update", "patch", "delete")


class Api:
    """Direct access to the sandbox's Kubernetes API (status, body)."""

    def __init__(self, sandbox):
        self.sandbox = sandbox

    def call(self, method, path, body=None):
        return self.sandbox.request(method, path, body)

    def get(self, path):
        status, obj = self.call("GET", path)
        return obj if status == 200 else None

    def namespace(self, name, managed=False):
        labels = {"app.kubernetes.io/managed-by": "everest"} if managed else {}
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        status, body = self.call("POST", "/api/v1/namespaces", body)
        assert status in (201, 409), body

    def policy(self, namespace, name="resource-policy"):
        return self.get("%s/namespaces/%s/tenantresourcepolicies/%s" % (TRP_API, namespace, name))

    def quota(self, namespace, name="resource-policy-clusters"):
        return self.get("/api/v1/namespaces/%s/resourcequotas/%s" % (namespace, name))

    def cluster(self, namespace, name, engine="postgresql", replicas=1, cpu="1", memory="1Gi", proxy=None):
        spec = {"engine": {"type": engine, "replicas": replicas, "resources": {"cpu": cpu, "memory": memory}, "storage": {"size": "1Gi"}}}
        if proxy:
            spec["proxy"] = proxy
        return self.call(
            "POST", DBC % namespace, {"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster", "metadata": {"name": name}, "spec": spec}
        )

    def writes(self):
        by_verb = self.sandbox.stats()["by_verb"]
        return dict((v, by_verb.get(v, 0)) for v in WRITE_VERBS if by_verb.get(v))

    def add_rbac_block(self, namespace, users):
        """Append a tenant block to policy.csv; returns the original ConfigMap for restore_rbac."""
        original = self.get(RBAC)
        cm = copy.deepcopy(original)
        lines = ["# BEGIN virakcloud.everest %s" % namespace, "p, role:tenant-%s, database-clusters, *, %s/*" % (namespace, namespace)]
        lines += ["g, %s, role:tenant-%s" % (user, namespace) for user in users]
        lines.append("# END virakcloud.everest %s" % namespace)
        text = cm["data"].get("policy.csv", "")
        cm["data"]["policy.csv"] = text + ("" if text.endswith("\n") or not text else "\n") + "\n".join(lines) + "\n"
        status, body = self.call("PUT", RBAC, cm)
        assert status == 200, body
        return original

    def restore_rbac(self, original):
        current = self.get(RBAC)
        original = copy.deepcopy(original)
        original["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        status, body = self.call("PUT", RBAC, original)
        assert status == 200, body


@pytest.fixture(name="api")
def fixture_api(clean_sandbox):
    """Direct API access to the sandbox, reset to its seeded state first."""
    return Api(clean_sandbox)


def run_policy(ansible, check=False, diff=False, **trp_vars):
    run = ansible.playbook(POLICY, extra_vars=dict(("trp_%s" % k, v) for k, v in trp_vars.items()), check=check, diff=diff)
    return run, run.result("Policy")


LIMITS = {"cpu": 4, "memory": "16Gi", "max_clusters": 3, "max_db_users": 20}


def test_policy_lifecycle_check_mode_idempotence_diff_and_absent(ansible, api, sandbox):
    ns = "trp-life"
    api.namespace(ns)

    run, res = run_policy(ansible, check=True, diff=True, namespace=ns, limits=LIMITS, engines=["postgresql", "mysql"])
    assert run.rc == 0, run.output
    assert res["changed"] is True
    assert res["diff"]["after"]["spec"]["limits"]["memoryBytes"] == 17179869184
    assert api.policy(ns) is None and api.quota(ns) is None

    run, res = run_policy(ansible, namespace=ns, limits=LIMITS, engines=["postgresql", "mysql"], labels={"virakcloud.everest/tenant": "life"})
    assert run.rc == 0, run.output
    assert res["changed"] is True
    crd = api.get(CRD)
    assert any(c["type"] == "Established" and c["status"] == "True" for c in crd["status"]["conditions"])
    stored = api.policy(ns)
    assert stored["spec"] == {
        "limits": {"cpuCores": 4, "memoryBytes": 17179869184, "maxClusters": 3, "maxDbUsers": 20},
        "selectors": {"engines": ["mysql", "postgresql"]},
    }
    assert stored["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "virakcloud.everest",
        "virakcloud.everest/tenant-namespace": ns,
        "virakcloud.everest/tenant": "life",
    }
    assert api.quota(ns)["spec"]["hard"] == {QUOTA_KEY: "3"}
    assert res["policy"]["metadata"]["uid"] == stored["metadata"]["uid"]

    # same values written differently: no change, no write, three reads (CRD, policy, quota)
    sandbox.reset_stats()
    same = {"cpu": "4000m", "memory": 17179869184, "max_clusters": 3, "max_db_users": 20}
    run, res = run_policy(ansible, namespace=ns, limits=same, engines=["mysql", "postgresql", "mysql"], labels={"virakcloud.everest/tenant": "life"})
    assert run.rc == 0, run.output
    assert res["changed"] is False
    assert api.writes() == {}
    assert sandbox.stats()["by_verb"]["get"] == 3
    assert api.policy(ns)["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]

    # a change, in check mode then for real, with a diff
    bigger = dict(LIMITS, cpu="4500m", max_clusters=5)
    sandbox.reset_stats()
    run, res = run_policy(ansible, check=True, diff=True, namespace=ns, limits=bigger, engines=["postgresql"])
    assert run.rc == 0 and res["changed"] is True
    assert api.writes() == {}
    assert res["diff"]["before"]["spec"]["limits"]["cpuCores"] == 4
    assert res["diff"]["after"]["spec"]["limits"]["cpuCores"] == 4.5
    assert res["diff"]["after"]["resource_quota"]["hard"] == {QUOTA_KEY: "5"}
    run, res = run_policy(ansible, diff=True, namespace=ns, limits=bigger, engines=["postgresql"])
    assert run.rc == 0 and res["changed"] is True
    assert api.policy(ns)["spec"]["limits"]["cpuCores"] == 4.5
    assert api.policy(ns)["spec"]["selectors"]["engines"] == ["postgresql"]
    assert api.quota(ns)["spec"]["hard"] == {QUOTA_KEY: "5"}
    assert "virakcloud.everest/tenant" in api.policy(ns)["metadata"]["labels"]  # labels set by others are kept

    run, res = run_policy(ansible, namespace=ns, state="absent")
    assert run.rc == 0 and res["changed"] is True
    assert api.policy(ns) is None and api.quota(ns) is None
    assert api.get(CRD) is not None
    run, res = run_policy(ansible, namespace=ns, state="absent")
    assert run.rc == 0 and res["changed"] is False


def test_bad_values_fail_before_any_call(ansible, api, sandbox):
    sandbox.reset_stats()
    run, res = run_policy(ansible, namespace="trp-bad", limits={"memory": "16GB", "cpu": 1})
    assert run.rc != 0
    assert "limits.memory '16GB' is not a Kubernetes quantity" in res["msg"]
    run, res = run_policy(ansible, namespace="trp-bad", limits={"max_clusters": -1})
    assert run.rc != 0 and "limits.max_clusters must not be negative" in res["msg"]
    assert sandbox.stats()["total"] == 0


def test_schema_validation_pruning_and_old_crds(ansible, api, sandbox):
    ns = "trp-schema"
    api.namespace(ns)
    run = run_policy(ansible, namespace=ns, limits=LIMITS)[0]
    assert run.rc == 0, run.output

    # the API server itself refuses invalid specs, naming the fields
    status, body = api.call(
        "POST",
        "%s/namespaces/%s/tenantresourcepolicies" % (TRP_API, ns),
        {
            "apiVersion": "everest.local/v1",
            "kind": "TenantResourcePolicy",
            "metadata": {"name": "broken"},
            "spec": {"limits": {"memoryBytes": -1}, "selectors": {"engines": ["oracle"]}},
        },
    )
    assert status == 422
    fields = sorted(c["field"] for c in body["details"]["causes"])
    assert fields == ["spec.limits.memoryBytes", "spec.selectors.engines[0]"]
    # selectors is required by the schema (files/crd-tenantresourcepolicy.yaml): a policy without it is refused, naming spec.selectors
    status, body = api.call(
        "POST",
        "%s/namespaces/%s/tenantresourcepolicies" % (TRP_API, ns),
        {"apiVersion": "everest.local/v1", "kind": "TenantResourcePolicy", "metadata": {"name": "no-selectors"}, "spec": {"limits": {"maxClusters": 1}}},
    )
    assert status == 422, body
    assert [c["field"] for c in body["details"]["causes"]] == ["spec.selectors"]
    assert "spec.selectors" in body["message"]
    assert api.policy(ns, "no-selectors") is None

    # unknown fields written by someone else are pruned and cause no change
    obj = api.policy(ns)
    obj["spec"]["limits"]["gpus"] = 2
    obj["spec"]["owner"] = "someone"
    status, body = api.call("PUT", "%s/namespaces/%s/tenantresourcepolicies/resource-policy" % (TRP_API, ns), obj)
    assert status == 200 and "gpus" not in body["spec"]["limits"] and "owner" not in body["spec"]
    sandbox.reset_stats()
    run, res = run_policy(ansible, namespace=ns, limits=LIMITS)
    assert run.rc == 0 and res["changed"] is False
    assert api.writes() == {}

    original = api.get(CRD)
    try:
        # a stricter CRD installed by someone else: the module reports the 422 with the field path
        strict = copy.deepcopy(original)
        limits_schema = strict["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["limits"]
        limits_schema["properties"]["maxClusters"]["maximum"] = 10
        status, body = api.call("PUT", CRD, strict)
        assert status == 200, body
        run, res = run_policy(ansible, namespace=ns, limits=dict(LIMITS, max_clusters=50), install_crd=False)
        assert run.rc != 0
        assert "spec.limits.maxClusters" in res["msg"] and "422" in res["msg"]
        assert api.policy(ns)["spec"]["limits"]["maxClusters"] == 3

        # an older CRD without maxDbUsers: the server prunes it; the module says so instead of changing forever
        old = api.get(CRD)
        del old["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["limits"]["properties"]["maxDbUsers"]
        status, body = api.call("PUT", CRD, old)
        assert status == 200, body
        run, res = run_policy(ansible, namespace=ns, limits=dict(LIMITS, max_db_users=21), install_crd=False)
        assert run.rc != 0
        assert "dropped spec.limits.maxDbUsers" in res["msg"]

        # install_crd (the default) brings the CRD back to this collection's version and the write sticks
        run, res = run_policy(ansible, namespace=ns, limits=dict(LIMITS, max_db_users=21))
        assert run.rc == 0, run.output
        assert res["changed"] is True
        assert api.policy(ns)["spec"]["limits"]["maxDbUsers"] == 21
    finally:
        current = api.get(CRD)
        props = current["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["limits"]["properties"]
        if "maxDbUsers" not in props or "maximum" in props["maxClusters"]:
            restored = copy.deepcopy(current)
            restored["spec"] = original["spec"]
            api.call("PUT", CRD, restored)


def test_cluster_quota_is_enforced_by_the_api_server(ansible, api):
    ns = "trp-quota"
    api.namespace(ns)
    run = run_policy(ansible, namespace=ns, limits={"max_clusters": 2})[0]
    assert run.rc == 0, run.output
    assert api.cluster(ns, "c1")[0] == 201
    assert api.cluster(ns, "c2")[0] == 201
    status, body = api.cluster(ns, "c3")
    assert status == 403
    assert "exceeded quota: resource-policy-clusters" in body["message"]
    assert api.get(DBC % ns + "/c3") is None

    run = run_policy(ansible, namespace=ns, limits={"max_clusters": 3})[0]
    assert run.rc == 0
    assert api.cluster(ns, "c3")[0] == 201

    # the quota check sees the same count: a 4th cluster is refused, a resize of an existing one is not
    checks = [{"id": "new", "namespace": ns, "engine": "postgresql", "cpu": 1}, {"id": "resize", "namespace": ns, "cluster_name": "c1", "cpu": 2}]
    run = ansible.playbook(CHECKS, extra_vars={"checks": checks})
    results = dict((r["item"]["id"], r) for r in run.result("Quota check")["results"])
    assert results["new"]["violations"] == ["%s: clusters 4 would exceed the limit of 3 (in use 3, requested 1)" % ns]
    assert results["resize"]["allowed"] is True and results["resize"]["usage_after"]["clusters"] == 3

    # without max_clusters the managed quota goes away; cluster_quota: false leaves quotas alone
    run, res = run_policy(ansible, namespace=ns, limits={"cpu": 8}, cluster_quota=False)
    assert run.rc == 0 and res["changed"] is True
    assert api.quota(ns) is not None
    run, res = run_policy(ansible, namespace=ns, limits={"cpu": 8})
    assert run.rc == 0 and res["changed"] is True
    assert api.quota(ns) is None
    assert api.cluster(ns, "c4")[0] == 201


def test_batch_form(ansible, api, sandbox):
    for ns in ("trp-batch-a", "trp-batch-b"):
        api.namespace(ns)
    policies = [
        {"namespace": "trp-batch-a", "limits": {"cpu": 1, "max_clusters": 1}},
        {"namespace": "trp-batch-b", "limits": {"memory": "2Gi"}, "allowed_engines": ["mongodb"]},
        {"namespace": "trp-batch-missing", "limits": {"cpu": 1}},
    ]
    run, res = run_policy(ansible, policies=policies)
    assert run.rc != 0
    assert [(r["namespace"], r["changed"], r.get("failed", False)) for r in res["results"]] == [
        ("trp-batch-a", True, False),
        ("trp-batch-b", True, False),
        ("trp-batch-missing", False, True),
    ]
    assert "trp-batch-missing" in res["msg"]
    assert "namespace trp-batch-missing does not exist" in res["results"][2]["msg"]
    assert api.policy("trp-batch-b")["spec"]["limits"] == {"memoryBytes": 2147483648}

    sandbox.reset_stats()
    run, res = run_policy(ansible, policies=policies[:2])
    assert run.rc == 0 and res["changed"] is False
    by_verb = sandbox.stats()["by_verb"]
    assert (by_verb["get"], by_verb["list"]) == (1, 2)
    assert api.writes() == {}


def test_quota_check_table(ansible, api):
    ns = "trp-check"
    api.namespace(ns)
    limits = {"cpu": 4, "memory": "16Gi", "max_clusters": 3, "max_db_users": 2}
    run = run_policy(ansible, namespace=ns, limits=limits, engines=["postgresql", "mysql"], cluster_quota=False)[0]
    assert run.rc == 0, run.output
    assert api.cluster(ns, "pg1", cpu="1500m", memory="4Gi")[0] == 201
    assert api.cluster(ns, "my1", engine="pxc", cpu=2, memory="8Gi")[0] == 201
    original = api.add_rbac_block(ns, ["alice_c"])
    try:
        # The policy limits cpu and memory, so every new cluster gives both: rows about cpu give memory 1Gi (12Gi + 1Gi fits),
        # rows about memory give cpu 100m (3.5 + 0.1 fits).
        checks = [
            {"id": "engine-not-allowed", "engine": "psmdb", "cpu": "100m", "memory": "1Gi"},
            {"id": "engine-alias-allowed", "engine": "xtradb_cluster", "cpu": "100m", "memory": "1Gi"},
            {"id": "cpu-over", "engine": "postgresql", "cpu": 1, "memory": "1Gi"},
            {"id": "cpu-exact", "engine": "postgresql", "cpu": "500m", "memory": "1Gi"},
            {"id": "cpu-exact-micro", "engine": "postgresql", "cpu": "500000u", "memory": "1Gi"},
            {"id": "memory-exact-gi", "engine": "postgresql", "cpu": "100m", "memory": "4Gi"},
            {"id": "memory-exact-bytes", "engine": "postgresql", "cpu": "100m", "memory": 4294967296},
            {"id": "memory-exact-ki", "engine": "postgresql", "cpu": "100m", "memory": "4194304Ki"},
            {"id": "memory-exact-k", "engine": "postgresql", "cpu": "100m", "memory": "4294967.296k"},
            {"id": "memory-exact-e", "engine": "postgresql", "cpu": "100m", "memory": "0.000000004294967296E"},
            {"id": "memory-exact-exp", "engine": "postgresql", "cpu": "100m", "memory": "4.294967296e9"},
            {"id": "memory-over-decimal", "engine": "postgresql", "cpu": "100m", "memory": "5G"},
            {"id": "memory-over-m", "engine": "postgresql", "cpu": "100m", "memory": "4295M"},
            {"id": "memory-over-ti", "engine": "postgresql", "cpu": "100m", "memory": "0.25Ti"},
            {"id": "memory-over-proxy", "engine": "postgresql", "cpu": "100m", "replicas": 2, "memory": "2Gi", "proxy_replicas": 1, "proxy_memory": "1Mi"},
            {"id": "users-exact", "db_users": 1},
            {"id": "users-over", "db_users": 2},
            {"id": "resize-ok", "cluster_name": "pg1", "cpu": 2},
            {"id": "resize-over", "cluster_name": "pg1", "cpu": "2.5"},
            {"id": "several", "engine": "mongodb", "cpu": 2, "memory": "8Gi", "db_users": 5},
        ]
        for check in checks:
            check["namespace"] = ns
        run = ansible.playbook(CHECKS, extra_vars={"checks": checks})
        results = dict((r["item"]["id"], r) for r in run.result("Quota check")["results"])
        expect = {
            "engine-not-allowed": [
                "%s: engine psmdb is not allowed by TenantResourcePolicy %s/resource-policy; allowed engines: mysql (pxc), postgresql (postgresql)" % (ns, ns)
            ],
            "engine-alias-allowed": [],
            "cpu-over": ["%s: cpu 4.5 cores would exceed the limit of 4 (in use 3.5, requested 1)" % ns],
            "cpu-exact": [],
            "cpu-exact-micro": [],
            "memory-exact-gi": [],
            "memory-exact-bytes": [],
            "memory-exact-ki": [],
            "memory-exact-exp": [],
            "memory-exact-k": [],
            "memory-exact-e": [],
            "memory-over-decimal": ["%s: memory 17884901888 would exceed the limit of 16Gi (in use 12Gi, requested 5000000000)" % ns],
            "memory-over-m": ["%s: memory 17179901888 would exceed the limit of 16Gi (in use 12Gi, requested 4295000000)" % ns],
            "memory-over-ti": ["%s: memory 268Gi would exceed the limit of 16Gi (in use 12Gi, requested 256Gi)" % ns],
            "memory-over-proxy": ["%s: memory 16385Mi would exceed the limit of 16Gi (in use 12Gi, requested 4097Mi)" % ns],
            "users-exact": [],
            "users-over": ["%s: db users 3 would exceed the limit of 2 (in use 1, requested 2)" % ns],
            "resize-ok": [],
            "resize-over": ["%s: cpu 4.5 cores would exceed the limit of 4 (in use by other clusters 2, requested 2.5)" % ns],
            "several": ["engine mongodb (psmdb) is not allowed", "cpu 5.5 cores would exceed", "memory 20Gi would exceed", "db users 6 would exceed"],
        }
        for key, messages in expect.items():
            res = results[key]
            assert res.get("failed", False) is bool(messages), (key, res)
            assert res["allowed"] is not bool(messages), (key, res)
            assert len(res["violations"]) == len(messages), (key, res["violations"])
            for message, got in zip(messages, res["violations"]):
                assert message in got, (key, got)
        ok = results["cpu-exact"]
        assert ok["usage"] == {"clusters": 2, "cpu_cores": 3.5, "memory_bytes": 12 * 2**30, "db_users": 1}
        assert ok["headroom"] == {"clusters": 1, "cpu_cores": 0.5, "memory_bytes": 4 * 2**30, "db_users": 1}
        assert results["resize-ok"]["resize"] is True and results["resize-ok"]["usage_after"]["clusters"] == 2

        # a namespace without a policy fails with the fix; update_status records usage and a condition
        run = ansible.playbook(
            CHECKS,
            extra_vars={
                "checks": [{"id": "nopolicy", "namespace": "trp-nopolicy", "engine": "postgresql"}, {"id": "status", "namespace": ns, "update_status": True}]
            },
        )
        results = dict((r["item"]["id"], r) for r in run.result("Quota check")["results"])
        assert results["nopolicy"]["failed"] is True
        assert "no TenantResourcePolicy 'resource-policy' in namespace trp-nopolicy" in results["nopolicy"]["msg"]
        assert "tenant_resource_policy" in results["nopolicy"]["msg"]
        assert results["status"]["changed"] is True
        status = api.policy(ns)["status"]
        assert status["usage"] == {"clusters": 2, "cpuCores": 3.5, "memoryBytes": 12 * 2**30, "dbUsers": 1}
        assert [(c["type"], c["status"]) for c in status["conditions"]] == [("WithinLimits", "True")]
        run = ansible.playbook(CHECKS, extra_vars={"checks": [{"id": "status", "namespace": ns, "update_status": True}]})
        assert run.result("Quota check")["results"][0]["changed"] is False, run.result("Quota check")["results"][0]
    finally:
        api.restore_rbac(original)


def test_quota_check_refuses_incomplete_requests(ansible, api, sandbox):
    """The audit's mistyped resize (cluster_name naming no cluster, no engine, 3 x 8 cores against maxClusters 0 and 1 core)
    used to be answered allowed: true with nothing requested; now it fails naming the cluster. A new cluster without the
    resources the policy limits, and replicas 0, fail too; none of them writes anything."""
    ns = "trp-incomplete"
    api.namespace(ns)
    run = run_policy(ansible, namespace=ns, limits={"max_clusters": 0, "cpu": 1, "memory": "2Gi"}, engines=["postgresql"], cluster_quota=False)[0]
    assert run.rc == 0, run.output
    assert api.cluster(ns, "pg1", cpu="500m", memory="1Gi")[0] == 201
    checks = [
        {"id": "typo-resize", "cluster_name": "pg-typo", "replicas": 3, "cpu": 8},
        {"id": "typo-with-engine", "cluster_name": "pg-typo", "engine": "postgresql", "replicas": 3, "cpu": 8, "memory": "100Mi"},
        {"id": "engine-only", "engine": "postgresql"},
        {"id": "replicas-zero", "engine": "postgresql", "replicas": 0, "cpu": 1, "memory": "1Gi"},
        {"id": "real-resize", "cluster_name": "pg1", "cpu": 1},
    ]
    for check in checks:
        check["namespace"] = ns
    sandbox.reset_stats()
    run = ansible.playbook(CHECKS, extra_vars={"checks": checks})
    results = dict((r["item"]["id"], r) for r in run.result("Quota check")["results"])
    assert api.writes() == {}
    typo = results["typo-resize"]
    assert typo["failed"] is True and typo["allowed"] is False
    assert typo["msg"] == (
        "%s: database cluster %s/pg-typo does not exist, so there is nothing to resize; give engine to check a new "
        "cluster of that name, or fix cluster_name" % (ns, ns)
    )
    new = results["typo-with-engine"]
    assert new["failed"] is True and new["resize"] is False
    assert [v.split(": ")[1].split(" ")[0] for v in new["violations"]] == ["clusters", "cpu"]
    bare = results["engine-only"]
    assert bare["failed"] is True and bare["allowed"] is False
    assert bare["msg"].startswith(
        "%s: cpu and memory are required to check a new cluster against the cpu limit of 1 and the memory limit of 2Gi; give cpu and memory" % ns
    )
    zero = results["replicas-zero"]
    assert zero["failed"] is True and "replicas must be an integer of at least 1" in zero["msg"]
    resize = results["real-resize"]
    assert resize.get("failed", False) is False and resize["allowed"] is True and resize["resize"] is True
