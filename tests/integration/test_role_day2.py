"""Integration test of the tenant_bootstrap role's optional backup storage and monitoring instance (issue 9).

Two tenants in one play: ``delta`` defines a backup storage and a PMM instance, ``omega`` defines neither. The role logs
in to the Everest REST emulator once per play (admin credentials), creates the objects through the API, and reads
back as BackupStorage / MonitoringConfig custom resources of the Kubernetes API emulator. Logins and API writes are
counted with the REST emulator's /_sandbox/stats.
"""

import base64
import copy
import json

import pytest
import yaml

from everest_sandbox import DEFAULT_ADMIN_PASSWORD
from everest_sandbox.launcher import raw_request

pytestmark = pytest.mark.integration

PLAYBOOK = "role_day2/converge.yml"
GROUP = "/apis/everest.percona.com/v1alpha1/namespaces/%s/%s/%s"
WRITE_VERBS = ("create", "update", "patch", "delete")
SECRET_KEY = "S3cretKey-delta-9f2c7"
ACCESS_KEY = "AKIA-delta-7731"
PMM_KEY = "pmm-api-key-delta-41aa"
PASSWORDS = {"delta": "Delta@pass1", "omega": "Omega@pass1"}
SECRETS = (SECRET_KEY, ACCESS_KEY, PMM_KEY, DEFAULT_ADMIN_PASSWORD) + tuple(PASSWORDS.values())

TENANTS = {
    "delta": {
        "tenant_bootstrap_password": PASSWORDS["delta"],
        "tenant_bootstrap_backup_storage": {
            "name": "delta-s3",
            "type": "s3",
            "bucket_name": "everest-delta",
            "url": "https://s3.example.test",
            "region": "eu-west-1",
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "verify_tls": False,
            "force_path_style": True,
            "description": "delta backups",
        },
        "tenant_bootstrap_monitoring": {"name": "delta-pmm", "url": "https://pmm.example.test", "api_key": PMM_KEY, "verify_tls": False},
    },
    "omega": {"tenant_bootstrap_password": PASSWORDS["omega"], "tenant_bootstrap_monitoring": None},  # null = none
}
DAY2_MODULES = ("virakcloud.everest.everest_session", "virakcloud.everest.everest_backup_storage", "virakcloud.everest.everest_monitoring_instance")


def write_inventory(tmp_path):
    inventory = {
        "everest_tenants": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "tenant_bootstrap_everest_api_username": "admin",
                "tenant_bootstrap_everest_api_password": DEFAULT_ADMIN_PASSWORD,
            },
            "hosts": copy.deepcopy(TENANTS),
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=True))
    return path


def rest_stats(sandbox):
    status, data = raw_request(sandbox.everest_url, None, "GET", "/_sandbox/stats")
    assert status == 200, data
    return data


def rest_writes(sandbox):
    """API calls other than GET and the login, by route."""
    return dict((k, v) for k, v in rest_stats(sandbox)["by_route"].items() if not k.startswith("GET ") and "/session" not in k)


def kube_writes(sandbox):
    by_verb = sandbox.stats()["by_verb"]
    return dict((v, by_verb.get(v, 0)) for v in WRITE_VERBS if by_verb.get(v))


def reset_counters(sandbox):
    sandbox.reset_stats()
    status, data = raw_request(sandbox.everest_url, None, "POST", "/_sandbox/stats/reset")
    assert status == 200, data


def get(sandbox, path):
    status, obj = sandbox.request("GET", path)
    return obj if status == 200 else None


def day2_results(run, host):
    """{module: result} of the day-2 module tasks that ran (not skipped) on host."""
    out = {}
    for task in run.tasks:
        result = task["hosts"].get(host)
        if task["action"] in DAY2_MODULES and result is not None and result.get("_status") != "skipped":
            out[task["action"].rsplit(".", 1)[-1]] = result
    return out


def test_day2_objects_at_onboarding(ansible, clean_sandbox, tmp_path):
    sandbox = clean_sandbox
    assert sandbox.everest_url, "the sandbox exports no EVEREST_URL"
    inventory = write_inventory(tmp_path)

    # check mode on brand-new tenants: the namespace does not exist yet; predicted, nothing written
    reset_counters(sandbox)
    check = ansible.playbook(PLAYBOOK, inventory=inventory, check=True, diff=True)
    assert check.rc == 0, check.output[-6000:]
    assert kube_writes(sandbox) == {}
    assert rest_writes(sandbox) == {}
    assert rest_stats(sandbox)["logins"] == 1
    predicted = day2_results(check, "delta")
    assert set(predicted) == {"everest_session", "everest_backup_storage", "everest_monitoring_instance"}
    assert predicted["everest_backup_storage"]["changed"] is True
    assert predicted["everest_monitoring_instance"]["changed"] is True
    assert get(sandbox, GROUP % ("ns-delta", "backupstorages", "delta-s3")) is None

    # converge: created through the API, one login for the play
    reset_counters(sandbox)
    first = ansible.playbook(PLAYBOOK, inventory=inventory, verbosity=2, diff=True)
    assert first.rc == 0, first.output[-6000:]
    assert rest_stats(sandbox)["logins"] == 1
    storage = get(sandbox, GROUP % ("ns-delta", "backupstorages", "delta-s3"))
    assert storage is not None
    assert storage["spec"]["bucket"] == "everest-delta"
    assert storage["spec"]["endpointURL"] == "https://s3.example.test"
    assert storage["spec"]["region"] == "eu-west-1"
    assert storage["spec"]["verifyTLS"] is False and storage["spec"]["forcePathStyle"] is True
    assert storage["spec"]["description"] == "delta backups"
    keys = get(sandbox, "/api/v1/namespaces/ns-delta/secrets/%s" % storage["spec"]["credentialsSecretName"])["data"]
    assert base64.b64decode(keys["AWS_SECRET_ACCESS_KEY"]).decode() == SECRET_KEY
    assert base64.b64decode(keys["AWS_ACCESS_KEY_ID"]).decode() == ACCESS_KEY
    pmm = get(sandbox, GROUP % ("ns-delta", "monitoringconfigs", "delta-pmm"))
    assert pmm is not None
    assert pmm["spec"]["pmm"]["url"] == "https://pmm.example.test" and pmm["spec"]["verifyTLS"] is False
    # the tenant without day-2 objects got none and ran none of the API tasks
    assert get(sandbox, "/apis/everest.percona.com/v1alpha1/namespaces/ns-omega/backupstorages")["items"] == []
    assert get(sandbox, "/apis/everest.percona.com/v1alpha1/namespaces/ns-omega/monitoringconfigs")["items"] == []
    assert not set(day2_results(first, "omega")) - {"everest_session"}
    # the names (never the keys) are in the tenant's summary
    summaries = [r["msg"] for t in first.tasks if t["name"].endswith("Summary | tenant") for h, r in t["hosts"].items() if h == "delta"]
    assert summaries and summaries[-1]["backup_storage"] == "delta-s3" and summaries[-1]["monitoring"] == "delta-pmm"
    # no secret in the -vv output or in the recorded results
    everything = first.output + json.dumps(first.tasks) + check.output + json.dumps(check.tasks)
    for secret in SECRETS:
        assert secret not in everything
    # nor the session token (a JWT) although the login task has no task-level no_log: its action plugin hides it
    assert "eyJ" not in first.output and "eyJ" not in check.output

    # second run: nothing changes, one login, no API write
    reset_counters(sandbox)
    second = ansible.playbook(PLAYBOOK, inventory=inventory)
    assert second.rc == 0, second.output[-6000:]
    assert second.total("changed") == 0, second.changed_hosts()
    assert rest_stats(sandbox)["logins"] == 1
    assert rest_writes(sandbox) == {}
    assert kube_writes(sandbox) == {}
    assert set(day2_results(second, "delta")) >= {"everest_backup_storage", "everest_monitoring_instance"}

    # a play without day-2 objects: no login, no API task at all
    reset_counters(sandbox)
    plain = ansible.playbook(PLAYBOOK, inventory=inventory, limit="omega")
    assert plain.rc == 0, plain.output[-6000:]
    assert rest_stats(sandbox)["logins"] == 0 and rest_stats(sandbox)["requests"] == 0
    assert day2_results(plain, "omega") == {}
    include = [t for t in plain.tasks if t["action"].endswith("include_tasks") and "Everest's API" in t["name"]]
    assert include and all(r["_status"] == "skipped" for t in include for r in t["hosts"].values())
