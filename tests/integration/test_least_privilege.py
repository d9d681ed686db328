"""Least privilege, proven: the collection's identities (files/rbac/) are enough for every playbook, and no rule is unused.

The sandbox enforces Kubernetes RBAC for ServiceAccount tokens and logs, per user, every request attribute and whether
RBAC allowed it (``GET /_sandbox/access``). Both identities are applied as the admin applies them, tokens come from the
TokenRequest API (``kubectl create token``), and every playbook runs under its identity alone:

* ``test_every_playbook_succeeds_under_its_identity``: converging jobs (bootstrap per tenant and fleet, a converge with
  changes, rotate_passwords taking over a stale Lease, adoption of an existing namespace, a CRD upgrade, offboard, purge
  with force) as ``everest-automation``; check mode, report and isolation as ``everest-readonly``. Nothing is denied, and
  the access log proves every verb, resource and resource name of every rule was needed by some request that no other
  rule of that identity allows.
* ``test_removing_a_rule_makes_a_playbook_fail``: each rule, removed on its own, makes a playbook fail with 403.

Only files/rbac/automation.yaml and readonly.yaml are measured. The sandbox's everestctl emulator also plays OLM and the
Helm chart's hook Jobs with everestctl's credentials; those requests are allowed by a test-only role
(fixtures/rbac/sandbox-olm-emulation.yaml), and files/rbac/automation-chart-hooks.yaml (real clusters) is not exercised.
"""

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from test_role_tenant_bootstrap import Cluster, write_inventory

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RBAC_DIR = REPO / "files" / "rbac"
MANIFESTS = {"automation": RBAC_DIR / "automation.yaml", "readonly": RBAC_DIR / "readonly.yaml"}
OLM_EMULATION = HERE / "fixtures" / "rbac" / "sandbox-olm-emulation.yaml"
CRD_FILE = REPO / "files" / "crd-tenantresourcepolicy.yaml"
ADMISSION_FILE = REPO / "files" / "tenant-policy-admission.yaml"
# what the admin installs before the identities (neither identity may create them)
PREREQUISITES = (CRD_FILE, ADMISSION_FILE)
SA_NAMESPACE = "everest-automation"
SERVICE_ACCOUNTS = {"automation": "everest-automation", "readonly": "everest-readonly"}
USERS = dict((k, "system:serviceaccount:%s:%s" % (SA_NAMESPACE, v)) for k, v in SERVICE_ACCOUNTS.items())

PLAYBOOKS = REPO / "playbooks"
BOOTSTRAP, FLEET = str(PLAYBOOKS / "bootstrap.yml"), str(PLAYBOOKS / "bootstrap_fleet.yml")
OFFBOARD, ROTATE = str(PLAYBOOKS / "offboard.yml"), str(PLAYBOOKS / "rotate_passwords.yml")
REPORT, ISOLATION = str(PLAYBOOKS / "report.yml"), str(PLAYBOOKS / "isolation.yml")

TENANTS = {
    "alpha": {
        "tenant_bootstrap_users": [{"username": "alpha", "password": "Alpha@pass1"}, {"username": "alpha_ops", "password": "AlphaOps#22"}],
        "tenant_bootstrap_operators": {"postgresql": True, "mysql": True, "mongodb": False},
        "tenant_bootstrap_limits": {"cpu": 4, "memory": "16Gi", "storage": "100Gi", "max_clusters": 3, "max_db_users": 5},
    },
    "beta": {
        "tenant_bootstrap_password": "Beta-pass-2",
        "tenant_bootstrap_rbac_preset": "read_only",
        "tenant_bootstrap_operators": {"postgresql": False, "mongodb": True},
    },
}

COLLECTIONS = {
    "Namespace": "/api/v1/namespaces",
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "CustomResourceDefinition": "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
    "ValidatingAdmissionPolicy": "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
}


def manifest_items(path):
    doc = yaml.safe_load(Path(path).read_text())
    return list(doc["items"]) if doc.get("kind") == "List" else [doc]


def rule_id(identity, kind, rule):
    groups = ",".join(g or "core" for g in rule["apiGroups"])
    names = "[%s]" % ",".join(rule["resourceNames"]) if rule.get("resourceNames") else ""
    return "%s:%s:%s/%s%s" % (identity, kind, groups, ",".join(rule["resources"]), names)


def shipped_rules():
    """[(rule id, identity, object kind, object name, index, rule)] of every Role/ClusterRole in the shipped manifests."""
    out = []
    for identity, path in MANIFESTS.items():
        for obj in manifest_items(path):
            if obj["kind"] in ("Role", "ClusterRole"):
                for index, rule in enumerate(obj["rules"]):
                    out.append((rule_id(identity, obj["kind"], rule), identity, obj["kind"], obj["metadata"]["name"], index, rule))
    return out


RULES = shipped_rules()
RULE_IDS = [r[0] for r in RULES]


def matches(rule, attr):
    """Kubernetes RBAC's rule match for a resource request attribute (verb, apiGroup, resource, subresource, name)."""
    resource = attr["resource"] + ("/" + attr["subresource"] if attr.get("subresource") else "")
    if not (attr["verb"] in rule["verbs"] or "*" in rule["verbs"]):
        return False
    if not (attr.get("apiGroup", "") in rule["apiGroups"] or "*" in rule["apiGroups"]):
        return False
    if not (resource in rule["resources"] or "*" in rule["resources"]):
        return False
    names = rule.get("resourceNames") or []
    return not names or attr.get("name", "") in names


def apply(sandbox, objects):
    """Create (or replace) the objects as the admin."""
    for obj in objects:
        path = COLLECTIONS[obj["kind"]].format(ns=obj["metadata"].get("namespace"))
        status, body = sandbox.request("POST", path, obj)
        if status == 409:
            item_path = "%s/%s" % (path, obj["metadata"]["name"])
            _status, current = sandbox.request("GET", item_path)
            new = dict(obj, metadata=dict(obj["metadata"], resourceVersion=current["metadata"]["resourceVersion"]))
            status, body = sandbox.request("PUT", item_path, new)
        assert status in (200, 201), (obj["kind"], obj["metadata"]["name"], status, body)


def prerequisites():
    return [obj for path in PREREQUISITES for obj in manifest_items(path)]


def token_for(sandbox, identity, seconds=3600):
    path = "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (SA_NAMESPACE, SERVICE_ACCOUNTS[identity])
    status, body = sandbox.request("POST", path, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": seconds}})
    assert status == 201, body
    return body["status"]["token"]


def access(sandbox, user):
    status, body = sandbox.request("GET", "/_sandbox/access")
    assert status == 200, body
    return [a for a in body["users"].get(user, []) if "resource" in a]


def reset_access(sandbox):
    status, body = sandbox.request("POST", "/_sandbox/access/reset")
    assert status == 200, body


class Ctx:
    """What the scenarios need: the runner, the cluster, inventories and the identities' kubeconfigs."""

    def __init__(self, ansible, cluster, tmp_path):
        self.ansible, self.cluster, self.tmp = ansible, cluster, tmp_path
        self.sandbox = cluster.sandbox
        self.kubeconfigs = {}
        self.runs = 0

    def setup(self, without=None, kubectl=False):
        """CRD, admission policy, both identities (minus the rule ``without``), the sandbox-only OLM emulation role,
        tokens, kubeconfigs."""
        objects = {identity: manifest_items(path) for identity, path in MANIFESTS.items()}
        if without is not None:
            (_rid, identity, kind, name, index, _rule) = [r for r in RULES if r[0] == without][0]
            for obj in objects[identity]:
                if obj["kind"] == kind and obj["metadata"]["name"] == name:
                    del obj["rules"][index]
        if kubectl:
            # as documented (docs/awx.md); --validate=false because the sandbox's OpenAPI v3 does not describe the RBAC
            # kinds, which kubectl's client-side validation looks up (a real cluster does not need it)
            for path in PREREQUISITES + (MANIFESTS["automation"], MANIFESTS["readonly"]):
                self.kubectl("apply", "--validate=false", "-f", str(path))
        else:
            apply(self.sandbox, prerequisites() + objects["automation"] + objects["readonly"])
        apply(self.sandbox, manifest_items(OLM_EMULATION))
        for identity in MANIFESTS:
            if kubectl:
                token = self.kubectl("create", "token", SERVICE_ACCOUNTS[identity], "-n", SA_NAMESPACE, "--duration=24h").strip()
            else:
                token = token_for(self.sandbox, identity)
            self.kubeconfigs[identity] = self.sandbox.kubeconfig_for(token, self.tmp / ("%s.kubeconfig" % identity))

    def kubectl(self, *args):
        binary = Path(self.sandbox.kubectl_kubeconfig).parent / "bin" / "kubectl"
        proc = subprocess.run([str(binary)] + list(args), capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc.stdout

    def inventory(self, tenants, name):
        return write_inventory(self.tmp, tenants, name=name)

    def run_as(self, identity, playbook, tenants, name="hosts.yml", **kwargs):
        # a fresh host cache per run (the modules cache the everestctl version and the accounts' salt, the UID of
        # everest-system): a job in AWX starts with an empty one, so a cached read must not hide a permission
        self.runs += 1
        env = {"XDG_CACHE_HOME": str(self.tmp / ("cache-%d" % self.runs))}
        if identity != "admin":
            env.update({"K8S_AUTH_KUBECONFIG": self.kubeconfigs[identity], "KUBECONFIG": self.kubeconfigs[identity]})
        return self.ansible.playbook(playbook, inventory=self.inventory(tenants, name), env=env, **kwargs)

    def bootstrapped(self):
        """alpha and beta onboarded (by the admin, unless they are): the later state of the tenants, so that it also
        fits a cluster where "converge" ran (Everest cannot remove an operator)."""
        trp = "/apis/everest.local/v1/namespaces/%s/tenantresourcepolicies/resource-policy"
        if self.cluster.get(trp % "ns-alpha") is None or self.cluster.get(trp % "ns-beta") is None:
            run = self.run_as("admin", BOOTSTRAP, _changed(), name="admin.yml")
            assert run.rc == 0, run.output[-4000:]


# --------------------------------------------------------------------------------------------------------- scenarios
# name: (identity, prepare as the admin, run under the identity). A prepare is idempotent, so the scenarios can run in
# a row on one cluster (the baseline) or alone on a clean one (the rule removals).


def _nothing(ctx):
    return None


def _changed():
    tenants = copy.deepcopy(TENANTS)
    tenants["alpha"]["tenant_bootstrap_limits"] = {"cpu": 8, "memory": "32Gi", "storage": "200Gi", "max_clusters": 5, "max_db_users": 5}
    tenants["beta"]["tenant_bootstrap_operators"]["postgresql"] = True
    tenants["beta"]["tenant_bootstrap_users"] = [{"username": "beta", "password": "Beta-pass-2"}, {"username": "beta_ci", "password": "BetaCi-pass-3"}]
    return tenants


def _stale_lease(ctx):
    ctx.bootstrapped()
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "virakcloud-everest-accounts", "namespace": "everest-system"},
        "spec": {"holderIdentity": "", "leaseDurationSeconds": 30},
    }
    status, body = ctx.sandbox.request("POST", "/apis/coordination.k8s.io/v1/namespaces/everest-system/leases", lease)
    assert status in (201, 409), body


def _rotated():
    tenants = copy.deepcopy(TENANTS)
    tenants["beta"]["tenant_bootstrap_password"] = "Beta-rotated-9"
    return tenants


ADOPT = {"foxtrot": {"tenant_bootstrap_password": "Foxtrot@pass6", "tenant_bootstrap_take_ownership": True}}


def _unlabelled_namespace(ctx):
    if ctx.cluster.namespace("ns-foxtrot") is None:
        status, body = ctx.sandbox.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-foxtrot"}})
        assert status == 201, body


def _crd_drift(ctx):
    """The CRD, the admission policy and its binding lost their labels (as after an upgrade that adds one), and someone
    edited alpha's LimitRange and storage quota by hand: the next run restores them (get and update by name)."""
    for obj in prerequisites():
        path = "%s/%s" % (COLLECTIONS[obj["kind"]], obj["metadata"]["name"])
        live = ctx.cluster.get(path)
        live["metadata"]["labels"] = {}
        status, body = ctx.sandbox.request("PUT", path, live)
        assert status == 200, body
    for path, edit in (
        ("/api/v1/namespaces/ns-alpha/limitranges/resource-policy-defaults", lambda o: o["spec"]["limits"][0]["defaultRequest"].update(cpu="1m")),
        ("/api/v1/namespaces/ns-alpha/resourcequotas/resource-policy-storage", lambda o: o["spec"]["hard"].update({"requests.storage": "1Gi"})),
    ):
        live = ctx.cluster.get(path)
        assert live is not None, path
        edit(live)
        live.pop("status", None)
        status, body = ctx.sandbox.request("PUT", path, live)
        assert status == 200, body


def _with_data(ctx):
    """Bootstrapped, and ns-alpha holds a database cluster (within alpha's limits: the admission policy refuses a
    cluster without resources while the tenant's CPU and memory are limited), a backup storage and a monitoring config
    (purge --force)."""
    ctx.bootstrapped()
    group = "/apis/everest.percona.com/v1alpha1/namespaces/ns-alpha/"
    for plural, kind, spec in (
        (
            "databaseclusters",
            "DatabaseCluster",
            {"engine": {"type": "postgresql", "replicas": 1, "storage": {"size": "1Gi"}, "resources": {"cpu": "1", "memory": "1Gi"}}},
        ),
        ("backupstorages", "BackupStorage", {"type": "s3", "bucket": "b", "credentialsSecretName": "s3"}),
        ("monitoringconfigs", "MonitoringConfig", {"type": "pmm", "credentialsSecretName": "pmm"}),
    ):
        body = {"apiVersion": "everest.percona.com/v1alpha1", "kind": kind, "metadata": {"name": "alpha-" + plural[:5]}, "spec": spec}
        status, result = ctx.sandbox.request("POST", group + plural, body)
        assert status in (201, 409), result


GAMMA = {"gamma": {"tenant_bootstrap_password": "Gamma+pass3", "tenant_bootstrap_namespace": "gamma-db"}}

SCENARIOS = {
    "check": ("readonly", _nothing, lambda c: c.run_as("readonly", BOOTSTRAP, TENANTS, check=True, diff=True)),
    "bootstrap": ("automation", _nothing, lambda c: c.run_as("automation", BOOTSTRAP, TENANTS)),
    "report": ("readonly", Ctx.bootstrapped, lambda c: c.run_as("readonly", REPORT, TENANTS)),
    "isolation": ("readonly", Ctx.bootstrapped, lambda c: c.run_as("readonly", ISOLATION, TENANTS)),
    "drift": ("readonly", Ctx.bootstrapped, lambda c: c.run_as("readonly", BOOTSTRAP, _changed(), name="changed.yml", check=True, diff=True)),
    "converge": ("automation", Ctx.bootstrapped, lambda c: c.run_as("automation", BOOTSTRAP, _changed(), name="changed.yml")),
    "fleet": ("automation", _nothing, lambda c: c.run_as("automation", FLEET, dict(_changed(), **GAMMA), name="fleet.yml")),
    "rotate": ("automation", _stale_lease, lambda c: c.run_as("automation", ROTATE, _rotated(), name="rotated.yml")),
    "adopt": ("automation", _unlabelled_namespace, lambda c: c.run_as("automation", BOOTSTRAP, ADOPT, name="adopt.yml")),
    "crd-upgrade": ("automation", _crd_drift, lambda c: c.run_as("automation", BOOTSTRAP, TENANTS, limit="alpha")),
    "offboard": ("automation", Ctx.bootstrapped, lambda c: c.run_as("automation", OFFBOARD, TENANTS, limit="beta")),
    "purge": (
        "automation",
        _with_data,
        lambda c: c.run_as("automation", OFFBOARD, TENANTS, limit="alpha", extra_vars={"tenant_bootstrap_purge": True, "tenant_bootstrap_force": True}),
    ),
}

# The scenario each rule-removal test runs: the cheapest one that needs the rule (checked by the baseline test).
REMOVAL_SCENARIO = {
    "automation:Role:core/configmaps[everest-rbac]": "bootstrap",
    "automation:Role:core/secrets[everest-accounts]": "bootstrap",
    "automation:Role:apps/deployments[everest-server]": "bootstrap",
    "automation:Role:coordination.k8s.io/leases": "bootstrap",
    "automation:Role:coordination.k8s.io/leases[virakcloud-everest-accounts]": "bootstrap",
    "automation:ClusterRole:core/namespaces": "bootstrap",
    "automation:ClusterRole:core/resourcequotas": "bootstrap",
    "automation:ClusterRole:core/resourcequotas[resource-policy-clusters,resource-policy-compute,resource-policy-storage]": "offboard",
    "automation:ClusterRole:core/limitranges": "bootstrap",
    "automation:ClusterRole:core/limitranges[resource-policy-defaults]": "purge",
    "automation:ClusterRole:core/secrets": "bootstrap",
    "automation:ClusterRole:apiextensions.k8s.io/customresourcedefinitions[tenantresourcepolicies.everest.local]": "bootstrap",
    "automation:ClusterRole:admissionregistration.k8s.io/validatingadmissionpolicies[virakcloud-everest-tenant-resource-policy]": "bootstrap",
    "automation:ClusterRole:admissionregistration.k8s.io/validatingadmissionpolicybindings[virakcloud-everest-tenant-resource-policy]": "bootstrap",
    "automation:ClusterRole:everest.local/tenantresourcepolicies": "bootstrap",
    "automation:ClusterRole:everest.local/tenantresourcepolicies[resource-policy]": "offboard",
    "automation:ClusterRole:everest.percona.com/databaseclusters,backupstorages,monitoringconfigs": "bootstrap",
    "automation:ClusterRole:operators.coreos.com/subscriptions": "bootstrap",
    "automation:ClusterRole:operators.coreos.com/subscriptions[percona-postgresql-operator,percona-xtradb-cluster-operator,"
    "percona-server-mongodb-operator]": "bootstrap",
    "automation:ClusterRole:operators.coreos.com/operatorgroups": "bootstrap",
    "automation:ClusterRole:operators.coreos.com/operatorgroups[everest-databases]": "bootstrap",
    "readonly:Role:core/configmaps[everest-rbac]": "check",
    "readonly:Role:core/secrets[everest-accounts]": "check",
    "readonly:Role:apps/deployments[everest-server]": "check",
    "readonly:Role:core/namespaces[everest-system]": "drift",
    "readonly:ClusterRole:core/namespaces,resourcequotas,limitranges": "check",
    "readonly:ClusterRole:apiextensions.k8s.io/customresourcedefinitions[tenantresourcepolicies.everest.local]": "check",
    "readonly:ClusterRole:admissionregistration.k8s.io/validatingadmissionpolicies[virakcloud-everest-tenant-resource-policy]": "check",
    "readonly:ClusterRole:admissionregistration.k8s.io/validatingadmissionpolicybindings[virakcloud-everest-tenant-resource-policy]": "check",
    "readonly:ClusterRole:everest.local/tenantresourcepolicies": "check",
    "readonly:ClusterRole:everest.percona.com/databaseclusters": "check",
    "readonly:ClusterRole:operators.coreos.com/subscriptions": "check",
}


@pytest.fixture
def ctx(ansible, clean_sandbox, tmp_path):
    return Ctx(ansible, Cluster(clean_sandbox), tmp_path)


def _identity_rules(identity):
    rules = [r[5] for r in RULES if r[1] == identity]
    if identity == "automation":
        rules += [rule for obj in manifest_items(OLM_EMULATION) if obj["kind"] == "ClusterRole" for rule in obj["rules"]]
    return rules


def test_every_playbook_succeeds_under_its_identity(ctx):
    ctx.setup(kubectl=True)
    observed = {}  # scenario -> allowed resource attributes of its identity
    for name, (identity, prepare, run) in SCENARIOS.items():
        prepare(ctx)
        reset_access(ctx.sandbox)
        result = run(ctx)
        assert result.rc == 0, (name, result.output[-5000:])
        seen = access(ctx.sandbox, USERS[identity])
        assert seen, name
        denied = [a for a in seen if not a["allowed"]]
        assert denied == [], (name, denied)
        other = USERS["readonly" if identity == "automation" else "automation"]
        assert access(ctx.sandbox, other) == [], name  # the identity ran alone
        observed[name] = seen
    # the read-only identity never wrote
    for name, (identity, _prepare, _run) in SCENARIOS.items():
        if identity == "readonly":
            assert {a["verb"] for a in observed[name]} <= {"get", "list"}, name

    # every rule is needed by a request that no other rule of the identity allows, and each of its verbs x resources x
    # resource names by some request
    needed_by = {}
    for rid, identity, _kind, _name, _index, rule in RULES:
        others = [r for r in _identity_rules(identity) if r is not rule]
        scenarios = [n for n, (i, _p, _r) in SCENARIOS.items() if i == identity]
        unique = [(n, a) for n in scenarios for a in observed[n] if matches(rule, a) and not any(matches(o, a) for o in others)]
        needed_by[rid] = sorted(set(n for n, _a in unique))
        assert unique, "rule %s is not needed by any request" % rid
        for verb in rule["verbs"]:
            for resource in rule["resources"]:
                for name in rule.get("resourceNames") or [None]:
                    # not necessarily unique: the Helm rule (secrets in every namespace) also covers everest-accounts
                    used = [
                        a
                        for n in scenarios
                        for a in observed[n]
                        if matches(rule, a)
                        and a["verb"] == verb
                        and a["resource"] + ("/" + a["subresource"] if a.get("subresource") else "") == resource
                        and (name is None or a.get("name") == name)
                    ]
                    assert used, "%s: %s %s%s was never needed" % (rid, verb, resource, " " + name if name else "")
    # the removal tests below run the cheapest scenario that needs each rule
    assert set(REMOVAL_SCENARIO) == set(RULE_IDS)
    for rid, scenario in REMOVAL_SCENARIO.items():
        assert scenario in needed_by[rid], (rid, scenario, needed_by[rid])


@pytest.mark.slow
@pytest.mark.parametrize("rid", RULE_IDS)
def test_removing_a_rule_makes_a_playbook_fail(ctx, rid):
    (_rid, identity, _kind, _name, _index, rule) = [r for r in RULES if r[0] == rid][0]
    ctx.setup(without=rid)
    scenario_identity, prepare, run = SCENARIOS[REMOVAL_SCENARIO[rid]]
    assert scenario_identity == identity
    prepare(ctx)
    reset_access(ctx.sandbox)
    result = run(ctx)
    assert result.rc != 0, result.output[-3000:]
    denied = [a for a in access(ctx.sandbox, USERS[identity]) if not a["allowed"]]
    assert [a for a in denied if matches(rule, a)], (rid, denied)
    assert "forbidden" in result.output.lower(), result.output[-3000:]
