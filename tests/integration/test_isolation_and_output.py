"""The unsliced isolation job (playbooks/isolation.yml) and output an AWX user can read.

AWX prints job output with its own callback, which renders results like ansible-core's default callback with the
default ``callback_result_format`` (json). The repository's ansible.cfg sets ``yaml``; these tests force ``json``, as
AWX has it, and check that tables come out one line per row (a list of lines), not as one string with escaped
newlines.
"""

import copy
import re

import pytest

from test_role_tenant_bootstrap import BOOTSTRAP, REPO, REPORT, TENANTS, once, write_inventory

pytestmark = pytest.mark.integration

ISOLATION = str(REPO / "playbooks" / "isolation.yml")
AWX_OUTPUT = {"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}
DELTA = {"delta": {"tenant_bootstrap_password": "Delta@pass4"}}


def table_lines(stdout, header_words):
    """The printed lines of a table whose header holds ``header_words``: with a list of lines each row is its own
    line of output; a single string would print them as one line with escaped newlines."""
    header = [line for line in stdout.splitlines() if all(w in line for w in header_words)]
    assert header, stdout[-3000:]
    return header


def test_isolation_job_proves_every_tenant_and_names_the_pair(ansible, clean_sandbox, tmp_path):
    inventory = write_inventory(tmp_path, TENANTS)
    run = ansible.playbook(BOOTSTRAP, inventory=inventory)
    assert run.rc == 0, run.output[-4000:]
    # a tenant of the cluster that this inventory does not know (another inventory, the survey, another team)
    other = ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, DELTA, name="other.yml"))
    assert other.rc == 0, other.output[-4000:]

    clean_sandbox.reset_stats()
    open(clean_sandbox.call_log, "w").close()
    proof = ansible.playbook(ISOLATION, inventory=inventory, limit="beta", env=AWX_OUTPUT)
    assert proof.rc == 0, proof.output[-4000:]
    by_verb = clean_sandbox.stats()["by_verb"]
    assert not any(by_verb.get(v) for v in ("create", "update", "patch", "delete")), by_verb  # read-only
    assert [c for c in clean_sandbox.calls() if c["argv"][:1] != ["version"]] == []
    lines = once(proof, "Isolation | the matrix, one line per tenant of the inventory")["msg"]
    assert isinstance(lines, list)
    rows = dict((line.split()[0], line.split()) for line in lines[1:4])
    # --limit does not shrink the proof: every tenant of the inventory, plus the cluster's other tenant
    assert set(rows) == {"alpha", "beta", "gamma"} and all(r[3] == "proven" for r in rows.values())
    assert rows["gamma"][2] == "custom" and rows["alpha"][4] == "alpha,alpha_ops"
    assert re.search(r"\d+ checks over 4 tenants: 3 of the inventory, 1 more of the cluster", "\n".join(lines))
    assert "violations: none" in lines
    # readable in AWX: one row per output line
    assert table_lines(proof.stdout, ("TENANT", "NAMESPACE", "ISOLATION"))[0].strip().startswith('"TENANT')
    assert '"alpha            ns-alpha' in proof.stdout

    # a cross-tenant line written by hand, outside the managed blocks, to a tenant the inventory does not know
    cluster_path = "/api/v1/namespaces/everest-system/configmaps/everest-rbac"
    status, cm = clean_sandbox.request("GET", cluster_path)
    cm["data"]["policy.csv"] = cm["data"]["policy.csv"].rstrip("\n") + "\np, role:tenant-ns-alpha, database-clusters, *, ns-delta/*\n"
    status, body = clean_sandbox.request("PUT", cluster_path, cm)
    assert status == 200, body
    broken = ansible.playbook(ISOLATION, inventory=inventory, env=AWX_OUTPUT)
    assert broken.rc != 0
    failure = once(broken, "Isolation | no tenant reaches another tenant's namespace")
    assert failure["_status"] == "failed"
    assert "tenant alpha -> tenant delta" in failure["msg"] and "ns-delta/*" in failure["msg"]
    assert "alpha_ops" in failure["msg"]
    lines = once(broken, "Isolation | the matrix, one line per tenant of the inventory")["msg"]
    alpha = [line for line in lines if line.startswith("alpha ")][0]
    assert "VIOLATED" in alpha
    assert any(line.startswith("tenant alpha -> tenant delta: user alpha CAN") for line in lines)


def test_check_mode_says_would_change_in_a_readable_table(ansible, clean_sandbox, tmp_path):
    inventory = write_inventory(tmp_path, {"alpha": TENANTS["alpha"], "beta": TENANTS["beta"]})
    run = ansible.playbook(BOOTSTRAP, inventory=inventory, check=True, env=AWX_OUTPUT)
    assert run.rc == 0, run.output[-4000:]
    table = once(run, "Summary | table")["msg"]
    statuses = dict((line.split()[0], line.split()[1:3]) for line in table[1:3])
    assert statuses == {"alpha": ["would", "change"], "beta": ["would", "change"]}
    header = table_lines(run.stdout, ("TENANT", "STATUS", "NAMESPACE"))[0]
    assert header.strip().startswith('"TENANT') and "\\n" not in header
    assert re.search(r'^\s+"alpha +would change +ns-alpha', run.stdout, re.M)


def test_check_mode_says_would_change_for_a_limits_change(ansible, clean_sandbox, tmp_path):
    inventory = write_inventory(tmp_path, {"alpha": TENANTS["alpha"], "beta": TENANTS["beta"]})
    assert ansible.playbook(BOOTSTRAP, inventory=inventory).rc == 0
    changed = copy.deepcopy({"alpha": TENANTS["alpha"], "beta": TENANTS["beta"]})
    changed["beta"]["tenant_bootstrap_limits"]["max_clusters"] = 2
    run = ansible.playbook(BOOTSTRAP, inventory=write_inventory(tmp_path, changed, name="changed.yml"), check=True)
    table = once(run, "Summary | table")["msg"]
    statuses = dict((line.split()[0], " ".join(line.split()[1:3])) for line in table[1:3])
    assert statuses["beta"] == "would change" and statuses["alpha"].startswith("ok ")


def test_report_table_is_readable_with_the_default_callback(ansible, clean_sandbox, tmp_path):
    inventory = write_inventory(tmp_path, {"alpha": TENANTS["alpha"]})
    assert ansible.playbook(BOOTSTRAP, inventory=inventory).rc == 0
    report = ansible.playbook(REPORT, inventory=inventory, env=AWX_OUTPUT)
    assert report.rc == 0, report.output[-4000:]
    header = table_lines(report.stdout, ("NAMESPACE", "INVENTORY", "MANAGED"))[0]
    assert "\\n" not in header, header
