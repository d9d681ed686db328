"""Issue #14: the role's two modes are one converge path. The same inventory converged in per-tenant mode and in fleet
mode (from the same seeded sandbox) leaves identical cluster state, day-2 objects included, and each mode's result is a
no-op for the other."""

import base64

import pytest
import yaml

from everest_sandbox import DEFAULT_ADMIN_PASSWORD

from test_role_day2 import TENANTS as DAY2_TENANTS
from test_role_day2 import write_inventory as day2_inventory
from test_role_fleet import FLEET
from test_role_tenant_bootstrap import BOOTSTRAP, TENANTS, Cluster

pytestmark = pytest.mark.integration

VOLATILE = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields")


def clean(obj):
    """An object as read back, without what the API server assigns (versions, uids, times) or statuses."""
    if isinstance(obj, dict):
        return dict((k, clean(v)) for k, v in obj.items() if k not in VOLATILE and k != "status")
    if isinstance(obj, list):
        return [clean(v) for v in obj]
    return obj


def state(cluster, namespaces):
    out = {}
    for ns in namespaces:
        out[ns] = {
            "namespace": clean(cluster.namespace(ns)),
            "block": cluster.block(ns),
            "objects": dict(
                (
                    plural,
                    sorted(
                        (clean(i) for i in (cluster.get("/apis/%s/namespaces/%s/%s" % (group, ns, plural)) or {}).get("items", [])),
                        key=lambda i: i["metadata"]["name"],
                    ),
                )
                for group, plural in (
                    ("everest.local/v1", "tenantresourcepolicies"),
                    ("everest.percona.com/v1alpha1", "backupstorages"),
                    ("everest.percona.com/v1alpha1", "monitoringconfigs"),
                )
            ),
            "quotas": sorted(
                (clean(q) for q in (cluster.get("/api/v1/namespaces/%s/resourcequotas" % ns) or {}).get("items", [])), key=lambda q: q["metadata"]["name"]
            ),
        }
    secret = cluster.get("/api/v1/namespaces/everest-system/secrets/everest-accounts")
    users = yaml.safe_load(base64.b64decode(secret["data"]["users.yaml"])) or {}
    out["accounts"] = dict((name, {"enabled": u.get("enabled"), "hash": u.get("passwordHash")}) for name, u in users.items())
    out["account_owners"] = secret["metadata"].get("annotations", {}).get("virakcloud.everest/account-tenants")
    out["rbac_enabled"] = cluster.rbac_enabled()
    return out


def with_controller(path):
    """The inventory plus the controller the fleet play runs on. Cluster-level settings (here the Everest API login the
    day-2 step uses) are the play host's variables in fleet mode, as the connection options are."""
    text = path.read_text() + (
        "controller:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        "      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
        "      tenant_bootstrap_everest_api_username: admin\n"
        "      tenant_bootstrap_everest_api_password: %s\n" % DEFAULT_ADMIN_PASSWORD
    )
    path.write_text(text)
    return path


@pytest.mark.parametrize("tenants", ["plain", "day2"])
def test_both_modes_leave_identical_state(ansible, clean_sandbox, tmp_path, tenants):
    cluster = Cluster(clean_sandbox)
    if tenants == "day2":
        inventory = with_controller(day2_inventory(tmp_path))
        namespaces = ["ns-%s" % name for name in DAY2_TENANTS]
    else:
        from test_role_fleet import localhost_inventory  # pylint: disable=import-outside-toplevel

        inventory = localhost_inventory(tmp_path, TENANTS)
        namespaces = ["ns-alpha", "ns-beta", "gamma-db"]

    per_tenant = ansible.playbook(BOOTSTRAP, inventory=inventory, limit="everest_tenants")
    assert per_tenant.rc == 0, per_tenant.output[-4000:]
    after_per_tenant = state(cluster, namespaces)
    fleet_noop = ansible.playbook(FLEET, inventory=inventory)
    assert fleet_noop.rc == 0 and fleet_noop.total("changed") == 0, fleet_noop.output[-4000:]

    clean_sandbox.reset()
    fleet = ansible.playbook(FLEET, inventory=inventory)
    assert fleet.rc == 0, fleet.output[-4000:]
    assert state(cluster, namespaces) == after_per_tenant
    per_tenant_noop = ansible.playbook(BOOTSTRAP, inventory=inventory, limit="everest_tenants")
    assert per_tenant_noop.rc == 0 and per_tenant_noop.total("changed") == 0, per_tenant_noop.output[-4000:]
