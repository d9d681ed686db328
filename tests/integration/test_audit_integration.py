"""The virakcloud.everest.audit callback inside real ansible-playbook runs against the sandbox.

One run with -vvvv applies changes for two tenant hosts; a second run in check mode with a tiny rotation size
checks check-mode marking and rotation configured from the environment. A known password must appear neither in the
audit files nor anywhere in the -vvvv output.
"""

import json
import re
import stat
import sys

import pytest

pytestmark = pytest.mark.integration

SECRET = "Aud1t-Secret_pw42"
CALLBACKS = "record,virakcloud.everest.audit"


def _inventory(tmp_path, python):
    path = tmp_path / "audit-inventory.yml"
    path.write_text(json.dumps({"all": {"hosts": {"acme": {}, "globex": {}}, "vars": {"ansible_connection": "local", "ansible_python_interpreter": python}}}))
    return path


def _audit_files(log):
    """The audit file and its rotated backups, oldest first."""
    backups = sorted(log.parent.glob(log.name + ".*"), key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0)
    return [p for p in backups if p.suffix[1:].isdigit()] + ([log] if log.exists() else [])


def _records(log):
    records = []
    for part in _audit_files(log):
        for raw in part.read_text().splitlines():
            records.append(json.loads(raw))
    return records


def test_audit_trail_of_a_verbose_run_and_a_check_run(ansible, clean_sandbox, tmp_path):  # pylint: disable=unused-argument
    log = tmp_path / "audit" / "everest-audit.jsonl"
    inventory = _inventory(tmp_path, sys.executable)
    env = {"ANSIBLE_CALLBACKS_ENABLED": CALLBACKS, "EVEREST_AUDIT_LOG": str(log), "JOB_ID": "4242"}
    run = ansible.playbook(
        "audit/audit.yml", extra_vars={"audit_password": SECRET, "awx_user_name": "alice"}, inventory=inventory, verbosity=4, forks=2, env=env
    )
    assert run.rc == 0, run.output[-4000:]
    assert "virakcloud.everest.audit" in run.output  # -vvvv lists the loaded callback: the run really used it
    assert SECRET not in run.output
    assert SECRET not in log.read_text()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600

    records = _records(log)
    by_key = {(r["host"], r["task"]): r for r in records}
    assert len(by_key) == len(records), "one line per task and host"
    per_host = [
        "Create the tenant account",
        "Change the password under no_log (short module name via the collections keyword)",
        "Several accounts in one task",
        "Create the tenant namespace",
        "Resource policy of the tenant",
        "Tighten the resource policy (diff summary)",
    ]
    expected = {(h, t) for h in ("acme", "globex") for t in per_host}
    admin = [r for r in records if r["task"] == "Refuse to delete admin (fails, ignored)"]
    assert len(admin) == 1
    assert set(by_key) - {(admin[0]["host"], admin[0]["task"])} == expected

    for record in records:
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", record["ts"])
        assert record["module"].startswith("virakcloud.everest.")
        assert record["awx_job_id"] == "4242" and record["awx_user"] == "alice"
        assert record["playbook"] == "audit.yml" and record["play"] == "Audit trail of Everest changes"
        assert record["check_mode"] is False
        assert "invocation" not in record and "module_args" not in json.dumps(record)

    create = by_key[("acme", "Create the tenant account")]
    assert create["module"] == "virakcloud.everest.everest_account" and create["username"] == "acme_admin"
    assert create["changed"] is True and create["failed"] is False
    assert create["cmd"][1:4] == ["accounts", "create", "-u"] and create["cmd"][create["cmd"].index("-p") + 1] == "********"

    hidden = by_key[("globex", "Change the password under no_log (short module name via the collections keyword)")]
    assert hidden["module"] == "virakcloud.everest.everest_account"  # short name resolved through `collections:`
    assert hidden["no_log"] is True and hidden["username"] == "globex_admin"
    assert "cmd" not in hidden and "diff" not in hidden

    batch = by_key[("acme", "Several accounts in one task")]
    assert [i["username"] for i in batch["items"]] == ["acme_admin_ro", "acme_admin_dev"]
    assert all("********" in i["cmd"] for i in batch["items"])

    namespace = by_key[("globex", "Create the tenant namespace")]
    assert namespace["module"] == "virakcloud.everest.everest_namespace" and namespace["name"] == "globex-db"
    assert "namespaces" in namespace["cmd"]

    tighten = by_key[("acme", "Tighten the resource policy (diff summary)")]
    assert tighten["module"] == "virakcloud.everest.tenant_resource_policy" and tighten["namespace"] == "acme-db"
    # the compute quota follows the policy's CPU (policy + headroom), so both keys change
    assert tighten["diff"] == "changed keys: compute_quota.hard.requests.cpu, spec.limits.cpuCores"

    assert admin[0]["failed"] is True and admin[0]["ignored"] is True and admin[0]["changed"] is False
    assert "allow_admin_removal" in admin[0]["msg"]

    # second run: check mode, rotation configured from the environment
    env.update({"EVEREST_AUDIT_MAX_BYTES": "1500", "EVEREST_AUDIT_BACKUP_COUNT": "50"})
    env.pop("JOB_ID")
    check = ansible.playbook(
        "audit/audit.yml", extra_vars={"audit_password": SECRET}, inventory=inventory, check=True, diff=True, verbosity=4, forks=2, env=env
    )
    assert check.rc == 0, check.output[-4000:]
    assert SECRET not in check.output
    files = _audit_files(log)
    assert len(files) >= 3, "max_bytes from EVEREST_AUDIT_MAX_BYTES rotates the file"
    for part in files:
        assert SECRET not in part.read_text()
        assert stat.S_IMODE(part.stat().st_mode) == 0o600
    after = _records(log)
    assert after[: len(records)] == records, "rotation keeps every earlier line, in order"
    new = after[len(records) :]
    assert all(r["check_mode"] is True and r["awx_job_id"] is None for r in new)
    # would change: the password (the no_log task set another one; check mode does not apply it, so the second task
    # would change it too) and the cpu limit (tightened to 2, the first policy task says 4)
    would = ("Create the tenant account", "Create the tenant account again (unchanged when applied, not audited)", "Resource policy of the tenant")
    assert sorted((r["host"], r["task"]) for r in new if not r["failed"]) == sorted((h, t) for h in ("acme", "globex") for t in would)
    assert [r["task"] for r in new if r["failed"]] == ["Refuse to delete admin (fails, ignored)"]
    assert all(p.stat().st_size <= 1500 for p in files[1:]), "only the file written before max_bytes was set is larger"
