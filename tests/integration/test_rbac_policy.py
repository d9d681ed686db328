"""Integration tests of everest_rbac_policy: real ansible-playbook against the sandbox.

Between steps the tests read the ConfigMap everest-system/everest-rbac straight from the Kubernetes API emulator
and count write requests with the sandbox statistics."""

import os
import stat
import threading
from pathlib import Path

import pytest
import yaml

from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac

pytestmark = pytest.mark.integration

CM = "/api/v1/namespaces/everest-system/configmaps/everest-rbac"
PLAYBOOK = "rbac/policy.yml"
WRITE_VERBS = ("create", "update", "patch", "delete")

# foreign (hand-written) content: CRLF line, trailing spaces, blank line, comment, a rule of someone else
FOREIGN = "g, admin, role:admin\r\n# hand-written: keep me  \n\np, role:ops, namespaces, read, *\ng, ops, role:ops\n"

TA = [
    {"subject": "role:t-a", "resource": "namespaces", "action": "read", "object": "t-a"},
    {"subject": "role:t-a", "resource": "database-clusters", "action": "*", "object": "t-a/*"},
    {"user": "alice", "role": "role:t-a"},
]
TA_LINES = ["p, role:t-a, namespaces, read, t-a", "p, role:t-a, database-clusters, *, t-a/*", "g, alice, role:t-a"]


class Sbx:
    def __init__(self, handle):
        self.handle = handle

    def cm(self):
        status, obj = self.handle.request("GET", CM)
        return obj if status == 200 else None

    def text(self):
        return self.cm()["data"]["policy.csv"]

    def put(self, text=None, enabled=None):
        obj = self.cm()
        if text is not None:
            obj["data"]["policy.csv"] = text
        if enabled is not None:
            obj["data"]["enabled"] = enabled
        status, body = self.handle.request("PUT", CM, obj)
        assert status == 200, body
        return body

    def writes(self):
        by_verb = self.handle.stats()["by_verb"]
        return sum(by_verb.get(v, 0) for v in WRITE_VERBS)

    def requests(self):
        return self.handle.stats()["total"]

    def reset_stats(self):
        self.handle.reset_stats()


@pytest.fixture
def sbx(clean_sandbox):
    return Sbx(clean_sandbox)


def policy(ansible, check=False, diff=False, **rbac):
    extra = dict(("rbac_" + k, v) for k, v in rbac.items())
    return ansible.playbook(PLAYBOOK, extra_vars=extra, check=check, diff=diff)


def test_block_lifecycle_keeps_foreign_bytes(ansible, sbx):
    sbx.put(FOREIGN)
    rv0 = sbx.cm()["metadata"]["resourceVersion"]

    sbx.reset_stats()
    run = policy(ansible, check=True, diff=True, block="t-a", policies=TA)
    res = run.result("RBAC policy")
    assert run.rc == 0 and res["changed"] is True
    assert res["policy"] == TA_LINES
    assert res["diff"][0]["after"] == FOREIGN + _rbac.render_block("t-a", TA_LINES)
    assert sbx.writes() == 0 and sbx.cm()["metadata"]["resourceVersion"] == rv0

    run = policy(ansible, diff=True, block="t-a", policies=TA, validate_with_everestctl=True)
    res = run.result("RBAC policy")
    assert run.rc == 0 and res["changed"] is True and res["validation"] == {"ok": True, "messages": [], "everestctl": True}
    assert sbx.text() == FOREIGN + _rbac.render_block("t-a", TA_LINES)
    assert "+# BEGIN virakcloud.everest t-a" in run.stdout  # the unified diff on screen
    calls = [c for c in sbx.handle.calls() if "validate" in c.get("argv", c.get("cmd", []))]
    assert calls, "validate_with_everestctl should have run everestctl settings rbac validate"

    sbx.reset_stats()
    again = policy(ansible, block="t-a", policies=TA)
    assert again.rc == 0 and again.result("RBAC policy")["changed"] is False
    assert sbx.writes() == 0

    replaced = TA[:2] + [{"user": "bob", "role": "role:t-a"}]
    run = policy(ansible, diff=True, block="t-a", policies=replaced)
    res = run.result("RBAC policy")
    assert run.rc == 0 and res["changed"] is True and res["policy"] == TA_LINES[:2] + ["g, bob, role:t-a"]
    assert "-g, alice, role:t-a" in run.stdout and "+g, bob, role:t-a" in run.stdout
    assert sbx.text().startswith(FOREIGN)

    run = policy(ansible, block="t-a", state="absent")
    assert run.rc == 0 and run.result("RBAC policy")["changed"] is True and run.result("RBAC policy")["policy"] == []
    assert sbx.text() == FOREIGN  # byte for byte, CRLF and all

    sbx.reset_stats()
    run = policy(ansible, block="t-a", state="absent")
    assert run.rc == 0 and run.result("RBAC policy")["changed"] is False and sbx.writes() == 0


def test_block_is_replaced_in_place_between_foreign_lines(ansible, sbx):
    text = FOREIGN + _rbac.render_block("t-a", ["g, old, role:t-a"]) + "# trailer\ng, carol, role:ops\n"
    sbx.put(text)
    run = policy(ansible, block="t-a", policies=TA)
    assert run.rc == 0
    assert sbx.text() == FOREIGN + _rbac.render_block("t-a", TA_LINES) + "# trailer\ng, carol, role:ops\n"


def test_invalid_result_is_refused_and_nothing_written(ansible, sbx):
    sbx.put(FOREIGN)
    rv0 = sbx.cm()["metadata"]["resourceVersion"]
    sbx.reset_stats()
    bad = [{"subject": "role:unbound", "resource": "database-clusters", "action": "read", "object": "t-a/*"}, "p, alice, database-cluster, read, t-a/*"]
    run = policy(ansible, block="t-a", policies=bad)
    res = run.result("RBAC policy")
    assert run.rc != 0 and res["_status"] == "failed"
    assert "role 'role:unbound' does not exist" in res["msg"] and "block 't-a'" in res["msg"] and "line 7 " in res["msg"]
    assert res["validation"]["ok"] is False
    assert any("unknown resource name 'database-cluster'" in m for m in res["validation"]["messages"])
    assert sbx.writes() == 0 and sbx.cm()["metadata"]["resourceVersion"] == rv0 and sbx.text() == FOREIGN


def test_a_broken_foreign_line_blocks_writes_unless_validate_is_off(ansible, sbx):
    broken = FOREIGN + "p, role:ops, monitoring instances, read, */*\n"
    sbx.put(broken)
    run = policy(ansible, block="t-a", policies=TA)
    res = run.result("RBAC policy")
    assert run.rc != 0 and "outside managed blocks" in res["msg"] and "invalid policy term 'monitoring instances'" in res["msg"]
    assert sbx.text() == broken
    run = policy(ansible, block="t-a", policies=TA, validate=False)
    assert run.rc == 0 and sbx.text() == broken + _rbac.render_block("t-a", TA_LINES)
    assert run.result("RBAC policy")["validation"]["ok"] is False  # still reported


def test_a_malformed_glob_in_a_foreign_line_only_warns(ansible, sbx):
    # Everest accepts "p, ops, namespaces, read, [" (a malformed glob), so it must not block every tenant's edit
    foreign = FOREIGN + "p, ops, namespaces, read, [\n"
    sbx.put(foreign)
    run = policy(ansible, block="t-a", policies=TA)
    res = run.result("RBAC policy")
    assert run.rc == 0, run.output[-2000:]
    assert res["changed"] is True and sbx.text() == foreign + _rbac.render_block("t-a", TA_LINES)
    assert res["validation"]["ok"] is True and "warning only" in res["validation"]["messages"][0]
    assert "malformed glob pattern '['" in run.output  # the warning on screen


def test_everestctl_validation_failure_writes_nothing(ansible, sbx):
    # a malformed glob is refused by our stricter rule; with validate off only everestctl judges, and it accepts
    # it (Everest's rules do not look at glob syntax), so the write goes through
    items = ["p, role:t-a, database-clusters, read, t-a/[x", "g, alice, role:t-a"]
    run = policy(ansible, block="t-a", policies=items)
    res = run.result("RBAC policy")
    assert run.rc != 0 and "malformed glob pattern 't-a/[x'" in res["msg"] and "stricter than Everest" in res["msg"]
    run = policy(ansible, block="t-a", policies=items, validate=False, validate_with_everestctl=True)
    assert run.rc == 0, run.output[-2000:]
    # an unbound role: everestctl refuses it (already in check mode)
    sbx.put("g, admin, role:admin\n")
    run = policy(ansible, check=True, block="t-b", policies=["p, role:t-b, namespaces, read, t-b"], validate=False, validate_with_everestctl=True)
    assert run.rc != 0 and "everestctl says" in run.result("RBAC policy")["msg"]
    run = policy(ansible, block="t-b", policies=["p, role:t-b, namespaces, read, t-b"], validate=False, validate_with_everestctl=True)
    res = run.result("RBAC policy")
    assert run.rc != 0 and "everestctl says" in res["msg"] and "role 'role:t-b' does not exist" in res["msg"]
    assert sbx.text() == "g, admin, role:admin\n"


INJECTIONS = [
    {"subject": "alice\np, alice, *, *, **", "resource": "namespaces", "action": "read", "object": "x"},
    {"subject": "alice", "resource": "namespaces", "action": "read", "object": "x, y"},
    {"subject": 'alice"', "resource": "namespaces", "action": "read", "object": "x"},
    {"user": "bob", "role": "role:x\ng, bob, role:admin"},
    "p, alice, namespaces, read, x\ng, alice, role:admin",
    '# p, alice, namespaces, read, "x,y"',
]


def test_injection_attempts_are_rejected_before_any_request(ansible, sbx):
    sbx.reset_stats()
    run = policy(ansible, block="t-a", policies=INJECTIONS)
    res = run.result("RBAC policy")
    assert run.rc != 0
    assert res["msg"].startswith("6 policy item(s) rejected before anything was read or written")
    assert len(res["problems"]) == 6
    assert "policies[0]: subject" in res["problems"][0] and "newline" in res["problems"][0]
    assert "comma" in res["problems"][1] and "double quote" in res["problems"][2]
    assert sbx.requests() == 0
    assert sbx.text() == "g, admin, role:admin\n"


def test_backup_file_holds_the_previous_policy(ansible, sbx, tmp_path):
    sbx.put(FOREIGN)
    backups = tmp_path / "backups"
    run = policy(ansible, block="t-a", policies=TA, backup=True, backup_dir=str(backups))
    res = run.result("RBAC policy")
    assert run.rc == 0 and res["changed"] is True
    backup = Path(res["backup_file"])
    assert backup.parent == backups and backup.name.startswith("everest-rbac.policy.csv.")
    assert backup.read_bytes() == FOREIGN.encode()
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    run = policy(ansible, block="t-a", policies=TA, backup=True, backup_dir=str(backups))
    assert "backup_file" not in run.result("RBAC policy") and len(list(backups.iterdir())) == 1


def test_enabled_flag(ansible, sbx):
    run = policy(ansible, diff=True, block="t-a", policies=TA, enabled=True)
    res = run.result("RBAC policy")
    assert run.rc == 0 and res["changed"] is True and res["enabled"] is True
    assert sbx.cm()["data"]["enabled"] == "true"
    assert res["diff"][1]["before"] == "enabled: false\n" and res["diff"][1]["after"] == "enabled: true\n"
    sbx.reset_stats()
    run = policy(ansible, blocks=[], enabled=True)
    assert run.rc == 0 and run.result("RBAC policy")["changed"] is False and sbx.writes() == 0
    run = policy(ansible, blocks=[], enabled=False)
    assert run.rc == 0 and run.result("RBAC policy")["changed"] is True and sbx.cm()["data"]["enabled"] == "false"


def test_missing_configmap(ansible, sbx):
    status = sbx.handle.request("DELETE", CM)[0]
    assert status == 200
    run = policy(ansible, block="t-a", policies=TA)
    res = run.result("RBAC policy")
    assert run.rc != 0 and "does not exist" in res["msg"] and "create_configmap: true" in res["msg"]
    run = policy(ansible, check=True, block="t-a", policies=TA, create_configmap=True)
    assert run.rc == 0 and run.result("RBAC policy")["changed"] is True and sbx.cm() is None
    run = policy(ansible, block="t-a", policies=TA, create_configmap=True)
    assert run.rc == 0 and run.result("RBAC policy")["changed"] is True
    assert sbx.text() == "g, admin, role:admin\n" + _rbac.render_block("t-a", TA_LINES)
    assert sbx.cm()["data"]["enabled"] == "false"


def test_batch_blocks_in_one_write(ansible, sbx):
    sbx.put(FOREIGN + _rbac.render_block("old", ["g, x, role:old"]))
    sbx.reset_stats()
    blocks = [{"block": "t-a", "policies": TA}, {"block": "t-b", "policies": ["g, bob, role:t-b"]}, {"block": "old", "state": "absent"}]
    run = policy(ansible, blocks=blocks)
    res = run.result("RBAC policy")
    assert run.rc == 0 and res["changed"] is True
    assert [(r["block"], r["changed"], r["policy"]) for r in res["results"]] == [
        ("t-a", True, TA_LINES),
        ("t-b", True, ["g, bob, role:t-b"]),
        ("old", True, []),
    ]
    assert sbx.handle.stats()["by_verb"]["update"] == 1
    assert sbx.text() == FOREIGN + _rbac.render_block("t-a", TA_LINES) + _rbac.render_block("t-b", ["g, bob, role:t-b"])


def _tenant_inventory(tmp_path, count, **host_vars):
    lines = ["all:", "  children:", "    tenants:", "      hosts:"]
    for i in range(count):
        lines.append("        t%02d:" % i)
    lines.append("  vars:")
    for key, value in host_vars.items():
        lines.append("    %s: %s" % (key, value))
    path = tmp_path / "tenants.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _tenant_lines(name):
    return ["p, role:%s, namespaces, read, %s" % (name, name), "p, role:%s, database-clusters, *, %s/*" % (name, name), "g, %s_admin, role:%s" % (name, name)]


def _all_but_the_policy(cm):
    """Everything of the ConfigMap the module must not touch: data without policy.csv, binaryData, identity, labels,
    annotations."""
    meta = cm["metadata"]
    data = dict(cm.get("data") or {})
    data.pop("policy.csv")
    return {
        "data": data,
        "binaryData": cm.get("binaryData"),
        "immutable": cm.get("immutable"),
        "metadata": dict((k, meta.get(k)) for k in ("name", "namespace", "uid", "labels", "annotations", "creationTimestamp")),
    }


@pytest.mark.slow
def test_thirty_parallel_writers_with_forced_conflicts(ansible, sbx, tmp_path):
    sbx.put(FOREIGN)
    # give the object more to lose than the chart defaults: an extra data key, a label and an annotation
    obj = sbx.cm()
    obj["data"]["note"] = "owned by the platform team\n"
    obj["metadata"].setdefault("labels", {})["example.com/team"] = "platform"
    obj["metadata"].setdefault("annotations", {})["example.com/reviewed"] = "2026-01-01"
    status, body = sbx.handle.request("PUT", CM, obj)
    assert status == 200, body
    before = _all_but_the_policy(sbx.cm())
    assert before["data"] == {"enabled": "false", "note": "owned by the platform team\n"}
    inventory = _tenant_inventory(tmp_path, 30, ansible_connection="local")
    sbx.handle.faults(conflict_rate=0.3, seed=7)
    sbx.reset_stats()
    run = ansible.playbook("rbac/tenants.yml", forks=30, inventory=inventory)
    assert run.rc == 0, run.output[-3000:]
    assert run.total("failures") == 0 and len(run.stats) == 30 and all(s["changed"] == 1 for s in run.stats.values())
    updates = sbx.handle.stats()["by_verb"]["update"]
    assert updates > 30, "the sandbox was expected to refuse some updates with 409"
    sbx.handle.clear_faults()
    text = sbx.text()
    assert text.startswith(FOREIGN)
    blocks = _rbac.get_blocks(text)
    assert blocks == dict(("t%02d" % i, _tenant_lines("t%02d" % i)) for i in range(30))
    assert _rbac.apply_blocks(text, dict((name, None) for name in blocks)) == FOREIGN  # nothing else changed
    assert _all_but_the_policy(sbx.cm()) == before  # ... in the policy, nor anywhere else in the ConfigMap
    assert _rbac.validate(text) == []
    sbx.reset_stats()
    again = ansible.playbook("rbac/tenants.yml", forks=30, inventory=inventory)
    assert again.rc == 0 and again.total("changed") == 0 and sbx.writes() == 0


# ------------------------------------------------------------------------------------------------------------
# policy_file target


def test_policy_file_create_idempotent_mode_backup(ansible, sbx, tmp_path):
    target = tmp_path / "gitops" / "policy.csv"
    target.parent.mkdir()
    target.write_text(FOREIGN)
    os.chmod(target, 0o640)
    sbx.reset_stats()
    run = policy(ansible, check=True, block="t-a", policies=TA, policy_file=str(target))
    assert run.rc == 0 and run.result("RBAC policy")["changed"] is True and target.read_bytes() == FOREIGN.encode()
    run = policy(ansible, block="t-a", policies=TA, policy_file=str(target), backup=True)
    res = run.result("RBAC policy")
    assert run.rc == 0 and res["changed"] is True and res["policy_file"] == str(target)
    assert target.read_bytes() == (FOREIGN + _rbac.render_block("t-a", TA_LINES)).encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert Path(res["backup_file"]).read_bytes() == FOREIGN.encode() and Path(res["backup_file"]).parent == target.parent
    run = policy(ansible, block="t-a", policies=TA, policy_file=str(target))
    assert run.rc == 0 and run.result("RBAC policy")["changed"] is False
    assert sbx.requests() == 0  # the file target never talks to the cluster
    leftovers = sorted(p.name for p in target.parent.iterdir())
    assert [n for n in leftovers if n.endswith(".tmp")] == []
    # invalid result: file untouched
    before = target.read_bytes()
    run = policy(ansible, block="t-b", policies=["p, role:nobody, namespaces, read, *"], policy_file=str(target))
    assert run.rc != 0 and target.read_bytes() == before


def test_policy_file_configmap_manifest(ansible, sbx, tmp_path):
    target = tmp_path / "everest-rbac.yaml"
    target.write_text(
        "# GitOps copy\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: everest-rbac\n  namespace: everest-system\n"
        "data:\n  enabled: \"false\"\n  policy.csv: |\n    g, admin, role:admin\n"
    )
    run = policy(ansible, block="t-a", policies=TA, policy_file=str(target), enabled=True)
    res = run.result("RBAC policy")
    assert run.rc == 0 and res["changed"] is True and res["enabled"] is True
    assert any("re-serialised" in w for w in res.get("warnings", []))
    doc = yaml.safe_load(target.read_text())
    assert doc["metadata"] == {"name": "everest-rbac", "namespace": "everest-system"}
    assert doc["data"] == {"enabled": "true", "policy.csv": "g, admin, role:admin\n" + _rbac.render_block("t-a", TA_LINES)}
    assert "policy.csv: |" in target.read_text()  # still a reviewable literal block
    run = policy(ansible, block="t-a", policies=TA, policy_file=str(target), enabled=True)
    assert run.rc == 0 and run.result("RBAC policy")["changed"] is False
    # everestctl reads the same file as a policy (reference §5.3)
    check = ansible.playbook(
        "rbac/check.yml",
        extra_vars={
            "check_policy_file": str(target),
            "check_checks": [{"subject": "alice", "action": "update", "resource": "database-clusters", "object": "t-a/db", "expect": "allow"}],
        },
    )
    assert check.rc == 0, check.output[-2000:]
    plain = tmp_path / "p.csv"
    run = policy(ansible, block="t-a", policies=TA, policy_file=str(plain), enabled=True)
    assert run.rc != 0 and "enabled needs the ConfigMap or a ConfigMap manifest" in run.result("RBAC policy")["msg"]
    assert not plain.exists()


@pytest.mark.slow
def test_policy_file_parallel_writers_and_atomic_reads(ansible, sbx, tmp_path):
    """12 forks write 12 blocks into one file while a reader re-reads it continuously: every read is a complete,
    valid policy (old or new, never partial) and in the end all 12 blocks are there."""
    target = tmp_path / "policy.csv"
    target.write_text(FOREIGN)
    inventory = _tenant_inventory(tmp_path, 12, ansible_connection="local", tenant_policy_file=str(target))
    stop = threading.Event()
    seen = {"reads": 0, "bad": []}

    def reader():
        while not stop.is_set():
            data = target.read_bytes().decode()
            seen["reads"] += 1
            if not data.startswith(FOREIGN) or not data.endswith("\n") or _rbac.validate(data):
                seen["bad"].append(data)
            try:
                _rbac.get_blocks(data)
            except _rbac.BlockError:
                seen["bad"].append(data)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        run = ansible.playbook("rbac/tenants.yml", forks=12, inventory=inventory)
    finally:
        stop.set()
        thread.join()
    assert run.rc == 0, run.output[-3000:]
    assert seen["bad"] == [] and seen["reads"] > 0
    blocks = _rbac.get_blocks(target.read_bytes().decode())
    assert blocks == dict(("t%02d" % i, _tenant_lines("t%02d" % i)) for i in range(12))
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
