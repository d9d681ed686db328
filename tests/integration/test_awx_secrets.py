"""Tenant passwords with AWX: what its inventory sync stores, then the job that uses them (issue #18, "Secrets").

An AWX inventory source "Sourced from a Project" runs ``ansible-inventory --list --export`` on the project's inventory
file (awx/main/tasks/jobs.py, RunInventoryUpdate.build_args: ``-i <file> --output <artifacts>/output.json
--playbook-dir <dir>``) and stores the output in its database. At job time AWX writes that stored data as an inventory
script (``print(json.dumps(script_data))``, write_inventory_file) and passes the job template's Vault credential as
``--ask-vault-pass``. These tests run exactly that: the export of the shipped examples, then the job on the sandbox.
"""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_role_tenant_bootstrap import BOOTSTRAP, ROTATE, Cluster

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEMO_VAULT_PASSWORD = "demo-vault-password-DEMO-ONLY"  # inventories/vault-example/README.md
VAULTED = {"alice": "Alice-vault-pass1", "bob": "Bob-vault-pass2", "bob_ci": "BobCi-vault-pass3"}
SCRIPT_INVENTORY = {"ANSIBLE_INVENTORY_ENABLED": "script,yaml,ini,host_list"}


def inventory_sync(ansible, inventory_file, output, extra_args=()):
    """AWX's inventory update for a project source (no credential unless ``extra_args`` adds one)."""
    argv = [
        str(Path(sys.executable).parent / "ansible-inventory"),
        "--list",
        "--export",
        "-i",
        str(inventory_file),
        "--output",
        str(output),
        "--playbook-dir",
        str(Path(inventory_file).parent),
    ] + list(extra_args)
    proc = subprocess.run(argv, cwd=str(Path(inventory_file).parent), env=ansible.env(), capture_output=True, text=True, timeout=120, check=False)
    data = json.loads(Path(output).read_text()) if proc.returncode == 0 else None
    return proc, data


def job_inventory(export, path):
    """The inventory script AWX writes into the job's private data dir from what the sync stored."""
    Path(path).write_text("#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint(%r)\n" % json.dumps(export))
    Path(path).chmod(0o700)
    return path


def everest_login(sandbox, username, password):
    """Log in to the Everest REST API emulator (PBKDF2 check against the accounts Secret): the account really has
    this password. One login per second per client (Everest's session rate limit)."""
    time.sleep(1.1)
    from everest_sandbox.launcher import raw_request  # pylint: disable=import-outside-toplevel

    status, _body = raw_request(sandbox.everest_url, None, "POST", "/v1/session", {"username": username, "password": password})
    return status


def copy_project(tmp_path, name):
    project = tmp_path / "project"
    shutil.copytree(REPO / "inventories" / name, project / "inventories" / name)
    return project / "inventories" / name / "hosts.yml"


def test_vaulted_values_stay_encrypted_in_the_sync_and_the_job_converges(ansible, clean_sandbox, tmp_path):
    source = copy_project(tmp_path, "vault-example")
    proc, export = inventory_sync(ansible, source, tmp_path / "output.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    stored = json.dumps(export)
    for password in VAULTED.values():
        assert password not in stored and password not in proc.stdout + proc.stderr
    assert stored.count('"__ansible_vault": "$ANSIBLE_VAULT;') == 3  # alice, bob, bob_ci: ciphertext only
    assert "vault_" not in stored  # no vault variables, no vars file

    vault_file = tmp_path / "vault-pass"
    vault_file.write_text(DEMO_VAULT_PASSWORD + "\n")
    script = job_inventory(export, tmp_path / "hosts")
    run = ansible.playbook(BOOTSTRAP, inventory=script, verbosity=3, diff=True, env=dict(SCRIPT_INVENTORY, ANSIBLE_VAULT_PASSWORD_FILE=str(vault_file)))
    assert run.rc == 0, run.output[-4000:]
    assert set(run.changed_hosts()) == {"alice", "bob"}
    accounts = Cluster(clean_sandbox).accounts()
    assert {"alice", "bob", "bob_ci"} <= set(accounts)
    for password in VAULTED.values():
        assert password not in run.output + json.dumps(run.tasks)
    # the accounts have the vaulted passwords (decrypted at job time, not at sync time)
    assert everest_login(clean_sandbox, "alice", VAULTED["alice"]) == 200
    assert everest_login(clean_sandbox, "bob_ci", VAULTED["bob_ci"]) == 200
    again = ansible.playbook(BOOTSTRAP, inventory=script, env=dict(SCRIPT_INVENTORY, ANSIBLE_VAULT_PASSWORD_FILE=str(vault_file)))
    assert again.rc == 0 and again.total("changed") == 0

    # without the job's Vault credential the job stops before anything is written
    clean_sandbox.reset_stats()
    missing = ansible.playbook(BOOTSTRAP, inventory=script, env=SCRIPT_INVENTORY)
    assert missing.rc != 0
    assert "Attempting to decrypt but no vault secrets found" in missing.output
    assert not any(clean_sandbox.stats()["by_verb"].get(v) for v in ("create", "update", "patch", "delete"))


def test_a_vault_encrypted_vars_file_fails_the_sync_or_leaks_into_it(ansible, tmp_path):
    """Why docs/awx.md rules out the other layout: a vault *file* referenced by host variables."""
    inventory = tmp_path / "project" / "inventories" / "prod"
    (inventory / "group_vars" / "everest_tenants").mkdir(parents=True)
    (inventory / "hosts.yml").write_text("everest_tenants:\n  hosts:\n    alice:\n      tenant_bootstrap_password: \"{{ vault_alice_password }}\"\n")
    vault_file = tmp_path / "vault-pass"
    vault_file.write_text(DEMO_VAULT_PASSWORD + "\n")
    plain = inventory / "group_vars" / "everest_tenants" / "vault.yml"
    plain.write_text("vault_alice_password: %s\n" % VAULTED["alice"])
    subprocess.run(
        [str(Path(sys.executable).parent / "ansible-vault"), "encrypt", "--vault-password-file", str(vault_file), str(plain)],
        env=ansible.env(),
        check=True,
        capture_output=True,
    )
    assert VAULTED["alice"] not in plain.read_text()

    # no vault credential on the inventory source: the sync fails
    proc, _export = inventory_sync(ansible, inventory / "hosts.yml", tmp_path / "a.json")
    assert proc.returncode != 0
    assert "Attempting to decrypt but no vault secrets found" in proc.stderr
    # a vault credential on the inventory source: the sync succeeds and AWX would store the password in clear text
    proc, export = inventory_sync(ansible, inventory / "hosts.yml", tmp_path / "b.json", ["--vault-password-file", str(vault_file)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert VAULTED["alice"] in json.dumps(export)


def test_passwords_from_a_lookup_are_resolved_at_run_time(ansible, clean_sandbox, tmp_path):
    source = copy_project(tmp_path, "lookup-example")
    proc, export = inventory_sync(ansible, source, tmp_path / "output.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    stored = json.dumps(export)
    assert "lookup('ansible.builtin.env', 'EVEREST_TENANT_PASSWORD_' ~ inventory_hostname" in stored  # the expression only

    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "bob_ci").write_text("BobCi-file-pass3\n")
    env = dict(SCRIPT_INVENTORY, EVEREST_TENANT_PASSWORD_ALICE="Alice-env-pass1", EVEREST_TENANT_PASSWORD_BOB="Bob-env-pass2")
    script = job_inventory(export, tmp_path / "hosts")
    run = ansible.playbook(BOOTSTRAP, inventory=script, verbosity=3, extra_vars={"everest_secrets_dir": str(secrets)}, env=env)
    assert run.rc == 0, run.output[-4000:]
    for password in ("Alice-env-pass1", "Bob-env-pass2", "BobCi-file-pass3"):
        assert password not in run.output + json.dumps(run.tasks)
    assert everest_login(clean_sandbox, "alice", "Alice-env-pass1") == 200
    assert everest_login(clean_sandbox, "bob_ci", "BobCi-file-pass3") == 200  # file lookup, trailing newline stripped

    # rotation: the secret changes in the secret manager, nothing in the inventory
    open(clean_sandbox.call_log, "w").close()
    rotated = ansible.playbook(
        ROTATE, inventory=script, extra_vars={"everest_secrets_dir": str(secrets)}, env=dict(env, EVEREST_TENANT_PASSWORD_ALICE="Alice-env-rotated2")
    )
    assert rotated.rc == 0, rotated.output[-4000:]
    assert rotated.changed_hosts() == {"alice": 1}
    assert everest_login(clean_sandbox, "alice", "Alice-env-rotated2") == 200

    # an unresolved secret fails that tenant alone, before anything is written for it
    unset = dict(env)
    del unset["EVEREST_TENANT_PASSWORD_BOB"]
    run = ansible.playbook(
        BOOTSTRAP, inventory=script, extra_vars={"everest_secrets_dir": str(secrets)}, env=dict(unset, EVEREST_TENANT_PASSWORD_ALICE="Alice-env-rotated2")
    )
    assert run.rc != 0
    assert run.stats["bob"]["failures"] == 1 and run.stats["alice"]["failures"] == 0
