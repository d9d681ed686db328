"""Integration tests of everest_namespace / everest_namespace_info: real ansible-playbook against the sandbox.

Between steps the tests read the cluster through the Kubernetes API emulator and count everestctl invocations in
the emulator's call log."""

import os
import subprocess

import pytest

pytestmark = pytest.mark.integration

PLAYBOOK = "namespaces/namespace.yml"
INFO = "namespaces/info.yml"
LABEL = "app.kubernetes.io/managed-by"
NAME_LABEL = "kubernetes.io/metadata.name"  # the API server puts it on every Namespace
WRITE_VERBS = ("create", "update", "patch", "delete")
DBC = "/apis/everest.percona.com/v1alpha1/namespaces/%s/databaseclusters"
SUBS = {"mysql": "percona-xtradb-cluster-operator", "postgresql": "percona-postgresql-operator", "mongodb": "percona-server-mongodb-operator"}


class Cluster:
    def __init__(self, handle):
        self.handle = handle
        self.mark = 0

    def get(self, path):
        status, obj = self.handle.request("GET", path)
        return obj if status == 200 else None

    def namespace(self, name):
        return self.get("/api/v1/namespaces/" + name)

    def managed(self, name):
        ns = self.namespace(name)
        return bool(ns) and (ns["metadata"].get("labels") or {}).get(LABEL) == "everest"

    def subscriptions(self, name):
        items = self.get("/apis/operators.coreos.com/v1alpha1/namespaces/%s/subscriptions" % name)["items"]
        return sorted(s["metadata"]["name"] for s in items)

    def create_namespace(self, name, labels=None):
        status, body = self.handle.request(
            "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}
        )
        assert status == 201, body

    def labels(self, name):
        return dict(self.namespace(name)["metadata"].get("labels") or {})

    def patch_labels(self, name, labels):
        """Merge-patch labels straight through the API (a value None removes the label)."""
        status, obj = self.handle.request(
            "PATCH", "/api/v1/namespaces/" + name, {"metadata": {"labels": labels}}, headers={"Content-Type": "application/merge-patch+json"}
        )
        assert status == 200, obj

    def set_terminating(self, name):
        """What a Namespace looks like while Kubernetes deletes it (phase Terminating)."""
        ns = self.namespace(name)
        ns["status"] = {"phase": "Terminating"}
        status, obj = self.handle.request("PUT", "/api/v1/namespaces/%s/status" % name, ns)
        assert status == 200 and obj["status"]["phase"] == "Terminating", obj

    def create_cluster(self, namespace, name):
        body = {
            "apiVersion": "everest.percona.com/v1alpha1",
            "kind": "DatabaseCluster",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"engine": {"type": "pxc", "replicas": 1, "storage": {"size": "1Gi"}}},
        }
        status, obj = self.handle.request("POST", DBC % namespace, body)
        assert status == 201, obj

    def delete_cluster(self, namespace, name):
        status, obj = self.handle.request("DELETE", (DBC % namespace) + "/" + name)
        assert status == 200, obj
        assert self.get((DBC % namespace) + "/" + name) is None

    def writes(self):
        by_verb = self.handle.stats()["by_verb"]
        return dict((v, by_verb[v]) for v in WRITE_VERBS if by_verb.get(v))

    def begin(self):
        self.mark = len(self.handle.calls())

    def calls(self):
        return self.handle.calls()[self.mark :]


@pytest.fixture
def k8s(clean_sandbox):
    cluster = Cluster(clean_sandbox)
    yield cluster
    clean_sandbox.clear_faults()


def namespace(ansible, k8s, check=False, diff=False, **kw):
    k8s.begin()
    return ansible.playbook(PLAYBOOK, extra_vars=dict(("ns_" + k, v) for k, v in kw.items()), check=check, diff=diff)


def test_namespace_lifecycle(ansible, k8s):
    # create in check mode: changed, nothing created, nothing run
    run = namespace(ansible, k8s, check=True, diff=True, name="acme-db", operators={"mysql": True})
    res = run.result("Namespace")
    assert run.rc == 0 and res["changed"] is True and res["namespace"]["managed"] is True
    assert res["diff"]["before"]["exists"] is False and res["diff"]["after"]["operators"]["mysql"] is True
    assert k8s.calls() == [] and k8s.namespace("acme-db") is None
    predicted = res["namespace"]

    # create: all three operator flags explicit, --skip-wizard, never the deprecated alias
    run = namespace(ansible, k8s, name="acme-db", operators={"mysql": True}, timeout=600)
    res = run.result("Namespace")
    assert run.rc == 0 and res["changed"] is True
    calls = k8s.calls()
    assert len(calls) == 1
    argv = calls[0]["argv"]
    assert argv[:4] == ["namespaces", "add", "acme-db", "--skip-wizard"]
    assert {"--operator.mysql=true", "--operator.postgresql=false", "--operator.mongodb=false"} <= set(argv)
    assert not any("xtradb" in a for a in argv)
    assert k8s.managed("acme-db") and k8s.subscriptions("acme-db") == [SUBS["mysql"]]
    # the labels are the Namespace's real ones: Everest's label plus the one the API server puts on every Namespace
    labels = k8s.labels("acme-db")
    assert labels == {LABEL: "everest", NAME_LABEL: "acme-db"}
    assert res["namespace"] == {
        "name": "acme-db",
        "exists": True,
        "managed": True,
        "labels": labels,
        "operators": {"mysql": True, "postgresql": False, "mongodb": False},
        "database_clusters": 0,
    }
    assert predicted == res["namespace"]  # check mode predicted exactly this

    # re-run (alias form): unchanged, zero everestctl invocations, three reads (Namespace, Subscriptions, clusters)
    k8s.handle.reset_stats()
    run = namespace(ansible, k8s, name="acme-db", operators={"xtradb_cluster": True})
    assert run.rc == 0 and run.result("Namespace")["changed"] is False and k8s.calls() == []
    assert run.result("Namespace")["namespace"]["database_clusters"] == 0
    stats = k8s.handle.stats()
    by_resource = stats["by_resource"]
    assert by_resource["namespaces"]["get"] == 1 and by_resource["subscriptions"]["list"] == 1
    assert by_resource["databaseclusters"]["list"] == 1 and sum(by_resource["databaseclusters"].values()) == 1
    assert k8s.writes() == {}

    # a DatabaseCluster made through the API directly is counted (state=present reads them too)
    k8s.create_cluster("acme-db", "orders")
    run = namespace(ansible, k8s, name="acme-db", operators={"mysql": True})
    res = run.result("Namespace")
    assert run.rc == 0 and res["changed"] is False and res["namespace"]["database_clusters"] == 1 and k8s.calls() == []
    k8s.delete_cluster("acme-db", "orders")

    # modify with diff: add postgresql (update with installed ∪ requested)
    run = namespace(ansible, k8s, diff=True, name="acme-db", operators={"postgresql": True})
    res = run.result("Namespace")
    assert run.rc == 0 and res["changed"] is True
    assert res["diff"]["before"]["operators"] == {"mysql": True, "postgresql": False, "mongodb": False}
    assert res["diff"]["after"]["operators"] == {"mysql": True, "postgresql": True, "mongodb": False}
    argv = k8s.calls()[0]["argv"]
    assert argv[:3] == ["namespaces", "update", "acme-db"]
    assert {"--operator.mysql=true", "--operator.postgresql=true", "--operator.mongodb=false"} <= set(argv)
    assert k8s.subscriptions("acme-db") == sorted([SUBS["mysql"], SUBS["postgresql"]])

    # operator removal: refused before anything runs; with ignore_operator_removal a warning and no change
    run = namespace(ansible, k8s, name="acme-db", operators={"mysql": False, "postgresql": True})
    assert run.rc != 0 and "cannot remove installed operators" in run.result("Namespace")["msg"] and k8s.calls() == []
    run = namespace(ansible, k8s, name="acme-db", operators={"mysql": False, "postgresql": True}, ignore_operator_removal=True)
    assert run.rc == 0 and run.result("Namespace")["changed"] is False and k8s.calls() == []
    assert "stay installed" in run.output

    # delete (check mode first), delete, delete again
    run = namespace(ansible, k8s, check=True, name="acme-db", state="absent")
    assert run.result("Namespace")["changed"] is True and k8s.calls() == [] and k8s.managed("acme-db")
    run = namespace(ansible, k8s, name="acme-db", state="absent")
    res = run.result("Namespace")
    assert run.rc == 0 and res["changed"] is True and res["namespace"]["exists"] is False
    assert k8s.calls()[0]["argv"][:3] == ["namespaces", "remove", "acme-db"] and k8s.namespace("acme-db") is None
    run = namespace(ansible, k8s, name="acme-db", state="absent")
    assert run.rc == 0 and run.result("Namespace")["changed"] is False and k8s.calls() == []


def test_take_ownership(ansible, k8s):
    k8s.create_namespace("legacy-apps", labels={"team": "legacy"})
    run = namespace(ansible, k8s, name="legacy-apps", operators={"postgresql": True})
    res = run.result("Namespace")
    assert run.rc != 0 and "take_ownership=true" in res["msg"] and k8s.calls() == [] and not k8s.managed("legacy-apps")
    run = namespace(ansible, k8s, name="legacy-apps", operators={"postgresql": True}, take_ownership=True)
    assert run.rc == 0 and run.result("Namespace")["changed"] is True
    assert "--take-ownership" in k8s.calls()[0]["argv"] and k8s.managed("legacy-apps")
    assert k8s.namespace("legacy-apps")["metadata"]["labels"]["team"] == "legacy"


def test_absent_with_database_clusters(ansible, k8s):
    namespace(ansible, k8s, name="busy-db", operators={"mysql": True})
    k8s.create_cluster("busy-db", "orders")
    k8s.create_cluster("busy-db", "billing")
    present = namespace(ansible, k8s, name="busy-db", operators={"mysql": True}).result("Namespace")
    assert present["changed"] is False and present["namespace"]["database_clusters"] == 2
    run = namespace(ansible, k8s, name="busy-db", state="absent")
    msg = run.result("Namespace")["msg"]
    assert run.rc != 0 and "billing" in msg and "orders" in msg and "force=true" in msg
    assert k8s.calls() == [] and k8s.managed("busy-db")
    info = ansible.playbook(INFO, extra_vars={"info_name": "busy-db"})
    row = info.result("Namespaces info")["namespaces"][0]
    assert row["database_clusters"] == 2 and row["database_cluster_names"] == ["billing", "orders"]
    run = namespace(ansible, k8s, name="busy-db", state="absent", force=True)
    assert run.rc == 0 and run.result("Namespace")["changed"] is True
    assert "--force" in k8s.calls()[0]["argv"] and k8s.namespace("busy-db") is None


def test_keep_namespace(ansible, k8s):
    namespace(ansible, k8s, name="kept-db", operators={"mongodb": True})
    run = namespace(ansible, k8s, name="kept-db", state="absent", keep_namespace=True)
    res = run.result("Namespace")
    assert run.rc == 0 and res["changed"] is True and "--keep-namespace" in k8s.calls()[0]["argv"]
    assert k8s.namespace("kept-db") is not None and not k8s.managed("kept-db")
    assert res["namespace"]["exists"] is True and res["namespace"]["managed"] is False
    run = namespace(ansible, k8s, name="kept-db", state="absent", keep_namespace=True)
    assert run.result("Namespace")["changed"] is False and k8s.calls() == []


BAD_NAMESPACES = [
    ({"name": "everest-system", "operators": {"mysql": True}}, "reserved for Everest internals"),
    ({"name": "label-db", "operators": {"mysql": True}, "labels": {"bad key": "x"}}, "fix labels"),
    ({"name": "label-db", "operators": {"mysql": True}, "labels": {LABEL: "someone-else"}}, "belongs to Everest"),
    ({"name": "everest-olm", "state": "absent"}, "reserved for Everest internals"),
    ({"name": "Upper_Case", "operators": {"mysql": True}}, "not RFC 1035 compatible"),
    ({"name": "x" * 64, "operators": {"mysql": True}}, "not RFC 1035 compatible"),
    ({"name": "no-ops", "operators": {"mysql": False}}, "Minimum one operator"),
]


def test_bad_input_fails_before_any_command(ansible, k8s):
    k8s.handle.reset_stats()
    k8s.begin()
    run = ansible.playbook("namespaces/bad_input.yml", extra_vars={"bad_cases": [case for case, _needle in BAD_NAMESPACES]})
    items = run.result("Bad input")["results"]
    assert run.rc == 0 and len(items) == len(BAD_NAMESPACES)
    for item, (case, needle) in zip(items, BAD_NAMESPACES):
        assert item["failed"] is True and needle in item["msg"], (case, item["msg"])
    assert k8s.calls() == []
    assert k8s.handle.stats()["total"] == 0  # not even a read


def test_info_lists_managed_namespaces(ansible, k8s):
    namespace(ansible, k8s, name="b-db", operators={"mongodb": True, "postgresql": True})
    namespace(ansible, k8s, name="a-db", operators={"mysql": True})
    namespace(ansible, k8s, name="going-db", operators={"mysql": True})
    k8s.set_terminating("going-db")  # being deleted: `namespaces list` shows Active namespaces only
    k8s.create_namespace("labelled-db", labels={LABEL: "everest"})  # Everest's label, no Subscription
    k8s.create_namespace("not-everest")
    k8s.create_cluster("b-db", "mongo-one")
    k8s.begin()
    run = ansible.playbook(INFO, check=True)
    rows = run.result("Namespaces info")["namespaces"]
    assert run.rc == 0 and [r["name"] for r in rows] == ["a-db", "b-db", "labelled-db"]
    assert [r["managed"] for r in rows] == [True, True, True]
    assert [r["operators_installed"] for r in rows] == [True, True, False]
    assert not any(r["terminating"] for r in rows)
    assert rows[0]["operators"] == {"mysql": True, "postgresql": False, "mongodb": False}
    assert rows[1]["operators"] == {"mysql": False, "postgresql": True, "mongodb": True}
    assert rows[1]["database_clusters"] == 1 and rows[0]["database_clusters"] == 0
    assert {s["short_name"] for s in rows[1]["subscriptions"]} == {"postgresql", "psmdb"}
    assert k8s.calls() == []
    # the same namespaces as `everestctl namespaces list` shows
    env = dict(os.environ, **k8s.handle.env)
    proc = subprocess.run(
        [k8s.handle.everestctl, "namespaces", "list", "--kubeconfig", k8s.handle.kubeconfig],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    table = [line.split() for line in proc.stdout.splitlines()[1:] if line.strip()]
    assert [cells[0] for cells in table] == [r["name"] for r in rows]
    # its MANAGED column is operators_installed (a Subscription exists), not the label
    assert [cells[1] for cells in table] == [str(r["operators_installed"]).lower() for r in rows]
    # asked by name, the Terminating namespace is shown and flagged
    one = ansible.playbook(INFO, extra_vars={"info_name": "going-db"}).result("Namespaces info")["namespaces"]
    assert one[0]["terminating"] is True and one[0]["managed"] is True


def test_batch_form(ansible, k8s):
    items = [{"name": "t1-db", "operators": {"mysql": True}}, {"name": "t2-db", "operators": {"postgresql": True}}]
    run = namespace(ansible, k8s, diff=True, items=items)
    res = run.result("Namespace")
    assert run.rc == 0 and [r["changed"] for r in res["results"]] == [True, True] and len(k8s.calls()) == 2
    assert [d["after_header"] for d in res["diff"]] == ["namespace t1-db (after)", "namespace t2-db (after)"]
    k8s.handle.reset_stats()
    run = namespace(ansible, k8s, items=items)
    assert run.result("Namespace")["changed"] is False and k8s.calls() == []
    assert [r["namespace"]["database_clusters"] for r in run.result("Namespace")["results"]] == [0, 0]
    stats = k8s.handle.stats()["by_resource"]
    assert stats["namespaces"]["list"] == 1 and stats["subscriptions"]["list"] == 1 and stats["namespaces"]["get"] == 0
    assert stats["databaseclusters"] == {"get": 0, "list": 1, "create": 0, "update": 0, "patch": 0, "delete": 0}
    k8s.create_cluster("t2-db", "pg-one")
    run = namespace(ansible, k8s, items=items)
    assert [r["namespace"]["database_clusters"] for r in run.result("Namespace")["results"]] == [0, 1]
    run = namespace(ansible, k8s, items=[{"name": "t1-db", "operators": {"mysql": False, "mongodb": True}}, {"name": "t3-db", "operators": {"mongodb": True}}])
    res = run.result("Namespace")
    assert run.rc != 0 and "t1-db" in res["msg"] and res["results"][1]["changed"] is True and k8s.managed("t3-db")


def test_namespace_labels(ansible, k8s):
    tenant = {"virakcloud.everest/tenant": "alice", "tier": "gold"}

    # check mode: predicted labels, nothing written, nothing run
    k8s.handle.reset_stats()
    run = namespace(ansible, k8s, check=True, diff=True, name="lab-db", operators={"postgresql": True}, labels=tenant)
    res = run.result("Namespace")
    assert run.rc == 0 and res["changed"] is True and k8s.calls() == [] and k8s.writes() == {}
    assert k8s.namespace("lab-db") is None
    predicted = res["namespace"]
    assert predicted["labels"] == dict(tenant, **{LABEL: "everest", NAME_LABEL: "lab-db"})
    assert res["diff"]["after"]["labels"] == predicted["labels"] and res["diff"]["before"]["labels"] == {}

    # create with labels: one everestctl call, then one PATCH of the Namespace
    k8s.handle.reset_stats()
    run = namespace(ansible, k8s, name="lab-db", operators={"postgresql": True}, labels=tenant)
    res = run.result("Namespace")
    assert run.rc == 0 and res["changed"] is True
    assert [c["argv"][:3] for c in k8s.calls()] == [["namespaces", "add", "lab-db"]]
    assert k8s.labels("lab-db") == dict(tenant, **{LABEL: "everest", NAME_LABEL: "lab-db"})
    assert res["namespace"] == predicted
    assert k8s.handle.stats()["by_resource"]["namespaces"]["patch"] == 1

    # re-run: no change, zero everestctl invocations, zero API writes
    k8s.handle.reset_stats()
    run = namespace(ansible, k8s, name="lab-db", operators={"postgresql": True}, labels=tenant)
    assert run.rc == 0 and run.result("Namespace")["changed"] is False
    assert k8s.calls() == [] and k8s.writes() == {}

    # relabelled for another tenant: that is ownership, never overwritten without a handover (refused, nothing written)
    k8s.patch_labels("lab-db", {"virakcloud.everest/tenant": "bob", "team": "db"})
    k8s.handle.reset_stats()
    run = namespace(ansible, k8s, diff=True, name="lab-db", operators={"postgresql": True}, labels=tenant)
    assert run.rc != 0 and "belongs to tenant 'bob'" in run.output and k8s.calls() == [] and k8s.writes() == {}
    assert k8s.labels("lab-db")["virakcloud.everest/tenant"] == "bob"
    k8s.patch_labels("lab-db", {"virakcloud.everest/tenant": "alice"})

    # label-only drift (a foreign label added, one of ours changed): one PATCH, no everestctl, foreign label kept
    k8s.patch_labels("lab-db", {"tier": "bronze"})
    k8s.handle.reset_stats()
    run = namespace(ansible, k8s, diff=True, name="lab-db", operators={"postgresql": True}, labels=tenant)
    res = run.result("Namespace")
    assert run.rc == 0 and res["changed"] is True and k8s.calls() == []
    assert k8s.writes() == {"patch": 1} and k8s.handle.stats()["by_resource"]["namespaces"]["patch"] == 1
    assert res["diff"]["before"]["labels"]["tier"] == "bronze" and res["diff"]["after"]["labels"]["tier"] == "gold"
    assert k8s.labels("lab-db") == dict(tenant, team="db", **{LABEL: "everest", NAME_LABEL: "lab-db"})
    assert res["namespace"]["labels"] == k8s.labels("lab-db")

    # drift in check mode: reported, nothing written
    k8s.patch_labels("lab-db", {"tier": "silver"})
    k8s.handle.reset_stats()
    run = namespace(ansible, k8s, check=True, diff=True, name="lab-db", operators={"postgresql": True}, labels=tenant)
    res = run.result("Namespace")
    assert run.rc == 0 and res["changed"] is True and k8s.calls() == [] and k8s.writes() == {}
    assert res["namespace"]["labels"]["tier"] == "gold" and k8s.labels("lab-db")["tier"] == "silver"

    # a label left out of O(labels) is not removed
    run = namespace(ansible, k8s, name="lab-db", operators={"postgresql": True}, labels={"tier": "gold"})
    assert run.rc == 0 and run.result("Namespace")["changed"] is True
    assert k8s.labels("lab-db") == dict(tenant, team="db", **{LABEL: "everest", NAME_LABEL: "lab-db"})

    # invalid label: fails before any API request at all
    for labels, needle in (({"Bad Key": "x"}, "fix labels"), ({"tier": "-gold"}, "fix labels"), ({LABEL: "someone-else"}, "belongs to Everest")):
        k8s.handle.reset_stats()
        run = namespace(ansible, k8s, name="lab-db", operators={"postgresql": True}, labels=labels)
        assert run.rc != 0 and needle in run.result("Namespace")["msg"]
        assert k8s.handle.stats()["total"] == 0 and k8s.calls() == []
    assert k8s.labels("lab-db") == dict(tenant, team="db", **{LABEL: "everest", NAME_LABEL: "lab-db"})
