"""Tenants whose people sign in through SSO (issue 19), end to end: real ansible-playbook against the sandbox, then real
tokens from the sandbox's test OIDC issuer sent to the Everest REST emulator, which authorises them as Everest does (the
token's subject or any of its groups; docs/dev/sandbox-oidc.md).

* an SSO-only tenant (no local account) onboarded with an IdP group and an OIDC subject, a mixed tenant (local user and
  group) and a local-only tenant: a token carrying the group works in the tenant's namespace and nowhere else, and
  without the group it is refused; re-runs are no-ops, check mode writes nothing, the diff shows the binding lines;
* the isolation proof covers the SSO identities (its size, and a group bound into another tenant's role fails it);
* collisions (a group named admin, named like another tenant's user, a role: name) are refused before any write;
* moving a group from one tenant to another takes two runs (the release first);
* a group two tenants share on purpose (tenant_bootstrap_sso_shared on both);
* fleet mode plans and writes the same; offboarding removes the bindings; rotate_passwords skips SSO-only tenants;
* tenant_bootstrap_oidc: the role adds the groups scope through everest_oidc.
"""

import copy
import json

import pytest

from everest_sandbox.launcher import raw_request

from test_role_fleet import FLEET, localhost_inventory
from test_role_tenant_bootstrap import BOOTSTRAP, OFFBOARD, ROTATE, Cluster, once, role_task, write_inventory

pytestmark = pytest.mark.integration

PASSWORDS = {"beta": "Beta@pass-19", "gamma": "Gamma@pass-19"}
TENANTS = {
    # SSO only: no local account at all; one IdP group (Keycloak full path) and one OIDC subject (Okta-style id)
    "acme": {
        "tenant_bootstrap_users": [],
        "tenant_bootstrap_sso_groups": ["/acme/dbas"],
        "tenant_bootstrap_sso_subjects": ["00u1acmelead"],
        "tenant_bootstrap_limits": {"max_clusters": 2, "max_db_users": 1},
    },
    # mixed: a local user and a group
    "beta": {
        "tenant_bootstrap_users": [{"username": "beta", "password": PASSWORDS["beta"]}],
        "tenant_bootstrap_sso_groups": ["beta-ops"],
    },
    # local only
    "gamma": {"tenant_bootstrap_password": PASSWORDS["gamma"]},
}
ROLE_ACME = "role:tenant-ns-acme"


def pg(name):
    """A small PostgreSQL DatabaseCluster body for Everest's API (inside the role's default limits)."""
    engine = {"type": "postgresql", "version": "17.4", "replicas": 1, "storage": {"size": "2Gi"}, "resources": {"cpu": "1", "memory": "1Gi"}}
    return {"apiVersion": "everest.percona.com/v1alpha1", "kind": "DatabaseCluster", "metadata": {"name": name}, "spec": {"engine": engine}}


def clusters_path(ns):
    return "/v1/namespaces/%s/database-clusters" % ns


class Everest:
    """The REST emulator, called with tokens from the sandbox's OIDC issuer or with a local account's session."""

    def __init__(self, sandbox):
        self.sandbox = sandbox

    def token(self, sub, groups=None):
        return self.sandbox.oidc_token(sub, groups)

    def login(self, username, password):
        status, data = raw_request(self.sandbox.everest_url, None, "POST", "/v1/session", {"username": username, "password": password})
        assert status == 200, data
        return data["token"]

    def status(self, token, path, method="GET", body=None):
        return raw_request(self.sandbox.everest_url, token, method, path, body)[0]

    def namespaces(self, token):
        status, data = raw_request(self.sandbox.everest_url, token, "GET", "/v1/namespaces")
        assert status == 200, data
        return sorted(data)


@pytest.fixture
def cluster(clean_sandbox):
    return Cluster(clean_sandbox)


@pytest.fixture
def everest(clean_sandbox):
    return Everest(clean_sandbox)


@pytest.fixture
def onboarded(ansible, cluster, tmp_path):
    """The three tenants onboarded in per-tenant mode (asserted), plus the inventory path and the run."""
    inventory = write_inventory(tmp_path, TENANTS)
    run = ansible.playbook(BOOTSTRAP, inventory=inventory, diff=True)
    assert run.rc == 0, run.output[-6000:]
    return inventory, run


def g_lines(cluster, ns):
    return [line for line in cluster.block(ns) or [] if line.startswith("g, ")]


def test_sso_only_and_mixed_tenants_work_through_the_api_and_nowhere_else(ansible, cluster, everest, onboarded):
    inventory, first = onboarded
    # the bindings: local users, then subjects, then groups; no account for the SSO-only tenant
    assert g_lines(cluster, "ns-acme") == ["g, 00u1acmelead, role:tenant-ns-acme", "g, /acme/dbas, role:tenant-ns-acme"]
    assert g_lines(cluster, "ns-beta") == ["g, beta, role:tenant-ns-beta", "g, beta-ops, role:tenant-ns-beta"]
    accounts = cluster.accounts()
    assert "beta" in accounts and "gamma" in accounts and not {"acme", "00u1acmelead", "/acme/dbas", "beta-ops"} & set(accounts)
    assert cluster.rbac_enabled()
    # the diff of the first run showed the binding lines
    assert "+g, /acme/dbas, role:tenant-ns-acme" in first.stdout and "+g, 00u1acmelead, role:tenant-ns-acme" in first.stdout
    # the isolation proof asked every identity: 5 (2 + 2 + 1) x 3 namespaces x 8 resources x 2 actions
    iso = once(first, "Isolation | every tenant's users may use their namespace and nothing in any other tenant's")
    assert iso["checks_total"] == 5 * 3 * 8 * 2 and iso["mismatches"] == []
    table = "\n".join(once(first, "Summary | table")["msg"])
    assert "sub:00u1acmelead,group:/acme/dbas" in table and "beta,group:beta-ops" in table

    # a person in the group (any subject) works in ns-acme: creates a database cluster there and reads it back
    carol = everest.token("carol-at-idp", ["staff", "/acme/dbas"])
    assert everest.status(carol, clusters_path("ns-acme"), "POST", pg("pg-acme")) == 201
    assert everest.status(carol, clusters_path("ns-acme") + "/pg-acme") == 200
    assert everest.namespaces(carol) == ["ns-acme"]
    # ... and nothing anywhere else
    for ns in ("ns-beta", "ns-gamma"):
        assert everest.status(carol, clusters_path(ns) + "/pg-acme") == 403
        assert everest.status(carol, clusters_path(ns), "POST", pg("pg-intruder")) == 403
    # the same person without the group in the token: refused, in the tenant's namespace too
    no_group = everest.token("carol-at-idp", ["staff"])
    assert everest.status(no_group, clusters_path("ns-acme") + "/pg-acme") == 403 and everest.namespaces(no_group) == []
    assert everest.status(no_group, clusters_path("ns-acme"), "POST", pg("pg-no-group")) == 403
    # the bound subject alone works, whatever its groups
    lead = everest.token("00u1acmelead")
    assert everest.status(lead, clusters_path("ns-acme") + "/pg-acme") == 200 and everest.status(lead, clusters_path("ns-beta") + "/x") == 403
    # mixed tenant: the local account and the group both work in ns-beta only
    beta = everest.login("beta", PASSWORDS["beta"])
    ops = everest.token("dave-at-idp", ["beta-ops"])
    for token in (beta, ops):
        assert everest.status(token, clusters_path("ns-beta") + "/none") == 404  # allowed: the cluster just does not exist
        assert everest.status(token, clusters_path("ns-acme") + "/pg-acme") == 403
    # a token with both groups gets both namespaces: a union, as Everest computes it (nothing is ever subtracted)
    both = everest.token("erin-at-idp", ["/acme/dbas", "beta-ops"])
    assert everest.namespaces(both) == ["ns-acme", "ns-beta"]

    # re-run: nothing changes, nothing is written, no everestctl
    cluster.sandbox.reset_stats()
    open(cluster.sandbox.call_log, "w").close()
    second = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert second.rc == 0, second.output[-4000:]
    assert second.total("changed") == 0 and cluster.writes() == {} and cluster.sandbox.calls() == []


def test_check_mode_writes_nothing_and_the_diff_shows_the_binding_lines(ansible, cluster, onboarded, tmp_path):
    changed = copy.deepcopy(TENANTS)
    changed["acme"]["tenant_bootstrap_sso_groups"] = ["/acme/dbas", "/acme/readers"]
    changed["beta"]["tenant_bootstrap_sso_groups"] = []
    cluster.sandbox.reset_stats()
    run = ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, changed, name="changed.yml"), check=True, diff=True)
    assert run.rc == 0, run.output[-4000:]
    assert cluster.writes() == {}
    assert set(run.changed_hosts()) == {"acme", "beta"}
    assert "+g, /acme/readers, role:tenant-ns-acme" in run.stdout and "-g, beta-ops, role:tenant-ns-beta" in run.stdout
    assert "g, /acme/readers" not in "\n".join(cluster.block("ns-acme"))
    # the isolation proof ran on the planned blocks laid over the live policy: the new group is asked too
    iso = once(run, "Isolation | every tenant's users may use their namespace and nothing in any other tenant's")
    assert iso["checks_total"] == 5 * 3 * 8 * 2 and iso["mismatches"] == []


def test_a_group_bound_into_another_tenants_role_fails_the_isolation_proof(ansible, cluster, onboarded):
    inventory = onboarded[0]
    cluster.append_policy_line("g, beta-ops, role:tenant-ns-acme")  # by hand, outside the blocks
    run = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert run.rc != 0
    failure = once(run, "Summary | every tenant converged and isolation proven")
    # beta's plan is refused (next assertion), so beta is proven as a tenant of the cluster: its block's members alike
    assert "tenant beta -> tenant acme: user beta-ops CAN" in failure["msg"]
    # and the plan now refuses the group itself: a line outside the tenants' blocks names it
    assert run.stats["beta"]["failures"] == 1 and "already named by lines of the RBAC policy outside the tenants' blocks" in run.output


def test_collisions_are_refused_before_any_write(ansible, cluster, onboarded, tmp_path):
    tenants = dict(
        copy.deepcopy(TENANTS),
        delta={"tenant_bootstrap_users": [], "tenant_bootstrap_sso_groups": ["admin"]},
        echo={"tenant_bootstrap_users": [], "tenant_bootstrap_sso_groups": ["gamma"]},  # gamma's local user
        foxtrot={"tenant_bootstrap_users": [], "tenant_bootstrap_sso_groups": ["role:tenant-ns-gamma"]},
        golf={"tenant_bootstrap_users": [], "tenant_bootstrap_sso_subjects": ["beta-ops"]},  # beta's group
    )
    cluster.sandbox.reset_stats()
    open(cluster.sandbox.call_log, "w").close()
    run = ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, tenants, name="collide.yml"))
    assert run.rc != 0
    for host in ("delta", "echo", "foxtrot", "golf"):
        assert run.stats[host]["failures"] == 1, (host, run.stats)
    for host in ("acme", "beta", "gamma"):
        assert run.stats[host]["failures"] == 0 and run.stats[host]["changed"] == 0, (host, run.stats)
    output = " ".join(run.output.split())
    assert "tenant delta: SSO identity 'admin' is the name of Everest's administrator account" in output
    assert "tenant echo: SSO identity 'gamma' is also a local user of tenant gamma" in output  # gamma is in the run too
    assert "tenant foxtrot: tenant_bootstrap_sso_groups: IdP group 'role:tenant-ns-gamma' starts with 'role:'" in output
    # beta binds beta-ops in the run and in the cluster: the newcomer golf is refused (first problem found), beta is not
    assert "tenant golf: SSO identity 'beta-ops' is bound by tenants beta, golf of this run" in output
    assert cluster.writes() == {} and cluster.sandbox.calls() == []
    for ns in ("ns-delta", "ns-echo", "ns-foxtrot", "ns-golf"):
        assert cluster.namespace(ns) is None and cluster.block(ns) is None


def test_names_taken_by_tenants_outside_the_run_are_refused(ansible, cluster, onboarded, tmp_path):
    """Against the cluster alone (the owners are not in the run): an account's name, and a group another tenant binds."""
    tenants = {
        "echo": {"tenant_bootstrap_users": [], "tenant_bootstrap_sso_groups": ["gamma"]},
        "golf": {"tenant_bootstrap_users": [], "tenant_bootstrap_sso_subjects": ["beta-ops"]},
    }
    cluster.sandbox.reset_stats()
    run = ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, tenants, name="outside.yml"))
    assert run.rc != 0 and run.stats["echo"]["failures"] == 1 and run.stats["golf"]["failures"] == 1
    output = " ".join(run.output.split())
    assert "tenant echo: IdP group 'gamma' has the name of an existing Everest account (of tenant gamma)" in output
    assert "tenant golf: OIDC subject 'beta-ops' is bound by tenant beta (RBAC block ns-beta)" in output
    assert cluster.writes() == {} and cluster.namespace("ns-echo") is None and cluster.namespace("ns-golf") is None


def test_moving_a_group_takes_two_runs_release_first(ansible, cluster, everest, onboarded, tmp_path):
    moved = copy.deepcopy(TENANTS)
    moved["acme"]["tenant_bootstrap_sso_groups"] = []
    moved["beta"]["tenant_bootstrap_sso_groups"] = ["beta-ops", "/acme/dbas"]
    inventory = write_inventory(tmp_path, moved, name="moved.yml")
    first = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert first.rc != 0
    assert first.stats["beta"]["failures"] == 1 and first.stats["acme"]["failures"] == 0
    assert "Tenant acme releases it in this run: run again afterwards to bind it here" in " ".join(first.output.split())
    # after the first run nobody binds it: acme released it, beta was refused before any write
    assert "g, /acme/dbas, role:tenant-ns-acme" not in cluster.block("ns-acme")
    assert "g, /acme/dbas, role:tenant-ns-beta" not in cluster.block("ns-beta")
    token = everest.token("carol-at-idp", ["/acme/dbas"])
    assert everest.namespaces(token) == []
    second = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert second.rc == 0, second.output[-4000:]
    assert g_lines(cluster, "ns-beta")[-1] == "g, /acme/dbas, role:tenant-ns-beta"
    assert everest.namespaces(everest.token("carol-at-idp", ["/acme/dbas"])) == ["ns-beta"]


def test_a_group_two_tenants_share_on_purpose(ansible, cluster, everest, onboarded, tmp_path):
    shared = copy.deepcopy(TENANTS)
    for host in ("acme", "beta"):
        shared[host]["tenant_bootstrap_sso_groups"] = shared[host]["tenant_bootstrap_sso_groups"] + ["corp-oncall"]
    shared["acme"]["tenant_bootstrap_sso_shared"] = ["corp-oncall"]
    one_sided = write_inventory(tmp_path, shared, name="one-sided.yml")
    run = ansible.playbook(BOOTSTRAP, inventory=one_sided)
    assert run.rc != 0 and run.stats["acme"]["failures"] == 1 and run.stats["beta"]["failures"] == 1
    assert "list it in tenant_bootstrap_sso_shared of every one of them" in " ".join(run.output.split())
    shared["beta"]["tenant_bootstrap_sso_shared"] = ["corp-oncall"]
    run = ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, shared, name="shared.yml"))
    assert run.rc == 0, run.output[-4000:]
    assert cluster.block("ns-acme")[1] == "# sso-shared corp-oncall" and cluster.block("ns-beta")[1] == "# sso-shared corp-oncall"
    table = "\n".join(once(run, "Summary | table")["msg"])
    assert "isolation proof: proven" in table
    assert everest.namespaces(everest.token("oncall-person", ["corp-oncall"])) == ["ns-acme", "ns-beta"]


def test_fleet_mode_writes_the_same_and_refuses_the_same(ansible, cluster, onboarded, tmp_path):
    inventory = localhost_inventory(tmp_path, TENANTS)
    cluster.sandbox.reset_stats()
    run = ansible.playbook(FLEET, inventory=inventory)
    assert run.rc == 0, run.output[-4000:]
    assert run.total("changed") == 0 and cluster.writes() == {}
    bad = dict(copy.deepcopy(TENANTS), delta={"tenant_bootstrap_users": [], "tenant_bootstrap_sso_groups": ["admin"]})
    run = ansible.playbook(FLEET, inventory=localhost_inventory(tmp_path, bad, name="fleet-bad.yml"))
    assert run.rc != 0 and "tenant delta: SSO identity 'admin'" in " ".join(run.output.split())
    assert cluster.writes() == {} and cluster.namespace("ns-delta") is None


def test_fleet_mode_onboards_an_sso_only_tenant(ansible, cluster, everest, tmp_path):
    tenants = {"acme": TENANTS["acme"], "gamma": TENANTS["gamma"]}
    run = ansible.playbook(FLEET, inventory=localhost_inventory(tmp_path, tenants), diff=True)
    assert run.rc == 0, run.output[-4000:]
    assert g_lines(cluster, "ns-acme") == ["g, 00u1acmelead, role:tenant-ns-acme", "g, /acme/dbas, role:tenant-ns-acme"]
    assert everest.namespaces(everest.token("carol-at-idp", ["/acme/dbas"])) == ["ns-acme"]


def test_offboarding_removes_the_bindings_and_rotate_skips_sso_only_tenants(ansible, cluster, everest, onboarded):
    inventory = onboarded[0]
    rotate = ansible.playbook(ROTATE, inventory=inventory)
    assert rotate.rc == 0, rotate.output[-4000:]
    skipped = role_task(rotate, "Rotate | a tenant without local accounts is skipped")
    assert "acme: skipped, no local account to rotate" in skipped["acme"]["msg"]
    assert "group /acme/dbas, subject 00u1acmelead" in skipped["acme"]["msg"]
    assert "skip_reason" in skipped["beta"] and rotate.total("changed") == 0

    run = ansible.playbook(OFFBOARD, inventory=inventory, limit="acme")
    assert run.rc == 0, run.output[-4000:]
    assert cluster.block("ns-acme") is None
    assert everest.status(everest.token("carol-at-idp", ["/acme/dbas"]), clusters_path("ns-acme") + "/x") == 403
    assert everest.status(everest.token("00u1acmelead"), clusters_path("ns-acme") + "/x") == 403
    again = ansible.playbook(OFFBOARD, inventory=inventory, limit="acme")
    assert again.rc == 0 and again.total("changed") == 0


def test_the_role_adds_the_groups_scope_when_it_manages_oidc(ansible, cluster, everest, tmp_path):
    sandbox = cluster.sandbox
    oidc = {"issuer_url": sandbox.oidc_url, "client_id": "everest-sandbox", "scopes": ["openid", "profile"]}
    inventory = write_inventory(tmp_path, {"acme": TENANTS["acme"]})
    run = ansible.playbook(BOOTSTRAP, inventory=inventory, extra_vars={"tenant_bootstrap_oidc": oidc}, check=True, diff=True)
    assert run.rc == 0, run.output[-4000:]
    planned = once(run, "Plan | Everest's OIDC settings (tenant_bootstrap_oidc), once; a change restarts the Everest server")
    assert planned["changed"] is True and planned["oidc"]["scopes"] == ["openid", "profile", "groups"] and planned["restarted"] is False

    def settings():
        return raw_request(sandbox.everest_url, None, "GET", "/v1/settings")[1]["oidcConfig"]["scopes"]

    assert settings() == ["openid", "profile", "email", "groups"]
    run = ansible.playbook(BOOTSTRAP, inventory=inventory, extra_vars={"tenant_bootstrap_oidc": oidc})
    assert run.rc == 0, run.output[-4000:]
    applied = once(run, "Plan | Everest's OIDC settings (tenant_bootstrap_oidc), once; a change restarts the Everest server")
    assert applied["restarted"] is True and settings() == ["openid", "profile", "groups"]
    # the restarted server still accepts the issuer's tokens
    assert everest.status(everest.token("carol-at-idp", ["/acme/dbas"]), clusters_path("ns-acme") + "/x") == 404
    open(sandbox.call_log, "w").close()
    again = ansible.playbook(BOOTSTRAP, inventory=inventory, extra_vars={"tenant_bootstrap_oidc": oidc})
    assert again.rc == 0 and again.total("changed") == 0 and sandbox.calls() == []


def test_an_unreachable_issuer_stops_the_role_before_any_write(ansible, cluster, tmp_path):
    cluster.sandbox.reset_stats()
    oidc = {"issuer_url": "http://127.0.0.1:9/realms/none", "client_id": "everest"}
    run = ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, {"acme": TENANTS["acme"]}), extra_vars={"tenant_bootstrap_oidc": oidc})
    assert run.rc != 0 and "Nothing was changed" in run.output
    assert cluster.writes() == {} and cluster.namespace("ns-acme") is None


def test_no_secret_in_the_output(ansible, onboarded):
    inventory, first = onboarded
    everything = first.output + json.dumps(first.tasks)
    for password in PASSWORDS.values():
        assert password not in everything
