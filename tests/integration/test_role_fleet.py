"""Integration tests of the tenant_bootstrap role's fleet mode (playbook bootstrap_fleet.yml): real ansible-playbook
against the sandbox; cluster state read back through the Kubernetes API emulator, requests counted with
/_sandbox/stats, everestctl invocations with the call log."""

import copy
import json
import re
from pathlib import Path

import pytest

from test_role_tenant_bootstrap import (
    BOOTSTRAP,
    LABEL,
    NAMESPACES,
    PASSWORDS,
    QUOTA,
    REPO,
    TENANTS,
    TRP,
    Cluster,
    write_inventory,
)

pytestmark = pytest.mark.integration

FLEET = str(REPO / "playbooks" / "bootstrap_fleet.yml")
RBAC_CM = ("configmaps",)


def localhost_inventory(tmp_path, tenants, name="fleet.yml"):
    """The tenants inventory plus the controller host the fleet play runs on."""
    path = write_inventory(tmp_path, tenants, name=name)
    text = path.read_text()
    path.write_text(
        text + "controller:\n  hosts:\n    localhost:\n      ansible_connection: local\n      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
    )
    return path


def ran(run, name):
    """The result of the task with this name that was not skipped (the fleet play also lists the per-tenant tasks)."""
    for task in reversed(run.tasks):
        if task["name"].endswith(" : " + name):
            for result in task["hosts"].values():
                if result.get("_status") != "skipped":
                    return result
    raise AssertionError("no task %r ran" % name)


def forget_calls(sandbox):
    """Start counting everestctl invocations from now."""
    Path(sandbox.call_log).write_text("", encoding="utf-8")


def module_tasks(run):
    """Names of the tasks that executed a module of the collection (not skipped)."""
    return [t["name"] for t in run.tasks if any(not r.get("skipped") for r in t["hosts"].values()) and t.get("action", "").startswith("virakcloud.everest.")]


@pytest.fixture
def cluster(clean_sandbox):
    return Cluster(clean_sandbox)


def snapshot(cluster, tenants):
    """The tenants' state as read back from the cluster (no timestamps, no resourceVersions)."""
    out = {"blocks": {}, "accounts": {}, "trp": {}, "quota": {}, "namespaces": {}}
    accounts = cluster.accounts()
    for name, ns in NAMESPACES.items():
        if name not in tenants:
            continue
        out["blocks"][ns] = cluster.block(ns)
        trp = cluster.get(TRP % ns)
        out["trp"][ns] = trp and {"spec": trp["spec"], "labels": trp["metadata"].get("labels")}
        quota = cluster.get(QUOTA % ns)
        out["quota"][ns] = quota and quota["spec"]
        namespace = cluster.namespace(ns)
        out["namespaces"][ns] = namespace and namespace["metadata"].get("labels")
    for user in PASSWORDS:
        out["accounts"][user] = user in accounts and {k: v for k, v in accounts[user].items() if k != "passwordMtime"}
    return out


def test_fleet_converges_noops_and_matches_per_tenant_state(ansible, cluster, clean_sandbox, tmp_path):
    inventory = localhost_inventory(tmp_path, TENANTS)
    forget_calls(clean_sandbox)
    report = tmp_path / "fleet-report"
    first = ansible.playbook(FLEET, inventory=inventory, extra_vars={"tenant_bootstrap_report_path": str(report)})
    assert first.rc == 0, first.output[-6000:]
    written = json.loads(Path(str(report) + ".json").read_text())
    assert [(t["tenant"], t["status"], t["namespace"]) for t in written["tenants"]] == [
        ("alpha", "changed", "ns-alpha"),
        ("beta", "changed", "ns-beta"),
        ("gamma", "changed", "gamma-db"),
    ]
    assert written["isolation"].startswith("proven") and not any(p in Path(str(report) + ".md").read_text() for p in PASSWORDS.values())
    assert first.stats["localhost"]["changed"] > 0 and set(first.stats) == {"localhost"}
    # one RBAC ConfigMap write for the three blocks, one everestctl call per namespace and per account
    assert cluster.sandbox.stats()["by_resource"]["configmaps"]["update"] == 1
    commands = [" ".join(c["argv"][:2]) for c in clean_sandbox.calls() if c["argv"][0] != "version"]  # version: cached preflight
    assert sorted(commands) == sorted(["namespaces add"] * 3 + ["accounts create"] * 4), commands
    for name, ns in NAMESPACES.items():
        assert cluster.block(ns), name
        assert cluster.get(TRP % ns)["metadata"]["labels"][LABEL] == name
        assert cluster.namespace(ns)["metadata"]["labels"][LABEL] == name
    assert set(PASSWORDS) <= set(cluster.accounts())
    table = "\n".join(ran(first, "Summary | table")["msg"])
    assert "isolation proof: proven:" in table and "over 3 tenants" in table and "failed tenants: none" in table
    fleet_state = snapshot(cluster, TENANTS)

    # re-run: nothing changes, no write, no everestctl
    forget_calls(clean_sandbox)
    cluster.sandbox.reset_stats()
    second = ansible.playbook(FLEET, inventory=inventory)
    assert second.rc == 0, second.output[-4000:]
    assert second.stats["localhost"]["changed"] == 0
    assert cluster.writes() == {} and clean_sandbox.calls() == []

    # the per-tenant mode finds the state it would have made itself: no change
    per_tenant = ansible.playbook(BOOTSTRAP, inventory=inventory, limit="everest_tenants")
    assert per_tenant.rc == 0, per_tenant.output[-4000:]
    assert sum(s["changed"] for s in per_tenant.stats.values()) == 0
    assert snapshot(cluster, TENANTS) == fleet_state


def test_fleet_and_per_tenant_leave_identical_state(ansible, cluster, clean_sandbox, tmp_path):
    """Per-tenant mode first, then fleet mode on the same inventory: no change, same read-back."""
    inventory = localhost_inventory(tmp_path, TENANTS)
    run = ansible.playbook(BOOTSTRAP, inventory=inventory, limit="everest_tenants")
    assert run.rc == 0, run.output[-4000:]
    before = snapshot(cluster, TENANTS)
    cluster.sandbox.reset_stats()
    fleet = ansible.playbook(FLEET, inventory=inventory)
    assert fleet.rc == 0, fleet.output[-4000:]
    assert fleet.stats["localhost"]["changed"] == 0 and cluster.writes() == {}
    assert snapshot(cluster, TENANTS) == before


def test_fleet_check_mode_writes_nothing_and_reports_drift(ansible, cluster, clean_sandbox, tmp_path):
    inventory = localhost_inventory(tmp_path, TENANTS)
    # a dry run on a fresh cluster: everything reported as to be created, nothing written, no everestctl
    forget_calls(clean_sandbox)
    cluster.sandbox.reset_stats()
    dry = ansible.playbook(FLEET, inventory=inventory, check=True)
    assert dry.rc == 0, dry.output[-4000:]
    assert cluster.writes() == {} and [c for c in clean_sandbox.calls() if c["argv"][0] != "version"] == []
    assert dry.stats["localhost"]["changed"] >= 4 and "failed tenants: none" in "\n".join(ran(dry, "Summary | table")["msg"])
    assert ansible.playbook(FLEET, inventory=inventory).rc == 0
    changed = copy.deepcopy(TENANTS)
    changed["beta"]["tenant_bootstrap_limits"]["max_clusters"] = 4
    changed["alpha"]["tenant_bootstrap_users"][1]["password"] = "AlphaOps#99"
    drift = localhost_inventory(tmp_path, changed, name="drift.yml")
    forget_calls(clean_sandbox)
    cluster.sandbox.reset_stats()
    run = ansible.playbook(FLEET, inventory=drift, check=True, diff=True)
    assert run.rc == 0, run.output[-4000:]
    assert cluster.writes() == {} and clean_sandbox.calls() == []
    assert run.stats["localhost"]["changed"] == 2  # the policy step and the accounts step
    assert re.search(r"^\+\s+maxClusters: 4$", run.stdout, re.M)
    assert "AlphaOps#99" not in run.output


def test_fleet_runs_a_constant_number_of_module_tasks(ansible, cluster, tmp_path):
    small = localhost_inventory(tmp_path, {"alpha": TENANTS["alpha"]}, name="one.yml")
    run_small = ansible.playbook(FLEET, inventory=small)
    assert run_small.rc == 0, run_small.output[-4000:]
    many = dict(TENANTS)
    for i in range(5):
        many["extra%d" % i] = {"tenant_bootstrap_password": "Extra@pass%d" % i}
    run_many = ansible.playbook(FLEET, inventory=localhost_inventory(tmp_path, many, name="many.yml"))
    assert run_many.rc == 0, run_many.output[-4000:]
    assert module_tasks(run_small) == module_tasks(run_many)
    assert "over 8 tenants" in "\n".join(ran(run_many, "Summary | table")["msg"])


def test_fleet_bad_tenants_fail_alone(ansible, cluster, tmp_path):
    tenants = {
        "alpha": TENANTS["alpha"],
        "crowded": {
            "tenant_bootstrap_users": [{"username": "crowd_%d" % i, "password": "Crowd@pass%d" % i} for i in range(3)],
            "tenant_bootstrap_limits": {"max_db_users": 2},
        },
        "badtype": {"tenant_bootstrap_limits": {"max_clusters": "many"}, "tenant_bootstrap_password": "Badtype@1"},
        "nopass": {},
        "echo": {"tenant_bootstrap_password": "Echo@pass5", "tenant_bootstrap_namespace": "ns-shared"},
        "foxtrot": {"tenant_bootstrap_password": "Foxtrot@pass6", "tenant_bootstrap_namespace": "ns-shared"},
        # an unrelated namespace of that name exists: the namespace step refuses it, the tenant fails alone
        "delta": {"tenant_bootstrap_password": "Delta@pass4"},
    }
    unrelated = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-delta"}}
    status, body = cluster.sandbox.request("POST", "/api/v1/namespaces", unrelated)
    assert status == 201, body
    run = ansible.playbook(FLEET, inventory=localhost_inventory(tmp_path, tenants))
    assert run.rc != 0
    text = " ".join(run.output.split())
    assert "6 of 7 tenant(s) failed" in text
    assert "tenant crowded: 3 users (crowd_0, crowd_1, crowd_2) but tenant_bootstrap_limits.max_db_users is 2" in text
    assert "tenant badtype: invalid role variables" in text and "max_clusters" in text
    assert "tenant nopass: the password of at least one of nopass is empty" in text
    assert "tenant echo: it shares its namespace ns-shared or a user (echo) with tenant(s) foxtrot of this run" in text
    assert "tenant delta: namespace 'ns-delta' exists but is not managed by Everest" in text
    # the good tenant converged completely; nothing of the others was created
    assert cluster.block("ns-alpha") and cluster.get(TRP % "ns-alpha") is not None
    assert {"alpha", "alpha_ops"} <= set(cluster.accounts()) and "delta" not in cluster.accounts()
    assert cluster.namespace("ns-shared") is None and cluster.namespace("ns-crowded") is None
    assert cluster.block("ns-delta") is None
    table = "\n".join(ran(run, "Summary | table")["msg"])
    assert "failed tenants: badtype, crowded, delta, echo, foxtrot, nopass" in table


def test_fleet_offboarding_and_isolation_failure(ansible, cluster, clean_sandbox, tmp_path):
    inventory = localhost_inventory(tmp_path, TENANTS)
    assert ansible.playbook(FLEET, inventory=inventory).rc == 0
    # a leaky line outside the role's blocks: the proof fails naming the pair
    cluster.append_policy_line("p, role:tenant-ns-alpha, database-clusters, read, gamma-db/*")
    run = ansible.playbook(FLEET, inventory=inventory)
    assert run.rc != 0
    assert "tenant alpha -> tenant gamma: user alpha CAN read database-clusters on gamma-db/*" in " ".join(run.output.split())
    # offboard beta: block, policy, quota and account gone, namespace kept; a re-run is a no-op
    offboard = copy.deepcopy(TENANTS)
    offboard["beta"]["tenant_bootstrap_state"] = "absent"
    rbac = cluster.get("/api/v1/namespaces/everest-system/configmaps/everest-rbac")
    rbac["data"]["policy.csv"] = rbac["data"]["policy.csv"].replace("p, role:tenant-ns-alpha, database-clusters, read, gamma-db/*\n", "")
    status, body = cluster.sandbox.request("PUT", "/api/v1/namespaces/everest-system/configmaps/everest-rbac", rbac)
    assert status == 200, body
    off_inventory = localhost_inventory(tmp_path, offboard, name="off.yml")
    run = ansible.playbook(FLEET, inventory=off_inventory)
    assert run.rc == 0, run.output[-4000:]
    assert cluster.block("ns-beta") is None and cluster.get(TRP % "ns-beta") is None and cluster.get(QUOTA % "ns-beta") is None
    assert "beta" not in cluster.accounts() and cluster.namespace("ns-beta") is not None
    assert cluster.block("ns-alpha") and "alpha" in cluster.accounts()
    assert "offboarded (namespace kept)" in "\n".join(ran(run, "Summary | table")["msg"])
    cluster.sandbox.reset_stats()
    forget_calls(clean_sandbox)
    again = ansible.playbook(FLEET, inventory=off_inventory)
    assert again.rc == 0 and again.stats["localhost"]["changed"] == 0
    assert cluster.writes() == {} and clean_sandbox.calls() == []


def test_fleet_without_tenants_says_which_group(ansible, cluster, tmp_path):
    inventory = localhost_inventory(tmp_path, TENANTS)
    run = ansible.playbook(FLEET, inventory=inventory, extra_vars={"tenant_bootstrap_fleet_group": "no_such_group"})
    assert run.rc != 0
    assert "fleet mode found no tenants" in run.output and "no_such_group" in run.output
    assert cluster.block("ns-alpha") is None


def test_fleet_never_shows_a_password(ansible, cluster, tmp_path):
    """The plan carries the passwords to the accounts step: -vvvv with --diff must still show none of them."""
    inventory = localhost_inventory(tmp_path, TENANTS)
    runs = [ansible.playbook(FLEET, inventory=inventory, verbosity=4, diff=True)]
    changed = copy.deepcopy(TENANTS)
    changed["alpha"]["tenant_bootstrap_users"][0]["password"] = "Alpha@changed9"
    runs.append(ansible.playbook(FLEET, inventory=localhost_inventory(tmp_path, changed, name="pw.yml"), verbosity=4, diff=True))
    assert all(run.rc == 0 for run in runs), runs[-1].output[-3000:]
    assert "ESTABLISH LOCAL CONNECTION" in runs[0].output
    for run in runs:
        for secret in list(PASSWORDS.values()) + ["Alpha@changed9"]:
            assert secret not in run.output, secret
