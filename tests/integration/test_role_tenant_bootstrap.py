"""Integration tests of the tenant_bootstrap role and its playbooks: real ansible-playbook against the sandbox.

Every test starts from the seeded sandbox (``clean_sandbox``) and writes its own inventory of tenants (hosts of group
``everest_tenants``). Between runs the tests read the cluster through the Kubernetes API emulator, count requests with
/_sandbox/stats and everestctl invocations with the call log.
"""

import base64
import copy
import json
from concurrent.futures import ThreadPoolExecutor

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration

BOOTSTRAP = str(REPO / "playbooks" / "bootstrap.yml")
OFFBOARD = str(REPO / "playbooks" / "offboard.yml")
ROTATE = str(REPO / "playbooks" / "rotate_passwords.yml")
REPORT = str(REPO / "playbooks" / "report.yml")
RBAC = "/api/v1/namespaces/everest-system/configmaps/everest-rbac"
ACCOUNTS = "/api/v1/namespaces/everest-system/secrets/everest-accounts"
TRP = "/apis/everest.local/v1/namespaces/%s/tenantresourcepolicies/resource-policy"
QUOTA = "/api/v1/namespaces/%s/resourcequotas/resource-policy-clusters"
SUBS = "/apis/operators.coreos.com/v1alpha1/namespaces/%s/subscriptions"
WRITE_VERBS = ("create", "update", "patch", "delete")
LABEL = "virakcloud.everest/tenant"

PASSWORDS = {"alpha": "Alpha@pass1", "alpha_ops": "AlphaOps#22", "beta": "Beta-pass-2", "gamma": "Gamma+pass3"}

# Three tenants with different operators, limits and presets.
TENANTS = {
    "alpha": {
        "tenant_bootstrap_users": [{"username": "alpha", "password": PASSWORDS["alpha"]}, {"username": "alpha_ops", "password": PASSWORDS["alpha_ops"]}],
        "tenant_bootstrap_operators": {"mysql": True, "postgresql": True, "mongodb": False},
        "tenant_bootstrap_limits": {"cpu": 4, "memory": "16Gi", "max_clusters": 3, "max_db_users": 2},
        "tenant_bootstrap_rbac_preset": "namespace_admin",
    },
    "beta": {
        "tenant_bootstrap_password": PASSWORDS["beta"],
        "tenant_bootstrap_operators": {"mysql": False, "postgresql": False, "mongodb": True},
        "tenant_bootstrap_limits": {"cpu": "500m", "memory": "2Gi", "max_clusters": 1, "max_db_users": 3},
        "tenant_bootstrap_rbac_preset": "read_only",
    },
    "gamma": {
        "tenant_bootstrap_namespace": "gamma-db",
        "tenant_bootstrap_password": PASSWORDS["gamma"],
        "tenant_bootstrap_operators": {"postgresql": True},
        "tenant_bootstrap_limits": {"max_clusters": 2, "max_db_users": 1},
        "tenant_bootstrap_engines": ["postgresql"],
        "tenant_bootstrap_rbac_preset": "custom",
        "tenant_bootstrap_rbac_policies": [
            "p, role:tenant-gamma-db:dev, database-clusters, *, gamma-db/*",
            {"subject": "role:tenant-gamma-db:dev", "resource": "namespaces", "action": "read", "object": "gamma-db"},
            {"user": "gamma", "role": "role:tenant-gamma-db:dev"},
        ],
    },
}
NAMESPACES = {"alpha": "ns-alpha", "beta": "ns-beta", "gamma": "gamma-db"}


class Cluster:
    """Reads of the sandbox's Kubernetes API."""

    def __init__(self, sandbox):
        self.sandbox = sandbox

    def get(self, path):
        status, obj = self.sandbox.request("GET", path)
        return obj if status == 200 else None

    def namespace(self, name):
        return self.get("/api/v1/namespaces/%s" % name)

    def policy_text(self):
        return self.get(RBAC)["data"]["policy.csv"]

    def rbac_enabled(self):
        return self.get(RBAC)["data"].get("enabled") == "true"

    def accounts(self):
        secret = self.get(ACCOUNTS)
        return yaml.safe_load(base64.b64decode(secret["data"]["users.yaml"])) or {}

    def writes(self):
        by_verb = self.sandbox.stats()["by_verb"]
        return dict((v, by_verb.get(v, 0)) for v in WRITE_VERBS if by_verb.get(v))

    def block(self, name):
        lines = self.policy_text().splitlines()
        begin, end = "# BEGIN virakcloud.everest %s" % name, "# END virakcloud.everest %s" % name
        if begin not in lines:
            return None
        return lines[lines.index(begin) + 1 : lines.index(end)]

    def append_policy_line(self, line):
        cm = self.get(RBAC)
        cm["data"]["policy.csv"] = cm["data"]["policy.csv"].rstrip("\n") + "\n" + line + "\n"
        status, body = self.sandbox.request("PUT", RBAC, cm)
        assert status == 200, body


def write_inventory(tmp_path, tenants, name="hosts.yml"):
    inventory = {
        "everest_tenants": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "tenant_bootstrap_everest_url": "https://everest.example.test",
            },
            "hosts": copy.deepcopy(tenants),
        }
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(inventory, sort_keys=True))
    return path


def role_task(run, name):
    """{host: result} of the last role task with this name (task names carry the role prefix)."""
    for task in reversed(run.tasks):
        if task["name"] == name or task["name"].endswith(" : " + name):
            return task["hosts"]
    raise AssertionError("no task %r ran; tasks: %s\n%s" % (name, [t["name"] for t in run.tasks], run.output[-3000:]))


def once(run, name):
    """The result of a run_once task (whichever host ran it)."""
    hosts = role_task(run, name)
    assert len(hosts) == 1, hosts
    return next(iter(hosts.values()))


def changed_task_names(run, host):
    return [t["name"].split(" : ", 1)[-1] for t in run.tasks if t["hosts"].get(host, {}).get("changed")]


def everestctl_commands(sandbox):
    return [" ".join(call["argv"][:2]) for call in sandbox.calls()]


@pytest.fixture
def cluster(clean_sandbox):
    return Cluster(clean_sandbox)


@pytest.fixture
def bootstrapped(ansible, cluster, tmp_path):
    """The three tenants bootstrapped once (asserted), plus the inventory path."""
    inventory = write_inventory(tmp_path, TENANTS)
    run = ansible.playbook(BOOTSTRAP, inventory=inventory, verbosity=2, diff=True, extra_vars={"tenant_bootstrap_report_path": str(tmp_path / "run-report")})
    assert run.rc == 0, run.output[-6000:]
    return inventory, run


def test_bootstrap_three_tenants_then_noop(ansible, cluster, bootstrapped, tmp_path):
    inventory, first = bootstrapped
    sandbox = cluster.sandbox
    assert set(first.changed_hosts()) == {"alpha", "beta", "gamma"}
    # namespaces with their operators
    for host, ns in NAMESPACES.items():
        obj = cluster.namespace(ns)
        assert obj is not None, ns
        assert obj["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "everest"
    subs = dict((ns, sorted(s["metadata"]["name"] for s in cluster.get(SUBS % ns)["items"])) for ns in NAMESPACES.values())
    assert subs["ns-alpha"] == ["percona-postgresql-operator", "percona-xtradb-cluster-operator"]
    assert subs["ns-beta"] == ["percona-server-mongodb-operator"]
    assert subs["gamma-db"] == ["percona-postgresql-operator"]
    # accounts
    accounts = cluster.accounts()
    assert {"alpha", "alpha_ops", "beta", "gamma", "admin"} <= set(accounts)
    # RBAC blocks: presets rendered from the role's constants, block name = namespace, RBAC enabled
    alpha_block = cluster.block("ns-alpha")
    assert "p, role:tenant-ns-alpha, database-clusters, *, ns-alpha/*" in alpha_block
    assert "p, role:tenant-ns-alpha, namespaces, read, ns-alpha" in alpha_block
    assert alpha_block[-2:] == ["g, alpha, role:tenant-ns-alpha", "g, alpha_ops, role:tenant-ns-alpha"]
    assert len([line for line in alpha_block if line.startswith("p, ")]) == 8
    beta_block = cluster.block("ns-beta")
    assert [line for line in beta_block if line.startswith("p, ") and ", read, " not in line] == []
    assert alpha_block[0] == "# tenant=alpha namespace=ns-alpha"  # the block records its owner (a comment Everest skips)
    assert cluster.block("gamma-db") == [
        "# tenant=gamma namespace=gamma-db",
        "p, role:tenant-gamma-db:dev, database-clusters, *, gamma-db/*",
        "p, role:tenant-gamma-db:dev, namespaces, read, gamma-db",
        "g, gamma, role:tenant-gamma-db:dev",
    ]
    assert cluster.rbac_enabled()
    # TenantResourcePolicy + ResourceQuota, labelled with the tenant
    alpha_trp = cluster.get(TRP % "ns-alpha")
    assert alpha_trp["metadata"]["labels"][LABEL] == "alpha"
    assert alpha_trp["spec"]["limits"] == {"cpuCores": 4, "memoryBytes": 16 * 2**30, "maxClusters": 3, "maxDbUsers": 2}
    assert alpha_trp["spec"]["selectors"]["engines"] == ["mysql", "postgresql"]
    beta_trp = cluster.get(TRP % "ns-beta")
    assert beta_trp["spec"]["selectors"]["engines"] == ["mongodb"]
    assert beta_trp["spec"]["limits"]["cpuCores"] == 0.5
    assert cluster.get(QUOTA % "gamma-db")["spec"]["hard"] == {"count/databaseclusters.everest.percona.com": "2"}
    assert cluster.get(QUOTA % "ns-beta")["metadata"]["labels"][LABEL] == "beta"
    # the Namespace itself names its tenant too (everestctl made it; the module labels it)
    for host, ns in (("alpha", "ns-alpha"), ("beta", "ns-beta"), ("gamma", "gamma-db")):
        labels = cluster.namespace(ns)["metadata"]["labels"]
        assert labels[LABEL] == host and labels["app.kubernetes.io/managed-by"] == "everest", labels
    # the summary table shows every tenant and the isolation proof
    table = "\n".join(once(first, "Summary | table")["msg"])
    assert "isolation proof: proven" in table and "failed tenants: none" in table
    for host in TENANTS:
        assert host in table

    # second run: nothing changes, no write, no everestctl at all
    sandbox.reset_stats()
    open(sandbox.call_log, "w").close()
    second = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert second.rc == 0, second.output[-4000:]
    assert second.total("changed") == 0, second.changed_hosts()
    assert cluster.writes() == {}
    assert sandbox.calls() == []

    # no secret anywhere: verbose output with diffs, recorded results, report files
    report_json = json.loads((tmp_path / "run-report.json").read_text())
    report_md = (tmp_path / "run-report.md").read_text()
    assert sorted(r["tenant"] for r in report_json["tenants"]) == ["alpha", "beta", "gamma"]
    assert "| beta | changed | ns-beta |" in report_md  # the first run changed it
    everything = first.output + json.dumps(first.tasks) + json.dumps(report_json) + report_md
    for password in PASSWORDS.values():
        assert password not in everything

    # the read-only report playbook: every tenant, no write
    sandbox.reset_stats()
    report = ansible.playbook(REPORT, inventory=inventory, extra_vars={"tenant_bootstrap_report_path": str(tmp_path / "tenants")})
    assert report.rc == 0, report.output[-4000:]
    assert cluster.writes() == {}
    table = once(report, "Report | tenants, usage and drift")["msg"]
    assert isinstance(table, list) and table[0].startswith("NAMESPACE")  # one line each, in any callback and in AWX
    for ns in NAMESPACES.values():
        assert any(line.startswith(ns + " ") for line in table), ns
    assert table[-1] == "drifted tenants: none"
    assert any("4/16Gi/-/3/2" in line for line in table if line.startswith("ns-alpha "))  # limits in force, human units
    data = json.loads((tmp_path / "tenants.json").read_text())
    assert sorted(r["namespace"] for r in data["tenants"]) == sorted(NAMESPACES.values()) and data["drifted"] == []

    # the inventory moves on, the cluster does not: the report compares them, in the inventory's units, writing nothing
    changed = copy.deepcopy(TENANTS)
    changed["alpha"]["tenant_bootstrap_limits"]["memory"] = "32Gi"
    changed["alpha"]["tenant_bootstrap_users"].append({"username": "alpha_new", "password": "Alpha-new-9"})
    changed["alpha"]["tenant_bootstrap_limits"]["max_db_users"] = 3
    changed["beta"]["tenant_bootstrap_operators"]["postgresql"] = True
    changed["delta"] = {"tenant_bootstrap_password": "Delta-pass-4"}
    sandbox.reset_stats()
    moved = ansible.playbook(REPORT, inventory=write_inventory(tmp_path, changed, name="moved.yml"))
    assert moved.rc == 0, moved.failures()
    assert cluster.writes() == {}
    table = once(moved, "Report | tenants, usage and drift")["msg"]
    rows = dict((line.split()[0], line) for line in table[1:-1])
    assert "memory: cluster 16Gi, inventory 32Gi" in rows["ns-alpha"] and "users missing in the cluster: alpha_new" in rows["ns-alpha"]
    assert "max_db_users: cluster 2, inventory 3" in rows["ns-alpha"]
    assert "operators missing in the cluster: postgresql" in rows["ns-beta"]
    assert "not onboarded: no TenantResourcePolicy in namespace ns-delta" in rows["ns-delta"] and rows["gamma-db"].endswith(" none")
    assert table[-1] == "drifted tenants: ns-alpha, ns-beta, ns-delta"
    assert "Delta-pass-4" not in moved.output and "Alpha-new-9" not in moved.output


def test_isolation_proof_fails_naming_the_pair(ansible, cluster, bootstrapped):
    inventory = bootstrapped[0]
    # broken by hand, outside the managed blocks (a re-run restores the blocks themselves, not foreign lines)
    cluster.append_policy_line("p, role:tenant-ns-alpha, database-clusters, *, ns-beta/*")
    run = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert run.rc != 0
    failure = once(run, "Summary | every tenant converged and isolation proven")
    assert failure["_status"] == "failed"
    assert "tenant alpha -> tenant beta" in failure["msg"]
    assert "database-clusters" in failure["msg"] and "ns-beta/*" in failure["msg"]
    assert "alpha_ops" in failure["msg"]  # every user of the tenant is checked
    table = "\n".join(once(run, "Summary | table")["msg"])
    assert "isolation proof: FAILED" in table
    # the tenants themselves converged before the proof ran
    assert run.total("changed") == 0


def test_offboarding_keeps_namespace_and_is_idempotent(ansible, cluster, bootstrapped):
    inventory = bootstrapped[0]
    run = ansible.playbook(OFFBOARD, inventory=inventory, limit="beta")
    assert run.rc == 0, run.output[-4000:]
    assert cluster.block("ns-beta") is None
    assert cluster.get(TRP % "ns-beta") is None
    assert cluster.get(QUOTA % "ns-beta") is None
    assert "beta" not in cluster.accounts()
    assert cluster.namespace("ns-beta") is not None  # data kept by default
    assert cluster.block("ns-alpha") is not None and "alpha" in cluster.accounts()  # other tenants untouched
    calls = everestctl_commands(cluster.sandbox)
    assert "namespaces remove" not in calls and "accounts delete" in calls
    # the revocation comes first: the RBAC task is the first offboarding task that changed
    changed = changed_task_names(run, "beta")
    assert changed[0].startswith("Converge | RBAC blocks")

    cluster.sandbox.reset_stats()
    again = ansible.playbook(OFFBOARD, inventory=inventory, limit="beta")
    assert again.rc == 0
    assert again.total("changed") == 0
    assert cluster.writes() == {}

    # with purge the namespace goes too
    purge = ansible.playbook(OFFBOARD, inventory=inventory, limit="gamma", extra_vars={"tenant_bootstrap_purge": True})
    assert purge.rc == 0, purge.output[-4000:]
    assert cluster.namespace("gamma-db") is None
    assert "namespaces remove" in everestctl_commands(cluster.sandbox)
    assert cluster.block("gamma-db") is None and cluster.namespace("ns-alpha") is not None

    # purge refuses a namespace holding database clusters (their data) unless tenant_bootstrap_force is set too
    dbc = {
        "apiVersion": "everest.percona.com/v1alpha1",
        "kind": "DatabaseCluster",
        "metadata": {"name": "beta-mongo", "namespace": "ns-beta"},
        "spec": {"engine": {"type": "psmdb", "replicas": 1, "storage": {"size": "1Gi"}}},
    }
    status, body = cluster.sandbox.request("POST", "/apis/everest.percona.com/v1alpha1/namespaces/ns-beta/databaseclusters", dbc)
    assert status == 201, body
    open(cluster.sandbox.call_log, "w").close()
    refused = ansible.playbook(OFFBOARD, inventory=inventory, limit="beta", extra_vars={"tenant_bootstrap_purge": True})
    assert refused.rc != 0 and "beta-mongo" in refused.output and "force" in refused.output
    assert cluster.namespace("ns-beta") is not None and everestctl_commands(cluster.sandbox) == []
    forced = ansible.playbook(OFFBOARD, inventory=inventory, limit="beta", extra_vars={"tenant_bootstrap_purge": True, "tenant_bootstrap_force": True})
    assert forced.rc == 0, forced.output[-4000:]
    assert cluster.namespace("ns-beta") is None
    cluster.sandbox.reset_stats()
    gone = ansible.playbook(OFFBOARD, inventory=inventory, limit="beta", extra_vars={"tenant_bootstrap_purge": True})
    assert gone.rc == 0 and gone.total("changed") == 0 and cluster.writes() == {}


def test_check_mode_writes_nothing(ansible, cluster, tmp_path):
    inventory = write_inventory(tmp_path, TENANTS)
    cluster.sandbox.reset_stats()
    run = ansible.playbook(BOOTSTRAP, inventory=inventory, check=True, diff=True)
    assert run.rc == 0, run.output[-6000:]
    assert set(run.changed_hosts()) == {"alpha", "beta", "gamma"}
    assert cluster.writes() == {}
    assert [c for c in everestctl_commands(cluster.sandbox) if c != "version --client-only"] == []
    assert cluster.namespace("ns-alpha") is None
    # the isolation proof ran on the play's own lines
    table = "\n".join(once(run, "Summary | table")["msg"])
    assert "isolation proof: proven" in table


def test_check_mode_diff_is_the_drift_report(ansible, cluster, bootstrapped, tmp_path):
    inventory = bootstrapped[0]  # noqa: F841  the bootstrapped inventory this test changes
    changed = copy.deepcopy(TENANTS)
    changed["alpha"]["tenant_bootstrap_limits"]["max_clusters"] = 5
    changed["alpha"]["tenant_bootstrap_users"] = changed["alpha"]["tenant_bootstrap_users"][:1]
    changed_inventory = write_inventory(tmp_path, changed, name="changed.yml")
    cluster.sandbox.reset_stats()
    run = ansible.playbook(BOOTSTRAP, inventory=changed_inventory, check=True, diff=True)
    assert run.rc == 0, run.output[-4000:]
    assert run.changed_hosts() == {"alpha": 2}
    assert cluster.writes() == {}
    assert "-g, alpha_ops, role:tenant-ns-alpha" in run.stdout
    assert "+            maxClusters: 5" in run.stdout

    # a tenant's namespace is immutable: renaming fails for that tenant only, with the fix
    renamed = copy.deepcopy(TENANTS)
    renamed["beta"]["tenant_bootstrap_namespace"] = "ns-beta-renamed"
    run = ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, renamed, name="renamed.yml"))
    assert run.rc != 0
    assert run.stats["beta"]["failures"] == 1 and run.stats["alpha"]["failures"] == 0
    assert "immutable" in run.output and "set tenant_bootstrap_namespace back to the old name" in run.output
    assert "tenant_bootstrap_purge=true" in run.output
    assert cluster.namespace("ns-beta-renamed") is None
    # the Namespace's own label records the ownership too: a run that stopped before the policy step (no policy yet)
    # still cannot be renamed into a second namespace
    status, body = cluster.sandbox.request("DELETE", TRP % "ns-beta")
    assert status == 200, body
    run = ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, renamed, name="renamed.yml"), limit="beta")
    assert run.rc != 0 and "already owns namespace(s) ns-beta" in run.output, run.output[-3000:]
    assert cluster.namespace("ns-beta-renamed") is None


def test_bad_tenants_fail_alone(ansible, cluster, tmp_path):
    tenants = {
        "alpha": TENANTS["alpha"],
        "crowded": {
            "tenant_bootstrap_users": [{"username": "crowd_%d" % i, "password": "Crowd@pass%d" % i} for i in range(3)],
            "tenant_bootstrap_limits": {"max_db_users": 2},
        },
        "badname": {"tenant_bootstrap_namespace": "Bad_Namespace", "tenant_bootstrap_password": "Badname@1"},
        "badtype": {"tenant_bootstrap_limits": {"max_clusters": "many"}, "tenant_bootstrap_password": "Badtype@1"},
        # an unrelated namespace of that name exists: never adopted silently (no Everest Subscriptions in it)
        "delta": {"tenant_bootstrap_password": "Delta@pass4"},
        # two tenants claiming one namespace: both refused
        "echo": {"tenant_bootstrap_password": "Echo@pass5", "tenant_bootstrap_namespace": "ns-shared"},
        "foxtrot": {"tenant_bootstrap_password": "Foxtrot@pass6", "tenant_bootstrap_namespace": "ns-shared"},
    }
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-delta"}}
    status, body = cluster.sandbox.request("POST", "/api/v1/namespaces", namespace)
    assert status == 201, body
    inventory = write_inventory(tmp_path, tenants)
    run = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert run.rc != 0
    assert run.stats["alpha"]["failures"] == 0 and run.stats["alpha"]["changed"] > 0
    for host in ("crowded", "badname", "badtype", "delta", "echo", "foxtrot"):
        assert run.stats[host]["failures"] == 1, (host, run.stats)
    assert "tenant echo: it shares its namespace ns-shared or a user (echo) with tenant(s) foxtrot of this run" in " ".join(run.output.split())
    assert cluster.namespace("ns-shared") is None
    assert "namespace 'ns-delta' exists but is not managed by Everest" in run.output
    assert "app.kubernetes.io/managed-by" not in (cluster.namespace("ns-delta")["metadata"].get("labels") or {})
    assert "3 users" in run.output and "max_db_users is 2" in run.output
    assert cluster.namespace("ns-alpha") is not None
    assert cluster.namespace("ns-crowded") is None and cluster.namespace("ns-badtype") is None
    assert "crowd_0" not in cluster.accounts()
    table = "\n".join(once(run, "Summary | table")["msg"])
    assert "failed tenants: badname, badtype, crowded, delta, echo, foxtrot" in table
    for host in ("crowded", "badname", "badtype", "delta", "echo", "foxtrot"):
        assert [line for line in table.splitlines() if line.startswith(host)][0].split()[1] == "FAILED"


def test_rotate_passwords_only_touches_accounts(ansible, cluster, bootstrapped, tmp_path):
    changed = copy.deepcopy(TENANTS)
    changed["beta"]["tenant_bootstrap_password"] = "Beta-rotated-9"
    inventory = write_inventory(tmp_path, changed, name="rotated.yml")
    before = cluster.accounts()
    cluster.sandbox.reset_stats()
    open(cluster.sandbox.call_log, "w").close()
    run = ansible.playbook(ROTATE, inventory=inventory)
    assert run.rc == 0, run.output[-4000:]
    assert run.changed_hosts() == {"beta": 1}
    assert everestctl_commands(cluster.sandbox) == ["accounts set-password"]
    after = cluster.accounts()
    assert after["beta"]["passwordHash"] != before["beta"]["passwordHash"]
    assert after["alpha"] == before["alpha"]
    assert "Beta-rotated-9" not in run.output

    # an inventory user that does not exist is never created (it would have no RBAC binding): the tenant fails naming it,
    # after its existing accounts were rotated; the other tenants are unaffected
    missing = copy.deepcopy(TENANTS)
    missing["beta"]["tenant_bootstrap_users"] = [{"username": "beta", "password": "Beta-rotated-10"}, {"username": "beta_new", "password": "BetaNew-pass-1"}]
    open(cluster.sandbox.call_log, "w").close()
    run = ansible.playbook(ROTATE, inventory=write_inventory(tmp_path, missing, name="missing.yml"))
    assert run.rc != 0
    assert run.stats["beta"]["failures"] == 1 and run.stats["alpha"]["failures"] == 0 and run.stats["gamma"]["failures"] == 0
    assert "account(s) beta_new do not exist in Everest" in " ".join(run.output.split())
    assert "beta_new" not in cluster.accounts()
    assert everestctl_commands(cluster.sandbox) == ["accounts set-password"]  # beta's own password, nothing created
    assert "BetaNew-pass-1" not in run.output and "Beta-rotated-10" not in run.output


def test_interrupted_run_converges_on_the_next_run(ansible, cluster, tmp_path):
    inventory = write_inventory(tmp_path, TENANTS)
    sandbox = cluster.sandbox
    # every update fails (5xx/429): namespaces are created, then the accounts step dies for every tenant
    sandbox.faults(error_rate={"update": 1.0}, retry_after_s=0, seed=7)
    try:
        broken = ansible.playbook(BOOTSTRAP, inventory=inventory)
    finally:
        sandbox.clear_faults()
    assert broken.rc != 0
    assert all(broken.stats[h]["failures"] == 1 for h in TENANTS), broken.stats
    assert cluster.namespace("ns-alpha") is not None and cluster.block("ns-alpha") is None
    assert "app.kubernetes.io/managed-by" not in (cluster.namespace("ns-alpha")["metadata"].get("labels") or {})
    assert cluster.get(TRP % "ns-alpha") is None

    resumed = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert resumed.rc == 0, resumed.output[-4000:]
    # the interrupted `namespaces add` left unmanaged namespaces carrying the tenant's label (created with it before
    # everestctl ran): the namespace module resumes them (--take-ownership), no rescue needed, in both modes
    assert "Converge | database namespaces with their operators" in changed_task_names(resumed, "alpha")
    assert resumed.stats["alpha"]["failures"] == 0
    assert cluster.namespace("ns-alpha")["metadata"]["labels"].get(LABEL) == "alpha"
    assert cluster.namespace("ns-alpha")["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "everest"
    assert cluster.block("ns-alpha") is not None and cluster.get(TRP % "gamma-db") is not None
    assert {"alpha", "alpha_ops", "beta", "gamma"} <= set(cluster.accounts())

    sandbox.reset_stats()
    again = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert again.total("changed") == 0 and cluster.writes() == {}


def test_concurrent_runs_with_conflicts_are_safe(ansible, cluster, tmp_path):
    """Two ansible-playbook runs at once (forks 5 each) while the API refuses some conditional updates with 409."""
    first_half = dict((h, TENANTS[h]) for h in ("alpha", "beta"))
    inv_a = write_inventory(tmp_path, first_half, name="a.yml")
    inv_b = write_inventory(tmp_path, {"gamma": TENANTS["gamma"]}, name="b.yml")
    other = type(ansible)(ansible.sandbox, tmp_path / "other")
    (tmp_path / "other").mkdir()
    cluster.sandbox.faults(conflict_rate=0.3, seed=11)
    results = {}
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {"a": pool.submit(ansible.playbook, BOOTSTRAP, inventory=inv_a), "b": pool.submit(other.playbook, BOOTSTRAP, inventory=inv_b)}
            results = dict((k, f.result()) for k, f in futures.items())
    finally:
        cluster.sandbox.clear_faults()
    for key, run in results.items():
        assert run.rc == 0, (key, run.failures(), run.stdout[-4000:])
    # nobody lost anybody's lines or accounts
    for ns in NAMESPACES.values():
        assert cluster.block(ns), ns
        assert cluster.get(TRP % ns) is not None
    assert {"alpha", "alpha_ops", "beta", "gamma", "admin"} <= set(cluster.accounts())
    assert cluster.rbac_enabled()
