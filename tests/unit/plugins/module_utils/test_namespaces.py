"""Unit tests of _namespaces: observation from the API, pure decisions, the converge loop and batches."""

import copy
import random

import pytest

from ansible_collections.virakcloud.everest.plugins.module_utils._ownership import OwnershipError

from ansible_collections.virakcloud.everest.plugins.module_utils import _namespaces as nsu
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, EverestctlError, K8sNotFound, ValidationError

SUB = {"mysql": "percona-xtradb-cluster-operator", "postgresql": "percona-postgresql-operator", "mongodb": "percona-server-mongodb-operator"}


NAME_LABEL = "kubernetes.io/metadata.name"


def ns_obj(name, managed=True, terminating=False):
    """A Namespace as the API server returns it (it always adds the kubernetes.io/metadata.name label)."""
    labels = {"app.kubernetes.io/managed-by": "everest"} if managed else {"team": "x"}
    labels[NAME_LABEL] = name
    meta = {"name": name, "labels": labels}
    return {"metadata": meta, "status": {"phase": "Terminating" if terminating else "Active"}}


class FakeCluster:
    """Namespaces, Subscriptions and DatabaseClusters; counts every API call."""

    def __init__(self, crd_installed=True):
        self.namespaces = {}
        self.subs = {}
        self.clusters = {}
        self.calls = []
        self.crd_installed = crd_installed

    def add(self, name, managed=True, operators=(), clusters=(), terminating=False):
        self.namespaces[name] = ns_obj(name, managed, terminating)
        self.subs[name] = [SUB[o] for o in operators]
        self.clusters[name] = list(clusters)

    def get_or_none(self, path):
        self.calls.append(("GET", path))
        name = path.rsplit("/", 1)[1]
        return copy.deepcopy(self.namespaces.get(name))

    def list(self, path, label_selector=None, field_selector=None):
        self.calls.append(("LIST", path, label_selector))
        parts = path.split("/")
        if path == "/api/v1/namespaces":
            items = list(self.namespaces.values())
            if label_selector:
                key, value = label_selector.split("=")
                items = [n for n in items if n["metadata"]["labels"].get(key) == value]
            return {"items": copy.deepcopy(items)}
        if path.endswith("/subscriptions"):
            names = [parts[parts.index("namespaces") + 1]] if "namespaces" in parts else list(self.subs)
            return {
                "items": [
                    {"metadata": {"name": s, "namespace": n}, "status": {"installedCSV": s + ".v1.0.0", "state": "AtLatestKnown"}}
                    for n in names
                    for s in self.subs.get(n, [])
                ]
            }
        if path.endswith("/databaseclusters"):
            if not self.crd_installed:
                raise K8sNotFound("the server could not find the requested resource", status=404)
            names = [parts[parts.index("namespaces") + 1]] if "namespaces" in parts else list(self.clusters)
            return {"items": [{"metadata": {"name": c, "namespace": n}} for n in names for c in self.clusters.get(n, [])]}
        raise AssertionError(path)

    def patch(self, path, body, patch_type="merge"):
        self.calls.append(("PATCH", path, copy.deepcopy(body)))
        name = path.rsplit("/", 1)[1]
        self.namespaces[name]["metadata"]["labels"].update(body["metadata"]["labels"])
        return copy.deepcopy(self.namespaces[name])


class Result:
    def __init__(self, cmd):
        self.rc, self.stdout, self.stderr, self.cmd = 0, "", "", cmd


class FakeEverestctl:
    """reference §4 semantics on FakeCluster; ``script`` holds error kinds raised before acting."""

    def __init__(self, cluster, script=()):
        self.cluster = cluster
        self.script = list(script)
        self.runs = []

    @staticmethod
    def argv(shape, values):
        argv = ["everestctl", "namespaces", shape.split("_")[1], values["name"]]
        if shape == "namespaces_add":
            argv.append("--skip-wizard")
        if shape != "namespaces_remove":
            argv += ["--operator.%s=%s" % (op, str(values[op]).lower()) for op in ("mysql", "postgresql", "mongodb")]
        for flag in ("take_ownership", "keep_namespace", "force"):
            if values.get(flag):
                argv.append("--" + flag.replace("_", "-"))
        return argv

    def preview(self, shape, **values):
        return self.argv(shape, values)

    def run(self, shape, timeout=None, **values):
        self.runs.append((shape, dict(values), timeout))
        if self.script:
            kind = self.script.pop(0)
            raise EverestctlError("failed: " + kind, kind=kind, rc=1)
        c, name = self.cluster, values["name"]
        if shape in ("namespaces_add", "namespaces_update"):
            wanted = [op for op in ("mysql", "postgresql", "mongodb") if values[op]]
            if name not in c.namespaces:
                c.add(name)
            c.namespaces[name]["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "everest"
            c.subs[name] = sorted(set(c.subs.get(name, [])) | set(SUB[o] for o in wanted))
        else:
            c.clusters[name] = []
            c.subs[name] = []
            if values.get("keep_namespace"):
                del c.namespaces[name]["metadata"]["labels"]["app.kubernetes.io/managed-by"]
            else:
                del c.namespaces[name]
        return Result(self.argv(shape, values))


def want(name="acme-db", **kw):
    base = {
        "name": name,
        "state": "present",
        "operators": None,
        "take_ownership": False,
        "ignore_operator_removal": False,
        "keep_namespace": False,
        "force": False,
    }
    base.update(kw)
    return base


def converge(cluster, runner, **kw):
    return nsu.converge_namespace(cluster, runner, want(**kw), timeout=77, sleep=lambda s: None, rng=random.Random(3))


# --------------------------------------------------------------------------------------------- observe


def test_operators_from_subscriptions_exact_names():
    subs = [
        {"metadata": {"name": "percona-xtradb-cluster-operator"}},
        {"metadata": {"name": "percona-postgresql-operator-x"}},
        {"metadata": {"name": "percona-server-mongodb-operator"}},
    ]
    assert nsu.operators_from_subscriptions(subs) == {"mysql": True, "postgresql": False, "mongodb": True}


def test_observe_present_path_reads_namespace_and_subscriptions_only():
    cluster = FakeCluster()
    cluster.add("acme-db", operators=["mysql"], clusters=["c1"])
    state = nsu.observe(cluster, "acme-db")
    assert cluster.calls == [("GET", "/api/v1/namespaces/acme-db"), ("LIST", "/apis/operators.coreos.com/v1alpha1/namespaces/acme-db/subscriptions", None)]
    assert state["exists"] and state["managed"] and state["database_clusters"] is None
    assert state["operators"] == {"mysql": True, "postgresql": False, "mongodb": False}


def test_observe_missing_namespace_is_one_call():
    cluster = FakeCluster()
    state = nsu.observe(cluster, "nope")
    assert len(cluster.calls) == 1 and state["exists"] is False and state["managed"] is False


def test_observe_clusters_and_missing_crd():
    cluster = FakeCluster()
    cluster.add("acme-db", operators=["mysql"], clusters=["b", "a"])
    assert nsu.observe(cluster, "acme-db", with_clusters=True)["database_clusters"] == ["a", "b"]
    no_crd = FakeCluster(crd_installed=False)
    no_crd.add("acme-db", operators=["mysql"])
    assert nsu.observe(no_crd, "acme-db", with_clusters=True)["database_clusters"] == []


def test_list_managed_uses_three_calls_and_filters():
    cluster = FakeCluster()
    cluster.add("b-db", operators=["mongodb"], clusters=["m1"])
    cluster.add("a-db", operators=["mysql", "postgresql"])
    cluster.add("plain", managed=False)
    cluster.add("everest-system")  # hidden like `namespaces list` does
    views = nsu.list_managed(cluster)
    assert [v["name"] for v in views] == ["a-db", "b-db"]
    assert views[1]["database_clusters"] == 1 and views[1]["database_cluster_names"] == ["m1"]
    assert views[0]["operators"] == {"mysql": True, "postgresql": True, "mongodb": False}
    assert {s["short_name"] for s in views[0]["subscriptions"]} == {"pxc", "postgresql"}
    assert len(cluster.calls) == 3
    assert cluster.calls[0] == ("LIST", "/api/v1/namespaces", "app.kubernetes.io/managed-by=everest")
    one = nsu.list_managed(cluster, "plain")
    assert one[0]["managed"] is False and nsu.list_managed(cluster, "missing") == []


def test_list_managed_drops_terminating_namespaces_like_namespaces_list():
    """`everestctl namespaces list` shows Active namespaces only (reference §4.7)."""
    cluster = FakeCluster()
    cluster.add("a-db", operators=["mysql"])
    cluster.add("going-db", operators=["mysql"], terminating=True)
    cluster.add("deleted-db", operators=["postgresql"])
    cluster.namespaces["deleted-db"]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"  # phase not updated yet
    assert [v["name"] for v in nsu.list_managed(cluster)] == ["a-db"]
    assert len(cluster.calls) == 3
    # asked by name it is shown, flagged
    one = nsu.list_managed(cluster, "going-db")
    assert one[0]["terminating"] is True and one[0]["managed"] is True
    assert nsu.list_managed(cluster, "deleted-db")[0]["terminating"] is True
    assert nsu.list_managed(cluster, "a-db")[0]["terminating"] is False


def test_operators_installed_is_the_list_managed_column():
    """`managed` = the label; `operators_installed` = at least one Subscription of any name (the list's MANAGED)."""
    cluster = FakeCluster()
    cluster.add("labelled-only")  # label, no Subscription: managed, MANAGED column false
    cluster.add("full-db", operators=["mongodb"])
    cluster.add("foreign-db")
    cluster.subs["foreign-db"] = ["some-other-operator"]
    views = dict((v["name"], v) for v in nsu.list_managed(cluster))
    assert views["labelled-only"]["managed"] is True and views["labelled-only"]["operators_installed"] is False
    assert views["full-db"]["operators_installed"] is True
    assert views["foreign-db"]["operators_installed"] is True
    assert views["foreign-db"]["operators"] == {"mysql": False, "postgresql": False, "mongodb": False}
    cluster.add("plain", managed=False, operators=["mysql"])
    plain = nsu.list_managed(cluster, "plain")[0]
    assert plain["managed"] is False and plain["operators_installed"] is True


def test_default_timeout_covers_everestctl_worst_case():
    # add: 600 s per operator install hook x 3; remove --force: 3 x 15 min + 5 min for the namespace
    assert nsu.DEFAULT_TIMEOUT == 3600
    assert nsu.DEFAULT_TIMEOUT >= max(3 * 600, 3 * 15 * 60 + 5 * 60)


# --------------------------------------------------------------------------------------------- validate / decide


@pytest.mark.parametrize(
    "item,match",
    [
        (want("everest-system", operators={"mysql": True}), "reserved for Everest internals"),
        (want("everest-olm", state="absent"), "reserved for Everest internals"),
        (want("Bad_Name", operators={"mysql": True}), "not RFC 1035 compatible"),
        (want("a" * 64, operators={"mysql": True}), "not RFC 1035 compatible"),
        (want("acme-db", operators=None), "Minimum one operator"),
        (want("acme-db", operators={"mysql": False, "postgresql": None, "mongodb": False}), "Minimum one operator"),
    ],
)
def test_validate_item_rejects(item, match):
    with pytest.raises(ValidationError, match=match):
        nsu.validate_item(item)


def test_xtradb_cluster_alias():
    assert nsu.normalize_operators({"xtradb_cluster": True}) == {"mysql": True, "postgresql": None, "mongodb": None}
    assert nsu.normalize_operators({"mysql": False, "xtradb_cluster": True})["mysql"] is False
    nsu.validate_item(want(operators={"xtradb_cluster": True}))


def state(exists=True, managed=True, ops=(), clusters=None, terminating=False):
    return {
        "name": "acme-db",
        "exists": exists,
        "managed": managed,
        "terminating": terminating,
        "operators": dict((o, o in ops) for o in ("mysql", "postgresql", "mongodb")),
        "database_clusters": clusters,
    }


@pytest.mark.parametrize(
    "observed,item,action,flags,error",
    [
        (state(exists=False, managed=False), want(operators={"mysql": True}), "add", {"mysql": True, "postgresql": False, "mongodb": False}, None),
        (state(ops=["mysql"]), want(operators={"mysql": True}), "none", None, None),
        (state(ops=["mysql"]), want(operators={"postgresql": True}), "update", {"mysql": True, "postgresql": True, "mongodb": False}, None),
        (
            state(ops=["mysql", "mongodb"]),
            want(operators={"mysql": True, "mongodb": True, "postgresql": True}),
            "update",
            {"mysql": True, "postgresql": True, "mongodb": True},
            None,
        ),
        (state(ops=["mysql"]), want(operators={"mysql": False, "postgresql": True}), "none", None, "cannot remove installed"),
        (
            state(ops=["mysql"]),
            want(operators={"mysql": False, "postgresql": True}, ignore_operator_removal=True),
            "update",
            {"mysql": True, "postgresql": True, "mongodb": False},
            None,
        ),
        (state(managed=False), want(operators={"mysql": True}), "none", None, "take_ownership=true"),
        (
            state(managed=False, ops=["mongodb"]),
            want(operators={"mysql": True}, take_ownership=True),
            "add",
            {"mysql": True, "postgresql": False, "mongodb": True},
            None,
        ),
        (state(terminating=True), want(operators={"mysql": True}), "none", None, "Terminating"),
        (
            state(managed=False, ops=["mongodb"]),
            want(operators={"mysql": True, "mongodb": False}, take_ownership=True),
            "none",
            None,
            "cannot remove installed",
        ),
        (state(exists=False, managed=False), want(state="absent"), "none", None, None),
        (state(managed=False, clusters=[]), want(state="absent"), "none", None, None),
        (state(ops=["mysql"], clusters=[]), want(state="absent"), "remove", None, None),
        (state(ops=["mysql"], clusters=["orders", "billing"]), want(state="absent"), "none", None, "orders, billing"),
        (state(ops=["mysql"], clusters=["orders"]), want(state="absent", force=True), "remove", None, None),
        (state(ops=["mysql"], clusters=[], terminating=True), want(state="absent"), "none", None, None),
    ],
)
def test_decide(observed, item, action, flags, error):
    decision = nsu.decide(observed, item)
    assert decision.action == action
    if flags is not None:
        assert decision.flags == flags
    if error:
        assert error in decision.error
    else:
        assert decision.error is None


def test_decide_warns_for_kept_operator_and_unmanaged_absent():
    d = nsu.decide(state(ops=["mysql", "postgresql"]), want(operators={"mysql": False, "postgresql": True}, ignore_operator_removal=True))
    assert d.action == "none" and "mysql" in d.warnings[0]
    d = nsu.decide(state(managed=False, clusters=[]), want(state="absent"))
    assert d.warnings and "not managed" in d.warnings[0]
    assert nsu.decide(state(managed=False, clusters=[]), want(state="absent", keep_namespace=True)).warnings == []


# --------------------------------------------------------------------------------------------- converge


def test_add_then_noop_with_zero_commands():
    cluster = FakeCluster()
    runner = FakeEverestctl(cluster)
    result = converge(cluster, runner, operators={"mysql": True, "mongodb": True})
    assert result["changed"] is True and result["action"] == "add"
    assert result["cmd"] == [
        "everestctl",
        "namespaces",
        "add",
        "acme-db",
        "--skip-wizard",
        "--operator.mysql=true",
        "--operator.postgresql=false",
        "--operator.mongodb=true",
    ]
    assert runner.runs[0][2] == 77  # the timeout goes to the runner
    assert result["namespace"] == {
        "name": "acme-db",
        "exists": True,
        "managed": True,
        "operators": {"mysql": True, "postgresql": False, "mongodb": True},
        "database_clusters": 0,
        "labels": {"app.kubernetes.io/managed-by": "everest", NAME_LABEL: "acme-db"},
    }
    assert result["before"]["exists"] is False and result["after"]["managed"] is True
    cluster.calls.clear()
    again = converge(cluster, runner, operators={"mysql": True, "mongodb": True})
    assert again["changed"] is False and len(runner.runs) == 1 and again.get("cmd") is None
    assert cluster.calls == [
        ("GET", "/api/v1/namespaces/acme-db"),
        ("LIST", "/apis/operators.coreos.com/v1alpha1/namespaces/acme-db/subscriptions", None),
        ("LIST", "/apis/everest.percona.com/v1alpha1/namespaces/acme-db/databaseclusters", None),
    ]


def test_update_uses_union_of_installed_and_requested():
    cluster = FakeCluster()
    cluster.add("acme-db", operators=["mongodb"])
    runner = FakeEverestctl(cluster)
    result = converge(cluster, runner, operators={"postgresql": True})
    assert result["cmd"] == ["everestctl", "namespaces", "update", "acme-db", "--operator.mysql=false", "--operator.postgresql=true", "--operator.mongodb=true"]
    assert result["namespace"]["operators"] == {"mysql": False, "postgresql": True, "mongodb": True}


def test_check_mode_predicts_and_runs_nothing():
    cluster = FakeCluster()
    runner = FakeEverestctl(cluster)
    result = nsu.converge_namespace(cluster, runner, want(operators={"postgresql": True}), check_mode=True)
    assert result["changed"] is True and runner.runs == [] and "acme-db" not in cluster.namespaces
    assert result["cmd"][:4] == ["everestctl", "namespaces", "add", "acme-db"]
    assert result["namespace"]["exists"] is True and result["namespace"]["operators"]["postgresql"] is True
    assert result["after"] == {
        "exists": True,
        "managed": True,
        "operators": {"mysql": False, "postgresql": True, "mongodb": False},
        "labels": {"app.kubernetes.io/managed-by": "everest", NAME_LABEL: "acme-db"},
    }


def test_remove_refuses_clusters_before_running_and_force_works():
    cluster = FakeCluster()
    cluster.add("acme-db", operators=["mysql"], clusters=["orders"])
    runner = FakeEverestctl(cluster)
    with pytest.raises(ValidationError, match="orders"):
        converge(cluster, runner, state="absent")
    assert runner.runs == []
    result = converge(cluster, runner, state="absent", force=True)
    assert result["cmd"] == ["everestctl", "namespaces", "remove", "acme-db", "--force"]
    assert result["namespace"]["exists"] is False and "acme-db" not in cluster.namespaces
    assert converge(cluster, runner, state="absent")["changed"] is False and len(runner.runs) == 1


def test_remove_keep_namespace():
    cluster = FakeCluster()
    cluster.add("acme-db", operators=["mysql"])
    runner = FakeEverestctl(cluster)
    result = converge(cluster, runner, state="absent", keep_namespace=True)
    assert result["cmd"][-1] == "--keep-namespace"
    assert result["namespace"]["exists"] is True and result["namespace"]["managed"] is False
    again = converge(cluster, runner, state="absent", keep_namespace=True)
    assert again["changed"] is False and again["warnings"] == []


# --------------------------------------------------------------------------------------------- database clusters read


def test_present_noop_reports_database_clusters():
    """The issue: read DatabaseClusters of an existing namespace and return their count, also for state=present."""
    cluster = FakeCluster()
    cluster.add("acme-db", operators=["mysql"], clusters=["orders", "billing"])
    runner = FakeEverestctl(cluster)
    result = converge(cluster, runner, operators={"mysql": True})
    assert result["changed"] is False and result["namespace"]["database_clusters"] == 2
    assert ("LIST", "/apis/everest.percona.com/v1alpha1/namespaces/acme-db/databaseclusters", None) in cluster.calls
    assert len(cluster.calls) == 3
    # and after an update (the re-read counts them again)
    updated = converge(cluster, runner, operators={"postgresql": True})
    assert updated["action"] == "update" and updated["namespace"]["database_clusters"] == 2


def test_present_missing_crd_counts_zero():
    cluster = FakeCluster(crd_installed=False)
    cluster.add("acme-db", operators=["mysql"])
    result = converge(cluster, FakeEverestctl(cluster), operators={"mysql": True})
    assert result["changed"] is False and result["namespace"]["database_clusters"] == 0


def test_missing_namespace_is_one_read_and_null_count():
    cluster = FakeCluster()
    result = converge(cluster, FakeEverestctl(cluster), state="absent")
    assert result["changed"] is False and result["namespace"]["database_clusters"] is None
    assert cluster.calls == [("GET", "/api/v1/namespaces/acme-db")]  # no LIST in a namespace that does not exist
    check = nsu.converge_namespace(cluster, FakeEverestctl(cluster), want(operators={"mysql": True}), check_mode=True)
    assert check["namespace"]["database_clusters"] == 0 and len(cluster.calls) == 2  # predicted: a new namespace holds none


def test_given_state_without_clusters_gets_one_extra_list():
    cluster = FakeCluster()
    cluster.add("acme-db", operators=["mysql"], clusters=["c1"])
    observed = nsu.observe(cluster, "acme-db")  # without clusters
    cluster.calls.clear()
    result = nsu.converge_namespace(cluster, FakeEverestctl(cluster), want(operators={"mysql": True}), state=observed)
    assert result["namespace"]["database_clusters"] == 1
    assert cluster.calls == [("LIST", "/apis/everest.percona.com/v1alpha1/namespaces/acme-db/databaseclusters", None)]


@pytest.mark.parametrize(
    "setup,item",
    [
        ({}, want(operators={"mysql": True})),
        ({"operators": ["mysql"], "clusters": ["c1"]}, want(operators={"postgresql": True})),
        ({"managed": False, "clusters": ["c1", "c2"]}, want(operators={"mysql": True}, take_ownership=True)),
        ({"operators": ["mysql"]}, want(state="absent")),
        ({"operators": ["mysql"], "clusters": ["c1"]}, want(state="absent", force=True)),
        ({"operators": ["mysql"], "clusters": ["c1"]}, want(state="absent", force=True, keep_namespace=True)),
        ({"operators": ["mysql"]}, want(operators={"mysql": True}, labels={"tenant": "alice"})),
        ({}, want(operators={"mongodb": True}, labels={"tenant": "alice"})),
    ],
)
def test_check_mode_predicts_the_real_namespace(setup, item):
    """The predicted ``namespace`` (check mode) equals what the real run returns, database_clusters included."""
    results = []
    for check_mode in (True, False):
        cluster = FakeCluster()
        if setup:
            cluster.add("acme-db", **setup)
        results.append(nsu.converge_namespace(cluster, FakeEverestctl(cluster), item, check_mode=check_mode, sleep=lambda s: None)["namespace"])
    predicted, real = results
    assert predicted == real


def test_races_are_resolved_by_rereading():
    cluster = FakeCluster()

    class AddedMeanwhile(FakeEverestctl):
        def run(self, shape, timeout=None, **values):
            if not self.runs:
                self.cluster.add("acme-db", operators=["mysql"])
                self.runs.append((shape, values, timeout))
                raise EverestctlError("already managed", kind="already_exists", rc=1)
            return super().run(shape, timeout=timeout, **values)

    runner = AddedMeanwhile(cluster)
    result = converge(cluster, runner, operators={"mysql": True, "postgresql": True})
    assert [r[0] for r in runner.runs] == ["namespaces_add", "namespaces_update"]
    assert result["namespace"]["operators"]["postgresql"] is True

    gone = FakeCluster()
    gone.add("acme-db", operators=["mysql"])

    class RemovedMeanwhile(FakeEverestctl):
        def run(self, shape, timeout=None, **values):
            del self.cluster.namespaces["acme-db"]
            self.runs.append(shape)
            raise EverestctlError("does not exist", kind="namespace_missing", rc=1)

    result = converge(gone, RemovedMeanwhile(gone), state="absent")
    assert result["changed"] is False and result["namespace"]["exists"] is False


def test_unexpected_error_propagates():
    cluster = FakeCluster()
    with pytest.raises(EverestctlError):
        converge(cluster, FakeEverestctl(cluster, script=["not_installed"]), operators={"mysql": True})


def test_gives_up_after_attempts():
    cluster = FakeCluster()
    runner = FakeEverestctl(cluster, script=["conflict"] * 10)
    with pytest.raises(EverestError, match="after 4 attempts"):
        converge(cluster, runner, operators={"mysql": True})
    assert len(runner.runs) == 4


def test_batch_reads_once_and_reports_each_failure():
    cluster = FakeCluster()
    cluster.add("keep-db", operators=["mysql"])
    cluster.add("busy-db", operators=["mysql"], clusters=["c1"])
    cluster.add("old-db", operators=["mongodb"])
    runner = FakeEverestctl(cluster)
    wants = [
        want("keep-db", operators={"mysql": True}),
        want("new-db", operators={"postgresql": True}),
        want("busy-db", state="absent"),
        want("old-db", state="absent"),
        want("keep-db", operators={"mysql": False, "mongodb": True}),
    ]
    results = nsu.converge_namespaces(cluster, runner, wants, sleep=lambda s: None)
    assert [r["changed"] for r in results] == [False, True, False, True, False]
    assert results[2]["failed"] and "c1" in results[2]["msg"]
    assert results[4]["failed"] and "cannot remove installed" in results[4]["msg"]
    assert [r[0] for r in runner.runs] == ["namespaces_add", "namespaces_remove"]
    expected = ["/api/v1/namespaces", "/apis/operators.coreos.com/v1alpha1/subscriptions", "/apis/everest.percona.com/v1alpha1/databaseclusters"]
    assert [c[1] for c in cluster.calls[:3]] == expected


def test_batch_noop_is_three_calls():
    cluster = FakeCluster()
    for i in range(20):
        cluster.add("t%02d-db" % i, operators=["mysql"], clusters=["c%d" % j for j in range(i % 3)])
    runner = FakeEverestctl(cluster)
    results = nsu.converge_namespaces(cluster, runner, [want("t%02d-db" % i, operators={"mysql": True}) for i in range(20)])
    assert not any(r["changed"] for r in results) and runner.runs == []
    # one LIST each of Namespaces, Subscriptions and DatabaseClusters, whatever the number of items (all present)
    assert [c[1] for c in cluster.calls] == [
        "/api/v1/namespaces",
        "/apis/operators.coreos.com/v1alpha1/subscriptions",
        "/apis/everest.percona.com/v1alpha1/databaseclusters",
    ]
    assert [r["namespace"]["database_clusters"] for r in results] == [i % 3 for i in range(20)]


def _combos():
    ops = ("mysql", "postgresql", "mongodb")
    for where in ("missing", "unmanaged", "managed"):
        for installed_bits in range(8):
            installed = [op for i, op in enumerate(ops) if installed_bits >> i & 1]
            if where == "missing" and installed:
                continue
            for requested_code in range(27):
                requested = dict((op, (None, True, False)[requested_code // 3**i % 3]) for i, op in enumerate(ops))
                for take_ownership in (False, True):
                    for ignore in (False, True):
                        yield where, installed, requested, take_ownership, ignore


def test_every_present_decision_converges_in_one_command():
    """Exhaustive: whatever the starting point, one command reaches a state the next decision leaves alone,
    installed operators are never dropped, and refusals never run anything."""
    checked = 0
    for where, installed, requested, take_ownership, ignore in _combos():
        cluster = FakeCluster()
        if where != "missing":
            cluster.add("acme-db", managed=where == "managed", operators=installed)
        item = want(operators=requested, take_ownership=take_ownership, ignore_operator_removal=ignore)
        try:
            nsu.validate_item(item)
        except ValidationError:
            assert not any(requested.values())
            continue
        runner = FakeEverestctl(cluster)
        try:
            result = nsu.converge_namespace(cluster, runner, item, sleep=lambda s: None)
        except ValidationError:
            assert runner.runs == []
            removal = any(requested[op] is False and op in installed for op in requested)
            assert (where != "missing" and removal and not ignore) or (where == "unmanaged" and not take_ownership)
            continue
        assert len(runner.runs) <= 1
        state = nsu.observe(cluster, "acme-db")
        assert nsu.decide(state, item).action == "none"
        assert state["managed"] is True
        for op in installed:
            assert state["operators"][op] is True
        for op, value in requested.items():
            if value:
                assert state["operators"][op] is True
        assert result["changed"] is bool(runner.runs)
        checked += 1
    assert checked > 500


# --------------------------------------------------------------------------------------------- labels

TENANT = {"virakcloud.everest/tenant": "alice"}


def test_labels_set_after_add_then_noop_without_writes():
    cluster = FakeCluster()
    runner = FakeEverestctl(cluster)
    result = converge(cluster, runner, operators={"postgresql": True}, labels=TENANT)
    assert result["changed"] is True and result["labels_changed"] == ["virakcloud.everest/tenant"]
    assert cluster.namespaces["acme-db"]["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "everest",
        "virakcloud.everest/tenant": "alice",
        NAME_LABEL: "acme-db",
    }
    assert result["namespace"]["labels"]["virakcloud.everest/tenant"] == "alice"
    assert result["after"]["labels"]["virakcloud.everest/tenant"] == "alice"
    assert [c for c in cluster.calls if c[0] == "PATCH"] == [("PATCH", "/api/v1/namespaces/acme-db", {"metadata": {"labels": TENANT}})]
    cluster.calls.clear()
    again = converge(cluster, runner, operators={"postgresql": True}, labels=TENANT)
    assert again["changed"] is False and len(runner.runs) == 1
    assert [c[0] for c in cluster.calls] == ["GET", "LIST", "LIST"]  # no PATCH, no command


def test_labels_only_drift_patches_without_everestctl_and_keeps_foreign_labels():
    cluster = FakeCluster()
    cluster.add("acme-db", operators=["postgresql"])
    cluster.namespaces["acme-db"]["metadata"]["labels"].update({"team": "db"})
    runner = FakeEverestctl(cluster)
    result = converge(cluster, runner, operators={"postgresql": True}, labels=TENANT)
    assert result["changed"] is True and result["action"] == "none" and runner.runs == []
    assert "virakcloud.everest/tenant" not in result["before"]["labels"]
    assert result["after"]["labels"]["virakcloud.everest/tenant"] == "alice"
    assert cluster.namespaces["acme-db"]["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "everest",
        "team": "db",
        "virakcloud.everest/tenant": "alice",
        NAME_LABEL: "acme-db",
    }


def test_another_tenants_label_is_never_overwritten_without_a_handover():
    """A tenant label in labels is a claim: relabelling bob's namespace for alice is refused before any write."""
    cluster = FakeCluster()
    cluster.add("acme-db", operators=["postgresql"])
    cluster.namespaces["acme-db"]["metadata"]["labels"].update({"virakcloud.everest/tenant": "bob"})
    runner = FakeEverestctl(cluster)
    with pytest.raises(OwnershipError) as err:
        converge(cluster, runner, operators={"postgresql": True}, labels=TENANT)
    assert "belongs to tenant 'bob'" in err.value.msg and "takeover_from: bob" in err.value.msg
    assert not [c for c in cluster.calls if c[0] != "GET" and c[0] != "LIST"] and runner.runs == []
    assert cluster.namespaces["acme-db"]["metadata"]["labels"]["virakcloud.everest/tenant"] == "bob"
    handed = converge(cluster, runner, operators={"postgresql": True}, labels=TENANT, takeover_from="bob")
    assert handed["changed"] is True and cluster.namespaces["acme-db"]["metadata"]["labels"]["virakcloud.everest/tenant"] == "alice"


def test_labels_check_mode_predicts_and_writes_nothing():
    cluster = FakeCluster()
    runner = FakeEverestctl(cluster)
    result = nsu.converge_namespace(cluster, runner, want(operators={"postgresql": True}, labels=TENANT), check_mode=True)
    assert result["changed"] is True and runner.runs == []
    assert result["namespace"]["labels"] == {"app.kubernetes.io/managed-by": "everest", "virakcloud.everest/tenant": "alice", NAME_LABEL: "acme-db"}
    assert not [c for c in cluster.calls if c[0] == "PATCH"]
    cluster.add("acme-db", operators=["postgresql"])
    cluster.calls.clear()
    drift = nsu.converge_namespace(cluster, runner, want(operators={"postgresql": True}, labels=TENANT), check_mode=True)
    assert drift["changed"] is True and drift["labels_changed"] == ["virakcloud.everest/tenant"]
    assert "virakcloud.everest/tenant" not in cluster.namespaces["acme-db"]["metadata"]["labels"]
    assert not [c for c in cluster.calls if c[0] == "PATCH"]


def test_labels_ignored_when_absent():
    cluster = FakeCluster()
    cluster.add("acme-db", operators=["postgresql"])
    runner = FakeEverestctl(cluster)
    result = converge(cluster, runner, state="absent", labels=TENANT)
    assert result["changed"] is True and result["action"] == "remove" and "acme-db" not in cluster.namespaces
    assert not [c for c in cluster.calls if c[0] == "PATCH"]


@pytest.mark.parametrize(
    "labels, fragment",
    [
        ({"app.kubernetes.io/managed-by": "everest"}, "belongs to Everest"),
        ({"bad key": "x"}, "label key 'bad key'"),
        ({"Example.com/x": "y"}, "prefix must be a DNS subdomain"),
        ({"/x": "y"}, "prefix must be a DNS subdomain"),
        ({"x" * 64: "y"}, "the name must be at most 63"),
        ({"tenant": "-alice"}, "value '-alice'"),
        ({"tenant": "a" * 64}, "value"),
        ({"tenant": 3}, "value 3"),
    ],
)
def test_labels_invalid_rejected_before_any_read(labels, fragment):
    with pytest.raises(ValidationError, match=fragment.replace("(", r"\(")) as err:
        nsu.validate_item(want(operators={"mysql": True}, labels=labels))
    assert "acme-db" in err.value.msg and "fix labels" in err.value.msg or "remove it from labels" in err.value.msg


def test_label_rules_accept_kubernetes_examples():
    from ansible_collections.virakcloud.everest.plugins.module_utils import _validation

    for key, value in [("virakcloud.everest/tenant", "alice"), ("app.kubernetes.io/part-of", ""), ("tier", "db_1.a"), ("a" * 253 + "/b", "c"), ("k", "A" * 63)]:
        assert _validation.check_label(key, value) is None, (key, value)
