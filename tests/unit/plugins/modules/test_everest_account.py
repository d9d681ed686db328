"""Unit tests of the everest_account and everest_account_info modules.

Boundaries faked: the Kubernetes client (``_k8s.client_from_params``) and the everestctl process
(``subprocess.Popen`` inside ``_everestctl``). Everything between them is the real code; the exact argv is asserted."""

import base64
import copy
import hashlib
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.virakcloud.everest.plugins.module_utils import _accounts, _everestctl, _k8s
from ansible_collections.virakcloud.everest.plugins.module_utils._errors import K8sAlreadyExists
from ansible_collections.virakcloud.everest.plugins.modules import everest_account, everest_account_info

SALT = "0b8a5e4e-1111-2222-3333-444455556666"
KUBECONFIG = "/tmp/unit-kubeconfig"


def go_hash(password):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), SALT.encode(), 4096, 32)


def users_yaml(users):
    out = []
    for name in sorted(users):
        out += ["%s:" % name, "  enabled: true", "  capabilities:", "  - login", '  passwordMtime: "2026-11-20T10:00:00Z"']
        stored = users[name]
        out.append("  passwordHash: " + ("!!binary " + base64.b64encode(stored).decode() if isinstance(stored, bytes) else stored))
    return "\n".join(out) + "\n"


LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/everest-system/leases/virakcloud-everest-accounts"


class FakeClient:
    def __init__(self, users, plain=()):
        self.users = users
        self.plain = plain
        self.calls = []
        self.secrets = []
        self.closed = False
        self.lease_ops = []

    def get_or_none(self, path):
        self.calls.append(path)
        if path == _accounts.SECRET_PATH:
            return {
                "metadata": {"annotations": dict(("insecure-password/" + u, "true") for u in self.plain)},
                "data": {"users.yaml": base64.b64encode(users_yaml(self.users).encode()).decode()},
            }
        if path == _accounts.SYSTEM_NAMESPACE_PATH:
            return {"metadata": {"uid": SALT}}
        if path == LEASE_PATH:
            return self.lease
        return None

    # the accounts Lease (cluster_lock): recorded so tests can see when the lock is taken and released
    lease = None
    lease_rv = 0

    def create(self, path, body):
        self.lease_ops.append(("create", path))
        if self.lease is not None:
            raise K8sAlreadyExists("exists")
        self.lease_rv += 1
        self.lease = dict(body, metadata=dict(body["metadata"], resourceVersion=str(self.lease_rv)))
        return self.lease

    def replace(self, path, body):
        self.lease_ops.append(("replace", path))
        self.lease_rv += 1
        self.lease = dict(body, metadata=dict(body["metadata"], resourceVersion=str(self.lease_rv)))
        return self.lease

    def delete(self, path, body=None):
        self.lease_ops.append(("delete", path))
        assert body["preconditions"]["resourceVersion"] == self.lease["metadata"]["resourceVersion"]
        self.lease = None

    def private_fds(self):
        return ()

    def kubeconfig_path(self):
        return KUBECONFIG

    def close(self):
        self.closed = True


class FakePopen:
    """Plays everestctl: records argv; applies account changes to the FakeClient like reference §3."""

    client = None
    argvs = []
    failures = []

    def __init__(self, argv, **kwargs):
        assert kwargs["stdin"] is not None and kwargs["start_new_session"] is True
        FakePopen.argvs.append(list(argv))
        self.returncode, self._out, self._err = 0, b"", b""
        if FakePopen.failures:
            self.returncode, self._err = 1, FakePopen.failures.pop(0).encode()
            return
        users = FakePopen.client.users
        sub, user = argv[2], argv[4]
        if sub == "create":
            if user in users:
                self.returncode, self._err = 1, "\u274c user already exists\n\n".encode()
            else:
                users[user] = go_hash(argv[6])
        elif sub == "set-password":
            users[user] = go_hash(argv[6])
        elif sub == "delete":
            users.pop(user)

    def communicate(self, timeout=None):
        return self._out, self._err


@pytest.fixture
def world(monkeypatch, tmp_path):
    binary = tmp_path / "everestctl"
    binary.write_text("#!/bin/sh\nexit 0\n")
    binary.chmod(0o755)
    client = FakeClient({"tenant": go_hash("tenant-pass1"), "admin": "plain-admin-pw"}, plain=["admin"])
    monkeypatch.setattr(_k8s, "client_from_params", lambda params: client)
    monkeypatch.setattr(_everestctl.subprocess, "Popen", FakePopen)
    FakePopen.client, FakePopen.argvs, FakePopen.failures = client, [], []
    return {"client": client, "binary": str(binary)}


def run_module_raw(module, args, capsys, check=False, diff=False):
    args = dict(args)
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    out = capsys.readouterr().out
    return json.loads(out), out


def run_module(module, args, capsys, check=False, diff=False):
    return run_module_raw(module, args, capsys, check=check, diff=diff)[0]


def test_noop_runs_nothing(world, capsys):
    result, out = run_module_raw(everest_account, {"username": "tenant", "password": "tenant-pass1", "everestctl_path": world["binary"]}, capsys)
    assert result["changed"] is False and "cmd" not in result
    assert FakePopen.argvs == []
    assert result["account"]["username"] == "tenant" and result["account"]["exists"] is True
    assert "tenant-pass1" not in out


def test_create_argv_and_masking(world, capsys):
    result, out = run_module_raw(everest_account, {"username": "new_user", "password": "S3cret#pw", "everestctl_path": world["binary"]}, capsys, diff=True)
    assert result["changed"] is True
    assert FakePopen.argvs == [[world["binary"], "accounts", "create", "-u", "new_user", "-p", "S3cret#pw", "--kubeconfig", KUBECONFIG]]
    assert result["cmd"] == [world["binary"], "accounts", "create", "-u", "new_user", "-p", "********", "--kubeconfig", KUBECONFIG]
    assert result["diff"] == {
        "before": {"exists": False, "enabled": None, "capabilities": [], "password": "<unchanged>"},
        "after": {"exists": True, "enabled": True, "capabilities": ["login"], "password": "<changed>"},
    }
    assert "S3cret#pw" not in out
    assert world["client"].users["new_user"] == go_hash("S3cret#pw")


def test_set_password_argv(world, capsys):
    result, out = run_module_raw(everest_account, {"username": "tenant", "password": "other-pass1", "everestctl_path": world["binary"]}, capsys)
    assert result["changed"] is True
    assert FakePopen.argvs[0][1:6] == ["accounts", "set-password", "-u", "tenant", "--new-password"]
    assert "other-pass1" not in out


def test_plain_admin_same_password_unchanged(world, capsys):
    result = run_module(everest_account, {"username": "admin", "password": "plain-admin-pw", "everestctl_path": world["binary"]}, capsys)
    assert result["changed"] is False and result["account"]["plain_text_password"] is True
    assert FakePopen.argvs == []
    # a plain-text comparison needs no salt
    assert _accounts.SYSTEM_NAMESPACE_PATH not in world["client"].calls


def test_check_mode_with_diff(world, capsys):
    result, out = run_module_raw(
        everest_account, {"username": "tenant", "password": "changed-pw1", "everestctl_path": world["binary"]}, capsys, check=True, diff=True
    )
    assert result["changed"] is True and FakePopen.argvs == []
    assert result["diff"]["before"]["password"] == "<unchanged>" and result["diff"]["after"]["password"] == "<changed>"
    assert result["cmd"][1:3] == ["accounts", "set-password"] and "changed-pw1" not in out
    assert world["client"].users["tenant"] == go_hash("tenant-pass1")


@pytest.mark.parametrize(
    "args,match",
    [
        ({"username": "no-dash", "password": "valid-pw"}, "letters, numbers, underscores"),
        ({"username": "ok_user", "password": "bad pw with spaces"}, "specific special characters"),
        ({"username": "admin", "state": "absent"}, "allow_admin_removal"),
    ],
)
def test_bad_input_fails_before_any_call(world, capsys, args, match):
    args["everestctl_path"] = world["binary"]
    result, out = run_module_raw(everest_account, args, capsys)
    assert result["failed"] is True and match in result["msg"]
    assert FakePopen.argvs == [] and world["client"].calls == []
    assert "bad pw with spaces" not in out


def test_everestctl_failure_is_structured(world, capsys):
    FakePopen.failures = ["\u274c everest is not installed in the cluster\n\n"]
    result = run_module(everest_account, {"username": "brand_new", "password": "brand-new-pw", "everestctl_path": world["binary"]}, capsys)
    assert result["failed"] is True and result["error_kind"] == "not_installed" and result["rc"] == 1
    assert "brand-new-pw" not in json.dumps(result) and "********" in result["cmd"]


def test_conflict_retried_in_module(world, capsys):
    conflict = (
        '\u274c Operation cannot be fulfilled on secrets "everest-accounts": the object has been modified; '
        'please apply your changes to the latest version and try again\n\n'
    )
    FakePopen.failures = [conflict, conflict]
    result = run_module(everest_account, {"username": "racer", "password": "racer-pw1", "everestctl_path": world["binary"]}, capsys)
    assert result["changed"] is True and len(FakePopen.argvs) == 3


def test_batch(world, capsys):
    result, out = run_module_raw(
        everest_account,
        {
            "everestctl_path": world["binary"],
            "accounts": [
                {"username": "tenant", "password": "tenant-pass1"},
                {"username": "second", "password": "second-pw1"},
                {"username": "tenant_gone", "state": "absent"},
            ],
        },
        capsys,
        diff=True,
    )
    assert result["changed"] is True
    assert [r["changed"] for r in result["results"]] == [False, True, False]
    assert len(FakePopen.argvs) == 1
    # one diff per item, headed by the object it is about
    assert [d["before_header"] for d in result["diff"]] == ["account tenant (before)", "account second (before)", "account tenant_gone (before)"]
    assert "second-pw1" not in out and "tenant-pass1" not in out


def test_batch_reports_every_failure(world, capsys):
    result = run_module(
        everest_account,
        {
            "everestctl_path": world["binary"],
            "accounts": [
                {"username": "x", "password": "good-pw1"},
                {"username": "fine_one", "password": "bad pw"},
                {"username": "ok_user", "password": "good-pw1"},
            ],
        },
        capsys,
    )
    assert result["failed"] is True and "2 of 3" in result["msg"] and "'x'" in result["msg"] and "fine_one" in result["msg"]
    assert FakePopen.argvs == []


def test_batch_failure_in_one_item_does_not_hide_others(world, capsys):
    result = run_module(
        everest_account, {"everestctl_path": world["binary"], "accounts": [{"username": "needs_pw"}, {"username": "made_it", "password": "made-it-pw"}]}, capsys
    )
    assert result["failed"] is True and "needs_pw" in result["msg"]
    assert result["results"][1]["changed"] is True and "made_it" in world["client"].users


def test_mutually_exclusive(world, capsys):
    result = run_module(everest_account, {"username": "a_b", "accounts": [{"username": "c_d"}]}, capsys)
    assert result["failed"] is True and "mutually exclusive" in result["msg"]


def test_info_lists_without_secrets(world, capsys):
    result, out = run_module_raw(everest_account_info, {}, capsys, check=True)
    assert result["changed"] is False
    assert [a["username"] for a in result["accounts"]] == ["admin", "tenant"]
    assert "plain-admin-pw" not in out and base64.b64encode(go_hash("tenant-pass1")).decode() not in out
    one = run_module(everest_account_info, {"username": "tenant"}, capsys)
    assert len(one["accounts"]) == 1 and one["accounts"][0]["plain_text_password"] is False
    none = run_module(everest_account_info, {"username": "ghost"}, capsys)
    assert none["accounts"] == []
    assert FakePopen.argvs == []


def test_client_closed_and_data_untouched(world, capsys):
    before = copy.deepcopy(world["client"].users)
    run_module(everest_account, {"username": "tenant", "everestctl_path": world["binary"]}, capsys)
    assert world["client"].closed and world["client"].users == before


def test_check_mode_needs_no_everestctl_binary(world, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("EVERESTCTL_PATH", raising=False)
    result, out = run_module_raw(everest_account, {"username": "fresh_one", "password": "Fresh-pw1"}, capsys, check=True)
    assert result["changed"] is True and result["cmd"] == ["everestctl", "accounts", "create", "-u", "fresh_one", "-p", "********"]
    assert "Fresh-pw1" not in out and FakePopen.argvs == []
    # a no-op run needs no binary either
    result = run_module(everest_account, {"username": "tenant", "password": "tenant-pass1"}, capsys)
    assert result["changed"] is False
    # but a real change does, and says how to fix it
    result = run_module(everest_account, {"username": "fresh_one", "password": "Fresh-pw1"}, capsys)
    assert result["failed"] is True and "everestctl_path" in result["msg"]


def test_lock_taken_only_for_writes(world, capsys):
    client = world["client"]
    run_module(everest_account, {"username": "tenant", "password": "tenant-pass1", "everestctl_path": world["binary"]}, capsys)
    run_module(everest_account, {"username": "tenant", "password": "changed-pw1", "everestctl_path": world["binary"]}, capsys, check=True)
    assert client.lease_ops == []  # no-op and check mode never touch the Lease
    result = run_module(everest_account, {"username": "locked_user", "password": "locked-pw1", "everestctl_path": world["binary"]}, capsys)
    assert result["changed"] is True
    assert [op for op, _path in client.lease_ops] == ["create", "delete"] and client.lease is None
    assert all(path.startswith(LEASE_PATH.rsplit("/", 1)[0]) for _op, path in client.lease_ops)


def test_lock_held_once_for_a_whole_batch(world, capsys):
    client = world["client"]
    result = run_module(
        everest_account,
        {
            "everestctl_path": world["binary"],
            "accounts": [
                {"username": "batch_one", "password": "batch-pw1"},
                {"username": "tenant", "password": "tenant-pass1"},
                {"username": "batch_two", "password": "batch-pw2"},
                {"username": "tenant", "state": "absent"},
            ],
        },
        capsys,
    )
    assert [r["changed"] for r in result["results"]] == [True, False, True, True]
    assert [op for op, _path in client.lease_ops] == ["create", "delete"] and client.lease is None
    # Secret reads: the batch snapshot, one re-read once the lock is taken, one read-back per write; while the lock is
    # held the last read-back is the state, so no re-read before the next item
    assert client.calls.count(_accounts.SECRET_PATH) == 1 + 1 + 3


def test_lock_disabled(world, capsys):
    result = run_module(
        everest_account, {"username": "unlocked", "password": "unlocked-pw1", "cluster_lock": False, "everestctl_path": world["binary"]}, capsys
    )
    assert result["changed"] is True and world["client"].lease_ops == []


def test_state_reread_under_the_lock(world, capsys, monkeypatch):
    """What the previous lock holder did decides: here it already created the account with our password."""
    client = world["client"]
    original_create = client.create

    def create_while_waiting(path, body):
        client.users["late_user"] = go_hash("late-pw1")
        return original_create(path, body)

    monkeypatch.setattr(client, "create", create_while_waiting)
    result = run_module(everest_account, {"username": "late_user", "password": "late-pw1", "everestctl_path": world["binary"]}, capsys)
    assert result["changed"] is False and FakePopen.argvs == [] and client.lease is None
