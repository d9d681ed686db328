"""The collection run the way AWX runs jobs: ansible-runner with private data dirs built as AWX builds them.

* The inventory is what AWX stores from a project inventory source: the ``ansible-inventory --list --export`` of a
  project inventory whose passwords are inline vault values, written into each job as AWX's inventory script, sliced
  as AWX slices (hosts ordered by name, slice n gets every 3rd host from the n-th: Inventory.get_sliced_hosts).
* Credentials are injected as AWX injects them into ``env/envvars`` and ``env/``: the custom "Everest cluster
  (kubeconfig)" type (awx/credential_types.yml, rendered like AWX renders injectors) holding a token of the
  everest-automation ServiceAccount for the bootstrap slices, AWX's "OpenShift or Kubernetes API Bearer Token"
  (K8S_AUTH_HOST/K8S_AUTH_API_KEY/K8S_AUTH_VERIFY_SSL) holding a token of everest-readonly for the check run and the
  isolation job; EVERESTCTL_PATH as the EE sets it; the Vault credential as ``--ask-vault-pass`` answered through
  ``env/passwords``; the job template's extra variables and AWX's ``awx_*`` variables in ``env/extravars``.
* Three slices of the bootstrap job template run at once, then the unsliced drift report (check mode, diff) and the
  unsliced isolation job.
"""

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jinja2.sandbox
import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from test_awx_secrets import inventory_sync
from test_least_privilege import MANIFESTS, OLM_EMULATION, apply, manifest_items, prerequisites, token_for
from test_role_tenant_bootstrap import Cluster

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VAULT_PASSWORD = "awx-vault-credential-pass"
TENANTS = {
    "acme": {"password": "Acme-pass-11", "preset": "namespace_admin", "operators": {"postgresql": True}},
    "globex": {"password": "Globex-pass-22", "preset": "read_only", "operators": {"mongodb": True, "postgresql": False}},
    "hooli": {"password": "Hooli-pass-33", "preset": "namespace_admin", "operators": {"mysql": True, "postgresql": True}},
    "initech": {"password": "Initech-pass-44", "preset": "namespace_admin", "operators": {"postgresql": True}},
    "umbrella": {"password": "Umbrella-pass-55", "preset": "read_only", "operators": {"postgresql": True}},
    "vandelay": {"password": "Vandelay-pass-66", "preset": "namespace_admin", "operators": {"mysql": True, "postgresql": False}},
}
SLICES = 3


def project_inventory(project):
    """inventories/prod of the project: one host per tenant, passwords as inline vault values (no vault file)."""
    vault = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])
    inventory = project / "inventories" / "prod"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "host_vars").mkdir()
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"everest_tenants": {"hosts": dict((t, None) for t in TENANTS)}}))
    (inventory / "group_vars" / "everest_tenants.yml").write_text(
        'ansible_connection: local\nansible_python_interpreter: "{{ ansible_playbook_python }}"\ntenant_bootstrap_everest_url: https://everest.example.test\n'
    )
    for name, tenant in TENANTS.items():
        cipher = vault.encrypt(tenant["password"]).decode()
        text = "tenant_bootstrap_password: !vault |\n" + "".join("  %s\n" % line for line in cipher.splitlines())
        text += yaml.safe_dump(
            {
                "tenant_bootstrap_rbac_preset": tenant["preset"],
                "tenant_bootstrap_operators": tenant["operators"],
                "tenant_bootstrap_limits": {"cpu": 2, "memory": "4Gi", "max_clusters": 2, "max_db_users": 3},
            }
        )
        (inventory / "host_vars" / ("%s.yml" % name)).write_text(text)
    return inventory / "hosts.yml"


def sliced(export, number, count):
    """AWX's inventory script data for slice ``number`` of ``count`` (1-based; unsliced: 1 of 1)."""
    data = json.loads(json.dumps(export))
    hosts = sorted(data["_meta"]["hostvars"])
    keep = set(hosts[number - 1 :: count])
    data["_meta"]["hostvars"] = dict((h, v) for h, v in data["_meta"]["hostvars"].items() if h in keep)
    for group in data.values():
        if isinstance(group, dict) and "hosts" in group:
            group["hosts"] = [h for h in group["hosts"] if h in keep]
    return data


def render_injectors(credential_type, inputs, private_data_dir):
    """AWX's injection of a custom credential type: file templates written under env/, env templates rendered."""
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    filenames = {}
    for key, template in credential_type["injectors"].get("file", {}).items():
        path = private_data_dir / "env" / ("tmp_%s" % key.split(".", 1)[1])
        path.write_text(env.from_string(template).render(**inputs))
        path.chmod(0o600)
        filenames[key.split(".", 1)[1]] = str(path)
    context = dict(inputs, tower={"filename": filenames})
    return dict((k, env.from_string(v).render(**context)) for k, v in credential_type["injectors"]["env"].items())


def bearer_token_injection(host, token):
    """AWX's kubernetes_bearer_token injector (no CA data: K8S_AUTH_VERIFY_SSL is 'False')."""
    return {"K8S_AUTH_HOST": host, "K8S_AUTH_API_KEY": token, "K8S_AUTH_VERIFY_SSL": "False"}


def awx_safe_env(env):
    """awx/main/models/credential.py build_safe_env: what AWX stores of a job's environment."""
    hidden = re.compile(r"API|TOKEN|KEY|SECRET|PASS", re.I)
    return dict((k, "$encrypted$" if not (k.startswith("ANSIBLE_") and not k.startswith("ANSIBLE_NET")) and hidden.search(k) else v) for k, v in env.items())


def private_data_dir(root, name, project, export, slice_number, slice_count, credentials_env, extravars, cmdline, tmp):
    pdd = root / name
    for sub in ("env", "inventory", "artifacts"):
        (pdd / sub).mkdir(parents=True)
    (pdd / "project").symlink_to(project, target_is_directory=True)
    script = pdd / "inventory" / "hosts"
    script.write_text("#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint(%r)\n" % json.dumps(sliced(export, slice_number, slice_count)))
    script.chmod(0o700)
    envvars = {
        "JOB_ID": str(extravars.get("awx_job_id", 0)),
        "AWX_PRIVATE_DATA_DIR": str(pdd),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".venv" / "collections"),  # the EE has the collection installed
        "ANSIBLE_INVENTORY_ENABLED": "script",
        "ANSIBLE_FORCE_COLOR": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOME": str(tmp / name / "ansible-home"),
        "XDG_CACHE_HOME": str(tmp / name / "cache"),
        "ANSIBLE_LOCAL_TEMP": str(tmp / name / "ansible-local"),
        "PATH": "%s:%s" % (BIN, os.environ.get("PATH", "")),
    }
    envvars.update(credentials_env)
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    (pdd / "env" / "passwords").write_text(yaml.safe_dump({r"Vault password:\s*?$": VAULT_PASSWORD}))
    (pdd / "env" / "cmdline").write_text(cmdline)
    (pdd / "env" / "settings").write_text(yaml.safe_dump({"suppress_ansible_output": True, "job_timeout": 900}))
    return pdd


def run_job(pdd, playbook):
    proc = subprocess.run(
        [str(BIN / "ansible-runner"), "run", str(pdd), "-p", playbook, "--ident", "job"], capture_output=True, text=True, timeout=900, check=False
    )
    artifacts = pdd / "artifacts" / "job"
    paths = sorted((artifacts / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0]))
    events = [json.loads(p.read_text()) for p in paths]
    stats = [e for e in events if e.get("event") == "playbook_on_stats"]
    return {
        "rc": int((artifacts / "rc").read_text()),
        "status": (artifacts / "status").read_text(),
        "stdout": (artifacts / "stdout").read_text(),
        "events": events,
        "stats": stats[-1]["event_data"] if stats else {},
        "runner": proc,
    }


@pytest.fixture
def identities(clean_sandbox, tmp_path):
    apply(clean_sandbox, prerequisites() + manifest_items(MANIFESTS["automation"]) + manifest_items(MANIFESTS["readonly"]) + manifest_items(OLM_EMULATION))
    return {"automation": token_for(clean_sandbox, "automation"), "readonly": token_for(clean_sandbox, "readonly")}


def test_sliced_jobs_then_an_unsliced_check_run_as_awx_runs_them(ansible, clean_sandbox, identities, tmp_path):
    project = tmp_path / "project"
    (project / "playbooks").mkdir(parents=True)
    for name in ("bootstrap", "isolation"):
        (project / "playbooks" / ("%s.yml" % name)).write_text("---\n- name: %s\n  ansible.builtin.import_playbook: virakcloud.everest.%s\n" % (name, name))
    source = project_inventory(project)
    sync, export = inventory_sync(ansible, source, tmp_path / "output.json")
    assert sync.returncode == 0, sync.stderr[-3000:]

    (kube_type,) = [
        c
        for c in yaml.safe_load((REPO / "awx" / "credential_types.yml").read_text())["everest_awx_credential_types"]
        if c["name"] == "Everest cluster (kubeconfig)"
    ]
    automation_kubeconfig = Path(clean_sandbox.kubeconfig_for(identities["automation"], tmp_path / "automation.kubeconfig")).read_text()
    everestctl = {"EVERESTCTL_PATH": clean_sandbox.everestctl}  # execution-environment.yml: ENV EVERESTCTL_PATH
    job_vars = {"tenant_bootstrap_state": "present", "awx_job_template_name": "Everest - bootstrap tenants", "awx_user_name": "admin"}
    root = tmp_path / "jobs"
    slices = []
    for number in range(1, SLICES + 1):
        pdd = private_data_dir(
            root, "slice%d" % number, project, export, number, SLICES, {}, dict(job_vars, awx_job_id=number), "--ask-vault-pass --diff -f 5", tmp_path
        )
        creds = render_injectors(kube_type, {"kubeconfig": automation_kubeconfig, "context": "", "verify_ssl": True}, pdd)
        envvars = yaml.safe_load((pdd / "env" / "envvars").read_text())
        envvars.update(creds, **everestctl)
        (pdd / "env" / "envvars").write_text(yaml.safe_dump(envvars))
        slices.append(pdd)
    with ThreadPoolExecutor(max_workers=SLICES) as pool:
        results = list(pool.map(lambda pdd: run_job(pdd, "playbooks/bootstrap.yml"), slices))
    seen = []
    for result in results:
        assert result["rc"] == 0 and result["status"] == "successful", result["stdout"][-4000:]
        assert result["stats"]["failures"] == {} and result["stats"]["dark"] == {}
        seen += sorted(result["stats"]["ok"])
        # the summary table is readable in the job output: one row per line
        assert (
            "TENANT         STATUS" in result["stdout"] and "\\n" not in [line for line in result["stdout"].splitlines() if "TENANT         STATUS" in line][0]
        )
    assert sorted(seen) == sorted(TENANTS)  # every tenant ran in exactly one slice

    # converged, and no slice lost another slice's RBAC lines or accounts
    cluster = Cluster(clean_sandbox)
    accounts = cluster.accounts()
    for name, tenant in TENANTS.items():
        assert cluster.namespace("ns-" + name) is not None, name
        block = cluster.block("ns-" + name)
        assert block[0] == "# tenant=%s namespace=ns-%s" % (name, name)
        assert block[-1] == "g, %s, role:tenant-ns-%s" % (name, name)
        assert len([line for line in block if line.startswith("p, ")]) == 8
        if tenant["preset"] == "read_only":
            assert all(", read, " in line for line in block if line.startswith("p, "))
        assert name in accounts
        assert cluster.get("/apis/everest.local/v1/namespaces/ns-%s/tenantresourcepolicies/resource-policy" % name) is not None

    # the unsliced drift report: job type check, diff, the read-only identity through the bearer-token credential
    clean_sandbox.reset_stats()
    readonly = dict(bearer_token_injection(clean_sandbox.url, identities["readonly"]), **everestctl)
    check = private_data_dir(root, "drift", project, export, 1, 1, readonly, dict(job_vars, awx_job_id=10), "--ask-vault-pass --check --diff -f 5", tmp_path)
    drift = run_job(check, "playbooks/bootstrap.yml")
    assert drift["rc"] == 0, drift["stdout"][-4000:]
    assert drift["stats"]["changed"] == {} and sorted(drift["stats"]["ok"]) == sorted(TENANTS)
    by_verb = clean_sandbox.stats()["by_verb"]
    assert not any(by_verb.get(v) for v in ("create", "update", "patch", "delete")), by_verb

    # the unsliced isolation job, read-only, no vault
    proof = private_data_dir(root, "isolation", project, export, 1, 1, readonly, {"awx_job_id": 11}, "-f 5", tmp_path)
    isolation = run_job(proof, "playbooks/isolation.yml")
    assert isolation["rc"] == 0, isolation["stdout"][-4000:]
    assert "checks over 6 tenants: 6 of the inventory" in isolation["stdout"]

    # no secret anywhere: the stored export, every artifact of every job (stdout, job events, command). ansible-runner's
    # `command` artifact records the environment it was given (the injected credentials); AWX keeps that environment
    # only through build_safe_env, which is applied here as AWX applies it
    texts = [json.dumps(export), sync.stdout, sync.stderr]
    for job in slices + [check, proof]:
        for path in (job / "artifacts").rglob("*"):
            if path.is_file() and path.name == "command":
                command = json.loads(path.read_text())
                texts.append(json.dumps(dict(command, env=awx_safe_env(command["env"]))))
            elif path.is_file():
                texts.append(path.read_text(errors="replace"))
    everything = "\n".join(texts)
    for tenant in TENANTS.values():
        assert tenant["password"] not in everything
    assert VAULT_PASSWORD not in everything
    for token in identities.values():
        assert token not in everything
