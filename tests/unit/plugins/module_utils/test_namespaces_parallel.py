"""Unit tests of the batch form's parallel commands (_namespaces.converge_namespaces with a pool): the chart cache is
warmed by one add alone, then up to ``parallelism`` commands run at once; removes never wait; a failure stops nothing;
the results are the ones the serial form gives."""

import copy
import random

from test_namespaces import SUB, FakeCluster, FakeEverestctl, want

from ansible_collections.virakcloud.everest.plugins.module_utils import _namespaces as nsu
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import EverestError, EverestctlError


class TenantCluster(FakeCluster):
    """FakeCluster that can also create a Namespace (a tenant's namespace is created with its label first)."""

    def create(self, path, body):
        self.calls.append(("CREATE", path, copy.deepcopy(body)))
        name = body["metadata"]["name"]
        if name in self.namespaces:
            from ansible_collections.virakcloud.everest.plugins.module_utils._errors import K8sAlreadyExists  # pylint: disable=import-outside-toplevel

            raise K8sAlreadyExists("exists", status=409)
        labels = dict(body["metadata"].get("labels") or {}, **{"kubernetes.io/metadata.name": name})
        self.namespaces[name] = {"metadata": {"name": name, "labels": labels}, "status": {"phase": "Active"}}
        self.subs[name] = []
        self.clusters[name] = []
        return body


class FakePool:
    """The Pool interface over FakeEverestctl: a command 'runs' from submit until next_done hands it out (oldest
    first); records what ran together."""

    def __init__(self, runner, size, fail=()):
        self.runner = runner
        self.size = size
        self.fail = dict(fail)  # name -> error kind, once
        self.queue = []
        self.running = []
        self.done = []
        self.log = []  # (event, name, set of names running after the event)
        self.peak = 0

    def submit(self, key, shape, timeout=None, **values):
        self.queue.append((key, shape, timeout, values))
        self._fill()

    def _fill(self):
        while self.queue and len(self.running) < self.size:
            job = self.queue.pop(0)
            self.running.append(job)
            self.peak = max(self.peak, len(self.running))
            self.log.append(("start", job[3]["name"], job[1], frozenset(j[3]["name"] for j in self.running)))

    def busy(self):
        return bool(self.queue or self.running)

    def next_done(self):
        key, shape, timeout, values = self.running.pop(0)
        self.log.append(("end", values["name"], shape, frozenset(j[3]["name"] for j in self.running)))
        try:
            if values["name"] in self.fail:
                kind = self.fail.pop(values["name"])
                raise EverestctlError("everestctl namespaces add failed: " + kind, kind=kind, rc=1)
            outcome = self.runner.run(shape, timeout=timeout, **values)
        except EverestError as exc:
            outcome = exc
        self._fill()
        return key, outcome


class PoolRunner(FakeEverestctl):
    def __init__(self, cluster, fail=()):
        super(PoolRunner, self).__init__(cluster)
        self.fail = fail
        self.pools = []

    def pool(self, size):
        self.pools.append(FakePool(self, size, self.fail))
        return self.pools[-1]


def batch(cluster, runner, wants, parallelism, **kw):
    return nsu.converge_namespaces(cluster, runner, wants, parallelism=parallelism, sleep=lambda s: None, rng=random.Random(1), **kw)


def new_tenants(count, **kw):
    return [want("ns-t%02d" % i, tenant="t%02d" % i, operators={"postgresql": True}, **kw) for i in range(count)]


def test_first_add_runs_alone_then_parallelism_at_once():
    cluster = TenantCluster()
    runner = PoolRunner(cluster)
    results = batch(cluster, runner, new_tenants(9), parallelism=4)
    pool = runner.pools[0]
    starts = [entry for entry in pool.log if entry[0] == "start"]
    # the first add ran alone: nothing else started before it ended
    assert pool.log[0][:2] == ("start", "ns-t00") and pool.log[1] == ("end", "ns-t00", "namespaces_add", frozenset())
    assert pool.peak == 4 and max(len(entry[3]) for entry in starts) == 4
    assert [r["action"] for r in results] == ["add"] * 9 and all(r["namespace"]["managed"] for r in results)
    assert [r["name"] for r in results] == ["ns-t%02d" % i for i in range(9)]


def test_results_equal_the_serial_form():
    def run(parallel):
        cluster = TenantCluster()
        cluster.add("keep-db", operators=["mysql"])
        cluster.add("old-db", operators=["mongodb"])
        cluster.add("upd-db", operators=["mysql"])
        wants = new_tenants(5) + [
            want("keep-db", operators={"mysql": True}),
            want("old-db", state="absent"),
            want("upd-db", operators={"postgresql": True}),
        ]
        runner = PoolRunner(cluster) if parallel else FakeEverestctl(cluster)
        return batch(cluster, runner, wants, parallelism=3), cluster

    parallel, cluster_p = run(True)
    serial, cluster_s = run(False)
    assert parallel == serial
    assert cluster_p.namespaces == cluster_s.namespaces and cluster_p.subs == cluster_s.subs


def test_removes_do_not_wait_for_the_chart_cache():
    cluster = TenantCluster()
    for i in range(3):
        cluster.add("old-%d" % i, operators=["mysql"])
    runner = PoolRunner(cluster)
    wants = new_tenants(3) + [want("old-%d" % i, state="absent") for i in range(3)]
    batch(cluster, runner, wants, parallelism=4)
    first_end = [i for i, entry in enumerate(runner.pools[0].log) if entry[0] == "end"][0]
    started_before = {entry[1] for entry in runner.pools[0].log[:first_end] if entry[0] == "start"}
    # while the first add warms the cache, the removes run beside it; the other adds wait
    assert started_before == {"ns-t00", "old-0", "old-1", "old-2"}


def test_a_failing_warm_up_hands_over_to_the_next_add_and_the_failure_is_named():
    cluster = TenantCluster()
    runner = PoolRunner(cluster, fail={"ns-t00": "unknown"})
    results = batch(cluster, runner, new_tenants(6), parallelism=3)
    log = runner.pools[0].log
    assert log[:4] == [
        ("start", "ns-t00", "namespaces_add", frozenset(["ns-t00"])),
        ("end", "ns-t00", "namespaces_add", frozenset()),
        ("start", "ns-t01", "namespaces_add", frozenset(["ns-t01"])),  # the next one warms the cache, alone too
        ("end", "ns-t01", "namespaces_add", frozenset()),
    ]
    assert results[0]["failed"] and "failed: unknown" in results[0]["msg"] and results[0]["name"] == "ns-t00"
    assert all(r["action"] == "add" and not r.get("failed") for r in results[1:])
    # the failed tenant's namespace was claimed (tenant label) but is not managed: the next run resumes it
    labels = cluster.namespaces["ns-t00"]["metadata"]["labels"]
    assert labels["virakcloud.everest/tenant"] == "t00" and "app.kubernetes.io/managed-by" not in labels
    again = batch(cluster, PoolRunner(cluster), new_tenants(6), parallelism=3)
    assert [r["action"] for r in again] == ["add"] + ["none"] * 5
    assert again[0]["cmd"][-1] == "--take-ownership"


def test_a_failure_among_many_stops_nothing():
    cluster = TenantCluster()
    runner = PoolRunner(cluster, fail={"ns-t04": "timeout"})
    results = batch(cluster, runner, new_tenants(8), parallelism=3)
    assert [bool(r.get("failed")) for r in results] == [False] * 4 + [True] + [False] * 3
    assert cluster.subs["ns-t07"] == [SUB["postgresql"]]


def test_conflicts_are_retried_in_the_pool():
    cluster = TenantCluster()
    runner = PoolRunner(cluster, fail={"ns-t02": "conflict"})
    results = batch(cluster, runner, new_tenants(4), parallelism=2)
    assert all(r["action"] == "add" and not r.get("failed") for r in results)
    assert [entry[1] for entry in runner.pools[0].log if entry[0] == "start"].count("ns-t02") == 2


def test_noop_and_check_mode_make_no_pool():
    cluster = TenantCluster()
    runner = PoolRunner(cluster)
    results = batch(cluster, runner, new_tenants(3), parallelism=4, check_mode=True)
    assert runner.pools == [] and all(r["changed"] and r["cmd"][:3] == ["everestctl", "namespaces", "add"] for r in results)
    batch(cluster, runner, new_tenants(3), parallelism=4)
    assert len(runner.pools) == 1
    batch(cluster, runner, new_tenants(3), parallelism=4)
    assert len(runner.pools) == 1  # nothing to run: no pool (and no everestctl binary needed)
