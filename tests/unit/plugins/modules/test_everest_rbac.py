"""Unit tests of everest_rbac_policy and everest_rbac_check.

Boundary faked: the Kubernetes client (``_k8s.client_from_params``), a small in-memory ConfigMap store with
resourceVersions, 409 on a stale PUT and an optional concurrent writer that changes the object between our GET and
PUT. read_modify_write, the block engine and the validator are the real code."""

import copy
import json
import os
import random
import tempfile

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.virakcloud.everest.plugins.module_utils import _k8s, _rbac
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac_policy
from ansible_collections.virakcloud.everest.plugins.module_utils import _rbac_store
from ansible_collections.virakcloud.everest.plugins.module_utils import _constants
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import K8sAlreadyExists, K8sConflict
from ansible_collections.virakcloud.everest.plugins.module_utils._everestctl import CommandResult
from ansible_collections.virakcloud.everest.plugins.module_utils._module import EverestModule
from ansible_collections.virakcloud.everest.plugins.modules import everest_rbac_check, everest_rbac_policy

CM_PATH = _k8s.path("v1", "configmaps", "everest-system", "everest-rbac")
ITEMS = [{"subject": "role:t-a", "resource": "database-clusters", "action": "*", "object": "t-a/*"}, {"user": "alice", "role": "role:t-a"}]
LINES = ["p, role:t-a, database-clusters, *, t-a/*", "g, alice, role:t-a"]


class FakeClient:
    def __init__(self, text="g, admin, role:admin\n", enabled="false", exists=True):
        self.obj = None
        if exists:
            self.obj = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "everest-rbac", "namespace": "everest-system", "resourceVersion": "1"},
                "data": {"policy.csv": text, "enabled": enabled},
            }
        self.interleave = []  # functions run before the next PUTs (one per PUT): simulate a concurrent writer
        self.puts = 0
        self.creates = 0
        self.gets = 0
        self.secrets = []

    def _bump(self):
        self.obj["metadata"]["resourceVersion"] = str(int(self.obj["metadata"]["resourceVersion"]) + 1)

    def get_or_none(self, path):
        assert path == CM_PATH
        self.gets += 1
        return copy.deepcopy(self.obj)

    def get(self, path):
        return self.get_or_none(path)

    def replace(self, path, body):
        assert path == CM_PATH
        self.puts += 1
        if self.interleave:
            self.interleave.pop(0)(self)
        if body["metadata"]["resourceVersion"] != self.obj["metadata"]["resourceVersion"]:
            raise K8sConflict("conflict", status=409, reason="Conflict")
        self.obj = copy.deepcopy(body)
        self._bump()
        return copy.deepcopy(self.obj)

    def create(self, path, body):
        self.creates += 1
        if self.obj is not None:
            raise K8sAlreadyExists("exists", status=409, reason="AlreadyExists")
        self.obj = copy.deepcopy(body)
        self.obj["metadata"]["resourceVersion"] = "1"
        return copy.deepcopy(self.obj)

    def private_fds(self):
        return ()

    def kubeconfig_path(self):
        return "/tmp/unit-kubeconfig"

    def close(self):
        pass


@pytest.fixture
def client(monkeypatch):
    holder = {"client": FakeClient()}
    monkeypatch.setattr(_k8s, "client_from_params", lambda params, **kw: holder["client"])
    real = _k8s.read_modify_write
    sleeps = []
    monkeypatch.setattr(_k8s, "read_modify_write", lambda *a, **kw: real(*a, sleep=sleeps.append, **kw))  # real code, no waiting
    holder["sleeps"] = sleeps
    return holder


def run(module, args, capsys, check=False, diff=False):
    args = dict(args)
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def warnings_of(result):
    """Warning texts: plain strings, or ansible-core 2.19's WarningSummary dicts ({"event": {"msg": ...}})."""
    out = []
    for warning in result.get("warnings") or []:
        out.append(warning["event"]["msg"] if isinstance(warning, dict) else warning)
    return out


def text_of(fake):
    return fake.obj["data"]["policy.csv"]


def test_add_then_noop(client, capsys):
    fake = client["client"]
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS}, capsys)
    assert result["changed"] is True and result["policy"] == LINES and fake.puts == 1
    assert text_of(fake) == "g, admin, role:admin\n" + _rbac.render_block("t-a", LINES)
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS}, capsys)
    assert result["changed"] is False and fake.puts == 1


def test_check_mode_writes_nothing(client, capsys):
    fake = client["client"]
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS, "enabled": True}, capsys, check=True, diff=True)
    assert result["changed"] is True and fake.puts == 0 and result["enabled"] is True
    assert result["diff"][0]["after"].endswith(_rbac.render_block("t-a", LINES))
    assert result["diff"][1] == {
        "before": "enabled: false\n",
        "after": "enabled: true\n",
        "before_header": "everest-system/everest-rbac enabled (before)",
        "after_header": "everest-system/everest-rbac enabled (after)",
    }


def test_conflict_reapplies_the_block_on_the_fresh_text(client, capsys):
    fake = client["client"]

    def other_writer(c):  # another tenant's task writes its block between our GET and our PUT
        c.obj["data"]["policy.csv"] = _rbac.apply_blocks(c.obj["data"]["policy.csv"], {"t-b": ["g, bob, role:t-b"]})
        c._bump()  # pylint: disable=protected-access

    fake.interleave = [other_writer, other_writer]
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS}, capsys)
    assert result["changed"] is True and fake.puts == 3
    assert _rbac.get_blocks(text_of(fake)) == {"t-b": ["g, bob, role:t-b"], "t-a": LINES}


def test_conflicts_are_bounded(client, capsys):
    fake = client["client"]

    def other_writer(c):
        c._bump()  # pylint: disable=protected-access

    fake.interleave = [other_writer] * 100
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS}, capsys)
    assert result["failed"] is True and "kept changing" in result["msg"]
    assert fake.puts == _rbac_policy.CONFLICT_ATTEMPTS
    assert len(client["sleeps"]) == _rbac_policy.CONFLICT_ATTEMPTS - 1 and all(0 < s <= 3 for s in client["sleeps"])


def test_invalid_result_fails_without_put(client, capsys):
    fake = client["client"]
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ["p, role:t-a, namespaces, read, t-a"]}, capsys)
    assert result["failed"] is True and fake.puts == 0
    assert "line 3 (block 't-a')" in result["msg"] and "role 'role:t-a' does not exist [role]" in result["msg"]
    assert result["validation"]["ok"] is False


def test_item_errors_fail_before_the_client_is_built(monkeypatch, capsys):
    def no_client(params, **kw):
        raise AssertionError("the client must not be built")

    monkeypatch.setattr(_k8s, "client_from_params", no_client)
    result = run(everest_rbac_policy, {"block": "t-a", "policies": [{"user": "a,b", "role": "role:x"}, "p, a, b, c"]}, capsys)
    assert result["failed"] is True and len(result["problems"]) == 2
    assert result["problems"][0].startswith("policies[0]: user 'a,b' contains a comma")
    assert result["problems"][1].startswith("policies[1]: policy line 'p, a, b, c': a p line needs exactly 4 values")
    result = run(everest_rbac_policy, {"blocks": [{"block": "bad name", "policies": []}, {"block": "x", "policies": ['g, "q", r']}]}, capsys)
    assert result["failed"] is True and result["problems"][0].startswith("blocks[0]: block name 'bad name'")
    assert "blocks[1].policies[0]" in result["problems"][1]


def test_broken_markers_refuse(client, capsys):
    client["client"] = FakeClient("# BEGIN virakcloud.everest t-a\ng, x, role:t-a\n")
    result = run(everest_rbac_policy, {"block": "t-b", "policies": ["g, y, role:t-b"]}, capsys)
    assert result["failed"] is True and "markers are inconsistent" in result["msg"] and client["client"].puts == 0


def test_missing_configmap_and_create(client, capsys):
    client["client"] = FakeClient(exists=False)
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS}, capsys)
    assert result["failed"] is True and "Everest is probably not installed" in result["msg"]
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS, "create_configmap": True, "enabled": True}, capsys)
    assert result["changed"] is True and client["client"].creates == 1
    assert client["client"].obj["data"] == {"policy.csv": "g, admin, role:admin\n" + _rbac.render_block("t-a", LINES), "enabled": "true"}


def test_blocks_results(client, capsys):
    fake = client["client"]
    fake.obj["data"]["policy.csv"] += _rbac.render_block("t-b", ["g, bob, role:t-b"])
    result = run(
        everest_rbac_policy,
        {"blocks": [{"block": "t-a", "policies": ITEMS}, {"block": "t-b", "policies": ["g, bob, role:t-b"]}, {"block": "t-c", "state": "absent"}]},
        capsys,
    )
    assert result["changed"] is True and fake.puts == 1
    assert [(r["block"], r["changed"]) for r in result["results"]] == [("t-a", True), ("t-b", False), ("t-c", False)]


def test_policy_file_roundtrip(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(_k8s, "client_from_params", lambda params, **kw: pytest.fail("no cluster access for a file"))
    target = tmp_path / "policy.csv"
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS, "policy_file": str(target)}, capsys)
    assert result["changed"] is True and target.read_text() == _rbac.render_block("t-a", LINES)
    result = run(everest_rbac_policy, {"block": "t-a", "state": "absent", "policy_file": str(target), "backup": True}, capsys)
    assert result["changed"] is True and target.read_text() == ""
    assert (tmp_path / result["backup_file"]).read_text() == _rbac.render_block("t-a", LINES)
    # absent on a missing file creates nothing
    missing = tmp_path / "none.csv"
    result = run(everest_rbac_policy, {"block": "t-a", "state": "absent", "policy_file": str(missing)}, capsys)
    assert result["changed"] is False and not missing.exists()


# ------------------------------------------------------------------------------------------------------------
# everest_rbac_check


def test_check_module_against_configmap(client, capsys):
    client["client"] = FakeClient("g, admin, role:admin\n" + _rbac.render_block("t-a", LINES), enabled="true")
    checks = [
        {"subject": "alice", "action": "create", "resource": "database-clusters", "object": "t-a/x", "expect": "allow"},
        {"subject": "alice", "action": "read", "resource": "database-clusters", "object": "t-b/x", "expect": "deny"},
        {"subject": "alice", "action": "read", "resource": "database-clusters", "object": "*"},
    ]
    result = run(everest_rbac_check, {"checks": checks}, capsys, check=True)
    assert result["changed"] is False and result["rbac_enabled"] is True and result["mismatches"] == []
    assert [(r["allowed"], r["met"], r["rule_line"]) for r in result["results"]] == [(True, True, 3), (False, True, None), (False, None, None)]


def test_check_module_failures(client, capsys):
    client["client"] = FakeClient("p, role:x, namespaces, read, *\n", enabled="true")
    result = run(everest_rbac_check, {"checks": [{"subject": "a", "action": "read", "resource": "namespaces", "object": "x"}]}, capsys)
    assert result["failed"] is True and "role 'role:x' does not exist" in result["msg"]
    result = run(everest_rbac_check, {"checks": [{"subject": "a", "action": "get", "resource": "namespaces", "object": "x"}]}, capsys)
    assert result["failed"] is True and "get" in result["msg"]
    client["client"] = FakeClient(exists=False)
    result = run(everest_rbac_check, {"checks": [{"subject": "a", "action": "read", "resource": "namespaces", "object": "x"}]}, capsys)
    assert result["failed"] is True and 'configmaps "everest-rbac" not found' in result["msg"]
    client["client"] = FakeClient(enabled="true")
    del client["client"].obj["data"]["policy.csv"]
    result = run(everest_rbac_check, {"checks": [{"subject": "a", "action": "read", "resource": "namespaces", "object": "x"}]}, capsys)
    assert result["failed"] is True and "policy.csv not found in ConfigMap" in result["msg"]


def test_check_module_bad_glob_reached(capsys):
    result = run(
        everest_rbac_check,
        {
            "policy": "p, u, database-clusters, read, prod/[db\n",
            "checks": [{"subject": "u", "action": "read", "resource": "database-clusters", "object": "prod/x"}],
        },
        capsys,
    )
    assert result["failed"] is True and "malformed glob pattern" in result["msg"]


def test_policy_from_file_text():
    assert _rbac_store.policy_from_file_text("p, a, namespaces, read, *\n") == "p, a, namespaces, read, *\n"
    manifest = "kind: ConfigMap\ndata:\n  enabled: 'true'\n  policy.csv: |\n    g, admin, role:admin\n"
    assert _rbac_store.policy_from_file_text(manifest) == "g, admin, role:admin\n"
    assert _rbac_store.policy_from_file_text("data: [1]\n") == "data: [1]\n"


def test_policy_file_through_a_symlink(tmp_path, capsys):
    real = tmp_path / "real" / "policy.csv"
    real.parent.mkdir()
    real.write_text("g, admin, role:admin\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS, "policy_file": str(link)}, capsys)
    assert result["changed"] is True and result["policy_file"] == str(real)
    assert link.is_symlink() and real.read_text() == "g, admin, role:admin\n" + _rbac.render_block("t-a", LINES)


@pytest.mark.parametrize("policy_text", ["g, admin, role:admin\n", "g, admin, role:admin\r\n# trailing space \n", "", "p, a, namespaces, read, *"])
def test_manifest_dump_reads_back(policy_text):
    doc = _rbac_store.load_manifest("kind: ConfigMap\nmetadata: {name: everest-rbac}\ndata:\n  policy.csv: 'x'\n")
    text = _rbac_store.dump_manifest(doc, policy_text, "true")
    back = _rbac_store.load_manifest(text)
    assert back["data"] == {"policy.csv": policy_text, "enabled": "true"} and back["metadata"] == {"name": "everest-rbac"}


def test_load_manifest_only_for_configmap_shapes():
    load = _rbac_store.load_manifest
    assert load("p, a, namespaces, read, *\n") is None
    assert load("# comment\ng, admin, role:admin\n") is None
    assert load("data:\n  other: 1\n") is None
    assert load("# header\ndata:\n  policy.csv: |\n    g, a, b\n")["data"]["policy.csv"] == "g, a, b\n"


# everest_rbac_check: the tenants (isolation matrix) mode

MATRIX_POLICY = (
    "\n".join(
        [
            "p, role:t-a, namespaces, read, ns-a",
            "p, role:t-a, database-clusters, *, ns-a/*",
            "g, alice, role:t-a",
            "p, role:t-b, namespaces, read, ns-b",
            "p, role:t-b, database-clusters, read, ns-b/*",
            "g, bob, role:t-b",
        ]
    )
    + "\n"
)
MATRIX_TENANTS = [
    {
        "name": "a",
        "namespace": "ns-a",
        "users": ["alice"],
        "grants": [{"resource": "namespaces", "action": "read"}, {"resource": "database-clusters", "action": "*"}],
    },
    {
        "name": "b",
        "namespace": "ns-b",
        "users": ["bob"],
        "grants": [{"resource": "namespaces", "action": "read"}, {"resource": "database-clusters", "action": "read"}],
    },
]


def test_tenant_matrix_is_built_in_the_module(capsys):
    result = run(everest_rbac_check, {"policy": MATRIX_POLICY, "tenants": MATRIX_TENANTS, "tenant_resources": ["namespaces", "database-clusters"]}, capsys)
    assert not result.get("failed"), result
    # 2 tenants x 1 user x 2 targets x 2 resources x 2 actions (read, create)
    assert result["checks_total"] == 16
    assert result["results"] == [] and result["mismatches"] == []


def test_tenant_matrix_names_the_leaking_pair(capsys):
    leaky = MATRIX_POLICY + "p, role:t-b, database-clusters, read, ns-a/*\n"
    result = run(everest_rbac_check, {"policy": leaky, "tenants": MATRIX_TENANTS, "tenant_resources": ["namespaces", "database-clusters"]}, capsys)
    assert result["failed"]
    assert [(m["tenant"], m["target_tenant"], m["subject"], m["action"], m["resource"], m["object"]) for m in result["mismatches"]] == [
        ("b", "a", "bob", "read", "database-clusters", "ns-a/*")
    ]
    assert result["mismatches"][0]["rule"] == "p, role:t-b, database-clusters, read, ns-a/*"


def test_tenant_matrix_proves_read_only_is_read_only(capsys):
    tenants = [dict(MATRIX_TENANTS[1], grants=[{"resource": "database-clusters", "action": "*"}])]
    result = run(everest_rbac_check, {"policy": MATRIX_POLICY, "tenants": tenants, "tenant_resources": ["database-clusters"]}, capsys)
    assert result["failed"]  # the preset claims create, the policy only grants read
    assert [(m["action"], m["expect"], m["allowed"]) for m in result["mismatches"]] == [("create", "allow", False)]


def test_tenant_matrix_excludes_checks_and_cross_check(capsys):
    result = run(
        everest_rbac_check,
        {"policy": MATRIX_POLICY, "tenants": MATRIX_TENANTS, "checks": [{"subject": "a", "action": "read", "resource": "namespaces", "object": "x"}]},
        capsys,
    )
    assert result["failed"] and "mutually exclusive" in result["msg"]
    result = run(everest_rbac_check, {"policy": MATRIX_POLICY, "tenants": MATRIX_TENANTS, "cross_check_with_everestctl": True}, capsys)
    assert result["failed"] and "cross_check_with_everestctl cannot be used with tenants" in result["msg"]


def _brute_force_matrix(policy, tenants, resources, actions):
    """The matrix evaluated check by check, without the literal-scope shortcut: the reference."""
    enforcer = _rbac.Enforcer(policy)
    out = []
    index = -1
    for owner in tenants:
        granted = {}
        for grant in owner["grants"]:
            granted.setdefault(grant["resource"], set()).add(grant["action"])
        for user in owner["users"]:
            for target in tenants:
                own = target is owner
                if own and not owner["grants"]:
                    continue
                for resource in resources:
                    obj = target["namespace"] if resource in _constants.RBAC_GLOBAL_RESOURCES else target["namespace"] + "/*"
                    for action in actions:
                        index += 1
                        expect = own and bool(granted.get(resource, set()) & {action, "*"})
                        allowed = enforcer.can(user, action, resource, obj) is not None
                        if allowed != expect:
                            out.append((index, owner["name"], target["name"], user, action, resource))
    return index + 1, out


@pytest.mark.parametrize("seed", range(6))
def test_tenant_matrix_shortcut_agrees_with_brute_force(capsys, seed):
    """Random policies mixing literal rules with namespace patterns (ns-*, *, ns-[45]/*, ns-?): the linear
    evaluation must report exactly the mismatches, in the same order and with the same indexes, as checking
    every pair."""
    rng = random.Random(seed)
    names = ["ns-%d" % i for i in range(6)]
    tenants, lines = [], []
    for i, ns in enumerate(names):
        users = ["user_%d_%d" % (i, j) for j in range(rng.randint(1, 2))]
        grants = [{"resource": "namespaces", "action": "read"}, {"resource": "database-clusters", "action": rng.choice(["*", "read"])}]
        tenants.append({"name": "t%d" % i, "namespace": ns, "users": users, "grants": grants})
        lines += ["p, role:t%d, namespaces, read, %s" % (i, ns), "p, role:t%d, database-clusters, %s, %s/*" % (i, grants[1]["action"], ns)]
        lines += ["g, %s, role:t%d" % (user, i) for user in users]
    extras = [
        "p, role:t1, database-clusters, read, ns-*/*",
        "p, user_2_0, namespaces, read, *",
        "p, role:t3, database-clusters, create, ns-[45]/*",
        "p, role:t4, namespaces, read, ns-?",
        "p, role:t0, database-clusters, read, ns-5/*",
        "g, user_5_0, role:t0",
    ]
    lines += rng.sample(extras, rng.randint(0, len(extras)))
    policy = "\n".join(lines) + "\n"
    resources, actions = ["namespaces", "database-clusters"], ["read", "create"]
    result = run(everest_rbac_check, {"policy": policy, "tenants": tenants, "tenant_resources": resources, "tenant_actions": actions}, capsys)
    total, expected = _brute_force_matrix(policy, tenants, resources, actions)
    assert result["checks_total"] == total
    got = [(m["index"], m["tenant"], m["target_tenant"], m["subject"], m["action"], m["resource"]) for m in result["mismatches"]]
    assert got == expected
    assert bool(result.get("failed")) == bool(expected)


def test_literal_scopes():
    enforcer = _rbac.Enforcer(MATRIX_POLICY + "p, carol, namespaces, read, ns-*\ng, dave, role:t-a\ng, dave, role:t-b\ng, admin, role:admin\n")
    assert enforcer.literal_scopes("alice") == frozenset(["ns-a"])
    assert enforcer.literal_scopes("dave") == frozenset(["ns-a", "ns-b"])
    assert enforcer.literal_scopes("carol") is None
    assert enforcer.literal_scopes("nobody") == frozenset()
    assert enforcer.literal_scopes("admin") is None  # role:admin's implicit rules are patterns


# ------------------------------------------------------------------------------------------------------------
# everest_rbac_policy: hardening (file write errors, glob hazards outside our blocks, backup on a failed write)

FOREIGN_FILE = "g, admin, role:admin\n# hand-written\np, role:ops, namespaces, read, *\ng, ops, role:ops\n"


def _boom(*_args, **_kwargs):
    raise OSError(28, "No space left on device (injected)")


@pytest.mark.parametrize(
    "where,step",
    [
        ((tempfile, "mkstemp"), "cannot create a temporary file in"),
        ((os, "fsync"), "cannot flush the temporary file"),
        ((os, "chmod"), "cannot set mode"),
        ((os, "rename"), "cannot rename"),
    ],
)
def test_policy_file_os_errors_fail_cleanly_and_change_nothing(tmp_path, monkeypatch, capsys, where, step):
    """Every OS error of the atomic write is a clean failure naming the file, the step and the cause; the temporary
    file is removed and the target keeps its bytes (without the fix the OSError escaped as a traceback)."""
    monkeypatch.setattr(_k8s, "client_from_params", lambda params, **kw: pytest.fail("no cluster access for a file"))
    target = tmp_path / "policy.csv"
    target.write_text(FOREIGN_FILE)
    monkeypatch.setattr(where[0], where[1], _boom)
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS, "policy_file": str(target)}, capsys)
    monkeypatch.undo()
    assert result["failed"] is True and "exception" not in result, result
    assert result["msg"].startswith("policy_file %s: %s" % (target, step)), result["msg"]
    assert "No space left on device (injected)" in result["msg"] and "nothing was changed" in result["msg"]
    assert target.read_text() == FOREIGN_FILE
    assert sorted(p.name for p in tmp_path.iterdir()) == [".policy.csv.lock", "policy.csv"]  # no temporary file left


def test_policy_file_rename_failure_after_backup_names_the_backup(tmp_path, monkeypatch, capsys):
    target = tmp_path / "policy.csv"
    target.write_text(FOREIGN_FILE)
    backups = tmp_path / "backups"
    monkeypatch.setattr(os, "rename", _boom)
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS, "policy_file": str(target), "backup": True, "backup_dir": str(backups)}, capsys)
    monkeypatch.undo()
    assert result["failed"] is True and "nothing was changed" in result["msg"]
    assert result["backup_file"].startswith(str(backups)) and "saved to %s (kept)" % result["backup_file"] in result["msg"]
    assert open(result["backup_file"]).read() == FOREIGN_FILE and target.read_text() == FOREIGN_FILE


def test_lock_file_cannot_be_created(tmp_path, monkeypatch, capsys):
    target = tmp_path / "policy.csv"
    real_open = os.open

    def no_lock(path, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise PermissionError(13, "Permission denied (injected)")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_lock)
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS, "policy_file": str(target)}, capsys)
    monkeypatch.undo()
    assert result["failed"] is True and "cannot create the lock file" in result["msg"] and "Permission denied" in result["msg"]
    assert not target.exists()


def test_conflict_exhaustion_reports_the_backup_written(client, capsys, tmp_path):
    fake = client["client"]
    fake.interleave = [lambda c: c._bump()] * 100  # pylint: disable=protected-access
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS, "backup": True, "backup_dir": str(tmp_path)}, capsys)
    assert result["failed"] is True and "kept changing" in result["msg"]
    assert result["backup_file"].startswith(str(tmp_path)) and "(kept)" in result["msg"]
    assert open(result["backup_file"]).read() == "g, admin, role:admin\n"
    assert text_of(fake) == "g, admin, role:admin\n"


FOREIGN_GLOB = "g, admin, role:admin\np, ops, namespaces, read, [\n"


def test_foreign_glob_hazard_warns_but_does_not_block(client, capsys):
    """A malformed pattern in a foreign line is accepted by Everest, so another tenant's block edit goes through with
    a warning (without the fix every tenant's write failed until someone set validate: false)."""
    client["client"] = fake = FakeClient(FOREIGN_GLOB)
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS}, capsys)
    assert not result.get("failed"), result
    assert result["changed"] is True and fake.puts == 1
    assert text_of(fake) == FOREIGN_GLOB + _rbac.render_block("t-a", LINES)
    assert result["validation"]["ok"] is True
    [message] = result["validation"]["messages"]
    assert "line 2 (outside managed blocks)" in message and "malformed glob pattern '['" in message and "warning only" in message
    assert any("malformed glob pattern '['" in w and "error from Everest instead of an answer" in w for w in warnings_of(result))


def test_glob_hazard_in_another_block_warns_but_in_own_block_blocks(client, capsys):
    other = "g, admin, role:admin\n" + _rbac.render_block("t-b", ["p, bob, database-clusters, read, t-b/[x", "g, bob, role:t-b"])
    client["client"] = fake = FakeClient(other)
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS}, capsys)
    assert result["changed"] is True and fake.puts == 1 and result["validation"]["ok"] is True
    assert "block 't-b'" in result["validation"]["messages"][0] and warnings_of(result)
    # the same hazard in the block this task writes fails, and nothing is written
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS + ["p, alice, database-clusters, read, t-a/[x"]}, capsys)
    assert result["failed"] is True and fake.puts == 1
    assert "block 't-a'" in result["msg"] and "malformed glob pattern 't-a/[x'" in result["msg"] and "warning only" not in result["msg"]
    assert result["validation"]["ok"] is False and len(result["validation"]["messages"]) == 2
    # removing a block never fails on a hazard elsewhere
    result = run(everest_rbac_policy, {"block": "t-a", "state": "absent"}, capsys)
    assert result["changed"] is True and result["validation"]["ok"] is True


def test_foreign_everest_problem_still_blocks(client, capsys):
    client["client"] = fake = FakeClient("g, admin, role:admin\np, role:ghost, namespaces, read, *\n")
    result = run(everest_rbac_policy, {"block": "t-a", "policies": ITEMS}, capsys)
    assert result["failed"] is True and fake.puts == 0
    assert "outside managed blocks" in result["msg"] and "role 'role:ghost' does not exist" in result["msg"]


# ------------------------------------------------------------------------------------------------------------
# everest_rbac_check: RBAC disabled, assume_enabled, cross-check

CHECK = {"subject": "alice", "action": "delete", "resource": "database-clusters", "object": "t-b/db"}


@pytest.mark.parametrize("enabled", ["false", "", "True", None])
def test_check_disabled_rbac_allows_everything_even_with_an_invalid_policy(client, capsys, enabled):
    """reference §5.2: without --policy-file, `can` answers Yes when enabled is not "true", before loading the policy."""
    client["client"] = fake = FakeClient("p, role:x, namespaces, read, *\nthis is a bad line\n", enabled="false")
    if enabled is None:
        del fake.obj["data"]["enabled"]
    else:
        fake.obj["data"]["enabled"] = enabled
    result = run(everest_rbac_check, {"checks": [CHECK, dict(CHECK, expect="allow")]}, capsys)
    assert not result.get("failed"), result
    assert result["rbac_enabled"] is False and result["enforced"] is False
    assert [(r["allowed"], r["reason"], r["rule"], r["rule_line"]) for r in result["results"]] == [(True, "rbac_disabled", None, None)] * 2
    assert result["validation"]["ok"] is False
    assert any("RBAC is disabled" in w and "invalid policy line 'this is a bad line'" in w for w in warnings_of(result))


def test_check_disabled_rbac_with_expect_deny_is_a_mismatch(client, capsys):
    client["client"] = FakeClient("g, admin, role:admin\n" + _rbac.render_block("t-a", LINES), enabled="false")
    result = run(everest_rbac_check, {"checks": [dict(CHECK, expect="deny")]}, capsys)
    assert result["failed"] is True and [m["index"] for m in result["mismatches"]] == [0]
    assert "RBAC is disabled in the ConfigMap, so Everest allows everything" in result["msg"]
    # the same question with RBAC assumed on is denied, as expected
    result = run(everest_rbac_check, {"checks": [dict(CHECK, expect="deny")], "assume_enabled": True}, capsys)
    assert not result.get("failed") and result["results"][0]["reason"] == "no_rule"


def test_check_disabled_rbac_without_policy_key(client, capsys):
    client["client"] = fake = FakeClient()
    del fake.obj["data"]["policy.csv"]
    result = run(everest_rbac_check, {"checks": [CHECK]}, capsys)
    assert not result.get("failed") and result["results"][0]["allowed"] is True
    assert result["validation"] == {
        "ok": False,
        "messages": ["policy.csv not found in ConfigMap everest-system/everest-rbac; Everest cannot load its RBAC policy"],
    }
    assert any("policy.csv not found" in w for w in warnings_of(result))
    result = run(everest_rbac_check, {"checks": [CHECK], "assume_enabled": True}, capsys)
    assert result["failed"] is True and "policy.csv not found in ConfigMap" in result["msg"]


def test_check_assume_enabled_fails_on_an_invalid_configmap_policy(client, capsys):
    client["client"] = FakeClient("p, role:x, namespaces, read, *\n", enabled="false")
    result = run(everest_rbac_check, {"checks": [CHECK], "assume_enabled": True}, capsys)
    assert result["failed"] is True and "role 'role:x' does not exist" in result["msg"] and result["validation"]["ok"] is False


@pytest.mark.parametrize("assume", [False, True])
def test_check_inline_and_file_policies_are_always_enforced(tmp_path, capsys, assume):
    """assume_enabled changes nothing for an inline policy or a file: both are enforced, an invalid one fails."""
    text = "g, admin, role:admin\n" + _rbac.render_block("t-a", LINES)
    path = tmp_path / "p.csv"
    path.write_text(text)
    for source in ({"policy": text}, {"policy_file": str(path)}):
        result = run(everest_rbac_check, dict(source, checks=[CHECK, dict(CHECK, object="t-a/db")], assume_enabled=assume), capsys)
        assert result["enforced"] is True and result["rbac_enabled"] is None
        assert [(r["allowed"], r["reason"]) for r in result["results"]] == [(False, "no_rule"), (True, "rule")]
    result = run(everest_rbac_check, {"policy": "p, role:x, namespaces, read, *\n", "checks": [CHECK], "assume_enabled": assume}, capsys)
    assert result["failed"] is True and "role 'role:x' does not exist" in result["msg"]


def test_check_glob_hazard_is_reported(capsys):
    result = run(
        everest_rbac_check,
        {
            "policy": "p, u, database-clusters, read, prod/[db\np, v, namespaces, read, *\n",
            "checks": [{"subject": "v", "action": "read", "resource": "namespaces", "object": "x"}],
        },
        capsys,
    )
    assert not result.get("failed") and result["results"][0]["allowed"] is True
    assert result["validation"]["ok"] is True and "malformed glob pattern 'prod/[db'" in result["validation"]["messages"][0]
    assert any("malformed glob pattern 'prod/[db'" in w for w in warnings_of(result))


class FakeEverestctl:
    """Answers `settings rbac can` from a table (or the opposite of the module), recording the calls."""

    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def run(self, shape, **values):
        assert shape == "rbac_can"
        with open(values["policy_file"]) as handle:
            values["policy_text"] = handle.read()
        self.calls.append(values)
        argv = [
            "everestctl",
            "settings",
            "rbac",
            "can",
            values["subject"],
            values["action"],
            values["resource"],
            values["object"],
            "--policy-file",
            values["policy_file"],
        ]
        return CommandResult(0, "Yes\n" if self.answer(values) else "No\n", "", argv, 0.01)


@pytest.fixture
def fake_everestctl(monkeypatch):
    holder = {}
    monkeypatch.setattr(EverestModule, "everestctl", property(lambda self: holder["runner"]))
    return holder


def test_cross_check_disagreement_fails_and_lists_it(fake_everestctl, capsys):
    policy = "g, admin, role:admin\n" + _rbac.render_block("t-a", LINES)
    enforcer = _rbac.Enforcer(policy)
    checks = [
        {"subject": "admin", "action": "create", "resource": "database-clusters", "object": "*"},
        {"subject": "alice", "action": "read", "resource": "database-clusters", "object": "t-a/db"},
        {"subject": "alice", "action": "read", "resource": "database-clusters", "object": "t-b/db"},
    ]

    def answer(values):  # agrees on the first check only, answers the opposite of the module on the others
        ours = enforcer.can(values["subject"], values["action"], values["resource"], values["object"]) is not None
        return ours if values["subject"] == "admin" else not ours

    fake_everestctl["runner"] = runner = FakeEverestctl(answer)
    result = run(everest_rbac_check, {"policy": policy, "checks": checks, "cross_check_with_everestctl": True}, capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("everestctl disagrees with this module on 2 of 3 check(s)")
    assert [(d["index"], d["check"]["object"], d["module"], d["everestctl"]) for d in result["disagreements"]] == [
        (1, "t-a/db", True, False),
        (2, "t-b/db", False, True),
    ]
    assert result["disagreements"][0]["cmd"][:4] == ["everestctl", "settings", "rbac", "can"]
    assert [r["everestctl"] for r in result["results"]] == [True, False, True]
    assert len(runner.calls) == 3 and all(c["policy_text"] == policy for c in runner.calls)
    assert not os.path.exists(runner.calls[0]["policy_file"])  # the temporary policy file is removed


def test_cross_check_agreement_passes(fake_everestctl, capsys):
    policy = "g, admin, role:admin\n"
    fake_everestctl["runner"] = FakeEverestctl(lambda values: values["subject"] == "admin")
    result = run(
        everest_rbac_check,
        {
            "policy": policy,
            "cross_check_with_everestctl": True,
            "checks": [
                {"subject": "admin", "action": "create", "resource": "database-clusters", "object": "*", "expect": "allow"},
                {"subject": "bob", "action": "create", "resource": "database-clusters", "object": "*", "expect": "deny"},
            ],
        },
        capsys,
    )
    assert not result.get("failed"), result
    assert "disagreements" not in result and [r["everestctl"] for r in result["results"]] == [True, False]


def test_cross_check_is_skipped_for_an_invalid_policy_with_rbac_disabled(client, fake_everestctl, capsys):
    client["client"] = FakeClient("p, role:x, namespaces, read, *\n", enabled="false")
    fake_everestctl["runner"] = FakeEverestctl(lambda values: pytest.fail("everestctl must not be asked"))
    result = run(everest_rbac_check, {"checks": [CHECK], "cross_check_with_everestctl": True}, capsys)
    assert not result.get("failed") and result["results"][0]["allowed"] is True
    assert any("cross_check_with_everestctl skipped" in w for w in warnings_of(result))
